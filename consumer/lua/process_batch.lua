#!lua
--[[
  process_batch: applies the outcome of a batch of payments atomically — confirmations, counters,
  idempotency marks, dead letters and XACK — so a consumer killed at any point leaves either all
  of an entry's effects or none.

  Each entry is first acknowledged; an entry that was no longer pending (another consumer or an
  earlier run of this same script already handled it) is skipped, so re-running is harmless.
  A transaction_id that was already counted (mark present) gets a 'duplicate' confirmation and
  is not counted again when it is the same payment (same fingerprint), and is dead-lettered as a
  conflict (1701) when it is another one (includes/confirm.lua).

  KEYS[1]  payment stream
  KEYS[2]  dead-letter stream
  KEYS[3]  processed_count
  KEYS[4]  total_amount            (decimal, 2 places, derived from KEYS[5])
  KEYS[5]  total_amount_cents      (integer, source of truth)
  KEYS[6+] confirmation streams; entries refer to them by position (1 = KEYS[6], 0 = none)
  KEYS[..] then, partitioned layout only, the idempotency marks of the 'ok' entries: not read
           here (marks are ARGV[2] .. tx) but declared so Redis Cluster checks them up front

  ARGV[1]  consumer group
  ARGV[2]  idempotency mark prefix
  ARGV[3]  idempotency mark TTL, seconds
  ARGV[4]  confirmation stream cap (MAXLEN ~)
  ARGV[5]  confirmation timestamp (ISO 8601)
  ARGV[6]  consumer name (recorded in dead letters)
  ARGV[7+] entries, 9 values each (batch_args.ts writes this layout and reads it back):
           'ok'     id tx backend resp_index cents processed_amount fingerprint deliveries
           'reject' id tx backend resp_index deliveries error_code reason original_fields_json
           'gone'   id '' '' 0 '' '' '' ''        (entry deleted from the stream: ack only)

  Returns { confirmed, duplicates, rejected, skipped, total_amount_cents (text), migration }

  Every confirmation carries `entry_id`, the id of its payment's entry in the payment stream, so a
  gateway waiting for one payment (`wait=true`) tells it from another under the same transaction_id.

  All or nothing for the batch (includes/checks.lua): the `#!lua` line makes Redis 7 refuse the
  whole call up front when it is out of memory, and the keys every entry needs (payment and
  dead-letter streams, counters) are checked before the first write: a wrong type, a counter that
  is no 64-bit integer or has no room left refuses the whole batch, which stays pending and is
  retried. What belongs to one entry (its confirmation stream or its mark of the wrong type)
  dead-letters that entry alone (2101, 2102) and the rest of the batch applies.

  The confirm / duplicate / reject / count steps and the checks are include files shared with the
  list designs' apply_list_batch (includes/*.lua, joined in when the script is loaded).

  Partitioned layout (PARTITIONS=P): every key above and the mark prefix carry the partition's
  hash tag ({t}), so all of them, and the marks built here from ARGV[2], hash to one slot and the
  script runs on one Redis Cluster node. The marks are also declared in KEYS: Redis then refuses
  the whole call up front (CROSSSLOT, TRYAGAIN during a slot migration) rather than failing
  halfway through a batch whose XACKs already ran (scripts are not rolled back on error).
]]
--@include "includes/decimal.lua"
--@include "includes/batch.lua"
--@include "includes/checks.lua"
--@include "includes/reject.lua"
--@include "includes/confirm.lua"
--@include "includes/count.lua"

local stream, group = KEYS[1], ARGV[1]
local b = new_batch(2, 2)
-- Confirmation streams: from KEYS[6] up to the first mark (partitioned layout) or the end.
local responses = {}
while KEYS[6 + #responses]
  and string.sub(KEYS[6 + #responses], 1, #b.mark_prefix) ~= b.mark_prefix do
  responses[#responses + 1] = KEYS[6 + #responses]
end
local refusal = refuse_batch(b, { stream }, {}, at_most(7, 9)) or refuse_unless_readable(stream)
if refusal then return refusal end
local broken = broken_streams(responses)

for i = 7, #ARGV, 9 do
  local kind, id, tx, backend = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local r = tonumber(ARGV[i + 4])
  b.entry_id = id -- its confirmation's entry_id (includes/reject.lua)
  if redis.call('XACK', stream, group, id) == 0 then
    skip(b)
  elseif kind == 'ok' then
    accept(b, {
      tx = tx, backend = backend, stream = responses[r], broken = broken[r],
      cents = ARGV[i + 5], amount = ARGV[i + 6], fp = ARGV[i + 7], origin = id,
      letter = function() return { 'original_id', id, 'fields', entry_fields_json(stream, id) } end,
      extra = { 'deliveries', ARGV[i + 8] },
    })
  elseif kind == 'reject' then
    reject_invalid(b, { 'original_id', id, 'fields', ARGV[i + 8] }, { 'deliveries', ARGV[i + 5] },
      tx, backend, responses[r], broken[r], ARGV[i + 6], ARGV[i + 7])
  end
  -- 'gone': the XACK above was all there was to do
end
return count(b)
