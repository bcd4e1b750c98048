package bus

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"sync"

	"github.com/nats-io/nats.go"
)

// SignatureHeader carries a message's signature: HMAC-SHA256 over the
// subject and the payload with a key derived from the cluster secret
// (base64url). Nodes sign everything they publish and drop what is not
// signed by a node of their deployment, so a process that can publish on
// NATS cannot fake presence, call events or control messages. Services
// that only subscribe can ignore the header.
const SignatureHeader = "Pgw-Sig"

// keyContext separates the bus key from other uses of the same secret (the
// default secret is the JWT secret).
const keyContext = "pgw bus signing key v1"

// signer signs and checks messages with the deployment's bus key. Every
// presence change is signed once and checked by every node, so the keyed
// HMACs are pooled: hmac.New per message (the key schedule, three
// allocations) was a visible part of a connect's cost.
type signer struct{ macs *sync.Pool }

func newSigner(secret []byte) signer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(keyContext))
	key := m.Sum(nil)
	return signer{macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// randomSecret is the secret of a node alone on its embedded server.
func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func (s signer) mac(subject string, data []byte) []byte {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(subject))
	m.Write([]byte{0})
	m.Write(data)
	sum := m.Sum(nil)
	s.macs.Put(m)
	return sum
}

func (s signer) sign(m *nats.Msg) {
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	m.Header.Set(SignatureHeader, base64.RawURLEncoding.EncodeToString(s.mac(m.Subject, m.Data)))
}

// verify reports whether m carries a node's signature. (Replays need no
// window: a replayed presence has a version already passed, a replayed
// close names connections the original closed.)
func (s signer) verify(m *nats.Msg) bool {
	got, err := base64.RawURLEncoding.DecodeString(m.Header.Get(SignatureHeader))
	return err == nil && hmac.Equal(got, s.mac(m.Subject, m.Data))
}
