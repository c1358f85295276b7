--[[
  decimal: exact integers as decimal strings, for the counters. Redis hands a script every integer
  reply as a Lua number (a double, exact only up to 2^53) while a counter goes up to 2^63 - 1, so
  counters are read with GET, checked, added and formatted here as strings, never through a double.
]]
local INT64_MAX = '9223372036854775807'
local INT64_MIN_DIGITS = '9223372036854775808'
-- Largest integer a double holds exactly (2^53 - 1).
local SAFE_INTEGER = 9007199254740991

-- Whether `s` is an integer INCRBY accepts: what Redis' string2ll reads (an optional '-', no
-- leading zero, no '+' or spaces) and within a signed 64-bit integer.
local function is_int64(s)
  if s == '0' then return true end
  local sign, digits = string.match(s, '^(%-?)([1-9]%d*)$')
  if not digits then return false end
  if #digits ~= 19 then return #digits < 19 end
  return digits <= (sign == '-' and INT64_MIN_DIGITS or INT64_MAX)
end

-- `a` + `b`, both non-negative integers as digit strings (no sign), as a digit string.
local function dec_add(a, b)
  local digits, carry = {}, 0
  local i, j = #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local d = carry
    if i > 0 then d = d + string.byte(a, i) - 48 end
    if j > 0 then d = d + string.byte(b, j) - 48 end
    carry = d >= 10 and 1 or 0
    digits[#digits + 1] = string.char(48 + d % 10)
    i, j = i - 1, j - 1
  end
  local text = string.reverse(table.concat(digits))
  return string.match(text, '^0*(%d-%d)$') or '0'
end

-- Whether the counter `current` (is_int64) can take `add` more (a non-negative digit string)
-- without going past 2^63 - 1, where INCRBY would fail half way through a batch.
local function has_room(current, add)
  if string.sub(current, 1, 1) == '-' then
    return #add < 19 or (#add == 19 and add <= INT64_MAX)
  end
  local sum = dec_add(current, add)
  return #sum < 19 or (#sum == 19 and sum <= INT64_MAX)
end

-- An exact sum of non-negative integers (digit strings): a double while it stays exact, carried
-- into a digit string beyond 2^53.
local function new_sum()
  return { n = 0, s = '0' }
end

local function sum_add(acc, digits)
  local v = tonumber(digits)
  if v > SAFE_INTEGER then
    acc.s = dec_add(acc.s, digits)
    return
  end
  if acc.n + v > SAFE_INTEGER then
    acc.s = dec_add(acc.s, string.format('%d', acc.n))
    acc.n = 0
  end
  acc.n = acc.n + v
end

local function sum_value(acc)
  return dec_add(acc.s, string.format('%d', acc.n))
end

-- Cents (an integer string, maybe negative) as a decimal with 2 places: '-5' -> '-0.05'.
local function cents_text(cents)
  local sign, digits = string.match(cents, '^(%-?)(%d+)$')
  if #digits < 3 then digits = string.rep('0', 3 - #digits) .. digits end
  return sign .. string.sub(digits, 1, -3) .. '.' .. string.sub(digits, -2)
end

-- The cents of a decimal number as the Python original left total_amount (a float's text:
-- '12345.6', '0.30000000000000004', '1e+16'), rounded to 2 places half away from zero, as an
-- integer string; nil when `text` is no such number or its cents do not fit in 64 bits.
local function float_to_cents(text)
  local mantissa, exponent = string.match(text, '^([^eE]*)[eE]([+-]?%d+)$')
  if not mantissa then mantissa, exponent = text, '0' end
  local sign, int, frac = string.match(mantissa, '^([+-]?)(%d*)%.?(%d*)$')
  if not sign or int .. frac == '' or #exponent > 4 then return nil end
  local digits, point = int .. frac, #int + tonumber(exponent)
  if point < 0 then
    digits, point = string.rep('0', -point) .. digits, 0
  elseif point > #digits then
    digits = digits .. string.rep('0', point - #digits)
  end
  local fraction = string.sub(digits, point + 1) .. '000'
  local cents = (string.match(string.sub(digits, 1, point) .. string.sub(fraction, 1, 2),
    '^0*(%d-%d)$'))
  if string.sub(fraction, 3, 3) >= '5' then cents = dec_add(cents, '1') end
  if sign == '-' and cents ~= '0' then cents = '-' .. cents end
  if not is_int64(cents) then return nil end
  return cents
end
