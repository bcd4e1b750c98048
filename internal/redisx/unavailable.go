package redisx

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/redis/go-redis/v9"
)

// Unavailable reports whether err means that Redis did not answer, or
// answered that it cannot serve right now, so the same call may succeed
// shortly: the caller answers 503 and retries (and a node re-asserts its
// connections once Redis is back). It is built on go-redis' own predicates.
//
// It is false for a reply a retry would not change (WRONGTYPE, a Lua script
// error, NOSCRIPT, OOM, a permission error), for redis.Nil, and for a
// context the caller cancelled: those are bugs or data problems to report,
// not outages to wait out.
func Unavailable(err error) bool {
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, redis.ErrClosed),
		errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsClusterDownError(err),
		redis.IsTryAgainError(err), redis.IsMasterDownError(err), redis.IsMaxClientsError(err),
		redis.IsNoReplicasError(err):
		return true
	}
	if _, moved := redis.IsMovedError(err); moved {
		return true // a slot migrating while the cluster client's view is stale
	}
	if _, ask := redis.IsAskError(err); ask {
		return true
	}
	// A script running past its time limit blocks every client until it
	// ends (BUSY); BUSYGROUP and other words starting alike are not it.
	if redis.HasErrorPrefix(err, "BUSY ") {
		return true
	}
	// Dial, read and write failures (refused, reset, timeouts) are net.Errors.
	var ne net.Error
	return errors.As(err, &ne)
}
