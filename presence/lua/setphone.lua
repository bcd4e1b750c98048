-- setphone.lua replaces the user's telephony overlay (Store.SetPhone).
-- Appended to common.lua.
--
-- ARGV[5] the phone as JSON (from Go's json.Marshal), or '' to remove it.
local u = load()
u.ph = ARGV[5]
return commit(u)
