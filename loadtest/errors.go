package loadtest

import "errors"

// The package's sentinel errors; callers test them with errors.Is, and the
// harness wraps them with what failed (%w).
var (
	// ErrConfig marks a configuration the harness cannot run; the message
	// names the field at fault.
	ErrConfig = errors.New("invalid load-test configuration")
	// ErrNoWelcome means the server closed or answered something else
	// before welcome.
	ErrNoWelcome = errors.New("no welcome")
	// ErrClosed means the connection ended before a reply arrived.
	ErrClosed = errors.New("connection closed")
	// ErrWorker marks a worker process that failed or broke the protocol.
	ErrWorker = errors.New("load-test worker failed")
)
