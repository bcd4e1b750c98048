// Package ami speaks the Asterisk Manager Interface (AMI) wire protocol: a
// small TCP client (banner, Login, actions with ActionID, responses, events
// and EventList collection). The fake PBX that tests use in place of a real
// Asterisk is in package amitest.
//
// It owns only the wire protocol. It knows nothing of the gateway, of users or
// of the ipt frames: mapping AMI events to telephony events is package bridge's
// job. It must not touch presence state, Redis or NATS.
package ami
