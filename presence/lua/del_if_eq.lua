-- del_if_eq.lua deletes a key only while it still holds the given value
-- (a session binding we own, the reaper lease we took), so we never delete
-- what another node wrote since. Standalone.
--
-- KEYS[1] key, ARGV[1] expected value. Returns 1 when deleted.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
