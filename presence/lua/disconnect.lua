-- disconnect.lua removes one connection (Store.Disconnect, and node reaping
-- with no grace). Appended to common.lua.
--
-- KEYS[2] the connection's own key, deleted here.
-- ARGV[6] connection id, ARGV[7] when the session's grace ends in
-- microseconds, or 0 to end a session left without connections at once
-- (its node died: no window can be reopening).
-- Returns the commit reply plus {session ended 0|1, bridge 0|1, session}.
-- A second run finds no connection and changes nothing (idempotent).
local conn, grace_until = ARGV[6], tonumber(ARGV[7])
local u = load()

local raw = u.conns[conn]
redis.call('DEL', KEYS[2])
if not raw then
  return current(u, 0, 0, '')
end
local sid = session_of(raw)
drop_conn(u, conn)

local s = u.ss[sid]
local ended, bridge = 0, 0
if s then
  s.n = count_conns(u, sid)
  if s.n > 0 then
    save_session(u, sid)
  elseif grace_until == 0 then
    drop_session(u, sid)
    ended, bridge = 1, s.bridge and 1 or 0
  else
    s.g = grace_until
    save_session(u, sid)
  end
end
return commit(u, ended, bridge, sid)
