package origin

import (
	"net/http"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com":     "https://app.example.com",
		"https://app.example.com/":    "https://app.example.com",
		"https://app.example.com:443": "https://app.example.com",
		"http://h:80":                 "http://h",
		"http://h:8080":               "http://h:8080",
		"file://":                     "file://",
		"file:///":                    "file://",
		"app://desktop":               "app://desktop",
		"http://[::1]:8080":           "http://[::1]:8080",
	} {
		if got, err := Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "example.com", "https://", "https://u@h", "https://h/path", "https://h?q", "null", "*"} {
		if got, err := Normalize(bad); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", bad, got)
		}
	}
	if got, err := OfURL("https://example.com:443/pgw/"); err != nil || got != "https://example.com" {
		t.Errorf("OfURL = %q, %v", got, err)
	}
}

func TestPolicy(t *testing.T) {
	p, err := NewPolicy("http://127.0.0.1:8080", []string{"file://", "app://desk", "https://App.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]bool{
		"http://127.0.0.1:8080":                true, // own
		"https://app.example.com":              true,
		"file://":                              true,
		"app://desk":                           true,
		"null":                                 false, // file:// does not imply null
		"":                                     false,
		"http://evil.example":                  false,
		"app://other":                          false,
		"https://app.example.com.evil.example": false,
		"https://x@app.example.com":            false,
	} {
		if got := p.Allows(origin); got != want {
			t.Errorf("Allows(%q) = %v, want %v", origin, got, want)
		}
	}
	any, _ := NewPolicy("", []string{"*"})
	if !any.Allows("https://anything.example") || any.Allows("null") || any.Allows("") {
		t.Errorf("* allows any real origin, never null or empty")
	}
	withNull, _ := NewPolicy("", []string{"null"})
	if !withNull.Allows("null") {
		t.Errorf("null listed literally is allowed")
	}
	if _, err := NewPolicy("", []string{"example.com"}); err == nil {
		t.Errorf("an entry without scheme is refused")
	}
	if _, err := NewPolicy("not a url", nil); err == nil {
		t.Errorf("a bad public URL is refused")
	}
}

func TestCheck(t *testing.T) {
	p, _ := NewPolicy("https://pgw.example.com", nil)
	h := func(vs ...string) http.Header {
		if vs == nil {
			return http.Header{}
		}
		return http.Header{"Origin": vs}
	}
	cases := []struct {
		name   string
		h      http.Header
		cookie bool
		ok     bool
	}{
		{"no origin", h(), false, true},
		{"no origin, cookie", h(), true, false},
		{"own", h("https://pgw.example.com"), true, true},
		{"empty origin is not no origin", h(""), false, false},
		{"two origins", h("https://pgw.example.com", "https://evil.example"), false, false},
		{"foreign", h("https://evil.example"), false, false},
	}
	for _, c := range cases {
		err := p.Check(c.h, c.cookie)
		if (err == nil) != c.ok {
			t.Errorf("%s: Check = %v, want ok=%v", c.name, err, c.ok)
		}
	}
	var zero Policy
	if zero.Allows("https://pgw.example.com") || zero.Check(h(), false) != nil {
		t.Errorf("the zero policy allows no origin but passes non-browser clients")
	}
}
