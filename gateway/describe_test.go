package gateway

import (
	"strings"
	"testing"
)

// The start-up log names the store and the bus a node uses, without the
// credentials their URLs may carry.
func TestDescribeStoreAndBus(t *testing.T) {
	alone := startNode(t, nil)
	if got := alone.describeStore(); !strings.HasPrefix(got, "in-process") {
		t.Errorf("store of a node alone: %q", got)
	}
	if got := alone.describeBus(); !strings.HasPrefix(got, "embedded NATS, in-process") {
		t.Errorf("bus of a node alone: %q", got)
	}

	n := &Node{ownStore: true, cfg: Config{RedisURL: "redis://:s3cret@10.1.2.3:6380/2", Prefix: "p1",
		NATSURL: "nats://u:s3cret@10.1.2.4:4222, nats://10.1.2.5:4222"}}
	cluster := &Node{ownStore: true, cfg: Config{RedisURL: "redis://:s3cret@10.1.2.3:7000,10.1.2.4:7000", Prefix: "p1"}}
	for got, want := range map[string]string{
		n.describeStore():       "Redis at 10.1.2.3:6380 db 2 (prefix p1)",
		n.describeBus():         "NATS at 10.1.2.4:4222, 10.1.2.5:4222 (prefix p1)",
		cluster.describeStore(): "Redis Cluster at 10.1.2.3:7000, 10.1.2.4:7000 (prefix p1)",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
