package gateway

import (
	"slices"
	"strings"
	"testing"
	"unsafe"
)

func entry(u string) *watchEntry { return &watchEntry{key: userKey{"acme", u}} }

func TestUserSet(t *testing.T) {
	var s userSet
	for _, u := range []string{"c", "a", "b", "a"} {
		s.add(entry(u))
	}
	if !slices.Equal(s.names(), []string{"a", "b", "c"}) || !s.has("b") || s.has("z") {
		t.Fatalf("after adds: %v", s.names())
	}
	if s.add(entry("b")) || !s.add(entry("d")) {
		t.Fatal("add must report whether the user was new")
	}
	s.compact()
	if cap(s.list) != len(s.list) {
		t.Fatalf("compact left cap %d for len %d", cap(s.list), len(s.list))
	}
	if !s.remove("a") || s.remove("a") || s.len() != 3 {
		t.Fatalf("remove: %v", s.names())
	}
	for _, u := range []string{"b", "c", "d"} {
		s.remove(u)
	}
	if s.list != nil {
		t.Fatalf("empty set keeps %v", s.names())
	}
}

// Connections that subscribe to the same user, each from its own frame,
// share one copy of the user's name: the hub's.
func TestSubscribersShareUserNames(t *testing.T) {
	h := newHub()
	h.bus = newFakeInterest(t)
	a, b := hubConn("a"), hubConn("b")
	for _, c := range []*conn{a, b} {
		if err := h.subscribe(c, []string{strings.Clone("u1")}, false, snap(map[string]int64{"u1": 1}), listReply); err != nil {
			t.Fatal(err)
		}
	}
	if unsafe.StringData(a.subs.names()[0]) != unsafe.StringData(b.subs.names()[0]) {
		t.Fatal("two subscribers keep two copies of the same name")
	}
}
