package loadtest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/pgw/pgw/wire"
)

// decodeIn reads every frame shape the harness meets as encoding/json did,
// the odd ones too.
func TestDecodeInMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"type":"welcome","id":1,"conn":"c1","session":"s1","user":"u1","tenant":"t","node":"n1","heartbeat":25,"expires":9,"presence":{"type":"presence","user":"u1","status":"online","devices":[]}}`,
		`{"type":"presence","tenant":"t","user":"u2","status":"busy","note":"1733400000000000","version":7,"phone":{"state":"ringing"}}`,
		`{"type":"call","tenant":"t","user":"u2","ext":"1001","event":"ringing","call":{"id":"c9"}}`,
		`{"type":"error","id":3,"error":{"status":429,"code":"rate_limited","detail":"x"}}`,
		`{"type":"ok","id":"7","presence":[{"user":"a"},{"user":"b"}]}`,
		`{"type":"bye","reason":"shutdown"}`,
		`{"Type":"presence","user":"u","user":"v"}`, // case and duplicates: v1's reading
		`{"type":"presence","note":"\ud800"}`,
	} {
		var got, want inFrame
		errGot, errWant := decodeIn([]byte(in), &got), json.Unmarshal([]byte(in), &want)
		if (errGot == nil) != (errWant == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v (%v)\nwant %+v (%v)", in, got, errGot, want, errWant)
		}
	}
}

func BenchmarkDecodeIn(b *testing.B) {
	in := []byte(`{"type":"presence","tenant":"lt","user":"u123","status":"busy","note":"1733400000000000","manual":true,"sessions":1,"devices":["desktop"],"version":1733400000000001,"since":"2026-12-05T13:00:00Z"}`)
	for b.Loop() {
		var f inFrame
		if err := decodeIn(in, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// A status change the gateway refused is settled as refused and the user is
// expected to keep the last accepted status; unanswered ones are expected
// to apply.
func TestFanoutConnSettlesReplies(t *testing.T) {
	v := &fanoutConn{}
	v.sent = []sentStatus{{1, wire.Away}, {2, wire.Busy}, {3, wire.DND}}
	if refused, ok := v.reply(&inFrame{Type: wire.TypeOK, ID: json.RawMessage("1")}); !ok || refused {
		t.Fatalf("ok reply: refused %v, matched %v", refused, ok)
	}
	if refused, ok := v.reply(&inFrame{Type: wire.TypeError, ID: json.RawMessage("2")}); !ok || !refused {
		t.Fatalf("error reply: refused %v, matched %v", refused, ok)
	}
	if got := v.expected(); got != wire.DND {
		t.Fatalf("with 3 unanswered: expected %q, want dnd", got)
	}
	if _, ok := v.reply(&inFrame{Type: wire.TypeError, ID: json.RawMessage("3")}); !ok {
		t.Fatal("reply to 3 not matched")
	}
	if got := v.expected(); got != wire.Away {
		t.Fatalf("after busy and dnd were refused: expected %q, want away (the last accepted)", got)
	}
	if _, ok := v.reply(&inFrame{Type: wire.TypeOK, ID: json.RawMessage("9")}); ok {
		t.Fatal("a reply to a frame never sent was matched")
	}
	if _, ok := v.reply(&inFrame{Type: wire.TypePresence}); ok {
		t.Fatal("a presence frame was taken for a reply")
	}
}
