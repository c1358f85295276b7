#!lua
--[[
  count_payment: the basic stream consumer's effect for one valid payment, with the batch scripts'
  steps (includes/*.lua): its idempotency mark, then the counters (exact: cents are the source of
  truth and total_amount is derived from them, so concurrent consumers never leave the decimal
  total behind the cents). The basic design sends no confirmations: a repeat of a payment already
  counted (same fingerprint) is a duplicate and is not counted again; another payment under a
  counted transaction_id (1701) or a mark of the wrong type (2102) is dead-lettered here.
  The XACK stays a separate call (the basic design's at-least-once acknowledgement).

  KEYS[1]  dead-letter stream
  KEYS[2]  processed_count
  KEYS[3]  total_amount            (decimal, 2 places)
  KEYS[4]  total_amount_cents
  KEYS[5]  the payment's idempotency mark (ARGV[1] .. ARGV[7]; declared, built by the steps)
  KEYS[6]  payment stream (read: the entry's fields for a dead letter)

  ARGV[1]  idempotency mark prefix
  ARGV[2]  idempotency mark TTL, seconds
  ARGV[3]  '' (no confirmation streams)
  ARGV[4]  timestamp (ISO 8601)
  ARGV[5]  consumer name (recorded in dead letters)
  ARGV[6]  stream entry id
  ARGV[7]  transaction id
  ARGV[8]  the payment's amount in cents
  ARGV[9]  its fingerprint (pix/fingerprint.ts)
  ARGV[10] its delivery count (recorded in a dead letter)

  Returns { confirmed, duplicates, rejected, skipped (0), total_amount_cents (text), migration,
  rejection ('<code> <reason>' or '') }. Nothing is written when the counters, the dead-letter
  stream or the payment stream are unusable (includes/checks.lua): the call is refused whole.
]]
--@include "includes/decimal.lua"
--@include "includes/batch.lua"
--@include "includes/checks.lua"
--@include "includes/reject.lua"
--@include "includes/confirm.lua"
--@include "includes/count.lua"

local b = new_batch(1, 1)
local stream, id = KEYS[6], ARGV[6]
local refusal = refuse_batch(b, { stream }, {}, 1, ARGV[8]) or refuse_unless_readable(stream)
if refusal then return refusal end
accept(b, {
  tx = ARGV[7], backend = '', cents = ARGV[8], amount = '', fp = ARGV[9], origin = id,
  letter = function() return { 'original_id', id, 'fields', entry_fields_json(stream, id) } end,
  extra = { 'deliveries', ARGV[10] },
})
local reply = count(b)
reply[#reply + 1] = b.last_rejection or ''
return reply
