package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// testNow is the fixed clock of every test Verifier.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return testNow }

// testSecret is a 32-byte HS256 secret.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

const (
	testAudience = "pgw"
	testIssuer   = "https://idp.example"
)

// keys is a set of freshly generated signing keys.
type keys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

func newKeys(t testing.TB) keys {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, d, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keys{rsa: r, ec: e, ed: d}
}

// pemKey is one public key and the kid header to give its PEM block.
type pemKey struct {
	kid string
	pub any
}

// writePEM writes a PEM file of PUBLIC KEY blocks into a temp dir.
func writePEM(t testing.TB, ks ...pemKey) string {
	t.Helper()
	var out []byte
	for _, k := range ks {
		der, err := x509.MarshalPKIXPublicKey(k.pub)
		if err != nil {
			t.Fatal(err)
		}
		b := &pem.Block{Type: "PUBLIC KEY", Bytes: der}
		if k.kid != "" {
			b.Headers = map[string]string{"kid": k.kid}
		}
		out = append(out, pem.EncodeToMemory(b)...)
	}
	return writeFile(t, "keys.pem", out)
}

// writeJWKS writes a JWK Set of the given keys (public unless a private
// key is passed) into a temp dir.
func writeJWKS(t testing.TB, ks ...pemKey) string {
	t.Helper()
	var set jwkset.JWKSMarshal
	for _, k := range ks {
		jwk, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{
			Marshal:  jwkset.JWKMarshalOptions{Private: true},
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, USE: jwkset.UseSig},
		})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "keys.json", raw)
}

func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// claims returns a valid payload for the test Verifier, changed by edits.
func claims(edits ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub":    "u1",
		"tenant": "acme",
		"exp":    testNow.Add(time.Hour).Unix(),
		"iat":    testNow.Add(-time.Minute).Unix(),
		"aud":    testAudience,
		"iss":    testIssuer,
	}
	for _, e := range edits {
		e(c)
	}
	return c
}

func set(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
func del(k string) func(jwt.MapClaims)        { return func(c jwt.MapClaims) { delete(c, k) } }

// signToken signs c with m and key; kid, when set, goes in the header.
func signToken(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signRawHS256 signs a hand-written JSON payload, for shapes MapClaims
// cannot produce (escapes, odd types).
func signRawHS256(t testing.TB, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	unsigned := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + enc(sig)
}

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func bigOne() *big.Int { return big.NewInt(1) }
