--[[
  count_payment: adds one payment to the counters (the basic stream consumer's whole effect).
  Exact: cents are the source of truth and total_amount is derived from them, so concurrent
  consumers never leave the decimal total behind the cents.

  KEYS[1]  processed_count
  KEYS[2]  total_amount            (decimal, 2 places)
  KEYS[3]  total_amount_cents
  ARGV[1]  the payment's amount in cents

  Returns total_amount_cents after the payment.
]]
redis.call('INCR', KEYS[1])
local total = redis.call('INCRBY', KEYS[3], ARGV[1])
redis.call('SET', KEYS[2], string.format('%d.%02d', math.floor(total / 100), total % 100))
return total
