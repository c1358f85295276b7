#!lua
--[[
  apply_list_batch: applies the outcome of a batch of list payloads atomically — confirmations,
  counters, idempotency marks and dead letters, and for the reliable list the removal of each
  payload from the consumer's processing list. A payload that is no longer in the processing list
  was returned to the queue by the reaper (this consumer was taken for dead): it is skipped here
  and counted once by whoever takes it next.

  A transaction_id that was already counted (mark present) gets a 'duplicate' confirmation and is
  not counted again when it is the same payment, and is dead-lettered as a conflict (1701) when it
  is another one, as in the stream consumer's process_batch. The mark records the source list.

  KEYS[1]  dead-letter stream
  KEYS[2]  processed_count
  KEYS[3]  total_amount            (decimal, 2 places, derived from KEYS[4])
  KEYS[4]  total_amount_cents      (integer, source of truth)
  KEYS[5]  the consumer's processing list (reliable) or the source list (plain: not touched)
  KEYS[6+] confirmation streams; entries refer to them by position (1 = KEYS[6], 0 = none)

  ARGV[1]  mode: 'plain' or 'reliable'
  ARGV[2]  idempotency mark prefix
  ARGV[3]  idempotency mark TTL, seconds
  ARGV[4]  confirmation stream cap (MAXLEN ~)
  ARGV[5]  confirmation timestamp (ISO 8601)
  ARGV[6]  consumer name (recorded in dead letters)
  ARGV[7]  source list name (recorded in marks and dead letters)
  ARGV[8+] entries, 8 values each:
           'ok'     payload tx backend resp_index cents processed_amount fingerprint
           'reject' payload tx backend resp_index error_code reason ''
           (payload: the item exactly as taken; its dead letter carries it)

  Returns { confirmed, duplicates, rejected, skipped, total_amount_cents (text), migration }

  All or nothing for the batch, as process_batch: the `#!lua` line makes Redis 7 refuse the whole
  call up front when it is out of memory, and what every entry needs (dead-letter stream, counters,
  and the processing list in reliable mode) is checked before the first write. A refused batch is
  still in the consumer's hands (and, reliable, in its processing list) and is retried as it is.
  A payload whose own confirmation stream or mark is of the wrong type is dead-lettered alone
  (2101, 2102); the rest of the batch applies.

  The confirm / duplicate / reject / count steps and the checks are the stream consumer's include
  files (consumer/lua/includes/*.lua, joined in when the script is loaded).
]]
--@include "../../consumer/lua/includes/decimal.lua"
--@include "../../consumer/lua/includes/batch.lua"
--@include "../../consumer/lua/includes/checks.lua"
--@include "../../consumer/lua/includes/reject.lua"
--@include "../../consumer/lua/includes/confirm.lua"
--@include "../../consumer/lua/includes/count.lua"

local reliable = ARGV[1] == 'reliable'
local processing = KEYS[5]
local source = ARGV[7]
local b = new_batch(1, 2)
local responses = { unpack(KEYS, 6) }
local refusal = refuse_batch(b, {}, reliable and { processing } or {}, at_most(8, 8))
if refusal then return refusal end
local broken = broken_streams(responses)

for i = 8, #ARGV, 8 do
  local kind, payload, tx, backend = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local r = tonumber(ARGV[i + 4])
  local origin = { 'source', source, 'payload', payload }
  -- The oldest payloads sit at the tail of the processing list: search from there.
  if reliable and redis.call('LREM', processing, -1, payload) == 0 then
    skip(b)
  elseif kind == 'ok' then
    accept(b, {
      tx = tx, backend = backend, stream = responses[r], broken = broken[r],
      cents = ARGV[i + 5], amount = ARGV[i + 6], fp = ARGV[i + 7], origin = source,
      letter = function() return origin end, extra = {},
    })
  else
    reject_invalid(b, origin, {}, tx, backend, responses[r], broken[r], ARGV[i + 5], ARGV[i + 6])
  end
end
return count(b)
