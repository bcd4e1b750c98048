package loadtest

import (
	"slices"
	"testing"
	"time"
)

// A --human-notes run (make demo) writes notes people write, never the
// timing stamps a board would show as "lt 1796…"; a measured run keeps them.
func TestHumanNotes(t *testing.T) {
	w := &Worker{Cfg: DefaultConfig()}
	due := time.Now()
	if _, ok := parseFanoutNote(w.note(due, 3)); !ok {
		t.Fatalf("a measured run's note %q carries no time", w.note(due, 3))
	}
	w.Cfg.HumanNotes = true
	for seq := range 2 * len(humanNotes) {
		n := w.note(due, seq)
		if _, ok := parseFanoutNote(n); ok || !slices.Contains(humanNotes, n) {
			t.Fatalf("human note %q", n)
		}
	}
}
