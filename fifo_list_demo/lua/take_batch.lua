--[[
  take_batch: moves up to n payloads from the tail of the source list to the head of the
  consumer's processing list (LMOVE RIGHT LEFT, n times in one call), so a batch is claimed in one
  round trip and nothing is ever outside both lists.

  KEYS[1]  source list
  KEYS[2]  the consumer's processing list
  ARGV[1]  n, the most payloads to move

  Returns the moved payloads, oldest first.
]]
local moved = {}
for _ = 1, tonumber(ARGV[1]) do
  local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not item then break end
  moved[#moved + 1] = item
end
return moved
