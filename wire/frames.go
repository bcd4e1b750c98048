package wire

// HelloFrame is the first client frame (§3.1), as clients send it: with a
// token, or without when the token travels in the upgrade's Authorization
// header.
type HelloFrame struct {
	Type    string `json:"type"`
	ID      int64  `json:"id"`
	Token   string `json:"token,omitempty"`
	Session string `json:"session,omitempty"`
	Window  string `json:"window,omitempty"`
	Device  string `json:"device"`
	Client  string `json:"client"`
}

// RefreshFrame replaces the connection's token before it expires.
type RefreshFrame struct {
	Type  string `json:"type"`
	ID    int64  `json:"id"`
	Token string `json:"token"`
}

// SubscribeFrame watches users (and, with type unsubscribe, stops).
type SubscribeFrame struct {
	Type  string   `json:"type"`
	ID    int64    `json:"id"`
	Users []string `json:"users"`
}
