package docgen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/pgw/pgw/gateway"
)

// SettingsMarkdown renders the settings table of docs/operations.md from
// gateway.Settings(): each variable, its default as the flag prints it (an
// empty one with the usage's "empty: ..." clause, which says what empty
// means), and its usage (the text of `gateway serve -h`).
func SettingsMarkdown() []byte {
	var b bytes.Buffer
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, s := range gateway.Settings() {
		def, meaning := "`"+s.Default+"`", s.Usage
		if s.Default == "" {
			def = "empty"
			if i := strings.LastIndex(meaning, "; empty: "); i >= 0 {
				def, meaning = meaning[i+2:], meaning[:i]
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", s.Env, cell(def), cell(meaning))
	}
	return b.Bytes()
}
