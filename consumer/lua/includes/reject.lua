--[[
  reject: confirmations on a backend's confirmation stream, and the reject step of a payment that
  cannot be accepted: a dead letter, and a 'rejected' confirmation when its backend is known (it
  has a confirmation stream).
]]

-- Adds one confirmation to `stream`; `...`: extra field/value pairs (the errors of a rejection).
-- `stream` nil: the payment names no backend (a list payload without backend_id): nothing to add.
-- b.entry_id: the id of the payment's stream entry, set by the stream design's script before each
-- entry's step and written as the confirmation's `entry_id` (a `wait=true` request matches its own
-- entry by it); nil (the list designs: no entry ids) leaves the field out.
local function confirmation(b, stream, tx, backend, status, amount, ...)
  if not stream then return end
  if b.entry_id then
    redis.call('XADD', stream, 'MAXLEN', '~', b.resp_cap, '*',
      'transaction_id', tx, 'status', status, 'processed_amount', amount,
      'backend_id', backend, 'timestamp', b.now, 'entry_id', b.entry_id, ...)
    return
  end
  redis.call('XADD', stream, 'MAXLEN', '~', b.resp_cap, '*',
    'transaction_id', tx, 'status', status, 'processed_amount', amount,
    'backend_id', backend, 'timestamp', b.now, ...)
end

-- The fields of entry `id` of `stream` as a JSON object, in order (for its dead letter).
local function entry_fields_json(stream, id)
  local found = redis.call('XRANGE', stream, id, id)[1]
  local parts = {}
  if found then
    for j = 1, #found[2], 2 do
      parts[#parts + 1] = cjson.encode(found[2][j]) .. ':' .. cjson.encode(found[2][j + 1])
    end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- Dead letter fields: `origin` (what identifies the payment: entry id and fields, or payload and
-- source list), error_code, reason, `extra` (pairs, may be empty), consumer, failed_at.
-- `stream`: the backend's confirmation stream, nil when there is none (or it is of the wrong type).
local function reject(b, origin, extra, tx, backend, stream, code, reason)
  b.rejected = b.rejected + 1
  b.last_rejection = code .. ' ' .. reason
  local fields = {}
  for _, v in ipairs(origin) do fields[#fields + 1] = v end
  for _, v in ipairs({ 'error_code', code, 'reason', reason }) do fields[#fields + 1] = v end
  for _, v in ipairs(extra) do fields[#fields + 1] = v end
  for _, v in ipairs({ 'consumer', b.consumer, 'failed_at', b.now }) do fields[#fields + 1] = v end
  redis.call('XADD', b.dlq, '*', unpack(fields))
  if stream then
    confirmation(b, stream, tx, backend, 'rejected', '0.00',
      'error_code', code, 'error_message', reason)
  end
end

-- The reject step of a payment refused before this script (invalid, or past MAX_DELIVERIES) whose
-- confirmation stream may be of the wrong type (`broken`: its TYPE): it is dead-lettered with its
-- own code all the same, and the reason says why its backend got no confirmation.
local function reject_invalid(b, origin, extra, tx, backend, stream, broken, code, reason)
  if broken then
    reason = reason .. '; no rejected confirmation: ' .. stream .. ' is not a stream (it holds a '
      .. broken .. ')'
    stream = nil
  end
  reject(b, origin, extra, tx, backend, stream, code, reason)
end
