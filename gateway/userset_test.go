package gateway

import (
	"slices"
	"testing"
)

func TestUserSet(t *testing.T) {
	var s userSet
	for _, u := range []string{"c", "a", "b", "a"} {
		s.add(u)
	}
	if !slices.Equal(s.list, []string{"a", "b", "c"}) || !s.has("b") || s.has("z") {
		t.Fatalf("after adds: %v", s.list)
	}
	if s.add("b") || !s.add("d") {
		t.Fatal("add must report whether the user was new")
	}
	s.compact()
	if cap(s.list) != len(s.list) {
		t.Fatalf("compact left cap %d for len %d", cap(s.list), len(s.list))
	}
	if !s.remove("a") || s.remove("a") || s.len() != 3 {
		t.Fatalf("remove: %v", s.list)
	}
	for _, u := range []string{"b", "c", "d"} {
		s.remove(u)
	}
	if s.list != nil {
		t.Fatalf("empty set keeps %v", s.list)
	}
}
