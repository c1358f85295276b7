--[[
  enqueue_batch: XADDs many payments in one call (one round trip and one reply for the batch).
  Each payment becomes an ordinary stream entry, exactly as a pipelined XADD would write it.
  No MAXLEN here: trimming is the consumer's job, and it never drops unacknowledged entries.

  KEYS[1]  payment stream
  ARGV[1]  number of fields per payment (n)
  ARGV[2 .. n+1]  field names
  ARGV[n+2 ..]    values, n per payment, payment after payment

  Returns the ids of the entries added, in the order of the payments (a `wait=true` request
  matches its confirmation by its entry's id).
]]
local n = tonumber(ARGV[1])
local names = {}
for f = 1, n do names[f] = ARGV[1 + f] end
local added = {}
local entry = {}
for i = n + 2, #ARGV, n do
  for f = 1, n do
    entry[2 * f - 1] = names[f]
    entry[2 * f] = ARGV[i + f - 1]
  end
  added[#added + 1] = redis.call('XADD', KEYS[1], '*', unpack(entry, 1, 2 * n))
end
return added
