package gateway

import "slices"

// userSet is the users one connection watches: a sorted slice. For the
// usual tens of users it holds about a third of a map's memory (a map of 10
// strings ~500 bytes, this 160) on every connection, and it is still
// O(log n) to look up; inserts move the tail, cheap at the 10 000-user cap.
type userSet struct{ list []string }

func (s *userSet) len() int { return len(s.list) }

func (s *userSet) has(u string) bool {
	_, ok := slices.BinarySearch(s.list, u)
	return ok
}

// add inserts u and reports whether it was new.
func (s *userSet) add(u string) bool {
	i, ok := slices.BinarySearch(s.list, u)
	if ok {
		return false
	}
	s.list = slices.Insert(s.list, i, u)
	return true
}

// remove deletes u and reports whether it was there.
func (s *userSet) remove(u string) bool {
	i, ok := slices.BinarySearch(s.list, u)
	if !ok {
		return false
	}
	s.list = slices.Delete(s.list, i, i+1)
	if len(s.list) == 0 {
		s.list = nil
	}
	return true
}

// compact copies the list into an array of its own length after a batch of
// adds (append's doubling would leave up to half unused for the
// connection's life).
func (s *userSet) compact() {
	if cap(s.list) > len(s.list) {
		s.list = append(make([]string, 0, len(s.list)), s.list...)
	}
}
