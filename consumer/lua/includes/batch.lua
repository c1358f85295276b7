--[[
  batch: one batch's keys, settings and tally, shared by the steps (checks.lua, confirm.lua,
  reject.lua, count.lua) of every script that applies a batch of payments.

  Every batch script takes these keys and settings in this order, from KEYS[k] and ARGV[a]
  (new_batch(k, a) reads them):
    KEYS[k]      dead-letter stream                 b.dlq
    KEYS[k + 1]  processed_count                    b.processed_count
    KEYS[k + 2]  total_amount (2-place decimal)     b.total_amount
    KEYS[k + 3]  total_amount_cents (integer)       b.total_amount_cents
    ARGV[a]      idempotency mark prefix            b.mark_prefix (a payment's mark: .. tx)
    ARGV[a + 1]  idempotency mark TTL, seconds      b.mark_ttl
    ARGV[a + 2]  confirmation stream cap (MAXLEN ~) b.resp_cap
    ARGV[a + 3]  timestamp (ISO 8601)               b.now
    ARGV[a + 4]  consumer name                      b.consumer
  The steps count what they did in b.confirmed, b.duplicates, b.rejected, b.skipped and b.cents
  (the cents of the confirmed payments, an exact sum: decimal.lua).
]]
--@include "decimal.lua"
local function new_batch(k, a)
  return {
    dlq = KEYS[k],
    processed_count = KEYS[k + 1],
    total_amount = KEYS[k + 2],
    total_amount_cents = KEYS[k + 3],
    mark_prefix = ARGV[a],
    mark_ttl = ARGV[a + 1],
    resp_cap = ARGV[a + 2],
    now = ARGV[a + 3],
    consumer = ARGV[a + 4],
    confirmed = 0,
    duplicates = 0,
    rejected = 0,
    skipped = 0,
    cents = new_sum(),
  }
end

-- An item another consumer (or an earlier run of the same batch) already handled: nothing to do.
local function skip(b)
  b.skipped = b.skipped + 1
end
