// Package wire holds what the gateway and its clients must agree on to the
// letter, so each rule is written once: the id rule (contract §2), the frame
// type names (§3), the PRESENCE and CALL objects and the call frame (§3.2)
// with the words they carry (statuses, device kinds, phone and call states),
// the telephony event, device-state and direction words of ipt.sync and
// ipt.event (§3.1), and the client frames that more than one client sends
// (hello, refresh, subscribe). The gateway, ipt, ipt/bridge, the load
// harness and membench import it; nothing imports package presence, the
// store, just for a shape or an id check.
//
// It has no dependencies inside the module and no behaviour beyond these
// checks and comparisons and one fast decoder of PRESENCE
// (UnmarshalPresence, the same result as encoding/json): decoding client
// frames with their strict member rules stays in the gateway, and the store's rules (aggregation, versions, how a custom
// status is kept) stay in package presence.
package wire
