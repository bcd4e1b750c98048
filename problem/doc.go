// Package problem is the one place that maps an error to what a client sees:
// the RFC 9457 problem object (HTTP body and WebSocket error frame), its HTTP
// status, and the WebSocket close code with its reconnect rule.
//
// Every code the gateway can emit is a row of the table in codes.go; the
// docs (docs/errors.md) are checked against that table. The package imports
// nothing of the project and holds no state.
package problem
