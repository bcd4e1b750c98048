-- zrem_if_le.lua removes a sorted-set member only while its score is at most
-- a bound. Standalone. Used for the node registry (reap a node only if no
-- heartbeat came in since it was found dead) and the tenant index (drop a
-- user who went offline at version v unless a later change, whose version
-- is above v, re-added them).
--
-- KEYS[1] sorted set, ARGV[1] member, ARGV[2] bound. Returns 1 when removed.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
