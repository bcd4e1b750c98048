package chaos

import (
	"cmp"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSoak is `make soak`: PGW_SOAK_DURATION (e.g. 30m) of churn over
// PGW_SOAK_CONNS connections (default 10000) on three nodes, sampled every
// 10 s; it fails when a figure grows without bound (Unbounded) and writes
// the figures to PGW_SOAK_OUT. Without PGW_SOAK_DURATION it is skipped:
// the judgement itself is tested by TestUnbounded.
func TestSoak(t *testing.T) {
	dur := getenv("PGW_SOAK_DURATION", "")
	if dur == "" {
		t.Skip("set PGW_SOAK_DURATION (make soak) to run the soak")
	}
	d, err := time.ParseDuration(dur)
	if err != nil {
		t.Fatalf("PGW_SOAK_DURATION=%q: %v", dur, err)
	}
	conns, _ := strconv.Atoi(getenv("PGW_SOAK_CONNS", "10000"))
	seed, _ := strconv.ParseUint(getenv("PGW_SOAK_SEED", "1"), 10, 64)
	churn, _ := strconv.ParseFloat(getenv("PGW_SOAK_CHURN", "40"), 64)
	every, _ := time.ParseDuration(getenv("PGW_SOAK_EVERY", "10s"))
	out := getenv("PGW_SOAK_OUT", t.TempDir())
	e := NewEnv(t, EnvOptions{Nodes: 3, Grace: 5 * time.Second, NodeTTL: 8 * time.Second, Prefix: "soak"})
	opt := SoakOptions{Seed: seed, Duration: d, Conns: conns, Users: max(1, conns/5), Churn: churn, Every: every, Out: out, Log: t.Logf}
	samples := Soak(t, e, opt)
	header := "pgw soak: " + strconv.Itoa(conns) + " connections, 3 nodes, churn " + strconv.FormatFloat(churn, 'g', -1, 64) + "/s, seed " + strconv.FormatUint(seed, 10) + ", " + d.String()
	if err := WriteSoak(out, samples, header); err != nil {
		t.Fatal(err)
	}
	t.Logf("soak figures written to %s", out)
	if bad := Unbounded(samples); len(bad) > 0 {
		t.Fatalf("soak (seed %d):\n%s", seed, strings.Join(bad, "\n"))
	}
}

func TestUnbounded(t *testing.T) {
	flat := func(i int) Sample {
		return Sample{At: time.Duration(i) * time.Second, RSS: 200 << 20, Goroutines: 10000 + int64(i%7), FDs: 10100, RedisMem: 30 << 20}
	}
	var ok, leak, plateau []Sample
	for i := range 40 {
		ok = append(ok, flat(i))
		l := flat(i)
		l.Goroutines += int64(i) * 400 // a goroutine leak: grows every sample
		leak = append(leak, l)
		p := flat(i)
		p.RSS += int64(min(i, 8)) * (8 << 20) // warms up, then levels off
		plateau = append(plateau, p)
	}
	if bad := Unbounded(ok); len(bad) != 0 {
		t.Errorf("flat figures judged unbounded: %v", bad)
	}
	if bad := Unbounded(plateau); len(bad) != 0 {
		t.Errorf("a warm-up that levels off judged unbounded: %v", bad)
	}
	bad := Unbounded(leak)
	if len(bad) != 1 || !strings.Contains(bad[0], "goroutines") {
		t.Errorf("a goroutine leak not caught: %v", bad)
	}
	if bad := Unbounded(ok[:5]); len(bad) == 0 {
		t.Errorf("5 samples judged")
	}
}

// getenv is os.Getenv with a default (the make targets' knobs).
func getenv(key, def string) string { return cmp.Or(os.Getenv(key), def) }
