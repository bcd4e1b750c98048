package membench

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	full := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 12
go_memstats_heap_inuse_bytes 4.194304e+06
go_memstats_stack_inuse_bytes 524288
go_memstats_heap_idle_bytes 1000
go_memstats_heap_released_bytes 500
go_memstats_next_gc_bytes 8e+06
go_gc_duration_seconds{quantile="0.5"} 0.0001
go_gc_duration_seconds_count 7
process_resident_memory_bytes 2.5e+07
pgw_connections 3
`
	tests := []struct {
		name    string
		text    string
		want    Sample
		wantErr error
	}{
		{name: "all present", text: full, want: Sample{HeapInuse: 4194304, StackInuse: 524288, RSS: 25e6, GCs: 7,
			Goroutines: 12, HeapIdle: 1000, Released: 500, NextGC: 8e6}},
		{name: "heap missing", text: strings.Replace(full, "go_memstats_heap_inuse_bytes", "x", 1), wantErr: errMissingMetric},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetrics(strings.NewReader(tc.text))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestClientConfigRefusesIncomplete(t *testing.T) {
	tests := []struct {
		name string
		cfg  ClientConfig
	}{
		{name: "no URL", cfg: ClientConfig{Conns: 1, Bare: true}},
		{name: "no conns", cfg: ClientConfig{URL: "ws://127.0.0.1:1/ws", Bare: true}},
		{name: "pgw without secret", cfg: ClientConfig{URL: "ws://127.0.0.1:1/v1/ws", Conns: 1, Tenant: "t"}},
		{name: "negative subscribe", cfg: ClientConfig{URL: "ws://127.0.0.1:1/ws", Conns: 1, Bare: true, Subscribe: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.defaults(); !errors.Is(err, errBadConfig) {
				t.Fatalf("err = %v, want errBadConfig", err)
			}
		})
	}
}
