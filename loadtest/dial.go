package loadtest

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
)

// sourcePool hands out local addresses round-robin so one worker can open
// more connections than one source IP has ephemeral ports (about 28 000 with
// the default ip_local_port_range). Every 127.0.0.0/8 address is local on
// Linux, so no interface setup is needed.
type sourcePool struct {
	addrs []*net.TCPAddr
	next  atomic.Uint64
}

// newSourcePool gives worker w of a run the addresses 127.0.0.(2+w*n) …
// 127.0.0.(2+w*n+n-1); n == 0 means no binding (the kernel picks).
func newSourcePool(w, n int) *sourcePool {
	p := &sourcePool{}
	for i := 0; i < n; i++ {
		p.addrs = append(p.addrs, &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+w*n+i))})
	}
	return p
}

// dialContext is a net.Dialer.DialContext that binds the next source address.
func (p *sourcePool) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{}
	if len(p.addrs) > 0 {
		d.LocalAddr = p.addrs[p.next.Add(1)%uint64(len(p.addrs))]
	}
	return d.DialContext(ctx, network, addr)
}

// RaiseNoFile lifts RLIMIT_NOFILE's soft limit to the hard limit (each
// connection is one descriptor) and returns the limit in force. The hard
// limit itself needs root and a host setting (docs/loadtest.md).
func RaiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return lim.Cur, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return lim.Cur, nil
}
