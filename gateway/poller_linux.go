package gateway

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller waits for any registered connection to become readable: one
// epoll instance and one goroutine per node (reader.go says why). Sockets
// are registered level-triggered with EPOLLONESHOT: an event disarms the
// socket until its reader re-arms it, and re-arming a socket that already
// has data fires at once, so no wake-up is lost between a reader's last
// look and its re-arm. The event carries the connection's slot in the
// node's readers, never a pointer.
//
// The poller goroutine waits in Go's own netpoller, not in a blocking
// epoll_wait: the epoll descriptor is itself pollable (readable while it
// has events), so it is wrapped as a non-blocking *os.File and drained with
// epoll_wait(…, 0) when the runtime says it is ready. A blocking
// epoll_wait held a thread in a system call, and every wake-up (one per
// frame a client sends) had to get a P back from the runtime; in a
// fan-out that was a good part of a node's scheduling cost.
type poller struct {
	n    *Node
	epfd *os.File // the epoll instance, registered with Go's netpoller
	raw  syscall.RawConn
	wake int // eventfd: Shutdown's stop signal
	done chan struct{}
}

// armEvents: readable, or the peer shut down its side (EOF or reset:
// EPOLLERR and EPOLLHUP come anyway).
const armEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// stopSlot marks the eventfd's event.
const stopSlot = -1

func newPoller(n *Node) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: stopSlot}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		_ = unix.Close(wake)
		return nil, err
	}
	p := &poller{n: n, epfd: f, raw: raw, wake: wake, done: make(chan struct{})}
	go p.run()
	return p, nil
}

// run kicks the connections whose sockets became readable until close.
func (p *poller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		var k int
		var werr error
		err := p.raw.Read(func(fd uintptr) bool {
			for {
				k, werr = unix.EpollWait(int(fd), events, 0)
				if werr != unix.EINTR {
					// Nothing ready: false parks this goroutine in the
					// netpoller until the epoll descriptor is readable.
					return werr != nil || k > 0
				}
			}
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			// Connections then wait for the read sweep's deadlines.
			p.n.log.Error("epoll_wait failed: idle connections are no longer read", "err", err)
			return
		}
		for _, ev := range events[:k] {
			if ev.Fd == stopSlot {
				return
			}
			if c := p.n.readers.get(ev.Fd); c != nil {
				c.kick()
			}
		}
	}
}

// close stops the poller (after every connection is gone) and frees it.
func (p *poller) close() {
	if p == nil {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(p.wake, one[:])
	<-p.done
	_ = p.epfd.Close()
	_ = unix.Close(p.wake)
}

func (p *poller) add(c *conn) error   { return p.ctl(c, unix.EPOLL_CTL_ADD) }
func (p *poller) rearm(c *conn) error { return p.ctl(c, unix.EPOLL_CTL_MOD) }

// del unregisters the socket before it is closed (closing would too, but
// only once nothing else holds the socket).
func (p *poller) del(c *conn) {
	if p != nil && c.rd.raw != nil {
		_ = p.ctl(c, unix.EPOLL_CTL_DEL)
	}
}

// ctl runs epoll_ctl inside RawConn.Control: the socket cannot be closed
// (and its number reused by another connection) meanwhile.
func (p *poller) ctl(c *conn, op int) error {
	slot := c.rd.slot.Load()
	if slot < 0 {
		return errors.New("connection not registered")
	}
	var cerr error
	err := c.rd.raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: armEvents, Fd: slot}
		cerr = p.ctlFD(op, int(fd), &ev)
	})
	if err != nil {
		return err
	}
	return os.NewSyscallError("epoll_ctl", cerr)
}

// ctlFD runs epoll_ctl on the epoll descriptor (held open meanwhile).
func (p *poller) ctlFD(op, fd int, ev *unix.EpollEvent) error {
	var cerr error
	if err := p.raw.Control(func(epfd uintptr) { cerr = unix.EpollCtl(int(epfd), op, fd, ev) }); err != nil {
		return err
	}
	return cerr
}

// tryRead reads what the socket has without waiting: errWouldBlock if
// nothing. Deadlines still apply (an expired one fails the read), and the
// socket cannot be closed during the read.
func tryRead(raw syscall.RawConn, p []byte) (int, error) {
	var n int
	var rerr error
	err := raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), p)
			if rerr != unix.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case rerr == unix.EAGAIN:
		return 0, errWouldBlock
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}
