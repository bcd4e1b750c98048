package docgen

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pgw/pgw/problem"
)

// ErrorsMarkdown renders docs/errors.md from the code table.
func ErrorsMarkdown() []byte {
	var b bytes.Buffer
	b.WriteString(`# Problem codes

<!-- Generated from problem.Table() by internal/docgen; do not edit.
     Regenerate with: go generate ./internal/docgen -->

Every error a client sees, over HTTP or WebSocket, is an RFC 9457 problem
object with a stable ` + "`code`" + `:

` + "```json" + `
{"type":"about:blank","title":"Invalid argument","status":400,"code":"invalid_argument",
 "detail":"status: must be one of online, away, busy, dnd, got \"gone\"",
 "instance":"/v1/presence/u1/status",
 "errors":[{"field":"status","reason":"must be one of online, away, busy, dnd, got \"gone\""}]}
` + "```" + `

- ` + "`code`" + ` and ` + "`title`" + ` are fixed per code (this table); match on ` + "`code`" + `, never on
  ` + "`title`" + ` or ` + "`detail`" + `.
- ` + "`detail`" + ` names the field and the cause, for a developer; it may change.
- ` + "`errors[]`" + ` has one entry per bad field (` + "`field`" + ` is a path such as ` + "`events[3].seq`" + `).
- ` + "`instance`" + ` is the request path (HTTP only).
- Over HTTP the problem is the body (` + "`application/problem+json`" + `) with the status
  below; a 401 carries ` + "`WWW-Authenticate`" + `, a 429 or 503 ` + "`Retry-After`" + `.
- Over WebSocket it is the ` + "`error`" + ` member of an ` + "`error`" + ` frame (with the frame's ` + "`id`" + `
  when it had one). A code with a close code ends the connection with that
  close code and the code as the close reason; a refused ` + "`hello`" + ` closes with the
  code's close code, or ` + "`4400`" + ` when the code has none.
- The reconnect rule is what a client does after that close.

`)
	b.WriteString("| code | HTTP | title | close | reconnect | meaning |\n|---|---|---|---|---|---|\n")
	for _, in := range problem.Table() {
		status, closeCode := "—", "—"
		if in.Status != 0 {
			status = strconv.Itoa(in.Status)
		}
		if in.Close != 0 {
			closeCode = "`" + strconv.Itoa(in.Close) + "`"
		}
		rule := string(problem.ReconnectRule(in.Close))
		if in.Close == 0 {
			rule = "— (does not close)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", in.Code, status, cell(in.Title), closeCode, rule, cell(in.Meaning))
	}
	b.WriteString("\nCodes with HTTP — only ever close a WebSocket; they are never an HTTP answer.\n")
	return b.Bytes()
}

// closeRow is one row of the close-code table.
type closeRow struct {
	close   int
	reasons []string
}

// closeRows groups problem.Table() by close code, in close-code order, each
// row listing the problem codes sent as its reason in table order.
func closeRows() []closeRow {
	var rows []closeRow
	for _, in := range problem.Table() {
		if in.Close == 0 {
			continue
		}
		i := slices.IndexFunc(rows, func(r closeRow) bool { return r.close == in.Close })
		if i < 0 {
			rows = append(rows, closeRow{close: in.Close})
			i = len(rows) - 1
		}
		rows[i].reasons = append(rows[i].reasons, string(in.Code))
	}
	slices.SortFunc(rows, func(a, b closeRow) int { return a.close - b.close })
	return rows
}

// CloseCodesMarkdown renders the close-code table of docs/protocol.md: each
// close code, the problem codes sent as its reason, and the reconnect rule.
func CloseCodesMarkdown() []byte {
	var b bytes.Buffer
	b.WriteString("| close code | reason (the problem `code`) | reconnect |\n|---|---|---|\n")
	for _, r := range closeRows() {
		quoted := make([]string, len(r.reasons))
		for i, c := range r.reasons {
			quoted[i] = "`" + c + "`"
		}
		reasons := strings.Join(quoted, ", ")
		if r.close == problem.CloseProtocol {
			reasons += "; also any other problem that refuses `hello` (e.g. `invalid_argument`)"
		}
		fmt.Fprintf(&b, "| `%d` | %s | %s |\n", r.close, reasons, problem.ReconnectRule(r.close))
	}
	return b.Bytes()
}

// cell escapes a table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}
