package gateway

import "golang.org/x/time/rate"

// newLimiter is a connection's frame token bucket (§6).
func newLimiter(cfg Config) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.RateBurst)
}
