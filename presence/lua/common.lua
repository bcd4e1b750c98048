-- common.lua is prepended to every per-user transition script (connect.lua,
-- disconnect.lua, ...; see redis_scripts.go). It loads one user's state,
-- applies the rules of presence.Aggregate (contract §4) and commits the
-- PRESENCE object with the version rule of presence.NextVersion.
--
-- Why Lua: a transition reads the user's sessions, changes them and decides
-- whether the PRESENCE object changed. Doing that in one script makes it
-- atomic per user without WATCH retries, so two nodes changing one user at
-- once always yield one final state and one change each. Every key a script
-- touches shares the user's hash tag {tenant:user} and is declared in KEYS,
-- so the scripts run on Redis Cluster; keys of other slots (session binding,
-- node sets, grace queue, tenant index) are updated by the Go side around
-- the script.
--
-- Why one hash: the whole state of a user is one HGETALL and one HSET, which
-- costs far less than a call per field or per session (redis.call dominates
-- a script's time).
--
-- KEYS[1] <prefix>:user:{t:u}, a hash:
--   m   manual status ('' for none)     n   its note
--   ph  phone overlay JSON ('' none)    v   version of the last change
--   st  status of the last change       sig state signature of it
--   p   the PRESENCE JSON last committed
--   mv  version at which the user last chose a status (setstatus.lua)
--   s:<session>  "device|idle|bridge|conns|graceUntilMicros"
--   c:<conn>     "session|node"
-- ARGV[1] now in microseconds, ARGV[2] now as the contract's RFC 3339 string
-- (Redis' Lua has no date formatting), ARGV[3] tenant, ARGV[4] user,
-- ARGV[5] VersionTTL in milliseconds. Operation arguments start at ARGV[6].
--
-- A user with nothing left (no connection, session or phone) keeps only
-- v, st, sig and p, the offline presence with its version (contract §3.2),
-- and the hash expires VersionTTL after that offline change. Any later
-- state makes it persistent again.
--
-- Every script returns {code, ...}. code "ok" is followed by
-- {changed 0|1, PRESENCE JSON, present before 0|1, present after 0|1}
-- and then the operation's extra values.

local K_USER = KEYS[1]
local NOW = tonumber(ARGV[1])
local SINCE, TENANT, USER = ARGV[2], ARGV[3], ARGV[4]
local VERSION_TTL_MS = tonumber(ARGV[5])

-- num renders an integer in full: tostring and redis.call would print a
-- microsecond timestamp as 1.7642e+15 (Lua 5.1 uses %.14g).
local function num(x)
  return string.format('%.0f', x)
end

local function decode_session(raw)
  -- The device is matched greedily so it may contain '|'; the rest are digits.
  local d, i, b, n, g = string.match(raw, '^(.*)|([01])|([01])|(%d+)|(%d+)$')
  return {d = d, idle = i == '1', bridge = b == '1', n = tonumber(n), g = tonumber(g)}
end

local function encode_session(s)
  return s.d .. '|' .. (s.idle and '1' or '0') .. '|' .. (s.bridge and '1' or '0') ..
    '|' .. num(s.n) .. '|' .. num(s.g)
end

-- session_of and node_of split a "session|node" connection value (node ids
-- never contain '|', session ids may).
local function session_of(v)
  return string.match(v, '^(.*)|')
end

local function node_of(v)
  return string.match(v, '|([^|]*)$')
end

-- SCALARS are the user's fields other than sessions and connections.
local SCALARS = {m = true, n = true, ph = true, st = true, sig = true, p = true, mv = true}

-- load reads the user: u holds the scalar fields, u.ss the sessions,
-- u.conns the connections (conn -> "session|node") and u.nconns their count.
-- Writes are buffered in u.set / u.del and flushed once by commit.
local function load()
  local raw = redis.call('HGETALL', K_USER)
  local u = {m = '', n = '', ph = '', mv = '', v = 0, st = 'offline', ss = {}, conns = {}, nconns = 0,
    set = {}, del = {}}
  for i = 1, #raw, 2 do
    local f, x = raw[i], raw[i + 1]
    local kind, id = string.sub(f, 1, 2), string.sub(f, 3)
    if kind == 's:' then
      u.ss[id] = decode_session(x)
    elseif kind == 'c:' then
      u.conns[id] = x
      u.nconns = u.nconns + 1
    elseif f == 'v' then
      u.v = tonumber(x)
    elseif SCALARS[f] then
      u[f] = x
    end
  end
  -- kept: only the offline version is left, and the hash has a TTL.
  u.kept = u.v > 0 and u.nconns == 0 and next(u.ss) == nil and u.ph == ''
  return u
end

local function put(u, field, value)
  u.set[#u.set + 1] = field
  u.set[#u.set + 1] = value
end

local function save_session(u, sid)
  put(u, 's:' .. sid, encode_session(u.ss[sid]))
end

local function drop_session(u, sid)
  u.ss[sid] = nil
  u.del[#u.del + 1] = 's:' .. sid
end

local function add_conn(u, conn, value)
  if not u.conns[conn] then u.nconns = u.nconns + 1 end
  u.conns[conn] = value
  put(u, 'c:' .. conn, value)
end

local function drop_conn(u, conn)
  if u.conns[conn] then u.nconns = u.nconns - 1 end
  u.conns[conn] = nil
  u.del[#u.del + 1] = 'c:' .. conn
end

-- count_conns counts the open connections of one session (recounted rather
-- than incremented, so a retried script gives the same answer).
local function count_conns(u, sid)
  local n = 0
  for _, v in pairs(u.conns) do
    if session_of(v) == sid then n = n + 1 end
  end
  return n
end

-- aggregate is presence.Aggregate: offline if no non-bridge session is live;
-- else the manual status; else away if every live session is idle; else
-- online. Devices are sorted and distinct. A manual status lasts only while
-- the user is present, so it is dropped here when nobody is.
local function aggregate(u)
  local n, all_idle, devs, seen = 0, true, {}, {}
  for _, s in pairs(u.ss) do
    if not s.bridge then
      n = n + 1
      if not s.idle then all_idle = false end
      if s.d ~= '' and not seen[s.d] then
        seen[s.d] = true
        devs[#devs + 1] = s.d
      end
    end
  end
  table.sort(devs)
  if n == 0 then
    u.m, u.n = '', ''
  end
  local a = {status = 'online', custom = '', manual = false, note = '', sessions = n, devices = devs}
  if n == 0 then
    a.status = 'offline'
  elseif u.m ~= '' then
    -- A custom status (contract §9) is stored as "base|name" (presence.WithCustom).
    local base, custom = string.match(u.m, '^([^|]*)|?(.*)$')
    a.status, a.custom, a.manual, a.note = base, custom, true, u.n
  elseif all_idle then
    a.status = 'away'
  end
  return a
end

-- signature is what presence.SameState compares: everything but version and
-- since. The phone JSON comes from Go's json.Marshal, so equal overlays have
-- equal strings.
local function signature(a, phone)
  local s = a.status .. '\n' .. a.note .. '\n' .. (a.manual and '1' or '0') .. '\n' ..
    a.sessions .. '\n' .. table.concat(a.devices, ',') .. '\n' .. phone
  -- Appended only when set, so the signatures stored before custom
  -- statuses existed stay equal (no spurious version after an upgrade).
  if a.custom ~= '' then
    s = s .. '\n' .. a.custom
  end
  return s
end

local OFFLINE = {status = 'offline', custom = '', manual = false, note = '', sessions = 0, devices = {}}

-- presence_json builds the PRESENCE object by hand: cjson would encode an
-- empty devices list as {} and cannot keep the field order of the contract.
local function presence_json(a, phone, version, since)
  local parts = {'{"type":"presence","tenant":', cjson.encode(TENANT), ',"user":', cjson.encode(USER),
    ',"status":', cjson.encode(a.status)}
  if a.custom ~= '' then
    parts[#parts + 1] = ',"custom":' .. cjson.encode(a.custom)
  end
  if a.note ~= '' then
    parts[#parts + 1] = ',"note":' .. cjson.encode(a.note)
  end
  parts[#parts + 1] = ',"manual":' .. (a.manual and 'true' or 'false')
  parts[#parts + 1] = ',"sessions":' .. a.sessions
  local d = {}
  for i, x in ipairs(a.devices) do
    d[i] = cjson.encode(x)
  end
  parts[#parts + 1] = ',"devices":[' .. table.concat(d, ',') .. ']'
  if phone ~= '' then
    parts[#parts + 1] = ',"phone":' .. phone
  end
  parts[#parts + 1] = ',"version":' .. num(version)
  if since ~= '' then
    parts[#parts + 1] = ',"since":' .. cjson.encode(since)
  end
  parts[#parts + 1] = '}'
  return table.concat(parts)
end

-- current is the reply of a transition that found nothing to do.
local function current(u, ...)
  local p = u.p or presence_json(OFFLINE, '', 0, '')
  local present = u.st ~= 'offline' and 1 or 0
  return {'ok', 0, p, present, present, ...}
end

-- commit recomputes the user's presence after the operation changed u,
-- stores it with a new version when the PRESENCE object changed, and
-- flushes the buffered writes. A user with nothing left (no connection,
-- session or phone) keeps only the offline presence and its version, for
-- VersionTTL; after that the clock floor of the version rule keeps versions
-- increasing when they come back, exactly as presence.Memory does.
local function commit(u, ...)
  local a = aggregate(u)
  local sig = signature(a, u.ph)
  local old_sig = u.sig or signature(OFFLINE, '')
  local was = u.st ~= 'offline' and 1 or 0
  local is = a.status ~= 'offline' and 1 or 0
  local changed, p, v = 0, u.p, u.v
  if sig ~= old_sig then
    -- presence.NextVersion: above the previous version and never below the
    -- caller's clock, so versions never go back even after Redis lost them.
    v = u.v + 1
    if NOW > v then v = NOW end
    p = presence_json(a, u.ph, v, SINCE)
    changed = 1
    put(u, 'm', u.m)
    put(u, 'n', u.n)
    put(u, 'ph', u.ph)
    put(u, 'v', num(v))
    put(u, 'st', a.status)
    put(u, 'sig', sig)
    put(u, 'p', p)
  elseif not p then
    p = presence_json(OFFLINE, '', 0, '')
  end
  if u.ph == '' and u.nconns == 0 and next(u.ss) == nil then
    if changed == 1 or not u.kept then
      redis.call('DEL', K_USER)
      if v > 0 then
        redis.call('HSET', K_USER, 'v', num(v), 'st', 'offline', 'sig', sig, 'p', p)
        redis.call('PEXPIREAT', K_USER, num(math.floor(NOW / 1000) + VERSION_TTL_MS))
      end
    end
  else
    if #u.del > 0 then
      redis.call('HDEL', K_USER, unpack(u.del))
    end
    if #u.set > 0 then
      redis.call('HSET', K_USER, unpack(u.set))
    end
    if u.kept then
      redis.call('PERSIST', K_USER)
    end
  end
  u.v_after = v
  return {'ok', changed, p, was, is, ...}
end
