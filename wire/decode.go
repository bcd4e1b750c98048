package wire

import (
	"encoding/json"

	jsonv2 "github.com/go-json-experiment/json"
)

// UnmarshalPresence decodes a PRESENCE object into *p, which must be the
// zero value, exactly as encoding/json.Unmarshal does, at about a third of
// its cost (the store's script replies and every bus message of a
// presence change are decoded on the connect and fan-out paths).
//
// One encoding/json/v2 pass (go-json-experiment, the module encoding/json/v2
// is adopted from) takes objects that name only PRESENCE's own members,
// spelled exactly, each once, in valid UTF-8: on those the two decoders
// agree. Anything else (a member in another case, a duplicate, an unknown
// member, invalid UTF-8, a type error) is decoded again by encoding/json,
// which has the last word on what is accepted and how.
func UnmarshalPresence(data []byte, p *Presence) error {
	if jsonv2.Unmarshal(data, p, jsonv2.RejectUnknownMembers(true)) == nil {
		return nil
	}
	*p = Presence{}
	return json.Unmarshal(data, p)
}
