--[[
  begin_attempt: decides where a payment is sent and with which requestedAt, before it is sent.

  The intent of a payment is "processor|requestedAtMs|doubt|attempt". doubt = 1 means a request to
  that processor may have been recorded (or may still be in flight): from then on the payment is
  bound to that processor and that requestedAt until the processor answers 200 or 422, so it can
  never be paid twice, nor counted with a requestedAt the processor does not have. With doubt = 0
  (no attempt yet, or the last one was refused with 500/429 and nothing else was in flight) the
  worker may pick any processor and a fresh requestedAt.

  KEYS[1]  paid hash (correlationId -> "processor|requestedAtMs|cents")
  KEYS[2]  intents hash
  ARGV[1]  correlationId
  ARGV[2..] usable processors in order of preference, each followed by the requestedAt (ms) to use
           if it is picked for a fresh attempt: "default", "1752...", "fallback", "1752..."

  Returns {"paid", value} when already counted; {"wait", bound processor or ""} when no usable
  processor fits; else {"send", processor, requestedAtMs, attempt, doubtBefore}.
]]
local paid = redis.call('HGET', KEYS[1], ARGV[1])
if paid then return {'paid', paid} end

local proc, at, doubt, attempt = nil, nil, '0', 0
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current then
  local p, t, d, a = string.match(current, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
  attempt = tonumber(a)
  doubt = d
  if d == '1' then proc, at = p, t end
end

if proc then
  local usable = false
  for i = 2, #ARGV, 2 do
    if ARGV[i] == proc then usable = true end
  end
  if not usable then return {'wait', proc} end
else
  if #ARGV < 3 then return {'wait', ''} end
  proc, at = ARGV[2], ARGV[3]
end

attempt = attempt + 1
redis.call('HSET', KEYS[2], ARGV[1], proc .. '|' .. at .. '|1|' .. attempt)
return {'send', proc, at, attempt, doubt}
