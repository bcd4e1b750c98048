package gateway

import (
	"context"
	"errors"

	"github.com/pgw/pgw/ipt"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
)

// problemOf is the one place that turns any error into the problem a
// client sees. Errors that are already problems pass through; the store's
// sentinel errors get their code; anything else is internal (and logged by
// the caller, never shown).
func problemOf(err error) *problem.Problem {
	if p := problem.As(err); p != nil {
		return p
	}
	switch {
	case errors.Is(err, presence.ErrSessionConflict):
		return problem.Wrap(err, problem.Forbidden, "session: %v", err)
	case errors.Is(err, presence.ErrTooManyConnections):
		return problem.Wrap(err, problem.TooManyConnections, "%v", err)
	case errors.Is(err, presence.ErrUnknownSession):
		return problem.Wrap(err, problem.UnknownSession, "%v", err)
	case errors.Is(err, presence.ErrOffline):
		return problem.Wrap(err, problem.UserOffline, "%v: a manual status lasts only while the user has a live session", err)
	case errors.Is(err, presence.ErrUnavailable), errors.Is(err, ipt.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		p := problem.Wrap(err, problem.Unavailable, "the presence store does not answer; retry shortly")
		p.RetryAfter = 1
		return p
	}
	return problem.Wrap(err, problem.Internal, "internal error; the gateway log has the details")
}

// codeOf returns the problem code of err.
func codeOf(err error) problem.Code { return problemOf(err).Code }

// closeCodeOf is the close code for a refused hello: the code's own close
// code; 4500 (reconnect with backoff) for a server-side failure such as
// Redis not answering, which is not the client's fault; else 4400
// (protocol violation, do not reconnect).
func closeCodeOf(p *problem.Problem) (int, problem.Code) {
	if c := p.Close(); c != 0 {
		return c, p.Code
	}
	if p.Status >= 500 {
		return problem.CloseInternal, p.Code
	}
	return problem.CloseProtocol, p.Code
}
