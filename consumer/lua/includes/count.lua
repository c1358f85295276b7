--[[
  count: adds payments to the counters. Exact: total_amount_cents is the source of truth and
  total_amount (2-place decimal) is derived from it in the same call, so concurrent consumers
  never leave the decimal total behind the cents.
]]

-- Adds `n` payments of `cents` in all to the counters named in `keys` (processed_count,
-- total_amount, total_amount_cents); returns total_amount_cents after.
local function add_to_counters(keys, n, cents)
  redis.call('INCRBY', keys.processed_count, n)
  local total = redis.call('INCRBY', keys.total_amount_cents, cents)
  redis.call('SET', keys.total_amount,
    string.format('%d.%02d', math.floor(total / 100), total % 100))
  return total
end

-- Counts a batch's confirmed payments (batch.lua) and returns the batch scripts' reply:
-- { confirmed, duplicates, rejected, skipped, total_amount_cents (0 when nothing was confirmed) }.
local function count(b)
  local total = 0
  if b.confirmed > 0 then total = add_to_counters(b, b.confirmed, b.cents) end
  return { b.confirmed, b.duplicates, b.rejected, b.skipped, total }
end
