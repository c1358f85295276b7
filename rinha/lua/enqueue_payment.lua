--[[
  enqueue_payment: queues a payment unless its correlation id was already queued (POST /payments).
  The amount hash doubles as the ingress idempotency mark, so a repeated correlationId is paid once.

  KEYS[1]  amounts hash (correlationId -> cents)
  KEYS[2]  queue stream
  ARGV[1]  correlationId (lower case)
  ARGV[2]  amount in cents

  Returns 1 when queued, 0 when the correlation id was already known.
]]
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'c', ARGV[1], 'a', ARGV[2])
return 1
