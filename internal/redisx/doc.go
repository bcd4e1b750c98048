// Package redisx holds what the Redis-backed stores of pgw (presence, ipt)
// must decide the same way about Redis itself, so the rule lives in one
// place: which failures mean "Redis is not answering now, retry"
// (Unavailable), and how a key is named (Keys: one layout, one hash-tag
// rule, for every key of both stores). It knows nothing of presence or
// telephony.
package redisx
