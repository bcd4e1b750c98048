package gateway

import (
	"slices"
	"strings"
)

// userSet is the users one connection watches: a sorted slice of the hub's
// entries of those users (hub.go), so a user's name is stored once per
// node, not once per watching connection as its subscribe frame decoded
// it, and each costs the connection 8 bytes (10 users: 80 bytes; a slice of
// strings was 160 plus the names, a map ~500). Lookups are O(log n);
// inserts move the tail, cheap at the 10 000-user cap. It changes only with
// the users' hub shards locked and the conn's mu held, together with the
// entries' watcher sets: c is in an entry's set exactly while the entry is
// in c's userSet.
type userSet struct{ list []*watchEntry }

func (s *userSet) len() int { return len(s.list) }

func (s *userSet) find(u string) (int, bool) {
	return slices.BinarySearchFunc(s.list, u, func(e *watchEntry, u string) int { return strings.Compare(e.key.user, u) })
}

func (s *userSet) has(u string) bool {
	_, ok := s.find(u)
	return ok
}

// add inserts e's user and reports whether it was new.
func (s *userSet) add(e *watchEntry) bool {
	i, ok := s.find(e.key.user)
	if ok {
		return false
	}
	s.list = slices.Insert(s.list, i, e)
	return true
}

// remove deletes u and reports whether it was there.
func (s *userSet) remove(u string) bool {
	i, ok := s.find(u)
	if !ok {
		return false
	}
	s.list = slices.Delete(s.list, i, i+1)
	if len(s.list) == 0 {
		s.list = nil
	}
	return true
}

// names returns the users, in order, in a new slice.
func (s *userSet) names() []string {
	out := make([]string, len(s.list))
	for i, e := range s.list {
		out[i] = e.key.user
	}
	return out
}

// compact copies the list into an array of its own length after a batch of
// adds (append's doubling would leave up to half unused for the
// connection's life).
func (s *userSet) compact() {
	if cap(s.list) > len(s.list) {
		s.list = append(make([]*watchEntry, 0, len(s.list)), s.list...)
	}
}
