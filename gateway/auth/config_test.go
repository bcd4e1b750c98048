package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestNewRefusesBadConfig(t *testing.T) {
	k := newKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := writePEM(t, pemKey{"rsa1", &k.rsa.PublicKey})
	privatePEM := writeFile(t, "priv.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(k.rsa))}))

	tests := []struct {
		name string
		cfg  Config
		want []string // parts the error must contain
	}{
		{"nothing configured", Config{}, []string{"PGW_JWT_SECRET", "PGW_JWT_KEYS", "no key"}},
		{"short secret", Config{Secret: []byte("short")}, []string{"PGW_JWT_SECRET", "5 bytes", "32"}},
		{"negative leeway", Config{Secret: testSecret, Leeway: -time.Second}, []string{"PGW_JWT_LEEWAY"}},
		{"missing keys file", Config{KeysFile: filepath.Join(t.TempDir(), "none.pem")}, []string{"PGW_JWT_KEYS", "none.pem"}},
		{"garbage keys file", Config{KeysFile: writeFile(t, "k", []byte("hello"))}, []string{"PGW_JWT_KEYS", "not a JWKS document or PEM file"}},
		{"empty PEM", Config{KeysFile: writeFile(t, "k.pem", []byte("-----BEGIN NOTHING"))}, []string{"PGW_JWT_KEYS", "no public key"}},
		{"private key in PEM", Config{KeysFile: privatePEM}, []string{"PGW_JWT_KEYS", "key 1 (no kid)", "private key"}},
		{"private key in JWKS", Config{KeysFile: writeJWKS(t, pemKey{"p1", k.ec})}, []string{"PGW_JWT_KEYS", `kid "p1"`, "private key"}},
		{"oct key in JWKS", Config{KeysFile: writeFile(t, "k.json", []byte(`{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`))}, []string{"PGW_JWT_KEYS", "PGW_JWT_SECRET"}},
		{"JWKS alg does not fit key", Config{KeysFile: writeFile(t, "k.json", []byte(`{"keys":[`+ecJWKWithAlg(t, k.ec, "RS256")+`]}`))}, []string{"PGW_JWT_KEYS", `alg "RS256"`, "ES256"}},
		{"JWKS not JSON", Config{KeysFile: writeFile(t, "k.json", []byte(`{"keys":[`))}, []string{"PGW_JWT_KEYS"}},
		{"duplicate kid", Config{KeysFile: writePEM(t, pemKey{"a", &k.rsa.PublicKey}, pemKey{"a", k.ed.Public()})}, []string{"PGW_JWT_KEYS", `duplicate kid "a"`}},
		{"two default keys", Config{KeysFile: writePEM(t, pemKey{"", &k.rsa.PublicKey}, pemKey{"", k.ed.Public()})}, []string{"PGW_JWT_KEYS", "more than one key without kid"}},
		{"RSA 1024", Config{KeysFile: writePEM(t, pemKey{"r", &small.PublicKey})}, []string{"PGW_JWT_KEYS", "1024 bits"}},
		{"EC P-384", Config{KeysFile: writePEM(t, pemKey{"e", &p384.PublicKey})}, []string{"PGW_JWT_KEYS", "P-384"}},
		{"alg none", Config{Secret: testSecret, Algorithms: []string{"none"}}, []string{"PGW_JWT_ALGORITHMS", "none"}},
		{"alg unsupported", Config{Secret: testSecret, Algorithms: []string{"HS512"}}, []string{"PGW_JWT_ALGORITHMS", `"HS512"`}},
		{"HS256 without secret", Config{KeysFile: rsaPEM, Algorithms: []string{AlgHS256}}, []string{"PGW_JWT_ALGORITHMS", "PGW_JWT_SECRET"}},
		{"ES256 without EC key", Config{KeysFile: rsaPEM, Algorithms: []string{AlgES256}}, []string{"PGW_JWT_ALGORITHMS", "ES256", "PGW_JWT_KEYS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("New accepted the config (algs %v)", v.Algorithms())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// ecJWKWithAlg is a public EC JWK with a given alg member.
func ecJWKWithAlg(t *testing.T, k *ecdsa.PrivateKey, alg string) string {
	t.Helper()
	raw := strings.TrimSpace(string(must(readFile(writeJWKS(t, pemKey{"e1", k.Public()})))))
	// {"keys":[{...}]} -> {...,"alg":"..."}
	jwk := strings.TrimSuffix(strings.TrimPrefix(raw, `{"keys":[`), `]}`)
	return strings.TrimSuffix(jwk, "}") + `,"alg":"` + alg + `"}`
}

func TestNewAlgorithms(t *testing.T) {
	k := newKeys(t)
	both := writePEM(t, pemKey{"rsa1", &k.rsa.PublicKey}, pemKey{"ed1", k.ed.Public()})
	cert := writeFile(t, "cert.pem", selfSigned(t, k))
	pkcs1 := writeFile(t, "pkcs1.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Headers: map[string]string{"kid": "p1"}, Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}))
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"secret only", Config{Secret: testSecret}, []string{AlgHS256}},
		{"secret and keys", Config{Secret: testSecret, KeysFile: both}, []string{AlgHS256, AlgRS256, AlgEdDSA}},
		{"keys only", Config{KeysFile: both}, []string{AlgRS256, AlgEdDSA}},
		{"JWKS", Config{KeysFile: writeJWKS(t, pemKey{"ec1", k.ec.Public()}, pemKey{"ed1", k.ed.Public()})}, []string{AlgES256, AlgEdDSA}},
		{"certificate", Config{KeysFile: cert}, []string{AlgES256}},
		{"PKCS #1", Config{KeysFile: pkcs1}, []string{AlgRS256}},
		{"pinned subset, deduplicated", Config{Secret: testSecret, KeysFile: both, Algorithms: []string{AlgEdDSA, " EdDSA"}}, []string{AlgEdDSA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Algorithms(); !slices.Equal(got, tt.want) {
				t.Errorf("Algorithms() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCertificateKeyVerifies: the key of a CERTIFICATE block (the default
// key here, no kid) verifies ES256 tokens.
func TestCertificateKeyVerifies(t *testing.T) {
	k := newKeys(t)
	v, err := New(Config{KeysFile: writeFile(t, "cert.pem", selfSigned(t, k)), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(signToken(t, jwt.SigningMethodES256, k.ec, "", claims(del("aud"), del("iss")))); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// selfSigned is a PEM CERTIFICATE for k.ec, without kid.
func selfSigned(t *testing.T, k keys) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.ec.Public(), k.ec)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
