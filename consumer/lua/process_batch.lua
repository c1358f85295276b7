#!lua
--[[
  process_batch: applies the outcome of a batch of payments atomically — confirmations, counters,
  idempotency marks, dead letters and XACK — so a consumer killed at any point leaves either all
  of an entry's effects or none.

  Each entry is first acknowledged; an entry that was no longer pending (another consumer or an
  earlier run of this same script already handled it) is skipped, so re-running is harmless.
  A transaction_id that was already counted (mark present) gets a 'duplicate' confirmation and
  is not counted again.

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
  ARGV[7+] entries, 9 values each:
           'ok'     id tx backend resp_index cents processed_amount '' ''
           'reject' id tx backend resp_index deliveries error_code reason original_fields_json
           'gone'   id '' '' 0 '' '' '' ''        (entry deleted from the stream: ack only)

  Returns { confirmed, duplicates, rejected, skipped, total_amount_cents }

  All or nothing: a script is not rolled back when a command fails half way, so everything that
  could fail is refused before the first write. The `#!lua` line makes Redis 7 refuse the whole
  call up front when it is out of memory (without it, writes inside a script bypass maxmemory), and
  the type checks below refuse it when a key it writes holds the wrong type. A refused batch stays
  pending and is retried; the consumer logs each refusal.

  Partitioned layout (PARTITIONS=P): every key above and the mark prefix carry the partition's
  hash tag ({t}), so all of them, and the marks built here from ARGV[2], hash to one slot and the
  script runs on one Redis Cluster node. The marks are also declared in KEYS: Redis then refuses
  the whole call up front (CROSSSLOT, TRYAGAIN during a slot migration) rather than failing
  halfway through a batch whose XACKs already ran (scripts are not rolled back on error).
]]
local group = ARGV[1]
local mark_prefix = ARGV[2]
local mark_ttl = ARGV[3]
local resp_cap = ARGV[4]
local now = ARGV[5]
local consumer = ARGV[6]

local function holds(key, kind)
  local t = redis.call('TYPE', key)['ok']
  return t == kind or t == 'none'
end
local function refuse(key, what)
  return redis.error_reply('WRONGTYPE ' .. key .. ' must be ' .. what .. '; nothing was applied')
end
if not holds(KEYS[2], 'stream') then return refuse(KEYS[2], 'a stream') end
for k = 3, 5 do
  if not holds(KEYS[k], 'string') then return refuse(KEYS[k], 'a string') end
end
for _, k in ipairs({ 3, 5 }) do
  local v = redis.call('GET', KEYS[k])
  if v and not string.match(v, '^%-?%d+$') then return refuse(KEYS[k], 'an integer') end
end
local k = 6
while KEYS[k] and string.sub(KEYS[k], 1, #mark_prefix) ~= mark_prefix do
  if not holds(KEYS[k], 'stream') then return refuse(KEYS[k], 'a stream') end
  k = k + 1
end

local confirmed, duplicates, rejected, skipped, cents = 0, 0, 0, 0, 0

for i = 7, #ARGV, 9 do
  local kind, id, tx, backend = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local resp = tonumber(ARGV[i + 4])
  if redis.call('XACK', KEYS[1], group, id) == 0 then
    skipped = skipped + 1
  elseif kind == 'ok' then
    if redis.call('SET', mark_prefix .. tx, id, 'NX', 'EX', mark_ttl) then
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
  elseif kind == 'reject' then
    rejected = rejected + 1
    redis.call('XADD', KEYS[2], '*', 'original_id', id, 'fields', ARGV[i + 8],
      'error_code', ARGV[i + 6], 'reason', ARGV[i + 7], 'deliveries', ARGV[i + 5],
      'consumer', consumer, 'failed_at', now)
    if resp > 0 then
      redis.call('XADD', KEYS[5 + resp], 'MAXLEN', '~', resp_cap, '*',
        'transaction_id', tx, 'status', 'rejected', 'processed_amount', '0.00',
        'backend_id', backend, 'timestamp', now,
        'error_code', ARGV[i + 6], 'error_message', ARGV[i + 7])
    end
  end
  -- 'gone': the XACK above was all there was to do
end

local total = 0
if confirmed > 0 then
  redis.call('INCRBY', KEYS[3], confirmed)
  total = redis.call('INCRBY', KEYS[5], cents)
  redis.call('SET', KEYS[4], string.format('%d.%02d', math.floor(total / 100), total % 100))
end
return { confirmed, duplicates, rejected, skipped, total }
