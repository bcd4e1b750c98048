package docgen

import (
	"encoding/json"
	"fmt"

	"github.com/pgw/pgw/problem"
)

// CloseCodesPath is where the exported close-code table lives, relative to
// the repository root: the one machine-readable copy of the table that the
// SDKs' tests (TypeScript, Java) and the Go bridge's policy check read.
const CloseCodesPath = "sdk/conformance/close-codes.json"

// RuleName is the SDKs' name of a reconnect rule: "no", "at_once",
// "backoff" or "new_token" (the TypeScript ReconnectRule type, the Java
// Reconnect enum in lower case).
func RuleName(r problem.Reconnect) string {
	switch r {
	case problem.ReconnectAtOnce:
		return "at_once"
	case problem.ReconnectBackoff:
		return "backoff"
	case problem.ReconnectNewToken:
		return "new_token"
	case problem.ReconnectNo:
		return "no"
	}
	panic(fmt.Sprintf("docgen: reconnect rule %q has no SDK name", r))
}

// UnlistedRule is what a client does after a close code the table does not
// list (1005 no status, 1006 connection lost, 1011, a proxy's 1012...): these
// are transport faults, not the server's verdict on the client, so the SDKs
// reconnect with backoff. The contract is silent here; docs/sdks.md says so.
const UnlistedRule = "backoff"

// closeCodesFile is the JSON shape of sdk/conformance/close-codes.json.
type closeCodesFile struct {
	Comment  string          `json:"$comment"`
	Codes    []closeCodeJSON `json:"closeCodes"`
	Unlisted string          `json:"unlisted"`
}

type closeCodeJSON struct {
	Close     int      `json:"close"`
	Reconnect string   `json:"reconnect"`
	Rule      string   `json:"rule"`
	Reasons   []string `json:"reasons"`
}

// CloseCodesJSON renders sdk/conformance/close-codes.json from
// problem.Table() and problem.ReconnectRule: each close code, its reconnect
// rule (SDK name and the contract's words) and the problem codes sent as its
// reason.
func CloseCodesJSON() []byte {
	f := closeCodesFile{
		Comment:  "Generated from problem.Table() by internal/docgen; do not edit. Regenerate with: go generate ./internal/docgen",
		Unlisted: UnlistedRule,
	}
	for _, r := range closeRows() {
		rule := problem.ReconnectRule(r.close)
		f.Codes = append(f.Codes, closeCodeJSON{Close: r.close, Reconnect: RuleName(rule), Rule: string(rule), Reasons: r.reasons})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		panic(err) // plain structs of strings and ints always marshal
	}
	return append(b, '\n')
}
