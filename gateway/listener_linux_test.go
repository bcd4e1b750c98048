package gateway

import (
	"net"
	"syscall"
	"testing"
)

// The node's own listener (Run) turns TCP keep-alive off on accepted
// sockets: the heartbeat does its job.
func TestListenNoTCPKeepAlive(t *testing.T) {
	tn := startNode(t, nil)
	l, err := tn.listen()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, err := s.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var serr error
	if err := raw.Control(func(fd uintptr) { on, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if on != 0 {
		t.Fatalf("SO_KEEPALIVE = %d on an accepted socket, want 0", on)
	}
}
