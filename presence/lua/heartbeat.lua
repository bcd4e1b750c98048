-- heartbeat.lua records that a node is alive (Store.Heartbeat). Standalone.
--
-- KEYS[1] <prefix>:node:{node}    the heartbeat, with a TTL of NodeTTL
-- KEYS[2] <prefix>:reaped:{node}  set by the reaper when it removed the
--                                 node's connections
-- ARGV[1] now in microseconds, ARGV[2] NodeTTL in ms, ARGV[3] 1 when this
-- store had already recorded a heartbeat of the node.
-- Returns 1 (alive) or 0: the node was reaped, or its heartbeat vanished
-- although it beat before (Redis restarted empty): either way its
-- connections may be gone and it must re-assert them. One script so the
-- reaped marker is consumed exactly once.
local reaped = redis.call('DEL', KEYS[2])
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if reaped == 1 or (existed == 0 and ARGV[3] == '1') then
  return 0
end
return 1
