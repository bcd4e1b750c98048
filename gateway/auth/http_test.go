package auth

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/pgw/pgw/problem"
)

func TestBearerToken(t *testing.T) {
	const jwtText = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln-_"
	tests := []struct {
		name    string
		headers []string // Authorization values
		token   string
		present bool
		code    problem.Code // "" no error
	}{
		{"absent", nil, "", false, ""},
		{"empty", []string{""}, "", false, ""},
		{"bearer", []string{"Bearer " + jwtText}, jwtText, true, ""},
		{"scheme case-insensitive, extra spaces", []string{"  bearer   " + jwtText + " "}, jwtText, true, ""},
		{"padding allowed by b64token", []string{"Bearer abc=="}, "abc==", true, ""},
		{"basic", []string{"Basic dTpw"}, "", true, problem.TokenMalformed},
		{"bearer without token", []string{"Bearer"}, "", true, problem.TokenMalformed},
		{"bearer with blanks only", []string{"Bearer    "}, "", true, problem.TokenMalformed},
		{"space inside token", []string{"Bearer abc def"}, "", true, problem.TokenMalformed},
		{"bad character", []string{"Bearer abc\"def"}, "", true, problem.TokenMalformed},
		{"padding in the middle", []string{"Bearer ab=c"}, "", true, problem.TokenMalformed},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", true, problem.TokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/ws?access_token="+jwtText, nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			token, present, err := BearerToken(r)
			if token != tt.token || present != tt.present {
				t.Errorf("got (%q, %v), want (%q, %v)", token, present, tt.token, tt.present)
			}
			switch p := problem.As(err); {
			case tt.code == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.code != "" && (p == nil || p.Code != tt.code):
				t.Errorf("err = %v, want %s", err, tt.code)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	const realm = `Bearer realm="pgw"`
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no error", nil, realm},
		{"token missing", problem.New(problem.TokenMissing, "no token was sent"), realm},
		{"token missing, wrapped", errors.Join(errors.New("hello"), problem.New(problem.TokenMissing, "x")), realm},
		{"expired", problem.New(problem.TokenExpired, "x"), realm + `, error="invalid_token"`},
		{"malformed header", problem.New(problem.TokenMalformed, "x"), realm + `, error="invalid_token"`},
		{"not a problem", errors.New("boom"), realm + `, error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Challenge(tt.err); got != tt.want {
				t.Errorf("Challenge = %q, want %q", got, tt.want)
			}
		})
	}
}
