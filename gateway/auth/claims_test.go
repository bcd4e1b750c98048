package auth

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestListClaimMatchesEncodingJSON: the fast path for string arrays must
// agree with encoding/json on every input it takes, and leave the rest to it.
func TestListClaimMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		in    string
		state claimState
		want  []string
	}{
		{`[]`, claimPresent, []string{}},
		{`[ ]`, claimPresent, []string{}},
		{`["user"]`, claimPresent, []string{"user"}},
		{`[ "user" , "admin" ]`, claimPresent, []string{"user", "admin"}},
		{"[\n\"a,b\",\t\"c\"\r]", claimPresent, []string{"a,b", "c"}},
		{`["\u0061dmin"]`, claimPresent, []string{"admin"}},
		{`["é"]`, claimPresent, []string{"é"}},
		{`["a\"b"]`, claimPresent, []string{`a"b`}},
		{`["a",1]`, claimBadType, nil},
		{`[["a"]]`, claimBadType, nil},
		{`[null]`, claimPresent, []string{""}},
		{`null`, claimAbsent, nil},
		{`"admin"`, claimBadType, nil},
		{`{}`, claimBadType, nil},
		{`7`, claimBadType, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var c rolesClaim
			if err := json.Unmarshal([]byte(tt.in), &c); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if c.state != tt.state || !slices.Equal(c.v, tt.want) {
				t.Errorf("got (%v, %q), want (%v, %q)", c.state, c.v, tt.state, tt.want)
			}
			if tt.state == claimPresent {
				var ref []string
				if err := json.Unmarshal([]byte(tt.in), &ref); err != nil || !slices.Equal(ref, c.v) {
					t.Errorf("encoding/json says (%q, %v)", ref, err)
				}
			}
		})
	}
}

func TestAudClaimTakesOneString(t *testing.T) {
	var c audClaim
	if err := json.Unmarshal([]byte(`"pgw"`), &c); err != nil {
		t.Fatal(err)
	}
	if c.state != claimPresent || !slices.Equal(c.v, []string{"pgw"}) {
		t.Errorf("got (%v, %q)", c.state, c.v)
	}
}
