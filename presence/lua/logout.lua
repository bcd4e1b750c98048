-- logout.lua ends one session at once, with its connections
-- (Store.Logout). Appended to common.lua.
--
-- KEYS[2..n+1] the own keys of the session's n connections as the caller
-- read them just before, KEYS[n+2..2n+1] their logged-out marks (a later
-- connect.lua of them answers "logged_out"); ARGV[6] session; ARGV[7] how
-- long the marks last, in ms; ARGV[8..] the connection ids, in the order of
-- the KEYS. Every key a script writes must be declared in KEYS (Redis
-- Cluster), and only the caller can name them, so when a connection of the
-- session opened or closed since the caller read them the script changes
-- nothing and returns {"retry"}.
-- Returns {"unknown_session"}, {"retry"}, or the commit reply plus
-- {conn1, node1, conn2, node2, ...}.
local sid, mark_ms = ARGV[6], ARGV[7]
local first = 8
local n = #ARGV - first + 1
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
if count ~= n then
  return {'retry'}
end
for i = first, #ARGV do
  if not mine[ARGV[i]] then
    return {'retry'}
  end
end
local refs = {}
for j = 1, n do
  local c = ARGV[first + j - 1]
  drop_conn(u, c)
  redis.call('DEL', KEYS[1 + j])
  redis.call('SET', KEYS[1 + n + j], '1', 'PX', mark_ms)
  refs[#refs + 1] = c
  refs[#refs + 1] = mine[c]
end
drop_session(u, sid)
return commit(u, unpack(refs))
