#!lua
--[[
  outbox_add: appends a batch's ledger rows to the outbox, keeping only the rows of entries the
  batch will really apply. It runs in the same MULTI as process_batch, just before it: an entry
  still pending in the group now is one whose XACK in process_batch returns 1 (nothing runs in
  between), and an entry no longer pending is one process_batch skips (another consumer, or an
  earlier try, already applied it and wrote its rows). So the ledger, processing_metrics and
  consumer_stats count each entry once, for the consumer that applied it.

  KEYS[1]  ledger outbox stream
  KEYS[2]  ledger backlog counter (rows waiting)
  KEYS[3]  payment stream
  ARGV[1]  payment stream's consumer group
  ARGV[2]  rows in the batch
  ARGV[3]  payments: the rows with a transaction id, JSON arrays joined by commas (may be empty)
  ARGV[4]  untracked: the rows without one, the same way (may be empty)
  ARGV[5]  metrics: the processing_metrics row, a JSON array
  ARGV[6+] the rows' stream entry ids, one per row

  Row layout (consumer/ledger/write_rows.ts): [tx, backend, amount, status, error_code, message,
  stream, stream_id, consumer, deliveries, processing_ms, latency_ms, enqueued_ms, applied_ms];
  metrics: [batch_id, consumer, stream, entries, accepted, rejected, processing_ms, avg_latency_ms,
  max_latency_ms, applied_ms].

  Returns { outbox entry id or false (no row kept), rows kept, backlog after }. `#!lua`: out of
  memory, Redis refuses it up front, as it refuses process_batch.
]]
local group = ARGV[1]
local kept = {}
local all = true
local n = 0
for i = 6, #ARGV do
  local id = ARGV[i]
  if #redis.call('XPENDING', KEYS[3], group, id, id, 1) > 0 then
    kept[id] = true
    n = n + 1
  else
    all = false
  end
end

local function add(rows, payments, untracked, metrics)
  local id = redis.call('XADD', KEYS[1], '*', 'rows', rows, 'payments', payments,
    'untracked', untracked, 'metrics', metrics)
  return { id, tonumber(rows), redis.call('INCRBY', KEYS[2], rows) }
end

if all then return add(ARGV[2], ARGV[3], ARGV[4], ARGV[5]) end
if n == 0 then return { false, 0, tonumber(redis.call('GET', KEYS[2]) or '0') } end

-- Some entries were applied elsewhere: rebuild the entry from the rows kept.
local function filter()
  local metrics = cjson.decode(ARGV[5])
  local rejected, latency_sum, latency_max = 0, 0, 0
  local function keep(part)
    if part == '' then return '' end
    local out = {}
    for _, row in ipairs(cjson.decode('[' .. part .. ']')) do
      if kept[row[8]] then
        if row[4] == 'error' then rejected = rejected + 1 end
        latency_sum = latency_sum + row[12]
        if row[12] > latency_max then latency_max = row[12] end
        out[#out + 1] = cjson.encode(row)
      end
    end
    return table.concat(out, ',')
  end
  local payments, untracked = keep(ARGV[3]), keep(ARGV[4])
  metrics[4] = n
  metrics[5] = n - rejected
  metrics[6] = rejected
  metrics[8] = latency_sum / n
  metrics[9] = latency_max
  return payments, untracked, cjson.encode(metrics)
end

local ok, payments, untracked, metrics = pcall(filter)
if not ok then
  -- Never lose rows: an entry this script cannot read is written whole, as before.
  return add(ARGV[2], ARGV[3], ARGV[4], ARGV[5])
end
return add(n, payments, untracked, metrics)
