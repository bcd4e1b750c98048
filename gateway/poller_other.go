//go:build !linux

package gateway

import (
	"errors"
	"syscall"
)

// poller is Linux-only (epoll); elsewhere every connection has a reader
// goroutine (PGW_READER=goroutine).
type poller struct{}

func newPoller(*Node) (*poller, error) { return nil, errors.New("PGW_READER=epoll needs Linux") }

func (p *poller) close()            {}
func (p *poller) add(*conn) error   { return errors.ErrUnsupported }
func (p *poller) rearm(*conn) error { return errors.ErrUnsupported }
func (p *poller) del(*conn)         {}

func tryRead(syscall.RawConn, []byte) (int, error) { return 0, errors.ErrUnsupported }
