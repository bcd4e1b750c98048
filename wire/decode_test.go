package wire

import (
	"encoding/json"
	"reflect"
	"testing"
)

var presenceSeeds = []string{
	`{"type":"presence","tenant":"acme","user":"alice","status":"online","manual":false,"sessions":1,"devices":["desktop"],"version":1733400000000000,"since":"2026-12-05T15:04:35.123Z"}`,
	`{"type":"presence","tenant":"acme","user":"bob","status":"busy","custom":"lunch","note":"back at 2 \/ 3","manual":true,"sessions":2,"devices":["desktop","web"],"phone":{"state":"ringing","ext":"204","call":{"id":"c1","direction":"in","peer":"+4930","since":"2026-12-05T15:04:35Z"}},"version":7}`,
	`{"type":"presence","tenant":"acme","user":"carol","status":"offline","manual":false,"sessions":0,"devices":[],"version":3}`,
	`{"type":"presence","devices":null,"phone":null,"note":null}`,
	`{"Type":"presence","USER":"dave","status":"away"}`,         // other case: encoding/json matches it
	`{"user":"a","user":"b"}`,                                   // duplicate: encoding/json keeps the last
	`{"user":"eve","extra":{"x":[1,2]},"status":"dnd"}`,         // unknown member: ignored
	"{\"user\":\"\xff\xfe\",\"status\":\"online\"}",             // invalid UTF-8: replaced
	`{"user":"u","sessions":"2"}`,                               // type error
	`{"user":"u","sessions":1.5}`,                               // type error
	`{"user":"u","devices":{}}`,                                 // an empty Lua table
	`{"user":"u","phone":{"state":"idle","ext":"1","Ext":"2"}}`, // case duplicate, nested
	`[]`, `null`, ``, `{`, `{"user":"u"} x`, `{"user":"u\u00e9\ud83d\ude00"}`,
}

// TestUnmarshalPresenceMatchesEncodingJSON: same value and same success as
// encoding/json on well-formed, odd and broken inputs.
func TestUnmarshalPresenceMatchesEncodingJSON(t *testing.T) {
	for _, s := range presenceSeeds {
		checkSamePresence(t, []byte(s))
	}
}

func FuzzUnmarshalPresence(f *testing.F) {
	for _, s := range presenceSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkSamePresence)
}

func checkSamePresence(t *testing.T, data []byte) {
	var want, got Presence
	werr := json.Unmarshal(data, &want)
	gerr := UnmarshalPresence(data, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json err %v, UnmarshalPresence err %v", data, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("%q: encoding/json %+v, UnmarshalPresence %+v", data, want, got)
	}
}

func BenchmarkUnmarshalPresence(b *testing.B) {
	data := []byte(presenceSeeds[1])
	b.ReportAllocs()
	for b.Loop() {
		var p Presence
		if err := UnmarshalPresence(data, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalPresenceEncodingJSON(b *testing.B) {
	data := []byte(presenceSeeds[1])
	b.ReportAllocs()
	for b.Loop() {
		var p Presence
		if err := json.Unmarshal(data, &p); err != nil {
			b.Fatal(err)
		}
	}
}
