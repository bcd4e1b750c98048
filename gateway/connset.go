package gateway

import (
	"iter"
	"slices"
)

// connSetSmall is how many connections a connSet keeps in a slice before it
// moves them to a map.
const connSetSmall = 32

// connSet is the connections watching one user (hub shards). Most users
// have a few watchers: a slice of them costs 8 bytes each, a
// map[*conn]struct{} about 36 (for 20 watchers 256 against 720 bytes, on
// every watched user). Past connSetSmall members it is a map, so adding
// and removing stay O(1) for a user thousands of connections watch.
type connSet struct {
	list []*conn
	big  map[*conn]struct{}
}

func (s *connSet) len() int { return len(s.list) + len(s.big) }

// add inserts c (not yet a member).
func (s *connSet) add(c *conn) {
	switch {
	case s.big != nil:
		s.big[c] = struct{}{}
	case len(s.list) < connSetSmall:
		if len(s.list) == cap(s.list) {
			// Grow by a quarter, not append's double: most sets stop
			// growing early and keep their array for good.
			grown := make([]*conn, len(s.list), len(s.list)+len(s.list)/4+1)
			copy(grown, s.list)
			s.list = grown
		}
		s.list = append(s.list, c)
	default:
		s.big = make(map[*conn]struct{}, 2*connSetSmall)
		for _, x := range s.list {
			s.big[x] = struct{}{}
		}
		s.big[c] = struct{}{}
		s.list = nil
	}
}

// remove deletes c if it is a member.
func (s *connSet) remove(c *conn) {
	if s.big != nil {
		delete(s.big, c)
		return
	}
	if i := slices.Index(s.list, c); i >= 0 {
		last := len(s.list) - 1
		s.list[i] = s.list[last]
		s.list[last] = nil
		s.list = s.list[:last]
	}
}

func (s *connSet) has(c *conn) bool {
	if s.big != nil {
		_, ok := s.big[c]
		return ok
	}
	return slices.Contains(s.list, c)
}

// all yields the members (in no particular order).
func (s *connSet) all() iter.Seq[*conn] {
	return func(yield func(*conn) bool) {
		for _, c := range s.list {
			if !yield(c) {
				return
			}
		}
		for c := range s.big {
			if !yield(c) {
				return
			}
		}
	}
}
