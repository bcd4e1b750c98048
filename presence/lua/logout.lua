-- logout.lua ends one session at once, with its connections
-- (Store.Logout). Appended to common.lua.
--
-- KEYS[2..] the own keys of the session's connections as the caller read
-- them just before; ARGV[6] session; ARGV[7..] the connection ids, in the
-- order of KEYS[2..]. Every key a script writes must be declared in KEYS
-- (Redis Cluster), and only the caller can name them, so when a connection
-- of the session opened or closed since the caller read them the script
-- changes nothing and returns {"retry"}.
-- Returns {"unknown_session"}, {"retry"}, or the commit reply plus
-- {conn1, node1, conn2, node2, ...}.
local sid = ARGV[6]
local u = load()
if not u.ss[sid] then
  return {'unknown_session'}
end
local mine, count = {}, 0
for conn, v in pairs(u.conns) do
  if session_of(v) == sid then
    mine[conn] = node_of(v)
    count = count + 1
  end
end
if count ~= #ARGV - 6 then
  return {'retry'}
end
for i = 7, #ARGV do
  if not mine[ARGV[i]] then
    return {'retry'}
  end
end
local refs = {}
for i = 7, #ARGV do
  drop_conn(u, ARGV[i])
  redis.call('DEL', KEYS[i - 5])
  refs[#refs + 1] = ARGV[i]
  refs[#refs + 1] = mine[ARGV[i]]
end
drop_session(u, sid)
return commit(u, unpack(refs))
