package auth

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The algorithms the gateway can verify (contract §2). Anything else, and
// "none" above all, is refused.
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// supportedAlgs is in the order New lists default algorithms.
var supportedAlgs = []string{AlgHS256, AlgRS256, AlgES256, AlgEdDSA}

// MinSecretBytes is the shortest HS256 secret New accepts: RFC 7518 §3.2
// requires a key at least as long as the hash output.
const MinSecretBytes = 32

// MaxTokenBytes bounds the token text Verify will parse, so that a huge
// token costs nothing beyond a length check.
const MaxTokenBytes = 16 << 10

// Config says which tokens a Verifier accepts. The zero value is not
// usable: at least Secret or KeysFile must be set. Errors from New name the
// setting by its environment variable (PGW_JWT_*).
type Config struct {
	// Secret is the HS256 shared secret (PGW_JWT_SECRET), at least
	// MinSecretBytes long. Default empty: HS256 is disabled.
	Secret []byte
	// KeysFile is a PEM or JWKS file of public keys for RS256, ES256 and
	// EdDSA, chosen by the token's kid (PGW_JWT_KEYS; format in the package
	// doc). Default empty: no public keys.
	KeysFile string
	// Algorithms pins the accepted algs (PGW_JWT_ALGORITHMS), a subset of
	// HS256, RS256, ES256, EdDSA; each must have a key. Default empty: HS256
	// when Secret is set, plus the algs of the keys in KeysFile.
	Algorithms []string
	// Audience, when set, must be one of the token's aud values
	// (PGW_JWT_AUDIENCE). Default empty: aud is not checked.
	Audience string
	// Issuer, when set, must equal the token's iss (PGW_JWT_ISSUER).
	// Default empty: iss is not checked.
	Issuer string
	// Leeway is the clock skew allowed on exp, nbf and iat
	// (PGW_JWT_LEEWAY). Default 0: clocks are expected to be in sync (NTP).
	Leeway time.Duration
	// Now is the clock, for tests. Default nil: time.Now.
	Now func() time.Time
}

// New checks cfg, loads its keys and builds the one parser every Verify
// shares. The error names the bad setting, e.g. "PGW_JWT_KEYS: ...".
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Secret) > 0 && len(cfg.Secret) < MinSecretBytes {
		return nil, fmt.Errorf("PGW_JWT_SECRET: %d bytes is too short for HS256, need at least %d (RFC 7518 §3.2)", len(cfg.Secret), MinSecretBytes)
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("PGW_JWT_LEEWAY: %s is negative", cfg.Leeway)
	}
	var keys map[string]publicKey
	if cfg.KeysFile != "" {
		var err error
		if keys, err = loadKeysFile(cfg.KeysFile); err != nil {
			return nil, fmt.Errorf("PGW_JWT_KEYS: %w", err)
		}
	}
	algs, err := allowedAlgs(cfg, keys)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		// Canonical base64 only: a signature has one encoding.
		jwt.WithStrictDecoding(),
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	v := &Verifier{
		parser:   jwt.NewParser(opts...),
		secret:   slices.Clone(cfg.Secret),
		keys:     keys,
		algs:     algs,
		audience: cfg.Audience,
		issuer:   cfg.Issuer,
		leeway:   cfg.Leeway,
		now:      now,
	}
	v.tenants.peeker = jwt.NewParser()
	v.hmacKey = v.secret
	v.keyfunc = v.key // bound once: a method value per Verify would allocate
	return v, nil
}

// allowedAlgs resolves Config.Algorithms against the keys there are.
func allowedAlgs(cfg Config, keys map[string]publicKey) ([]string, error) {
	have := make(map[string]bool, len(supportedAlgs))
	if len(cfg.Secret) > 0 {
		have[AlgHS256] = true
	}
	for _, k := range keys {
		have[k.alg] = true
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("PGW_JWT_SECRET, PGW_JWT_KEYS: no key configured; set a secret (HS256) or a keys file (RS256, ES256, EdDSA)")
	}
	if len(cfg.Algorithms) == 0 {
		var algs []string
		for _, a := range supportedAlgs {
			if have[a] {
				algs = append(algs, a)
			}
		}
		return algs, nil
	}
	var algs []string
	for _, a := range cfg.Algorithms {
		a = strings.TrimSpace(a)
		switch {
		case strings.EqualFold(a, "none"):
			return nil, fmt.Errorf("PGW_JWT_ALGORITHMS: alg none is never allowed")
		case !slices.Contains(supportedAlgs, a):
			return nil, fmt.Errorf("PGW_JWT_ALGORITHMS: %q is not supported (supported: %s)", a, strings.Join(supportedAlgs, ", "))
		case a == AlgHS256 && !have[a]:
			return nil, fmt.Errorf("PGW_JWT_ALGORITHMS: HS256 needs PGW_JWT_SECRET")
		case !have[a]:
			return nil, fmt.Errorf("PGW_JWT_ALGORITHMS: %s needs a key of that type in PGW_JWT_KEYS", a)
		}
		if !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	return algs, nil
}
