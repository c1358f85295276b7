--[[
  reap_consumer: when a consumer's heartbeat has expired, returns everything in its processing
  list to the tail of its source list (where consumers take from next, oldest last so it is taken
  first) and forgets the consumer. Does nothing while the heartbeat is alive, so a consumer that
  is only slow is never robbed by a reaper that looked a moment too early.

  KEYS[1]  the consumer's heartbeat key
  KEYS[2]  the consumer's processing list
  KEYS[3]  its source list
  KEYS[4]  the registry hash of live consumers
  ARGV[1]  the consumer's name (field in KEYS[4])

  Returns the number of payloads returned, or -1 when the consumer is alive.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local n = 0
while redis.call('LMOVE', KEYS[2], KEYS[3], 'LEFT', 'RIGHT') do n = n + 1 end
redis.call('HDEL', KEYS[4], ARGV[1])
return n
