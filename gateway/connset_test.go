package gateway

import (
	"maps"
	"slices"
	"testing"
)

// connSet keeps exactly its members through adds and removes in any order,
// below, across and above the size where it moves from a slice to a map.
func TestConnSetMembers(t *testing.T) {
	for _, n := range []int{1, 3, connSetSmall, connSetSmall + 1, 5 * connSetSmall} {
		conns := make([]*conn, n)
		for i := range conns {
			conns[i] = &conn{}
		}
		var s connSet
		want := map[*conn]bool{}
		check := func(step string) {
			t.Helper()
			got := map[*conn]bool{}
			for c := range s.all() {
				if got[c] {
					t.Fatalf("n=%d %s: %p yielded twice", n, step, c)
				}
				got[c] = true
			}
			if !maps.Equal(got, want) || s.len() != len(want) {
				t.Fatalf("n=%d %s: %d members yielded, len %d, want %d", n, step, len(got), s.len(), len(want))
			}
			for _, c := range conns {
				if s.has(c) != want[c] {
					t.Fatalf("n=%d %s: has(%p) = %v", n, step, c, !want[c])
				}
			}
		}
		for _, c := range conns {
			s.add(c)
			want[c] = true
		}
		check("after adds")
		// Remove every other one from the back, one not a member, then the rest.
		for i := n - 1; i >= 0; i -= 2 {
			s.remove(conns[i])
			delete(want, conns[i])
		}
		s.remove(&conn{})
		check("after half removed")
		for _, c := range slices.Backward(conns) {
			s.remove(c)
			delete(want, c)
		}
		check("after all removed")
		s.add(conns[0])
		want[conns[0]] = true
		check("re-added")
	}
}

// A yield that stops the loop ends all() at once.
func TestConnSetAllStops(t *testing.T) {
	var s connSet
	for range connSetSmall + 5 {
		s.add(&conn{})
	}
	seen := 0
	for range s.all() {
		seen++
		if seen == 3 {
			break
		}
	}
	if seen != 3 {
		t.Fatalf("loop went on after break: %d", seen)
	}
}
