// Package tenant is the per-company policy of contract §9: the POLICY
// object, its validation (every invalid field named, with its tenant when
// read from a file), the policy file of PGW_TENANTS, the stores that keep
// policies versioned with their change history (Redis under the tenant's
// own hash tag, or in process for the embedded default), and the Cache a
// node applies them from.
//
// A policy is only ever built by Parse, so every Policy a node holds has
// passed the same checks as the HTTP API and `gateway tenants validate`.
package tenant
