package problem

import (
	"errors"
	"fmt"
)

// FieldError names one bad field and why it is bad.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Problem is an RFC 9457 problem details object. It is also an error, so
// code deep in the call stack can return the exact problem a client sees.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status,omitempty"`
	Code     Code         `json:"code"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// RetryAfter, when set, becomes a Retry-After header (seconds).
	RetryAfter int `json:"-"`
	// cause is the wrapped error, kept for logs and errors.Is.
	cause error
}

// New returns the problem for code with a detail.
func New(c Code, format string, args ...any) *Problem {
	in := Lookup(c)
	return &Problem{Type: "about:blank", Title: in.Title, Status: in.Status, Code: in.Code, Detail: fmt.Sprintf(format, args...)}
}

// Wrap is New keeping err as the cause (errors.Is and logs see it).
func Wrap(err error, c Code, format string, args ...any) *Problem {
	p := New(c, format, args...)
	p.cause = err
	return p
}

// Fields returns an invalid_argument problem with one entry per bad field;
// the detail repeats the first so a log line alone shows the cause.
func Fields(errs ...FieldError) *Problem {
	p := New(InvalidArgument, "")
	p.Errors = errs
	if len(errs) > 0 {
		p.Detail = errs[0].Field + ": " + errs[0].Reason
		if len(errs) > 1 {
			p.Detail += fmt.Sprintf(" (and %d more in errors)", len(errs)-1)
		}
	}
	return p
}

// Field is Fields with one entry.
func Field(field, reason string, args ...any) *Problem {
	return Fields(FieldError{Field: field, Reason: fmt.Sprintf(reason, args...)})
}

func (p *Problem) Error() string {
	if p.Detail == "" {
		return string(p.Code)
	}
	return string(p.Code) + ": " + p.Detail
}

func (p *Problem) Unwrap() error { return p.cause }

// Close returns the WebSocket close code for this problem (0: not closing).
func (p *Problem) Close() int { return Lookup(p.Code).Close }

// As returns the problem inside err, or nil.
func As(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return nil
}
