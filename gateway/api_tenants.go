package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/tenant"
)

// The tenant policy routes (contract §9). A token with role operator acts
// on any tenant; an admin of the tenant reads its policy and changes only
// statuses and specifics. Reads go to the store, not the node's cache, so
// the ETag a client gets is the one a PUT is compared with.

// tenantAccess is what the caller may do with a tenant's policy.
type tenantAccess int

const (
	accessNone     tenantAccess = iota
	accessAdmin                 // read; change statuses and specifics
	accessOperator              // everything
)

// adminFields are the policy fields a tenant admin may change.
var adminFields = []string{"statuses", "specifics"}

func tenantAccessOf(cl auth.Claims, name string) tenantAccess {
	switch {
	case cl.HasRole(auth.RoleOperator):
		return accessOperator
	case cl.HasRole(auth.RoleAdmin) && cl.Tenant == name:
		return accessAdmin
	}
	return accessNone
}

// tenantFor checks the path's tenant and the caller's access to it.
func tenantFor(r *http.Request, cl auth.Claims) (string, tenantAccess, error) {
	name := r.PathValue("tenant")
	if err := checkPathID("tenant", name); err != nil {
		return "", accessNone, err
	}
	acc := tenantAccessOf(cl, name)
	if acc == accessNone {
		return "", acc, problem.New(problem.Forbidden, "the policy of tenant %q needs a token with role operator, or role admin of that tenant", name)
	}
	return name, acc, nil
}

// getTenant serves GET /v1/tenants/{tenant}: 200 POLICY with its ETag
// ({} with the ETag of version 0 when none is stored).
func (a *api) getTenant(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error {
	name, _, err := tenantFor(r, cl)
	if err != nil {
		return err
	}
	rec, err := a.n.tenantStore.Get(ctx, name)
	if err != nil {
		return storeProblem(err)
	}
	w.Header().Set("ETag", rec.ETag())
	writeJSON(w, http.StatusOK, rec.Policy)
	return nil
}

// putTenant serves PUT /v1/tenants/{tenant}: replaces the whole policy
// when If-Match names the stored version; 200 with the new ETag.
func (a *api) putTenant(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error {
	name, acc, err := tenantFor(r, cl)
	if err != nil {
		return err
	}
	ifVersion, err := ifMatchVersion(r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	data, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	p, errs, err := tenant.ParseJSON(data)
	if err != nil {
		return problem.Wrap(err, problem.MalformedJSON, "the body is not one JSON object: %v", err)
	}
	if len(errs) > 0 {
		return problem.Fields(errs...)
	}
	if acc == accessAdmin {
		cur, err := a.n.tenantStore.Get(ctx, name)
		if err != nil {
			return storeProblem(err)
		}
		if cur.Version != ifVersion {
			return stale(name, cur)
		}
		if others := tenant.Only(tenant.Diff(cur.Policy, p), adminFields...); len(others) > 0 {
			return problem.New(problem.Forbidden, "a tenant admin may change only statuses and specifics; this policy also changes %s (role operator needed)", strings.Join(others, ", "))
		}
	}
	rec, err := a.n.tenantStore.Put(ctx, name, ifVersion, p, cl.Subject, time.Now())
	if errors.Is(err, tenant.ErrStale) {
		return stale(name, rec)
	}
	if err != nil {
		return storeProblem(err)
	}
	a.n.log.Info("tenant policy changed", "tenant", name, "version", rec.Version, "by", cl.Subject)
	a.n.publishTenant(rec)
	w.Header().Set("ETag", rec.ETag())
	writeJSON(w, http.StatusOK, rec.Policy)
	return nil
}

// tenantHistory is the answer of GET /v1/tenants/{tenant}/history.
type tenantHistory struct {
	Tenant  string          `json:"tenant"`
	Changes []tenant.Change `json:"changes"`
}

// getTenantHistory serves GET /v1/tenants/{tenant}/history: the changes,
// newest first.
func (a *api) getTenantHistory(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error {
	name, _, err := tenantFor(r, cl)
	if err != nil {
		return err
	}
	h, err := a.n.tenantStore.History(ctx, name, tenant.HistoryKeep)
	if err != nil {
		return storeProblem(err)
	}
	writeJSON(w, http.StatusOK, tenantHistory{Tenant: name, Changes: h})
	return nil
}

// ifMatchVersion reads If-Match: one strong ETag as GET gave it.
func ifMatchVersion(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, problem.New(problem.PreconditionRequired, "If-Match is required: send the ETag of GET /v1/tenants/{tenant}")
	}
	unq, ok := strings.CutPrefix(h, `"`)
	if ok {
		unq, ok = strings.CutSuffix(unq, `"`)
	}
	v, err := strconv.ParseInt(unq, 10, 64)
	if !ok || err != nil || v < 0 {
		return 0, problem.New(problem.PreconditionFailed, "If-Match %s is not an ETag of this policy: GET it for the current one", quote(h))
	}
	return v, nil
}

func stale(name string, cur tenant.Record) error {
	return problem.New(problem.PreconditionFailed, "the policy of tenant %q changed since that ETag (now %s): GET it again and reapply your change", name, cur.ETag())
}

// storeProblem maps a tenant store failure to 503.
func storeProblem(err error) error {
	if errors.Is(err, tenant.ErrUnavailable) {
		p := problem.Wrap(err, problem.Unavailable, "the tenant store (Redis) does not answer")
		p.RetryAfter = 1
		return p
	}
	return err
}
