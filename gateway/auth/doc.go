// Package auth owns the gateway's JWT authentication (contract §2, and the
// HTTP 401 challenge of §7): it loads the configured keys once, verifies a
// token into Claims, and turns every refusal into the *problem.Problem a
// client sees (codes token_*). It also signs HS256 development tokens and
// reads the bearer token of an HTTP request.
//
// It must not touch connections, sessions, Redis or NATS, and it never logs:
// a token is a credential, so no error detail, log line or metric built here
// contains the token text. Details name the cause (the claim, the kid, the
// alg) instead.
//
// # Keys
//
// HS256 uses Config.Secret (at least 32 bytes, RFC 7518 §3.2) and ignores
// any kid. RS256, ES256 and EdDSA use public keys from Config.KeysFile,
// chosen by the token's kid header. The file is read once, by New; a key
// rotation is a restart (or a new Verifier). It is either a JWKS document
// or a PEM file.
//
// A JWKS document ({"keys":[...]}) is parsed with
// github.com/MicahParks/keyfunc/v3 and github.com/MicahParks/jwkset. Each
// key's kid is its "kid" member. A key's "alg", when present, must agree
// with its type; "use", when present, must be "sig". Symmetric ("oct") and
// private keys are refused.
//
// A PEM file holds one or more blocks, and a block names its kid with a
// "kid" PEM header line:
//
//	-----BEGIN PUBLIC KEY-----
//	kid: rsa-2026-01
//
//	MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA...
//	-----END PUBLIC KEY-----
//
// Accepted block types: "PUBLIC KEY" (PKIX: RSA, EC P-256, Ed25519), "RSA
// PUBLIC KEY" (PKCS #1) and "CERTIFICATE" (its public key; the
// certificate's dates and chain are not checked). Private key blocks are
// refused: the gateway only ever needs public keys.
//
// The algorithm of a key follows from its type: RSA (at least 2048 bits) is
// RS256, EC P-256 is ES256, Ed25519 is EdDSA; a token whose alg does not
// fit the key its kid names is refused (token_algorithm). Kids are unique in
// a file. At most one key may have no kid: it is the default key, used for
// tokens that carry no kid header; without one, such a token is refused
// (token_unknown_key).
//
// # Claims
//
// sub, tenant and exp are required; sub, tenant and sid (optional) must be
// ids (wire.ValidID); roles is an array of "user", "bridge", "admin",
// absent (or empty) meaning ["user"]. A claim of the wrong JSON type is
// refused with token_claims naming it, never with token_malformed. Tokens
// longer than MaxTokenBytes are refused as token_malformed before parsing.
package auth
