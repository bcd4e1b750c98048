package wire

// Client frame types (§3.1).
const (
	TypeHello       = "hello"
	TypeStatus      = "status"
	TypeIdle        = "idle"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeLogout      = "logout"
	TypeRefresh     = "refresh"
	TypeIPTSync     = "ipt.sync"
	TypeIPTEvent    = "ipt.event"
)

// Server frame types (§3.2).
const (
	TypeWelcome  = "welcome"
	TypeOK       = "ok"
	TypeError    = "error"
	TypePresence = "presence"
	TypeCall     = "call"
	TypeBye      = "bye"
	TypeExpiring = "expiring"
)
