--[[
  forget_consumer: removes a consumer from its group (XGROUP DELCONSUMER), but only when it holds
  no pending entry and has been idle at least ARGV[3] ms. In Redis 7.0 DELCONSUMER drops the
  pending entries of the consumer it removes: payments would be lost, so one that holds entries is
  never removed. Atomic: no entry can reach it between the check and the removal.

  KEYS[1]  the stream
  ARGV[1]  the group
  ARGV[2]  the consumer
  ARGV[3]  how long it must have been idle, in ms (0: any)

  Returns 1 when removed; 0 when it holds entries or was active since; -1 when no such consumer.
]]
local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
for _, flat in ipairs(consumers) do
  local c = {}
  for i = 1, #flat, 2 do c[flat[i]] = flat[i + 1] end
  if c['name'] == ARGV[2] then
    if c['pending'] > 0 or c['idle'] < tonumber(ARGV[3]) then return 0 end
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
    return 1
  end
end
return -1
