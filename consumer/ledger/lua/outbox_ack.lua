--[[
  outbox_ack: acknowledges outbox entries that PostgreSQL now holds, deletes them, and lowers the
  backlog by their rows, once per entry however often it runs (XACK says whether it was pending).

  KEYS[1]  ledger outbox stream
  KEYS[2]  ledger backlog counter (rows waiting)
  ARGV[1]  outbox consumer group
  ARGV[2+] pairs: outbox entry id, its row count

  Returns the backlog after.
]]
local done = 0
for i = 2, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    done = done + tonumber(ARGV[i + 1])
  end
  redis.call('XDEL', KEYS[1], ARGV[i])
end
if done > 0 then
  return redis.call('DECRBY', KEYS[2], done)
end
return tonumber(redis.call('GET', KEYS[2]) or '0')
