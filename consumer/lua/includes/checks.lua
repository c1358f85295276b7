--[[
  checks: a batch script is all or nothing for what belongs to the whole batch. Redis does not roll
  a script back when a command fails half way, so everything that could fail is checked before the
  first write: the script's `#!lua` line makes Redis refuse the whole call up front when it is out
  of memory, and these checks refuse it when a key every entry needs (the payment stream or list,
  the dead-letter stream, the counters) holds the wrong type, or a counter is no 64-bit integer or
  has no room left for what the batch may add. The refusal is an error reply ('WRONGTYPE <key> must
  be ...; nothing was applied', or 'ERR <key> ...; nothing was applied'); the batch can be retried as
  it is once the key is fixed.

  What belongs to one entry (its backend's confirmation stream, its idempotency mark) is checked
  per entry instead (confirm.lua): that entry alone is dead-lettered, the rest of the batch applies.

  Migration from the Python original: it kept only total_amount, a float (INCRBYFLOAT). A batch that
  finds total_amount without total_amount_cents plans to convert it once to exact cents (b.migrate,
  written by count.lua); a total_amount that is no number refuses the batch.
]]
--@include "decimal.lua"

local function refuse(key, what)
  return redis.error_reply('WRONGTYPE ' .. key .. ' must be ' .. what .. '; nothing was applied')
end

-- The TYPE of `key` when it holds something other than a `kind` (absent is fine); nil when fine.
local function wrong_type(key, kind)
  local t = redis.call('TYPE', key)['ok']
  if t ~= kind and t ~= 'none' then return t end
end

-- The refusal for the first of `keys` that holds something other than a `kind`.
local function refuse_unless(kind, keys)
  for _, key in ipairs(keys) do
    if wrong_type(key, kind) then return refuse(key, 'a ' .. kind) end
  end
end

local function refuse_full(key, value, add)
  return redis.error_reply('ERR ' .. key .. ' is ' .. value .. ': no room for ' .. add ..
    ' more below 2^63; nothing was applied')
end

-- The refusal for the first key of the wrong type or the first unusable counter among those every
-- batch writes (batch.lua: its dead-letter stream and counters) and the script's own `streams` and
-- `lists`, for a batch that may count `count` more payments of `cents` (a digit string) in all;
-- nil when all fit. Plans the float migration (b.migrate) when there is one to do.
local function refuse_batch(b, streams, lists, count, cents)
  local refusal = refuse_unless('stream', { b.dlq })
    or refuse_unless('string', { b.processed_count, b.total_amount, b.total_amount_cents })
    or refuse_unless('stream', streams)
    or refuse_unless('list', lists)
  if refusal then return refusal end
  local int64 = 'an integer from -2^63 to 2^63-1'
  local processed = redis.call('GET', b.processed_count) or '0'
  if not is_int64(processed) then return refuse(b.processed_count, int64) end
  local total = redis.call('GET', b.total_amount_cents)
  if total and not is_int64(total) then return refuse(b.total_amount_cents, int64) end
  if not total then
    local float = redis.call('GET', b.total_amount)
    total = '0'
    if float then
      total = float_to_cents(float)
      if not total then
        return refuse(b.total_amount, 'a decimal number (the original\'s float total) to convert')
      end
      b.migrate = { float = float, cents = total }
    end
  end
  if not has_room(processed, tostring(count)) then
    return refuse_full(b.processed_count, processed, tostring(count))
  end
  if not has_room(total, cents) then return refuse_full(b.total_amount_cents, total, cents) end
end

-- The refusal when the script's user may not read `stream` with XRANGE (Redis ACL), which an
-- entry's dead letter needs for its fields: found up front rather than half way through a batch.
local function refuse_unless_readable(stream)
  if not redis.acl_check_cmd('XRANGE', stream, '-', '+') then
    return redis.error_reply('NOPERM this user may not XRANGE ' .. stream ..
      ' (dead letters read the entry\'s fields); nothing was applied')
  end
end

-- What the entries from ARGV[first] on (`stride` values each: kind first, cents 5 values after)
-- may count at most, every 'ok' entry: how many, and their cents (a digit string).
local function at_most(first, stride)
  local count, cents = 0, new_sum()
  for i = first, #ARGV, stride do
    if ARGV[i] == 'ok' then
      count = count + 1
      sum_add(cents, ARGV[i + 5])
    end
  end
  return count, sum_value(cents)
end

-- The confirmation streams of the wrong type among `streams`, by position: TYPE of each (nil: fine).
local function broken_streams(streams)
  local broken = {}
  for i, key in ipairs(streams) do broken[i] = wrong_type(key, 'stream') end
  return broken
end
