--[[
  confirm: the step of a payment that passed validation. The first time its transaction_id is seen
  (its idempotency mark is set) it is confirmed and counted; afterwards a repeat of the same payment
  gets a 'duplicate' confirmation and is not counted again, and a different payment under the same
  transaction_id is a conflict: dead-lettered, 'rejected', not counted.

  A mark holds '<fingerprint>:<origin>' (pix/fingerprint.ts: 8 characters that hash the amount in
  cents, backend and PIX keys; origin: the stream entry id, or the source list, that counted it).
  A mark written before fingerprints holds the origin alone: a repeat then stays a 'duplicate'.

  What belongs to this entry alone is checked here, and fails this entry alone (dead letter with
  its own code, the rest of the batch applies): its confirmation stream of the wrong type (no
  confirmation can be written there), its mark of the wrong type.
]]
--@include "reject.lua"

-- Codes of pix/validation.ts (ErrorCode).
local TRANSACTION_CONFLICT = 1701
local CONFIRMATION_STREAM_WRONG_TYPE = 2101
local MARK_WRONG_TYPE = 2102

-- The fingerprint and origin a mark holds; the fingerprint is nil for a mark without one.
local function read_mark(value)
  if string.sub(value, 9, 9) == ':' and not string.find(string.sub(value, 1, 8), '[^%w_%-]') then
    return string.sub(value, 1, 8), string.sub(value, 10)
  end
  return nil, value
end

--[[
  An accepted payment `e`:
    e.tx, e.backend   its transaction and backend ids
    e.stream          its confirmation stream (nil: the design sends none)
    e.broken          TYPE of e.stream when that is not a stream (nil: fine)
    e.cents, e.amount its amount in cents (digit string) and as a 2-place decimal
    e.fp, e.origin    what its mark will hold: fingerprint, and the entry id or list that counts it
    e.letter()        its dead letter's origin fields (read only when it is dead-lettered)
    e.extra           more dead letter field/value pairs (may be empty)
]]
local function accept(b, e)
  if e.broken then
    return reject(b, e.letter(), e.extra, e.tx, e.backend, nil, CONFIRMATION_STREAM_WRONG_TYPE,
      'confirmation stream ' .. e.stream .. ' is not a stream (it holds a ' .. e.broken ..
      '); the payment was not applied')
  end
  local mark = b.mark_prefix .. e.tx
  local old = redis.pcall('SET', mark, e.fp .. ':' .. e.origin, 'NX', 'GET', 'EX', b.mark_ttl)
  if type(old) == 'table' and old.err then
    return reject(b, e.letter(), e.extra, e.tx, e.backend, e.stream, MARK_WRONG_TYPE,
      'idempotency mark ' .. mark .. ' is not a string (it holds a ' ..
      redis.call('TYPE', mark)['ok'] .. '); the payment was not applied')
  end
  if not old then
    b.confirmed = b.confirmed + 1
    sum_add(b.cents, e.cents)
    if e.stream then confirmation(b, e.stream, e.tx, e.backend, 'confirmed', e.amount) end
    return
  end
  local fp, origin = read_mark(old)
  if fp == nil or fp == e.fp then
    b.duplicates = b.duplicates + 1
    if e.stream then confirmation(b, e.stream, e.tx, e.backend, 'duplicate', '0.00') end
    return
  end
  local extra = { 'counted_id', origin }
  for _, v in ipairs(e.extra) do extra[#extra + 1] = v end
  reject(b, e.letter(), extra, e.tx, e.backend, e.stream, TRANSACTION_CONFLICT,
    'transaction_id ' .. e.tx .. ' was already counted (' .. origin ..
    ') for another amount, backend or PIX key; this payment was not counted')
end
