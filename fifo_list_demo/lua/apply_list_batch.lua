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
]]
local reliable = ARGV[1] == 'reliable'
local mark_prefix = ARGV[2]
local mark_ttl = ARGV[3]
local resp_cap = ARGV[4]
local now = ARGV[5]
local consumer = ARGV[6]
local source = ARGV[7]

local confirmed, duplicates, rejected, skipped, cents = 0, 0, 0, 0, 0

for i = 8, #ARGV, 7 do
  local kind, payload, tx, backend = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local resp = tonumber(ARGV[i + 4])
  -- The oldest payloads sit at the tail of the processing list: search from there.
  if reliable and redis.call('LREM', KEYS[5], -1, payload) == 0 then
    skipped = skipped + 1
  elseif kind == 'ok' then
    if redis.call('SET', mark_prefix .. tx, source, 'NX', 'EX', mark_ttl) then
      confirmed = confirmed + 1
      cents = cents + tonumber(ARGV[i + 5])
      redis.call('XADD', KEYS[5 + resp], 'MAXLEN', '~', resp_cap, '*',
        'transaction_id', tx, 'status', 'confirmed', 'processed_amount', ARGV[i + 6],
        'backend_id', backend, 'timestamp', now)
    else
      duplicates = duplicates + 1
      redis.call('XADD', KEYS[5 + resp], 'MAXLEN', '~', resp_cap, '*',
        'transaction_id', tx, 'status', 'duplicate', 'processed_amount', '0.00',
        'backend_id', backend, 'timestamp', now)
    end
  else
    rejected = rejected + 1
    redis.call('XADD', KEYS[1], '*', 'source', source, 'payload', payload,
      'error_code', ARGV[i + 5], 'reason', ARGV[i + 6], 'consumer', consumer, 'failed_at', now)
    if resp > 0 then
      redis.call('XADD', KEYS[5 + resp], 'MAXLEN', '~', resp_cap, '*',
        'transaction_id', tx, 'status', 'rejected', 'processed_amount', '0.00',
        'backend_id', backend, 'timestamp', now,
        'error_code', ARGV[i + 5], 'error_message', ARGV[i + 6])
    end
  end
end

local total = 0
if confirmed > 0 then
  redis.call('INCRBY', KEYS[2], confirmed)
  total = redis.call('INCRBY', KEYS[4], cents)
  redis.call('SET', KEYS[3], string.format('%d.%02d', math.floor(total / 100), total % 100))
end
return { confirmed, duplicates, rejected, skipped, total }
