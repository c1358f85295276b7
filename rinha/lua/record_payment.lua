--[[
  record_payment: counts a payment the processor accepted (200, or 422 = it already had it), once,
  under the exact requestedAt it holds, and acknowledges the queue entry — all or nothing.

  Summary buckets: for each level k = 0..6 the hash holds n<k>:<b> (count) and c<k>:<b> (cents)
  of bucket b = floor(requestedAtMs / 10^k); level 6 buckets (1000 s) are also indexed in a
  sorted set so a summary can find them without scanning.

  KEYS[1]  queue stream
  KEYS[2]  paid hash (correlationId -> "processor|requestedAtMs|cents")
  KEYS[3]  intents hash
  KEYS[4]  summary hash of the processor
  KEYS[5]  top-level bucket index (sorted set) of the processor
  ARGV[1]  consumer group
  ARGV[2]  queue entry id ('' when there is none to acknowledge)
  ARGV[3]  correlationId
  ARGV[4]  processor
  ARGV[5]  requestedAt in epoch ms
  ARGV[6]  amount in cents

  Returns 1 when counted now, 0 when it had already been counted.
]]
local counted = 0
local ms = tonumber(ARGV[5])
local cents = tonumber(ARGV[6])
local value = ARGV[4] .. '|' .. ARGV[5] .. '|' .. ARGV[6]
if redis.call('HSETNX', KEYS[2], ARGV[3], value) == 1 then
  local size = 1
  for level = 0, 6 do
    local b = math.floor(ms / size)
    redis.call('HINCRBY', KEYS[4], 'n' .. level .. ':' .. b, 1)
    redis.call('HINCRBY', KEYS[4], 'c' .. level .. ':' .. b, cents)
    size = size * 10
  end
  redis.call('ZADD', KEYS[5], math.floor(ms / 1000000), math.floor(ms / 1000000))
  counted = 1
end
redis.call('HDEL', KEYS[3], ARGV[3])
if ARGV[2] ~= '' then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[1], ARGV[2])
end
return counted
