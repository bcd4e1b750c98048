// Package storetest is the contract suite of presence.Store: one table of
// transitions with the PRESENCE object, changed flag and version each must
// give, run against every store (presence.Memory in memory_test.go,
// presence.Redis in redis_test.go, also on a Redis Cluster). A store that
// passes it applies the rules of contract §4 exactly like the others.
//
// It owns only the tests' expectations. It must not reach into a store's
// internals (keys, scripts): store-specific checks live next to the store.
package storetest
