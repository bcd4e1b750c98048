package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
)

// deleteSession serves DELETE /v1/sessions/{session}: the same effect as
// the session's logout frame (n.logoutSession), for the session's own user
// or an admin of its tenant. A session of another tenant answers exactly
// like one that does not exist, so its existence is not revealed.
func (a *api) deleteSession(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error {
	session := r.PathValue("session")
	if err := checkPathID("session", session); err != nil {
		return err
	}
	tenant := cl.Tenant
	user, err := a.n.store.SessionOwner(ctx, tenant, session)
	switch {
	case errors.Is(err, presence.ErrUnknownSession):
		return unknownSession(session)
	case err != nil:
		return err
	}
	if user != cl.Subject && !cl.HasRole(auth.RoleAdmin) {
		return problem.New(problem.Forbidden, "session %q belongs to another user: only that user or a token with role admin may end it", session)
	}
	if err := a.n.logoutSession(ctx, tenant, user, session, nil); err != nil {
		if errors.Is(err, presence.ErrUnknownSession) {
			// It ended meanwhile (grace, another logout).
			return unknownSession(session)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// unknownSession is the one answer for a session that is not live or not
// the caller's tenant's: byte for byte the same in both cases.
func unknownSession(session string) error {
	return problem.New(problem.UnknownSession, "session %q is not a live session", session)
}
