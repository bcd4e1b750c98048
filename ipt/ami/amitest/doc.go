// Package amitest holds Server, an in-process AMI server with a mutable PBX
// state that tests use in place of a real Asterisk. It speaks the wire format
// through package ami's own codec, so the fake and the client cannot disagree
// on framing. It is test support only: no production package imports it.
package amitest
