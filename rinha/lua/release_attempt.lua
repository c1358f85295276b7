--[[
  release_attempt: the processor refused an attempt for sure (500 or 429: nothing recorded).
  When that attempt is still the latest one and no earlier attempt was in doubt, the payment is
  no longer bound to that processor. A newer attempt (another worker took the payment over) or an
  earlier doubt keeps it bound.

  KEYS[1]  intents hash
  ARGV[1]  correlationId
  ARGV[2]  attempt number returned by begin_attempt
  ARGV[3]  doubtBefore returned by begin_attempt

  Returns 1 when released, 0 when it stays bound.
]]
if ARGV[3] ~= '0' then return 0 end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local p, t, d, a = string.match(current, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
if a ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], p .. '|' .. t .. '|0|' .. a)
return 1
