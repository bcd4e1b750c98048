package bus

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
)

// The pooled MACs give exactly HMAC-SHA256 with the derived key over
// subject, 0, payload, whatever goroutine reuses them and in what order;
// verify takes what sign made and nothing altered.
func TestSignerPooledMACs(t *testing.T) {
	secret := []byte("a secret of the deployment, 32+ bytes")
	s := newSigner(secret)
	k := hmac.New(sha256.New, secret)
	k.Write([]byte(keyContext))
	key := k.Sum(nil)
	want := func(subject string, data []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(subject))
		m.Write([]byte{0})
		m.Write(data)
		return m.Sum(nil)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				subject, data := fmt.Sprintf("pgw.presence.t%d.u%d", g, i), []byte(fmt.Sprintf(`{"n":%d}`, i*g))
				if got := s.mac(subject, data); !hmac.Equal(got, want(subject, data)) {
					errs <- fmt.Errorf("mac(%s) differs from HMAC-SHA256", subject)
					return
				}
				m := &nats.Msg{Subject: subject, Data: data}
				s.sign(m)
				if !s.verify(m) {
					errs <- fmt.Errorf("verify refused its own signature on %s", subject)
					return
				}
				m.Data = append(m.Data, ' ')
				if s.verify(m) {
					errs <- fmt.Errorf("verify took an altered payload on %s", subject)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
