// Package conformance holds the JSON vectors that both SDKs' tests read
// (sdk/typescript and sdk/java): the HTTP API calls (http.json), the
// WebSocket frames and presence ordering (ws.json), the argument checks
// (validation.json) and the close-code table (close-codes.json, generated
// by internal/docgen from problem.Table()).
//
// It has no code: its test checks the vectors against the Go side of the
// contract (every problem body against the code table, every route of
// docs/openapi.yaml covered), so a vector cannot say what the gateway does not.
package conformance
