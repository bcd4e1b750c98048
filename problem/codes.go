package problem

import "net/http"

// Code is the stable, machine-readable name of a problem (the problem's
// "code" member, and the reason text of a WebSocket close).
type Code string

// The codes. Each has exactly one row in table below.
const (
	InvalidArgument      Code = "invalid_argument"
	MalformedFrame       Code = "malformed_frame"
	MalformedJSON        Code = "malformed_json"
	UnknownType          Code = "unknown_type"
	UnknownField         Code = "unknown_field"
	TokenMissing         Code = "token_missing"
	TokenMalformed       Code = "token_malformed"
	TokenAlgorithm       Code = "token_algorithm"
	TokenSignature       Code = "token_signature"
	TokenUnknownKey      Code = "token_unknown_key"
	TokenExpired         Code = "token_expired"
	TokenNotYetValid     Code = "token_not_yet_valid"
	TokenAudience        Code = "token_audience"
	TokenIssuer          Code = "token_issuer"
	TokenClaims          Code = "token_claims"
	LoginUnknown         Code = "login_unknown"
	LoginExpired         Code = "login_expired"
	LoginClaims          Code = "login_claims"
	Forbidden            Code = "forbidden"
	NotFound             Code = "not_found"
	UnknownSession       Code = "unknown_session"
	UnknownExtension     Code = "unknown_extension"
	MethodNotAllowed     Code = "method_not_allowed"
	UserOffline          Code = "user_offline"
	PayloadTooLarge      Code = "payload_too_large"
	TooManySubscriptions Code = "too_many_subscriptions"
	UnsupportedMedia     Code = "unsupported_media_type"
	RateLimited          Code = "rate_limited"
	TooManyConnections   Code = "too_many_connections"
	Unavailable          Code = "unavailable"
	Internal             Code = "internal"
	TenantDisabled       Code = "tenant_disabled"
	PreconditionFailed   Code = "precondition_failed"
	PreconditionRequired Code = "precondition_required"
	// HTTP framing refusals (abuse resistance, docs/security.md).
	BadRequest      Code = "bad_request"
	RequestTimeout  Code = "request_timeout"
	HeaderTooLarge  Code = "header_too_large"
	TooManyRequests Code = "too_many_requests"
	// Codes that only ever close a WebSocket (no HTTP use).
	ProtocolViolation Code = "protocol_violation"
	HelloTimeout      Code = "hello_timeout"
	SlowConsumer      Code = "slow_consumer"
	FrameTooLarge     Code = "frame_too_large"
	BinaryFrame       Code = "binary_frame"
	Shutdown          Code = "shutdown"
	LoggedOut         Code = "logged_out"
	InvalidUTF8       Code = "invalid_utf8"
	LoginRevoked      Code = "login_revoked"
)

// WebSocket close codes (contract §6). The reconnect rule is what a client
// should do after receiving the code; the SDK and harness follow it.
const (
	// CloseNormal (1000): logged out or a normal close. Do not reconnect.
	CloseNormal = 1000
	// CloseGoingAway (1001): the node drains. Reconnect at once, with jitter, to any node.
	CloseGoingAway = 1001
	// CloseUnsupported (1003): a binary frame was sent. Do not reconnect.
	CloseUnsupported = 1003
	// ClosePolicy (1008): slow consumer (the outbound queue overflowed). Reconnect with backoff.
	ClosePolicy = 1008
	// CloseInvalidData (1007): a text frame is not valid UTF-8 (RFC 6455 §8.1). Do not reconnect.
	CloseInvalidData = 1007
	// CloseTooBig (1009): an inbound frame exceeded the limit. Do not reconnect.
	CloseTooBig = 1009
	// CloseProtocol (4400): a frame other than hello before welcome. Do not reconnect.
	CloseProtocol = 4400
	// CloseAuth (4401): a token_* or login_* refusal. Reconnect only with a
	// new token or login.
	CloseAuth = 4401
	// CloseForbidden (4403): session of another user, wrong role, tenant disabled (§9). Do not reconnect.
	CloseForbidden = 4403
	// CloseHelloTimeout (4408): no hello in time. Reconnect with backoff.
	CloseHelloTimeout = 4408
	// CloseTooMany (4429): rate limited or too many connections. Reconnect with backoff.
	CloseTooMany = 4429
	// CloseInternal (4500): internal error. Reconnect with backoff.
	CloseInternal = 4500
)

// Reconnect says what a client should do after a close code.
type Reconnect string

// The reconnect rules of the close-code table.
const (
	ReconnectNo        Reconnect = "no"
	ReconnectAtOnce    Reconnect = "at once, with jitter"
	ReconnectBackoff   Reconnect = "with backoff"
	ReconnectNewToken  Reconnect = "only with a new token or login"
	ReconnectNotClosed Reconnect = "" // the code never closes a connection
)

// Info is one row of the code table.
type Info struct {
	Code   Code
	Status int    // HTTP status; 0 for close-only codes
	Title  string // stable per code
	// Close is the WebSocket close code when this problem ends a
	// connection, 0 when it is only answered with an error frame.
	Close   int
	Meaning string // what it means and what to do (docs/errors.md)
}

var table = []Info{
	{InvalidArgument, http.StatusBadRequest, "Invalid argument", 0, "A field is missing or has a bad value; errors[] names each field and why. Fix the request."},
	{MalformedFrame, http.StatusBadRequest, "Malformed frame", 0, "A WebSocket frame is not a JSON object with a string type. The connection stays open."},
	{MalformedJSON, http.StatusBadRequest, "Malformed JSON", 0, "An HTTP body is not valid JSON; detail names the byte offset."},
	{UnknownType, http.StatusBadRequest, "Unknown frame type", 0, "The frame's type is not one of the contract's. The connection stays open."},
	{UnknownField, http.StatusBadRequest, "Unknown field", 0, "An HTTP body has a member the API does not define (bodies are decoded strictly)."},
	{TokenMissing, http.StatusUnauthorized, "Token missing", CloseAuth, "No bearer token was sent. Send Authorization: Bearer <jwt> or a hello with token."},
	{TokenMalformed, http.StatusUnauthorized, "Token malformed", CloseAuth, "The token is not a well-formed JWT. Get a new token."},
	{TokenAlgorithm, http.StatusUnauthorized, "Token algorithm not allowed", CloseAuth, "The token's alg is none or not one the gateway is configured for."},
	{TokenSignature, http.StatusUnauthorized, "Token signature invalid", CloseAuth, "The signature does not verify with the configured key."},
	{TokenUnknownKey, http.StatusUnauthorized, "Token key unknown", CloseAuth, "No configured public key has the token's kid."},
	{TokenExpired, http.StatusUnauthorized, "Token expired", CloseAuth, "exp has passed. Get a new token (refresh before expires)."},
	{TokenNotYetValid, http.StatusUnauthorized, "Token not yet valid", CloseAuth, "nbf or iat is in the future. Check clocks."},
	{TokenAudience, http.StatusUnauthorized, "Token audience wrong", CloseAuth, "aud does not name the configured audience."},
	{TokenIssuer, http.StatusUnauthorized, "Token issuer wrong", CloseAuth, "iss is not the configured issuer."},
	{TokenClaims, http.StatusUnauthorized, "Token claims invalid", CloseAuth, "A required claim (sub, tenant, exp) is missing, of the wrong type, or not a valid id; detail names it."},
	{LoginUnknown, http.StatusUnauthorized, "Login unknown", CloseAuth, "The login session (cookie or hello.login) does not exist in the app's session store, or its id or cookie is unreadable. Log in to the app again."},
	{LoginExpired, http.StatusUnauthorized, "Login expired", CloseAuth, "The login session is past lastAccessedTime + maxInactiveInterval. Log in to the app again."},
	{LoginClaims, http.StatusUnauthorized, "Login claims invalid", CloseAuth, "The login session lacks the user or tenant field, or a field is not a valid id or not a readable value; detail names the field."},
	{Forbidden, http.StatusForbidden, "Forbidden", CloseForbidden, "The caller's role or tenant does not allow this, or the session belongs to another user."},
	{NotFound, http.StatusNotFound, "Not found", 0, "No such route or resource."},
	{UnknownSession, http.StatusNotFound, "Unknown session", 0, "No live session has that id."},
	{UnknownExtension, http.StatusNotFound, "Unknown extension", 0, "The gateway knows no device with that ext; send it with user, or ipt.sync first."},
	{MethodNotAllowed, http.StatusMethodNotAllowed, "Method not allowed", 0, "The route exists but not with this method; Allow lists the methods."},
	{UserOffline, http.StatusConflict, "User offline", 0, "A manual status was set for a user with no live session; it lasts only while the user is present."},
	{PayloadTooLarge, http.StatusRequestEntityTooLarge, "Payload too large", 0, "The body or a list in it is over the limit; detail names the limit."},
	{TooManySubscriptions, http.StatusRequestEntityTooLarge, "Too many subscriptions", 0, "The connection would watch more users than allowed. Unsubscribe first."},
	{UnsupportedMedia, http.StatusUnsupportedMediaType, "Unsupported media type", 0, "Send Content-Type: application/json."},
	{RateLimited, http.StatusTooManyRequests, "Rate limited", CloseTooMany, "Too many frames or requests; slow down (Retry-After). Sustained abuse closes the connection."},
	{TooManyConnections, http.StatusTooManyRequests, "Too many connections", CloseTooMany, "The user already holds the maximum number of connections."},
	{Unavailable, http.StatusServiceUnavailable, "Service unavailable", 0, "Redis or NATS does not answer, or the node drains; retry after Retry-After."},
	{TenantDisabled, http.StatusForbidden, "Tenant disabled", CloseForbidden, "The tenant's policy has disabled: true; its connections and calls are refused. Do not reconnect."},
	{PreconditionFailed, http.StatusPreconditionFailed, "Precondition failed", 0, "If-Match names an older version: the policy changed since you read it. GET it again, reapply your change, PUT with the new ETag."},
	{PreconditionRequired, http.StatusPreconditionRequired, "Precondition required", 0, "A policy PUT needs If-Match with the ETag of a GET (a tenant with no policy has one too)."},
	{Internal, http.StatusInternalServerError, "Internal error", CloseInternal, "A bug or unexpected failure; the log has the details. Retry with backoff."},
	{BadRequest, http.StatusBadRequest, "Bad request", 0, "The HTTP request itself is malformed (request line, headers, framing); detail says what the server saw."},
	{RequestTimeout, http.StatusRequestTimeout, "Request timeout", 0, "The request's headers or body did not arrive in time (PGW_REQUEST_TIMEOUT); the connection is closed."},
	{HeaderTooLarge, http.StatusRequestHeaderFieldsTooLarge, "Header fields too large", 0, "The request's headers exceed 64 KiB."},
	{TooManyRequests, http.StatusTooManyRequests, "Too many connections from this address", 0, "The client address holds too many open HTTP connections (PGW_MAX_HTTP_CONNS_PER_IP); the new one is answered and closed."},
	{ProtocolViolation, 0, "Protocol violation", CloseProtocol, "A frame other than hello came before welcome. Fix the client."},
	{HelloTimeout, 0, "Hello timeout", CloseHelloTimeout, "No hello within the hello wait. Reconnect with backoff."},
	{SlowConsumer, 0, "Slow consumer", ClosePolicy, "The client did not read fast enough and its outbound queue overflowed. Reconnect with backoff and resubscribe."},
	{FrameTooLarge, 0, "Frame too large", CloseTooBig, "An inbound frame exceeded the frame limit."},
	{BinaryFrame, 0, "Binary frame", CloseUnsupported, "Only text frames are accepted."},
	{Shutdown, 0, "Shutdown", CloseGoingAway, "The node is draining. Reconnect at once, with jitter, to any node."},
	{LoggedOut, 0, "Logged out", CloseNormal, "The session was logged out. Do not reconnect."},
	{InvalidUTF8, 0, "Invalid UTF-8", CloseInvalidData, "A text frame is not valid UTF-8 (RFC 6455 §8.1). Fix the client."},
	{LoginRevoked, 0, "Login revoked", CloseAuth, "The app deleted or expired the login session this connection used (the user logged out of the web app). Reconnect only after a new login."},
}

var byCode = func() map[Code]Info {
	m := make(map[Code]Info, len(table))
	for _, in := range table {
		m[in.Code] = in
	}
	return m
}()

// Lookup returns the row of c; unknown codes read as Internal.
func Lookup(c Code) Info {
	if in, ok := byCode[c]; ok {
		return in
	}
	return byCode[Internal]
}

// Table returns a copy of every row, in documentation order.
func Table() []Info { return append([]Info(nil), table...) }

// ReconnectRule returns the client's reconnect rule for a close code. A
// code the gateway never sends (1005, 1006 connection lost, a proxy's 1011
// or 1012) is a transport fault, not a verdict on the client: back off
// (sdk/conformance/close-codes.json calls it "unlisted").
func ReconnectRule(close int) Reconnect {
	switch close {
	case CloseGoingAway:
		return ReconnectAtOnce
	case ClosePolicy, CloseHelloTimeout, CloseTooMany, CloseInternal:
		return ReconnectBackoff
	case CloseAuth:
		return ReconnectNewToken
	case CloseNormal, CloseUnsupported, CloseInvalidData, CloseTooBig, CloseProtocol, CloseForbidden:
		return ReconnectNo
	case 0:
		return ReconnectNotClosed
	}
	return ReconnectBackoff
}
