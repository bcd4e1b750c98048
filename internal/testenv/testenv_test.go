package testenv

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestRedisRestartEmpty(t *testing.T) {
	r := Redis(t)
	c, err := net.DialTimeout("tcp", r.Addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	r.Restart()
	WaitFor(t, 5*time.Second, func() error {
		c, err := net.DialTimeout("tcp", r.Addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

func TestNATSRestartSamePort(t *testing.T) {
	n := NATS(t)
	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	n.Restart()
	WaitFor(t, 5*time.Second, func() error {
		if !nc.IsConnected() {
			return fmt.Errorf("not reconnected")
		}
		return nil
	})
}
