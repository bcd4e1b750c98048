-- grace_settle.lua settles one entry of the grace queue after expire.lua
-- looked at its session. Standalone. It acts only while the entry still
-- has the score it was read with: a disconnect that re-queued the session
-- since (with a new score) must not be lost.
--
-- KEYS[1] <prefix>:grace, ARGV[1] member, ARGV[2] score read,
-- ARGV[3] new score to re-queue at, or '' to remove. Returns 1 when done.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return 0
end
if ARGV[3] == '' then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
