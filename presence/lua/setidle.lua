-- setidle.lua sets one session's idle flag (Store.SetIdle). Appended to
-- common.lua.
--
-- ARGV[6] session, ARGV[7] idle 0|1.
-- Returns {"unknown_session"} when the user has no such live session.
local sid = ARGV[6]
local u = load()
local s = u.ss[sid]
if not s then
  return {'unknown_session'}
end
s.idle = ARGV[7] == '1'
save_session(u, sid)
return commit(u)
