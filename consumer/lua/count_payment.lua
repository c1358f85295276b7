--[[
  count_payment: adds one payment to the counters (the basic stream consumer's whole effect), with
  the batch scripts' count step (includes/count.lua): exact, cents are the source of truth and
  total_amount is derived from them, so concurrent consumers never leave the decimal total behind
  the cents.

  KEYS[1]  processed_count
  KEYS[2]  total_amount            (decimal, 2 places)
  KEYS[3]  total_amount_cents
  ARGV[1]  the payment's amount in cents

  Returns total_amount_cents after the payment.
]]
--@include "includes/count.lua"

return add_to_counters(
  { processed_count = KEYS[1], total_amount = KEYS[2], total_amount_cents = KEYS[3] }, 1, ARGV[1])
