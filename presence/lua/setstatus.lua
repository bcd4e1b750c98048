-- setstatus.lua sets or clears the user's manual status (Store.SetStatus).
-- Appended to common.lua.
--
-- ARGV[6] status (online clears), ARGV[7] note, ARGV[8] '' for the user's
-- own choice, or for a restore (Store.RestoreStatus) the version the status
-- was learnt from.
-- Returns {"offline"} when the user has no live non-bridge session: a manual
-- status lasts only while the user is present (contract §3.1); {"chosen"}
-- when a restore finds the user chose a status at a version above ARGV[8].
-- The user's own choice records its version in field mv (the new version,
-- or the current one when nothing changed), which goes with the hash when
-- the user has nothing left.
local u = load()
local live = 0
for _, s in pairs(u.ss) do
  if not s.bridge then live = live + 1 end
end
if live == 0 then
  return {'offline'}
end
local restore = ARGV[8] ~= nil and ARGV[8] ~= ''
if restore and u.mv ~= '' and tonumber(u.mv) > tonumber(ARGV[8]) then
  return {'chosen'}
end
if ARGV[6] == 'online' then
  u.m, u.n = '', ''
else
  u.m, u.n = ARGV[6], ARGV[7]
end
local reply = commit(u)
if not restore then
  redis.call('HSET', K_USER, 'mv', num(u.v_after))
end
return reply
