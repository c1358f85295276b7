--[[
  reject: the reject step of a payment that cannot be accepted: a dead letter, and a 'rejected'
  confirmation when its backend is known (it has a confirmation stream).
]]
--@include "confirm.lua"

-- Dead letter fields: `origin` (what identifies the payment: entry id and fields, or payload and
-- source list), error_code, reason, `extra` (pairs, may be empty), consumer, failed_at.
-- `stream`: the backend's confirmation stream, nil when there is none.
local function reject(b, origin, extra, tx, backend, stream, code, reason)
  b.rejected = b.rejected + 1
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
