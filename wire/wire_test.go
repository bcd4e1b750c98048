package wire

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for _, ok := range []string{"a", "acme", "u-1_X", strings.Repeat("a", 128)} {
		if !ValidID(ok) {
			t.Errorf("ValidID(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "{a}", "a:b", "a b", "é", strings.Repeat("a", 129)} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
