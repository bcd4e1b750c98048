// Package bridge connects a telephony source to the gateway as an IP-phone
// bridge (contract §3.1, ipt.sync and ipt.event). The source is either an
// Asterisk PBX over AMI (package ami), whose events it maps to telephony
// events and whose lists it turns into snapshots, or a built-in simulator for
// demos and load. The gateway side is an ordinary WebSocket client of the
// protocol: hello, welcome, ipt.sync after every (re)connect, then ipt.event
// with a sequence that restarts at 1 after each sync.
//
// Run is the whole bridge. The package owns the bridge's own state only; it
// must not touch presence stores, Redis or NATS: the gateway owns those.
package bridge
