-- expire.lua ends one session whose grace ran out (Store.ExpireDue).
-- Appended to common.lua.
--
-- ARGV[6] session. The grace queue only says when to look; the session's
-- own state decides, so a stale queue entry (the session reconnected, or
-- another node expired it first) ends nothing.
-- Returns {"gone"} (nothing to end), {"pending", graceUntil} (a later
-- disconnect moved the grace), or the commit reply plus {bridge 0|1}.
local sid = ARGV[6]
local u = load()
local s = u.ss[sid]
if not s or s.n > 0 or s.g == 0 then
  return {'gone'}
end
if s.g > NOW then
  return {'pending', num(s.g)}
end
drop_session(u, sid)
return commit(u, s.bridge and 1 or 0)
