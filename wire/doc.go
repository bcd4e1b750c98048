// Package wire holds what the gateway and its clients must agree on to the
// letter, so each rule is written once: the id rule (contract §2), the frame
// type names (§3), the telephony event, device-state and direction words of
// ipt.sync and ipt.event (§3.1), and the client frames that more than one
// client sends (hello, refresh). The gateway, ipt, ipt/bridge, the load
// harness and membench import it; nothing imports package presence, the
// store, just for an id check.
//
// It has no dependencies inside the module and no behaviour beyond these
// checks: decoding with its strict member rules stays in the gateway.
package wire
