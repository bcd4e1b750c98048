package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/pgw/pgw/problem"
)

// FuzzDecodeFrame: any input yields either a frame or a problem with a code
// and a detail, never a panic; an id that is echoed is a valid id.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"hello","token":"x","session":"s1","window":"main","device":"desktop","id":1}`,
		`{"type":"status","status":"busy","note":"n","id":"abc"}`,
		`{"type":"subscribe","users":["a","b"],"tenant":true,"id":2}`,
		`{"type":"idle","idle":"yes","id":3}`,
		`{"type":7}`, `[]`, `{`, `null`, `""`, `{"id":{"x":1},"type":"idle"}`,
		`{"type":"ipt.event","bridge":"b","seq":1,"ext":"1001","event":"ringing","call":"c1"}`,
		`{"type":"status","id":"` + string(make([]byte, 70)) + `"}`,
		// Frames the fast path must leave to the strict one (or decode the
		// same way): duplicates, names differing in case, unknown members,
		// escapes, nulls, trailing data, nesting.
		`{"type":"idle","idle":true,"idle":false}`, `{"type":"idle","Idle":true}`, `{"TYPE":"idle","type":"idle"}`,
		`{"type":"hello","version":2}`, `{"\u0074ype":"status","status":"b\u00fcsy"}`, `{"type":"idle","id":null,"idle":null}`,
		`{"type":"idle"} {}`, `{"type":"subscribe","users":["a",null,"c"],"watch":null}`, `{"type":"idle","id":-0.5e3}`,
		`{"type":"status","note":"\ud800"}`, `{"type":"status","status":"a","id":{"x":[1,{"y":2}]}}`, " \n{\"type\":\"idle\"}\t",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsStrict(t, data)
		fr, p := decodeFrame(data)
		if fr == nil {
			t.Fatal("nil frame")
		}
		if p != nil && (p.Code == "" || p.Detail == "" || p.Status == 0) {
			t.Fatalf("problem without code, detail or status: %+v", p)
		}
		if fr.ID != nil {
			if checkID(fr.ID) != nil {
				t.Fatalf("invalid id kept: %s", fr.ID)
			}
			if !json.Valid(fr.ID) {
				t.Fatalf("id is not JSON: %s", fr.ID)
			}
		}
	})
}

func TestDecodeFrameTable(t *testing.T) {
	cases := []struct {
		in, code, field string
		id              bool
	}{
		{`{"type":"idle","idle":true,"id":5}`, "", "", true},
		{`{"type":"idle","idle":"yes","id":5}`, "invalid_argument", "idle", true},
		{`{"type":"subscribe","users":"u1","id":"x"}`, "invalid_argument", "users", true},
		{`{"type":1,"id":5}`, "malformed_frame", "", true},
		{`{"id":5}`, "malformed_frame", "", true},
		{`{"type":"idle","id":{"a":1}}`, "invalid_argument", "id", false},
		{`{"type":"idle","id":true}`, "invalid_argument", "id", false},
		{`[1,2]`, "malformed_frame", "", false},
		{`{"type":`, "malformed_frame", "", false},
		{`   `, "malformed_frame", "", false},
	}
	for _, tc := range cases {
		fr, p := decodeFrame([]byte(tc.in))
		switch {
		case tc.code == "" && p != nil:
			t.Errorf("%s: unexpected problem %v", tc.in, p)
		case tc.code != "" && (p == nil || string(p.Code) != tc.code):
			t.Errorf("%s: problem %v, want %s", tc.in, p, tc.code)
		case tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field):
			t.Errorf("%s: errors %v, want field %s", tc.in, p.Errors, tc.field)
		case (fr.ID != nil) != tc.id:
			t.Errorf("%s: id kept = %v, want %v", tc.in, fr.ID != nil, tc.id)
		}
	}
}

func TestCloseCodeOfRefusedHello(t *testing.T) {
	cases := []struct {
		p    *problem.Problem
		code int
	}{
		{problem.New(problem.TokenExpired, "x"), 4401},
		{problem.New(problem.Forbidden, "x"), 4403},
		{problem.New(problem.TooManyConnections, "x"), 4429},
		{problem.New(problem.InvalidArgument, "x"), 4400},
		{problem.New(problem.Unavailable, "x"), 4500},
		{problem.New(problem.Internal, "x"), 4500},
	}
	for _, tc := range cases {
		if got, reason := closeCodeOf(tc.p); got != tc.code || reason != tc.p.Code {
			t.Errorf("%s: close %d %s, want %d", tc.p.Code, got, reason, tc.code)
		}
	}
}

// sameAsStrict: a frame the fast path takes is one the member-by-member
// decoder takes without a finding, and both give the same frame.
func sameAsStrict(t *testing.T, data []byte) {
	trimmed := bytes.TrimSpace(data)
	fast := frame{raw: data}
	if !decodeWellFormed(trimmed, &fast) {
		return
	}
	strict := frame{raw: data}
	me, err := decodeMembers(trimmed, &strict, "")
	if err != nil || len(me.fields) > 0 || len(me.unknown) > 0 {
		t.Fatalf("fast path took %q; strict path: err %v, fields %v, unknown %v", data, err, me.fields, me.unknown)
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("%q: fast path %+v, strict path %+v", data, fast, strict)
	}
}

func BenchmarkDecodeFrame(b *testing.B) {
	hello := []byte(`{"type":"hello","id":1,"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSIsInRlbmFudCI6ImFjbWUifQ.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl","session":"s-1","window":"main","device":"desktop","client":"pgw-ts/1.0"}`)
	for b.Loop() {
		if _, p := decodeFrame(hello); p != nil {
			b.Fatal(p)
		}
	}
}
