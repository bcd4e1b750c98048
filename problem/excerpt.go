package problem

// Excerpt returns s cut to at most n characters (runes), with "…" when cut,
// for quoting client input in a detail: never more than a short excerpt of
// what a client sent, and never half of a multi-byte character (a detail
// must stay valid UTF-8).
func Excerpt(s string, n int) string {
	if len(s) <= n {
		return s // n bytes are at most n runes
	}
	i := 0
	for at := range s {
		if i == n {
			return s[:at] + "…"
		}
		i++
	}
	return s
}
