package ami

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Message is one AMI block: "Key: value" lines ended by a blank line. It is
// either a response to an action (has Response) or an event (has Event).
type Message struct {
	// Pos is the message's position in its connection's stream, counting
	// from 1 after the banner. Comparing positions tells whether an event was
	// written before or after a response, which is how a snapshot is cut
	// against the events buffered around it.
	Pos uint64
	// Fields holds the block's keys as sent. A key repeated in one block
	// (rare: ChanVariable) keeps its last value.
	Fields map[string]string
}

// Get returns the value of key, matched case-insensitively (Asterisk is not
// consistent about case, e.g. "ActionID" and "ActionId").
func (m Message) Get(key string) string {
	if v, ok := m.Fields[key]; ok {
		return v
	}
	for k, v := range m.Fields {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// Event returns the event name, or "" for a response.
func (m Message) Event() string { return m.Get("Event") }

// Response returns the response kind (Success, Error, Goodbye, ...), or ""
// for an event.
func (m Message) Response() string { return m.Get("Response") }

// ActionID returns the ActionID the message carries, if any.
func (m Message) ActionID() string { return m.Get("ActionID") }

// String renders the message in wire order for logs and test failures.
func (m Message) String() string {
	var b strings.Builder
	writeFields(&b, m.Fields)
	return b.String()
}

// ReadFields reads one block. Blank lines between blocks are skipped, so a
// stray CRLF never yields an empty message. The client reads its stream with
// it; package amitest's fake server reads requests with it.
func ReadFields(r *bufio.Reader) (map[string]string, error) {
	fields := map[string]string{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err == io.EOF && len(fields) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(fields) == 0 {
				continue
			}
			return fields, nil
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			// Output of legacy "Response: Follows" commands has bare lines;
			// keep them under one key rather than failing the stream.
			fields["Output"] += line + "\n"
			continue
		}
		fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
}

// wireOrder puts the keys that identify a block first, as Asterisk does, and
// the rest sorted so output is deterministic.
var wireOrder = []string{"Response", "Event", "Action", "ActionID", "EventList"}

// writeFields writes fields as one block, ended by the blank line.
func writeFields(w io.StringWriter, fields map[string]string) {
	done := make(map[string]bool, len(wireOrder))
	for _, k := range wireOrder {
		if v, ok := fields[k]; ok {
			_, _ = w.WriteString(k + ": " + v + "\r\n")
			done[k] = true
		}
	}
	rest := make([]string, 0, len(fields))
	for k := range fields {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		_, _ = w.WriteString(k + ": " + fields[k] + "\r\n")
	}
	_, _ = w.WriteString("\r\n")
}

// validField reports whether a key or value may be written without breaking
// the line framing (an injected CR or LF would start a new key).
func validField(k, v string) error {
	if k == "" || strings.ContainsAny(k, ":\r\n") {
		return fmt.Errorf("%w: key %q", ErrBadField, k)
	}
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%w: value of %s contains a line break", ErrBadField, k)
	}
	return nil
}

// DeviceOf returns the device of a channel name: "PJSIP/1001-0000000a" →
// "PJSIP/1001". Names without the unique suffix are returned unchanged.
func DeviceOf(channel string) string {
	if i := strings.LastIndexByte(channel, '-'); i > strings.IndexByte(channel, '/') {
		return channel[:i]
	}
	return channel
}
