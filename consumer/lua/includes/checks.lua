--[[
  checks: a batch script is all or nothing. Redis does not roll a script back when a command fails
  half way, so everything that could fail is refused before the first write: the script's `#!lua`
  line makes Redis refuse the whole call up front when it is out of memory, and these checks
  refuse it when a key it will write holds the wrong type. The refusal is an error reply
  ('WRONGTYPE <key> must be ...; nothing was applied'); the batch can be retried as it is.
]]
local function refuse(key, what)
  return redis.error_reply('WRONGTYPE ' .. key .. ' must be ' .. what .. '; nothing was applied')
end

-- The refusal for the first of `keys` that holds something other than a `kind` (absent is fine).
local function refuse_unless(kind, keys)
  for _, key in ipairs(keys) do
    local t = redis.call('TYPE', key)['ok']
    if t ~= kind and t ~= 'none' then return refuse(key, 'a ' .. kind) end
  end
end

-- The refusal for the first of `keys` (strings or absent) that INCRBY could not add to.
local function refuse_unless_integer(keys)
  for _, key in ipairs(keys) do
    local v = redis.call('GET', key)
    if v and not string.match(v, '^%-?%d+$') then return refuse(key, 'an integer') end
  end
end

-- The refusal for the first key of the wrong type among those every batch writes (batch.lua: its
-- dead-letter stream and counters) and the script's own `streams` and `lists`; nil when all fit.
local function refuse_wrong_types(b, streams, lists)
  return refuse_unless('stream', { b.dlq })
    or refuse_unless('string', { b.processed_count, b.total_amount, b.total_amount_cents })
    or refuse_unless_integer({ b.processed_count, b.total_amount_cents })
    or refuse_unless('stream', streams)
    or refuse_unless('list', lists)
end
