--[[
  confirm: confirmations on a backend's confirmation stream, and the confirm / duplicate step of an
  accepted payment: the first time its transaction_id is seen (its idempotency mark is set) it is
  confirmed and counted, afterwards it gets a 'duplicate' confirmation and is not counted again.
]]

-- Adds one confirmation to `stream`; `...`: extra field/value pairs (the errors of a rejection).
-- `stream` nil: the payment names no backend (a list payload without backend_id): nothing to add.
local function confirmation(b, stream, tx, backend, status, amount, ...)
  if not stream then return end
  redis.call('XADD', stream, 'MAXLEN', '~', b.resp_cap, '*',
    'transaction_id', tx, 'status', status, 'processed_amount', amount,
    'backend_id', backend, 'timestamp', b.now, ...)
end

-- An accepted payment of `cents` (`amount`: the same as a 2-place decimal). Its mark holds
-- `mark_value` (where it came from) for b.mark_ttl seconds.
local function confirm(b, mark_value, tx, backend, stream, cents, amount)
  if redis.call('SET', b.mark_prefix .. tx, mark_value, 'NX', 'EX', b.mark_ttl) then
    b.confirmed = b.confirmed + 1
    b.cents = b.cents + tonumber(cents)
    confirmation(b, stream, tx, backend, 'confirmed', amount)
  else
    b.duplicates = b.duplicates + 1
    confirmation(b, stream, tx, backend, 'duplicate', '0.00')
  end
end
