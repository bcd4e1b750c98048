-- connect.lua registers one open connection (Store.Connect). Appended to
-- common.lua.
--
-- KEYS[2] the connection's own key <prefix>:conn:{t:u}:<conn> (contract §5:
-- visible while the connection is open), KEYS[3] its logged-out mark
-- <prefix>:loggedout:{t:u}:<conn> (set by logout.lua).
-- ARGV[6] session, ARGV[7] connection id, ARGV[8] node, ARGV[9] device,
-- ARGV[10] bridge 0|1, ARGV[11] MaxConnsPerUser.
-- Returns {"logged_out"} (the connection's session was logged out: a node
-- re-asserting it missed the logout), {"too_many", count}, or the commit
-- reply plus {session created 0|1}.
-- Retrying it changes nothing: the connection is a hash field, not a counter.
local sid, conn, node = ARGV[6], ARGV[7], ARGV[8]
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'logged_out'}
end
local u = load()

if not u.conns[conn] and u.nconns >= tonumber(ARGV[11]) then
  return {'too_many', u.nconns}
end
add_conn(u, conn, sid .. '|' .. node)
redis.call('SET', KEYS[2], sid .. '|' .. node)

local s, created = u.ss[sid], 0
if not s then
  s = {d = ARGV[9], idle = false, bridge = ARGV[10] == '1', n = 0, g = 0}
  u.ss[sid] = s
  created = 1
end
-- A connection within the grace continues the session: it is no longer due.
s.n, s.g = count_conns(u, sid), 0
save_session(u, sid)
return commit(u, created)
