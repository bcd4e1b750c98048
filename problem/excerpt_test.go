package problem

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExcerpt(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 40, "hello"},
		{"hello", 5, "hello"},
		{"hello!", 5, "hello…"},
		{strings.Repeat("é", 40), 40, strings.Repeat("é", 40)}, // 80 bytes, 40 runes: not cut
		{strings.Repeat("é", 41), 40, strings.Repeat("é", 40) + "…"},
		{"a€b€c", 2, "a€…"},
		{"日本語のテキスト", 3, "日本語…"},
		{"👍👍👍", 1, "👍…"},
	} {
		got := Excerpt(c.in, c.n)
		if got != c.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Excerpt(%q, %d) = %q: invalid UTF-8", c.in, c.n, got)
		}
	}
}
