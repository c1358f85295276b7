#!lua
--[[
  apply_list_batch: applies the outcome of a batch of list payloads atomically — confirmations,
  counters, idempotency marks and dead letters, and for the reliable list the removal of each
  payload from the consumer's processing list. A payload that is no longer in the processing list
  was returned to the queue by the reaper (this consumer was taken for dead): it is skipped here
  and counted once by whoever takes it next.

  A transaction_id that was already counted (mark present) gets a 'duplicate' confirmation and is
  not counted again, as in the stream consumer's process_batch.

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
  ARGV[8+] entries, 7 values each:
           'ok'     payload tx backend resp_index cents processed_amount
           'reject' payload tx backend resp_index error_code reason
           (payload: the item exactly as taken; '' for 'ok' entries in plain mode)

  Returns { confirmed, duplicates, rejected, skipped, total_amount_cents }

  All or nothing, as process_batch: the `#!lua` line makes Redis 7 refuse the whole call up front
  when it is out of memory, and every key written (dead-letter stream, counters, confirmation
  streams, and the processing list in reliable mode) is type-checked before the first write. A
  refused batch is still in the consumer's hands (and, reliable, in its processing list) and is
  retried as it is.

  The confirm / duplicate / reject / count steps and the checks are the stream consumer's include
  files (consumer/lua/includes/*.lua, joined in when the script is loaded).
]]
--@include "../../consumer/lua/includes/batch.lua"
--@include "../../consumer/lua/includes/checks.lua"
--@include "../../consumer/lua/includes/confirm.lua"
--@include "../../consumer/lua/includes/reject.lua"
--@include "../../consumer/lua/includes/count.lua"

local reliable = ARGV[1] == 'reliable'
local processing = KEYS[5]
local source = ARGV[7]
local b = new_batch(1, 2)
local responses = { unpack(KEYS, 6) }
local refusal = refuse_wrong_types(b, responses, reliable and { processing } or {})
if refusal then return refusal end

for i = 8, #ARGV, 7 do
  local kind, payload, tx, backend = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local resp = responses[tonumber(ARGV[i + 4])]
  -- The oldest payloads sit at the tail of the processing list: search from there.
  if reliable and redis.call('LREM', processing, -1, payload) == 0 then
    skip(b)
  elseif kind == 'ok' then
    confirm(b, source, tx, backend, resp, ARGV[i + 5], ARGV[i + 6])
  else
    reject(b, { 'source', source, 'payload', payload }, {}, tx, backend, resp,
      ARGV[i + 5], ARGV[i + 6])
  end
end
return count(b)
