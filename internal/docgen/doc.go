// Package docgen renders the parts of the project's documentation that are
// facts of the code, so they cannot drift: docs/errors.md (every problem
// code with its HTTP status, title, WebSocket close code, reconnect rule and
// meaning) and the close-code table of docs/protocol.md, both from
// problem.Table(), the SDKs' machine-readable close-code table
// (sdk/conformance/close-codes.json), and the settings table of
// docs/operations.md, from the gateway's settings (gateway.Settings).
//
// It only reads packages problem and gateway and writes those files
// (through its tests: `go generate ./internal/docgen` or
// `go test ./internal/docgen -update`). It must not touch any other file.
package docgen

//go:generate go test -run TestDocs -update .
