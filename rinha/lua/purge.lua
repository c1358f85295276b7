--[[
  purge: forgets every payment (POST /purge-payments) and recreates an empty queue with its group.
  Payments in a worker's hands at that moment may still be counted after the purge.

  KEYS[1]   queue stream
  KEYS[2..] every other data key (amounts, intents, paid, summary hashes and indexes)
  ARGV[1]   consumer group

  Returns the number of keys deleted.
]]
local deleted = redis.call('DEL', unpack(KEYS))
redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM')
return deleted
