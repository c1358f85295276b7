--[[
  renew_lock: extends a lock's expiry only when the caller still holds it.

  KEYS[1]  lock key
  ARGV[1]  holder id
  ARGV[2]  new expiry in ms

  Returns 1 when renewed, 0 when the lock is gone or held by someone else.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
