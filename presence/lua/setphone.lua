-- setphone.lua replaces the user's telephony overlay (Store.SetPhone).
-- Appended to common.lua.
--
-- ARGV[6] the phone as JSON (from Go's json.Marshal), or '' to remove it.
local u = load()
u.ph = ARGV[6]
return commit(u)
