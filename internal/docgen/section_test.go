package docgen

import (
	"os"
	"strings"
	"testing"
)

// checkSection checks that the text of path between the lines begin and end
// is want (with -update, first writes it there). what names the section and
// source in the failure, which says how to regenerate.
func checkSection(t *testing.T, path, begin, end, want, what string) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i := strings.Index(text, begin)
	j := strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %s between %q and %q", path, what, strings.TrimSpace(begin), end)
	}
	if *update {
		text = text[:i+len(begin)] + want + text[j:]
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		j = strings.Index(text, end)
	}
	if got := text[i+len(begin) : j]; got != want {
		t.Fatalf("the %s of %s is out of date: run `go generate ./internal/docgen`\ngot:\n%s\nwant:\n%s", what, path, got, want)
	}
}
