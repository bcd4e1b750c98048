package gateway

import (
	"context"
	"net/http"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// The presence routes. The tenant always comes from the token: a user of
// another tenant cannot be named, so asking for one reads like a user never
// seen (offline), revealing nothing.

// getPresence serves GET /v1/presence/{user}: 200 PRESENCE.
func (a *api) getPresence(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error {
	user := r.PathValue("user")
	if err := checkPathID("user", user); err != nil {
		return err
	}
	p, err := a.n.store.Get(ctx, cl.Tenant, user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// queryBody is the body of POST /v1/presence/query.
type queryBody struct {
	Users []string `json:"users"`
}

// presenceList is the answer of POST /v1/presence/query.
type presenceList struct {
	Presence []wire.Presence `json:"presence"`
}

// queryPresence serves POST /v1/presence/query: the presence of each
// listed user, in the order asked.
func (a *api) queryPresence(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error {
	data, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var body queryBody
	derr := decodeBody(data, &body)
	var verr error
	if body.Users == nil {
		verr = problem.Field("users", "is required: a list of user ids")
	} else if p := checkUsers(body.Users, a.n.cfg.MaxBatch); p != nil {
		verr = p
	}
	if err := mergeFields(derr, verr); err != nil {
		return err
	}
	list := []wire.Presence{}
	if len(body.Users) > 0 {
		if list, err = a.n.store.GetMany(ctx, cl.Tenant, body.Users); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, presenceList{Presence: list})
	return nil
}

// statusBody is the body of PUT /v1/presence/{user}/status; the fields are
// those of the status frame and are checked by the same checkStatus.
type statusBody struct {
	Status *string `json:"status"`
	Note   *string `json:"note"`
}

// setStatus serves PUT /v1/presence/{user}/status: the user themself or an
// admin of the tenant sets the user's manual status (409 user_offline when
// the user has no live session).
func (a *api) setStatus(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error {
	user := r.PathValue("user")
	if err := checkPathID("user", user); err != nil {
		return err
	}
	if !actsFor(cl, user) {
		return problem.New(problem.Forbidden, "the status of user %q may be set only by that user or by a token with role admin", user)
	}
	data, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var body statusBody
	derr := decodeBody(data, &body)
	st, note, verr := checkStatus(body.Status, body.Note, a.n.policy(cl.Tenant))
	if err := mergeFields(derr, verr); err != nil {
		return err
	}
	ch, err := a.n.setStatus(ctx, cl.Tenant, user, st, note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ch.Presence)
	return nil
}

// actsFor reports whether the caller may act for user: an admin for anyone
// of its tenant, a user's own token for itself. A bridge token never acts
// as a person (role bridge carries telephony only, as on the WebSocket).
func actsFor(cl auth.Claims, user string) bool {
	if cl.HasRole(auth.RoleAdmin) {
		return true
	}
	return cl.Subject == user && cl.HasRole(auth.RoleUser)
}

// checkPathID checks an id taken from the path (contract §2 id rule).
func checkPathID(name, v string) error {
	if !wire.ValidID(v) {
		return problem.Field(name, "%s is not a valid id ("+wire.IDPattern+")", quote(v))
	}
	return nil
}
