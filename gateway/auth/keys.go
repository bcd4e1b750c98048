package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
)

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// Sentinel errors of key loading; New wraps them with the file and the key.
var (
	// errNoKeys: the keys file holds no key at all.
	errNoKeys = errors.New("no public key in file")
	// errFormat: the file is neither JWKS JSON nor PEM.
	errFormat = errors.New("not a JWKS document or PEM file")
	// errPrivateKey: the file holds private key material; the gateway only
	// verifies, and a private key on a gateway host is a leak waiting.
	errPrivateKey = errors.New("private key material; give the gateway public keys only")
	// errKeyType: a key type or curve the gateway cannot verify with.
	errKeyType = errors.New("unsupported key")
	// errDuplicateKid: two keys with one kid make the choice ambiguous.
	errDuplicateKid = errors.New("duplicate kid")
)

// publicKey is one verification key and the one alg it verifies.
type publicKey struct {
	alg string
	key any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// loadKeysFile reads a JWKS or PEM file into keys by kid ("" is the
// default key for tokens without kid).
func loadKeysFile(path string) (map[string]publicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(raw)
	var keys map[string]publicKey
	switch {
	case bytes.HasPrefix(trimmed, []byte("{")):
		keys, err = parseJWKS(trimmed)
	case bytes.Contains(trimmed, []byte("-----BEGIN ")):
		keys, err = parsePEM(trimmed)
	default:
		err = errFormat
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: %w", path, errNoKeys)
	}
	return keys, nil
}

// parseJWKS reads a JWK Set with keyfunc/jwkset, then copies the keys into
// a plain map: the storage's lookup is a locked linear scan, too slow for
// the connect path, and the file never changes after New.
func parseJWKS(raw []byte) (map[string]publicKey, error) {
	kf, err := keyfunc.NewJWKSetJSON(raw)
	if err != nil {
		return nil, err
	}
	jwks, err := kf.Storage().KeyReadAll(context.Background())
	if err != nil {
		return nil, err
	}
	keys := make(map[string]publicKey, len(jwks))
	for i, jwk := range jwks {
		m := jwk.Marshal()
		name := keyName(i, m.KID)
		switch {
		case m.KTY == jwkset.KtyOct:
			return nil, fmt.Errorf("%s: %w: kty oct is a shared secret; use PGW_JWT_SECRET for HS256", name, errKeyType)
		case m.D != "":
			return nil, fmt.Errorf("%s: %w", name, errPrivateKey)
		case m.USE != "" && m.USE != jwkset.UseSig:
			return nil, fmt.Errorf("%s: %w: use %q, want sig", name, errKeyType, m.USE)
		}
		k, err := newPublicKey(jwk.Key())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if a := m.ALG.String(); a != "" && a != k.alg {
			return nil, fmt.Errorf("%s: %w: alg %q does not fit the key, which is %s", name, errKeyType, a, k.alg)
		}
		if err := addKey(keys, m.KID, k); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return keys, nil
}

// parsePEM reads every PEM block; a block's "kid" header names it.
func parsePEM(raw []byte) (map[string]publicKey, error) {
	keys := make(map[string]publicKey)
	rest := raw
	for i := 0; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		kid := block.Headers["kid"]
		name := keyName(i, kid)
		pub, err := pemPublicKey(block)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		k, err := newPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := addKey(keys, kid, k); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(bytes.TrimSpace(rest)) > 0 && len(keys) > 0 {
		return nil, fmt.Errorf("after key %d: %w: trailing text that is not a PEM block", len(keys), errFormat)
	}
	return keys, nil
}

// pemPublicKey returns the public key of a PEM block.
func pemPublicKey(b *pem.Block) (any, error) {
	switch b.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return nil, errPrivateKey
	}
	return nil, fmt.Errorf("%w: PEM block type %q (want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)", errKeyType, b.Type)
}

// newPublicKey derives the one alg a key verifies from its type.
func newPublicKey(key any) (publicKey, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return publicKey{}, fmt.Errorf("%w: RSA key of %d bits, need at least %d", errKeyType, bits, minRSABits)
		}
		return publicKey{alg: AlgRS256, key: k}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return publicKey{}, fmt.Errorf("%w: EC curve %s (ES256 needs P-256)", errKeyType, k.Curve.Params().Name)
		}
		return publicKey{alg: AlgES256, key: k}, nil
	case ed25519.PublicKey:
		return publicKey{alg: AlgEdDSA, key: k}, nil
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return publicKey{}, errPrivateKey
	}
	return publicKey{}, fmt.Errorf("%w: key type %T", errKeyType, key)
}

func addKey(keys map[string]publicKey, kid string, k publicKey) error {
	if _, dup := keys[kid]; dup {
		if kid == "" {
			return fmt.Errorf("%w: more than one key without kid (only one default key may exist)", errDuplicateKid)
		}
		return fmt.Errorf("%w %q", errDuplicateKid, kid)
	}
	keys[kid] = k
	return nil
}

// keyName names a key in an error: by kid, or by position when it has none.
func keyName(i int, kid string) string {
	if kid == "" {
		return fmt.Sprintf("key %d (no kid)", i+1)
	}
	return fmt.Sprintf("key %d (kid %q)", i+1, kid)
}
