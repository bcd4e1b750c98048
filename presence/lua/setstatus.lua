-- setstatus.lua sets or clears the user's manual status (Store.SetStatus).
-- Appended to common.lua.
--
-- ARGV[6] status (online clears), ARGV[7] note.
-- Returns {"offline"} when the user has no live non-bridge session: a manual
-- status lasts only while the user is present (contract §3.1).
local u = load()
local live = 0
for _, s in pairs(u.ss) do
  if not s.bridge then live = live + 1 end
end
if live == 0 then
  return {'offline'}
end
if ARGV[6] == 'online' then
  u.m, u.n = '', ''
else
  u.m, u.n = ARGV[6], ARGV[7]
end
return commit(u)
