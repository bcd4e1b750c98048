package redisx

import "testing"

// TestKeysLayout pins the layout docs/redis.md documents: a change here is
// a key layout change, which needs its upgrade note there.
func TestKeysLayout(t *testing.T) {
	k := NewKeys("pgw")
	for got, want := range map[string]string{
		k.User("user", "acme", "u1"):                 "pgw:user:{acme:u1}",
		k.User("conn", "acme", "u1", "c9"):           "pgw:conn:{acme:u1}:c9",
		k.User("ipt:devices", "acme", "u1"):          "pgw:ipt:devices:{acme:u1}",
		k.Tenant("tenant", "acme"):                   "pgw:tenant:{acme}",
		k.Tenant("ipt:bridge", "acme", "b1", "exts"): "pgw:ipt:bridge:{acme}:b1:exts",
		k.Tagged("sid", "acme:s1"):                   "pgw:sid:{acme:s1}",
		k.Tagged("node", "n1"):                       "pgw:node:{n1}",
		k.Global("grace"):                            "pgw:grace",
		k.Global("ipt:http"):                         "pgw:ipt:http",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
