package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"os"
	"strings"
	"time"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/gateway/origin"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/tenant"
	"golang.org/x/time/rate"
)

// Tenant policies (contract §9) on a node: kept in the shared store,
// cached here, published on <prefix>.tenant.<tenant> when changed and
// applied by every node from that message; re-read whole at start (before
// New returns, so /readyz is never 200 without them) and after every NATS
// reconnect, so a change made while NATS was down still arrives. The cache
// only moves forward (tenant.Cache), so a node never goes back to an older
// policy than one it saw.

// tenantWho is the author of the changes PGW_TENANTS makes at start.
const tenantWho = "PGW_TENANTS"

// openTenants loads PGW_TENANTS (for tenants with no stored policy) and
// reads every stored policy into the cache.
func (n *Node) openTenants(ctx context.Context) error {
	if n.cfg.TenantsFile != "" {
		data, err := os.ReadFile(n.cfg.TenantsFile)
		if err != nil {
			return fmt.Errorf("PGW_TENANTS: %w", err)
		}
		ps, errs, err := tenant.ReadFile(data)
		if err != nil {
			return fmt.Errorf("PGW_TENANTS %s: %w", n.cfg.TenantsFile, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("PGW_TENANTS %s: %s: %s (%d invalid fields; run gateway tenants validate)",
				n.cfg.TenantsFile, errs[0].Field, errs[0].Reason, len(errs))
		}
		for name, p := range ps {
			rec, err := n.tenantStore.Put(ctx, name, 0, p, tenantWho, time.Now())
			switch {
			case errors.Is(err, tenant.ErrStale):
				// Stored already: the store wins over the file.
			case err != nil:
				return fmt.Errorf("PGW_TENANTS: store tenant %q: %w", name, err)
			default:
				n.log.Info("tenant policy loaded from PGW_TENANTS", "tenant", name, "version", rec.Version)
				n.publishTenant(rec)
			}
		}
	}
	return n.reloadTenants(ctx)
}

// reloadTenants reads every stored policy and applies the newer ones.
func (n *Node) reloadTenants(ctx context.Context) error {
	names, err := n.tenantStore.Tenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range names {
		rec, err := n.tenantStore.Get(ctx, t)
		if err != nil {
			return err
		}
		n.applyTenant(rec)
	}
	return nil
}

// onTenant is the bus handler of policy records.
func (n *Node) onTenant(name string, data []byte) {
	var rec tenant.Record
	if err := json.Unmarshal(data, &rec); err != nil || rec.Tenant != name {
		n.log.Warn("bad tenant message dropped", "tenant", name, "err", err)
		return
	}
	n.applyTenant(rec)
}

// publishTenant tells every node (itself included) about a new record.
func (n *Node) publishTenant(rec tenant.Record) {
	n.applyTenant(rec)
	if err := n.bus.PublishTenant(rec.Tenant, mustJSON(rec)); err != nil {
		n.log.Warn("publish tenant policy failed; nodes re-read on reconnect", "tenant", rec.Tenant, "err", err)
	}
}

// applyTenant takes a record into the cache when it is newer and applies
// what acts at once: the tenant's token rules, and disabled (every local
// connection of the tenant gets bye and close 4403 tenant_disabled).
// Limits, grace and origins are read from the cache at each use.
func (n *Node) applyTenant(rec tenant.Record) {
	if !n.policies.Offer(rec) {
		return
	}
	p := rec.Policy
	var tj *auth.TenantJWT
	if p.JWT != nil {
		var err error
		if tj, err = auth.NewTenantJWT(p.JWT.Issuer, p.JWT.Audience, p.JWT.Keys); err != nil {
			// Parse checked the keys before they were stored; a store
			// edited by hand gets no keys rather than wrong ones.
			n.log.Error("tenant jwt keys refused", "tenant", rec.Tenant, "err", err)
			tj = nil
		}
	}
	n.auth.SetTenant(rec.Tenant, tj)
	if p.Disabled {
		n.closeTenant(rec.Tenant)
	}
	n.log.Info("tenant policy applied", "tenant", rec.Tenant, "version", rec.Version, "disabled", p.Disabled)
}

// closeTenant closes every local connection of a disabled tenant.
func (n *Node) closeTenant(name string) {
	for _, c := range n.hub.ofTenant(name) {
		c.closeWith(problem.CloseForbidden, problem.TenantDisabled, true)
	}
}

// policy is the tenant's cached policy (nil when it has none).
func (n *Node) policy(name string) *tenant.Policy { return n.policies.Policy(name) }

// admitTenant refuses the calls and connections of a disabled tenant.
func (n *Node) admitTenant(name string) error {
	if p := n.policy(name); p != nil && p.Disabled {
		return problem.New(problem.TenantDisabled, "tenant %q is disabled by its policy", name)
	}
	return nil
}

// perTenant gives the presence store a tenant's grace and connection cap.
func (n *Node) perTenant(name string) (time.Duration, int) {
	p := n.policy(name)
	if p == nil {
		return 0, 0
	}
	var grace time.Duration
	if p.Grace != nil {
		grace = time.Duration(*p.Grace)
	}
	conns := 0
	if p.Limits != nil && p.Limits.ConnectionsPerUser != nil {
		conns = *p.Limits.ConnectionsPerUser
	}
	return grace, conns
}

// connLimits are the limits a new connection of a tenant gets.
type connLimits struct {
	rate          float64
	burst         int
	subscriptions int
}

func (n *Node) connLimits(name string) connLimits {
	l := connLimits{rate: n.cfg.RateLimit, burst: n.cfg.RateBurst, subscriptions: n.cfg.MaxSubscriptions}
	if p := n.policy(name); p != nil && p.Limits != nil {
		if v := p.Limits.FramesPerSecond; v != nil {
			l.rate = *v
		}
		if v := p.Limits.FrameBurst; v != nil {
			l.burst = *v
		}
		if v := p.Limits.Subscriptions; v != nil {
			l.subscriptions = *v
		}
	}
	return l
}

// allowWrite takes one token of the user's write budget on this node
// (shared by all of the user's connections and HTTP writes), at the rate and
// burst of the user's tenant policy, else of the node (§6, §9).
func (n *Node) allowWrite(tenant, user string, now time.Time) (retryAfter int, ok bool) {
	l := n.connLimits(tenant)
	return n.writes.allowAt(writeKey(tenant, user), now, rate.Limit(l.rate), l.burst)
}

// checkBridge refuses a bridge id the tenant's policy does not list
// (an empty list allows any).
func (n *Node) checkBridge(name, bridge string) error {
	if p := n.policy(name); p != nil && !p.BridgeAllowed(bridge) {
		return problem.New(problem.Forbidden, "bridge: %s is not one of the bridges of tenant %q (%s)", quote(bridge), name, strings.Join(p.Bridges, ", "))
	}
	return nil
}

// customStatuses are the tenant's custom statuses, for welcome.
func (n *Node) customStatuses(name string) []tenant.Status {
	if p := n.policy(name); p != nil {
		return p.Statuses
	}
	return nil
}

// setLimits gives a connection being welcomed its tenant's frame rate
// and subscription limit.
func (c *conn) setLimits() {
	l := c.n.connLimits(c.tenant)
	c.bucket, c.maxSubs = newFrameBucket(l.rate, l.burst, monoNow()), int32(min(l.subscriptions, math.MaxInt32))
}

// ExportTenants renders every policy of the shared store (PGW_REDIS_URL)
// in the PGW_TENANTS format.
func ExportTenants(ctx context.Context, cfg Config) ([]byte, error) {
	if cfg.RedisURL == "" {
		return nil, errors.New("PGW_REDIS_URL is empty: the embedded default keeps policies inside its one process (read them with GET /v1/tenants/{tenant})")
	}
	client, err := presence.NewRedisClient(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("PGW_REDIS_URL: %w", err)
	}
	defer client.Close()
	st := tenant.NewRedis(client, cfg.Prefix)
	names, err := st.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	ps := map[string]tenant.Policy{}
	for _, t := range names {
		rec, err := st.Get(ctx, t)
		if err != nil {
			return nil, err
		}
		if rec.Version > 0 {
			ps[t] = rec.Policy
		}
	}
	return tenant.WriteFile(ps)
}

// resyncTenants re-reads every policy after NATS came back: a change made
// while this node could not hear it is applied now.
func (n *Node) resyncTenants() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.reloadTenants(ctx); err != nil {
		n.log.Warn("re-read of tenant policies failed; the next reconnect or check retries", "err", err)
	}
}

// tenantOrigins is the origin policy of a tenant's connections: its own
// list when its policy has one (instead of PGW_ALLOWED_ORIGINS: a stricter
// list), else the node's. The gateway's own origin stays allowed.
func (n *Node) tenantOrigins(name string) origin.Policy {
	p := n.policy(name)
	if p == nil || len(p.Origins) == 0 {
		return n.origins
	}
	pol, err := origin.NewPolicy(n.cfg.OwnOrigin(), p.Origins)
	if err != nil {
		// Parse normalised every origin before it was stored; a store
		// edited by hand allows only the own origin rather than a guess.
		n.log.Error("tenant origins refused", "tenant", name, "err", err)
		pol, _ = origin.NewPolicy(n.cfg.OwnOrigin(), nil)
	}
	return pol
}

// originsUnion is the policy of an upgrade whose tenant is not known yet:
// PGW_ALLOWED_ORIGINS and every tenant's origins.
func (n *Node) originsUnion() origin.Policy {
	extra := n.policies.Origins()
	if len(extra) == 0 {
		return n.origins
	}
	pol, err := origin.NewPolicy(n.cfg.OwnOrigin(), append(append([]string{}, n.cfg.AllowedOrigins...), extra...))
	if err != nil {
		n.log.Error("tenant origins refused", "err", err)
		return n.origins
	}
	return pol
}
