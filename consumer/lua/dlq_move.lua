#!lua
--[[
  dlq_move: replays or purges dead letters, each one atomically and at most once. A letter is
  acted on only when this call is the one that deletes it (XDEL returns 1); a letter that another
  replay or purge deleted first is reported 'gone' and nothing else happens. So concurrent replays,
  and a replay racing a purge, account for every letter exactly once: replayed, purged, or gone.

  Replay re-enqueues a letter's original fields as a new entry of the payment stream, except when
  its payment is already processed (its idempotency mark exists): then the letter is deleted and
  not re-enqueued ('processed'), since the consumer would only answer it 'duplicate'. Deleting it
  also means a later replay, after the mark expired, cannot pay it a second time.

  KEYS[1]  dead-letter stream
  KEYS[2]  payment stream (replay adds to it; purge leaves it alone)
  KEYS[3+] idempotency marks of the letters' transaction ids (replay only): read, never written;
           declared here so Redis Cluster checks their slot up front

  ARGV[1]  'replay' or 'purge'
  ARGV[2+] letters, each: id mark field_count field_1 value_1 ... field_n value_n
             mark         k: the letter's mark is KEYS[2 + k]; 0: none (no transaction id, purge)
             field_count  n pairs follow (0 for purge; at most 1000); the fields come from the
                          letter, which cannot change while it exists (entries are immutable)

  Returns one reply per letter, in order: the new entry's id (replayed), 'purged', 'processed'
  (replay: deleted, not re-enqueued) or 'gone' (no longer in KEYS[1]).

  Nothing is written before every argument and key type is checked: a script is not rolled back
  when a command fails half way. The `#!lua` line makes Redis refuse the whole call up front when
  it is out of memory.
]]
local mode = ARGV[1]
if mode ~= 'replay' and mode ~= 'purge' then
  return redis.error_reply('ERR dlq_move: ARGV[1] must be replay or purge, not ' .. tostring(mode))
end

local function holds(key, kind)
  local t = redis.call('TYPE', key)['ok']
  return t == kind or t == 'none'
end
for k = 1, 2 do
  if not holds(KEYS[k], 'stream') then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' must be a stream; nothing was moved')
  end
end

-- Parse every letter before the first write.
local letters = {}
local i = 2
while i <= #ARGV do
  local id, mark, n = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  -- At most 1000 fields: unpack() below must not fail half way (Lua's stack holds ~8000 values).
  if not id or not mark or not n or n < 0 or n > 1000 or mark < 0
    or (mark > 0 and not KEYS[2 + mark]) or i + 2 + 2 * n > #ARGV
    or (mode == 'replay' and n == 0) then
    return redis.error_reply(
      'ERR dlq_move: malformed letter at ARGV[' .. i .. ']; nothing was moved')
  end
  letters[#letters + 1] = { id = id, mark = mark, first = i + 3, n = n }
  i = i + 3 + 2 * n
end

local replies = {}
for _, l in ipairs(letters) do
  local processed = mode == 'replay' and l.mark > 0 and redis.call('EXISTS', KEYS[2 + l.mark]) == 1
  if redis.call('XDEL', KEYS[1], l.id) == 0 then
    replies[#replies + 1] = 'gone'
  elseif mode == 'purge' then
    replies[#replies + 1] = 'purged'
  elseif processed then
    replies[#replies + 1] = 'processed'
  else
    replies[#replies + 1] = redis.call('XADD', KEYS[2], '*',
      unpack(ARGV, l.first, l.first + 2 * l.n - 1))
  end
end
return replies
