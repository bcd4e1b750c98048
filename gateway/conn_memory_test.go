package gateway

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/time/rate"

	"github.com/pgw/pgw/gateway/auth"
)

// An idle connection's memory is mostly this struct: it must stay within
// the 320-byte size class (it was 704 with fields only some connections
// use; docs/benchmarks.md "Memory: a smaller connection").
func TestConnSize(t *testing.T) {
	if size := unsafe.Sizeof(conn{}); size > 320 {
		t.Errorf("conn is %d bytes, more than its 320-byte size class: move what only some connections use behind a pointer (connExt, connUpgrade)", size)
	}
}

// frameBucket decides every frame as rate.Limiter.AllowN would at the same
// times: random rates, bursts and gaps (bursts of frames at one instant,
// gaps shorter and longer than a token, a clock read going backwards).
func TestFrameBucketMatchesRateLimiter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now()
	rates := []float64{0.5, 1, 2, 3, 7.5, 50, 1000, 1e6}
	for round := range 200 {
		perSecond := rates[round%len(rates)] * (0.5 + rng.Float64())
		burst := 1 + rng.IntN(20)
		lim := rate.NewLimiter(rate.Limit(perSecond), burst)
		at := int64(rng.IntN(int(time.Second)))
		b := newFrameBucket(perSecond, burst, at)
		allowed, refused := 0, 0
		for i := range 500 {
			switch rng.IntN(6) {
			case 0: // same instant
			case 1:
				at -= int64(rng.IntN(int(time.Millisecond))) // a read behind the last
			case 2:
				at += int64(float64(time.Second) / perSecond * rng.Float64() * 3)
			default:
				at += int64(rng.IntN(int(time.Second / time.Duration(max(1, int(perSecond))))))
			}
			want := lim.AllowN(base.Add(time.Duration(at)), 1)
			if got := b.allow(at); got != want {
				t.Fatalf("round %d (rate %g, burst %d), frame %d at %v: bucket %v, rate.Limiter %v", round, perSecond, burst, i, time.Duration(at), got, want)
			}
			if want {
				allowed++
			} else {
				refused++
			}
		}
		if round == 0 && (allowed == 0 || refused == 0) {
			t.Fatalf("round 0 exercised only one outcome: %d allowed, %d refused", allowed, refused)
		}
	}
}

// The bucket limits: at one instant exactly burst frames pass, then one
// more per 1/rate.
func TestFrameBucketLimits(t *testing.T) {
	b := newFrameBucket(2, 5, 0)
	for i := range 5 {
		if !b.allow(0) {
			t.Fatalf("frame %d of the burst refused", i)
		}
	}
	if b.allow(0) || b.allow(int64(400*time.Millisecond)) {
		t.Fatal("a frame past the burst passed before a token grew back (2/s)")
	}
	if !b.allow(int64(500 * time.Millisecond)) {
		t.Fatal("no frame passed after half a second at 2/s")
	}
	if b.allow(int64(600 * time.Millisecond)) {
		t.Fatal("a second frame passed within the same half second")
	}
}

// The users published lately are kept for the republish window, then
// forgotten by prune even when nothing is published any more, and an
// emptied map is let go.
func TestRecentPublishesPrune(t *testing.T) {
	var r recentPublishes
	t0 := time.Now()
	r.note(userKey{"acme", "u1"}, t0)
	r.note(userKey{"acme", "u2"}, t0.Add(republishWindow/2))
	if got := r.users(t0.Add(republishWindow / 2)); len(got["acme"]) != 2 {
		t.Fatalf("within the window: %v", got)
	}
	r.prune(t0.Add(republishWindow + republishWindow/4))
	if got := r.users(t0.Add(republishWindow + republishWindow/4)); !slices.Equal(got["acme"], []string{"u2"}) {
		t.Fatalf("u1 past the window, u2 within: %v", got)
	}
	r.prune(t0.Add(3 * republishWindow))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at != nil {
		t.Fatalf("after the window nothing is kept, got %v", r.at)
	}
}

// A token that expires far in the future (year 3000: past what Unix
// nanoseconds hold) keeps its connection open and gets no expiring notice;
// one already within the notice gets it. The sweep runs here by hand.
func TestSweepTokenExpiryFarAndNear(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.ExpiringNotice = time.Minute })
	sign := func(sub string, exp time.Time) string {
		tok, err := auth.Sign([]byte(testSecret), auth.Claims{Subject: sub, Tenant: "acme", Expires: exp})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	far, near := dial(t, tn.url, nil), dial(t, tn.url, nil)
	for _, c := range []struct {
		cl  *client
		tok string
	}{{far, sign("far", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))}, {near, sign("near", time.Now().Add(30*time.Second))}} {
		if w := c.cl.request(map[string]any{"type": "hello", "token": c.tok, "device": "desktop"}); w["type"] != "welcome" {
			t.Fatalf("hello: %v", w)
		}
	}
	from := far.count()
	tn.sweep(context.Background(), time.Now())
	near.waitFrame(0, 10*time.Second, func(f map[string]any) bool { return f["type"] == "expiring" })
	if f := far.request(map[string]any{"type": "idle", "idle": true}); f["type"] != "ok" {
		t.Fatalf("the far-expiry connection after a sweep: %v", f)
	}
	for _, f := range far.all()[from:] {
		if f["type"] == "expiring" {
			t.Fatalf("the far-expiry connection was told it expires: %v", f)
		}
	}
}
