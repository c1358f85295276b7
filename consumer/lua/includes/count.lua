--[[
  count: adds payments to the counters. Exact at any size: total_amount_cents is the source of
  truth, and total_amount (2-place decimal) is formatted from its text after INCRBY (GET), never
  from a Lua number (a double, which drifts above 2^53 cents), in the same call, so concurrent
  consumers never leave the decimal total behind the cents. checks.lua has made sure the counters
  are 64-bit integers with room for what is added.
]]
--@include "decimal.lua"

-- Converts the Python original's float total_amount to exact cents, once, when the checks planned
-- it (b.migrate); returns a line that says what was done ('' when nothing was).
local function migrate(b)
  local m = b.migrate
  if not m then return '' end
  b.migrate = nil
  redis.call('SET', b.total_amount_cents, m.cents)
  redis.call('SET', b.total_amount, cents_text(m.cents))
  local line = 'converted the original\'s float ' .. b.total_amount .. ' ' .. m.float ..
    ' to ' .. b.total_amount_cents .. ' ' .. m.cents .. ' (' .. b.total_amount .. ' ' ..
    cents_text(m.cents) .. ')'
  redis.log(redis.LOG_WARNING, 'fastpix: ' .. line)
  return line
end

-- Adds `n` payments of `cents` (a digit string) in all to the counters named in `keys`
-- (processed_count, total_amount, total_amount_cents); returns total_amount_cents after, as text.
local function add_to_counters(keys, n, cents)
  redis.call('INCRBY', keys.processed_count, n)
  redis.call('INCRBY', keys.total_amount_cents, cents)
  local total = redis.call('GET', keys.total_amount_cents)
  redis.call('SET', keys.total_amount, cents_text(total))
  return total
end

-- Counts a batch's confirmed payments (batch.lua) and returns the batch scripts' reply:
-- { confirmed, duplicates, rejected, skipped, total_amount_cents (text; '0' when nothing was
-- confirmed), migration ('' or what migrate() did) }.
local function count(b)
  local migrated = migrate(b)
  local total = '0'
  if b.confirmed > 0 then total = add_to_counters(b, b.confirmed, sum_value(b.cents)) end
  return { b.confirmed, b.duplicates, b.rejected, b.skipped, total, migrated }
end
