package wire

// Client frame types (§3.1).
const (
	Hello       = "hello"
	Status      = "status"
	Idle        = "idle"
	Subscribe   = "subscribe"
	Unsubscribe = "unsubscribe"
	Logout      = "logout"
	Refresh     = "refresh"
	IPTSync     = "ipt.sync"
	IPTEvent    = "ipt.event"
)

// Server frame types (§3.2).
const (
	Welcome  = "welcome"
	OK       = "ok"
	Error    = "error"
	Presence = "presence"
	Call     = "call"
	Bye      = "bye"
	Expiring = "expiring"
)
