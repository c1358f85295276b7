--[[
  summary: count and cents of the payments whose requestedAt lies in [from, to] (inclusive), per
  processor, from the buckets record_payment keeps. Exact, and cheap at any range: whole 1000 s
  buckets come from the sorted-set index; each ragged edge is refined one level down (10x finer),
  so at most about 9 buckets per edge per level are read, down to single milliseconds.

  KEYS     for each processor: its summary hash, then its top-level bucket index
  ARGV[1]  from, epoch ms (inclusive)
  ARGV[2]  to, epoch ms (inclusive)

  Returns {count, cents} per processor, flattened in KEYS order.
]]
local TOP = 6
local SIZE = {}
SIZE[0] = 1
for k = 1, TOP do SIZE[k] = SIZE[k - 1] * 10 end
local DIGIT = {}
for d = 0, 9 do DIGIT[d] = tostring(d) end

-- Adds the buckets named in `names` (strings) of one level to acc = {count, cents}.
local function add(acc, sums, level, names)
  local fields = {}
  local n, c = 'n' .. level .. ':', 'c' .. level .. ':'
  for i = 1, #names do
    fields[#fields + 1] = n .. names[i]
    fields[#fields + 1] = c .. names[i]
    if #fields >= 1000 or i == #names then
      local values = redis.call('HMGET', sums, unpack(fields))
      for j = 1, #values, 2 do
        acc[1] = acc[1] + (tonumber(values[j]) or 0)
        acc[2] = acc[2] + (tonumber(values[j + 1]) or 0)
      end
      fields = {}
    end
  end
end

-- The names of buckets first..last, built as parent .. digit: converting a 13-digit number to a
-- string is the costly part, and a short run of buckets has at most two parents.
local function names(first, last)
  local out, parent, prefix = {}, nil, nil
  for b = first, last do
    local p = math.floor(b / 10)
    if p ~= parent then
      parent = p
      prefix = p == 0 and '' or tostring(p)
    end
    out[#out + 1] = prefix .. DIGIT[b - p * 10]
  end
  return out
end

local function topExists(index, b)
  return redis.call('ZSCORE', index, b) ~= false
end

local function sumRange(acc, sums, index, level, lo, hi)
  if lo > hi then return end
  local s = SIZE[level]
  if level == TOP then
    -- Nothing was recorded in a top bucket missing from the index: skip it without reading.
    local a, z = math.floor(lo / s), math.floor(hi / s)
    if z - a <= 1 and not topExists(index, a) and not topExists(index, z) then return end
  end
  local first = math.ceil(lo / s)
  local last = math.floor((hi + 1) / s) - 1
  if first > last then
    sumRange(acc, sums, index, level - 1, lo, hi)
    return
  end
  if level == TOP then
    add(acc, sums, level, redis.call('ZRANGEBYSCORE', index, first, last))
    if topExists(index, first - 1) then
      sumRange(acc, sums, index, level - 1, lo, first * s - 1)
    end
    if topExists(index, last + 1) then
      sumRange(acc, sums, index, level - 1, (last + 1) * s, hi)
    end
  else
    add(acc, sums, level, names(first, last))
    sumRange(acc, sums, index, level - 1, lo, first * s - 1)
    sumRange(acc, sums, index, level - 1, (last + 1) * s, hi)
  end
end

local lo = math.max(tonumber(ARGV[1]), 0)
local hi = math.min(tonumber(ARGV[2]), 8000000000000000)
local out = {}
for i = 1, #KEYS, 2 do
  local acc = {0, 0}
  sumRange(acc, KEYS[i], KEYS[i + 1], TOP, lo, hi)
  out[#out + 1] = acc[1]
  out[#out + 1] = acc[2]
end
return out
