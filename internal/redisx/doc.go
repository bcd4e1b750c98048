// Package redisx holds what the Redis-backed stores of pgw (presence, ipt)
// must decide the same way about Redis itself, so the rule lives in one
// place: today, which failures mean "Redis is not answering now, retry"
// (Unavailable). It knows nothing of presence or telephony.
package redisx
