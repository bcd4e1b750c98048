package tenant

import (
	"os"
	"strings"
	"testing"
)

func TestExampleFileIsValid(t *testing.T) {
	data, err := os.ReadFile("../deploy/tenants.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps, errs, err := ReadFile(data)
	if err != nil || len(errs) > 0 {
		t.Fatalf("example file refused: %v %v", err, errs)
	}
	acme := ps["acme"]
	if len(ps) != 3 || acme.Grace == nil || len(acme.Statuses) != 3 || acme.JWT == nil || len(acme.JWT.Keys) == 0 ||
		acme.LoginEnabled() || !ps["initech"].Disabled || acme.Specifics == nil || !strings.Contains(acme.Specifics.Notes, "Shift changes") {
		t.Fatalf("example file read wrong: %+v", ps)
	}
	// Written back and read again, it is the same.
	out, err := WriteFile(ps)
	if err != nil {
		t.Fatal(err)
	}
	again, errs, err := ReadFile(out)
	if err != nil || len(errs) > 0 {
		t.Fatalf("export refused by its own reader: %v %v\n%s", err, errs, out)
	}
	for name, p := range ps {
		if d := Diff(p, again[name]); len(d) > 0 {
			t.Errorf("tenant %s changed through export: %v", name, d)
		}
	}
}

// A file with twenty mistakes reports all twenty, each naming its tenant
// and field.
func TestEveryMistakeReported(t *testing.T) {
	file := `
tenants:
  acme:
    grace: soon                       # 1 not a duration
    limits:
      connections_per_user: 0         # 2 below 1
      subscriptions: 1.5              # 3 not whole
      frames_per_second: -3           # 4 not positive
      frame_burst: lots               # 5 not a number
      per_day: 4                      # 6 unknown
    origins: [desk.acme.example]      # 7 no scheme
    statuses:
      - {name: online, base: away, label: x}    # 8 built-in name
      - {name: lunch, base: sleepy, label: L}   # 9 bad base
      - {name: "a b", base: away, label: L}     # 10 bad id
      - {name: tea, base: away}                 # 11 missing label
    jwt:
      issuer: 42                      # 12 not a string
      keys: {keys: [{kty: oct, k: c2VjcmV0}]}   # 13 shared secret
    login: {enabled: "no"}            # 14 not a boolean
    bridges: ["pbx.1"]                # 15 bad id
    disabled: 1                       # 16 not a boolean
  globex:
    colour: blue                      # 17 unknown field
    specifics:
      summary: [x]                    # 18 not a string
      caveats: "one"                  # 19 not a list
      phone: "x"                      # 20 unknown
`
	_, errs, err := ReadFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 20 {
		for _, e := range errs {
			t.Logf("%s: %s", e.Field, e.Reason)
		}
		t.Fatalf("got %d errors, want 20", len(errs))
	}
	want := []string{"tenants.acme.grace", "tenants.acme.limits.connections_per_user", "tenants.acme.limits.subscriptions",
		"tenants.acme.limits.frames_per_second", "tenants.acme.limits.frame_burst", "tenants.acme.limits.per_day",
		"tenants.acme.origins[0]", "tenants.acme.statuses[0].name", "tenants.acme.statuses[1].base",
		"tenants.acme.statuses[2].name", "tenants.acme.statuses[3].label", "tenants.acme.jwt.issuer", "tenants.acme.jwt.keys",
		"tenants.acme.login.enabled", "tenants.acme.bridges[0]", "tenants.acme.disabled", "tenants.globex.colour",
		"tenants.globex.specifics.summary", "tenants.globex.specifics.caveats", "tenants.globex.specifics.phone"}
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Field] = true
		if e.Reason == "" {
			t.Errorf("%s: no reason", e.Field)
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no error for %s; got %v", w, errs)
		}
	}
}

func TestFileShape(t *testing.T) {
	for _, c := range []struct{ file, field string }{
		{"[1,2]", "tenants"},
		{"tenants: 3", "tenants"},
		{"tenants: {\"a.b\": {}}", "tenants.a.b"},
		{"tenant: {}", "tenant"},
	} {
		_, errs, err := ReadFile([]byte(c.file))
		if err != nil || len(errs) == 0 || errs[0].Field != c.field {
			t.Errorf("%q: got %v %v, want an error naming %s", c.file, errs, err, c.field)
		}
	}
	if _, _, err := ReadFile([]byte("tenants: [")); err == nil {
		t.Errorf("broken YAML accepted")
	}
	// JSON is read too.
	ps, errs, err := ReadFile([]byte(`{"tenants":{"acme":{"grace":"20s","disabled":false}}}`))
	if err != nil || len(errs) > 0 || ps["acme"].Grace == nil {
		t.Fatalf("JSON file: %v %v %v", ps, errs, err)
	}
}

func TestParseJSONReportsEveryField(t *testing.T) {
	_, errs, err := ParseJSON([]byte(`{"grace":"1","statuses":[{"name":"lunch","base":"away","label":"L"},{"name":"lunch","base":"away","label":"L"}],"origins":["*","*"]}`))
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{}
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if strings.Join(fields, ",") != "grace,origins[1],statuses[1].name" {
		t.Fatalf("errors %v", errs)
	}
	if _, _, err := ParseJSON([]byte(`{"grace":`)); err == nil {
		t.Fatal("syntax error not returned")
	}
	p, errs, _ := ParseJSON([]byte(`{"statuses":[{"name":"lunch","base":"away","label":"At lunch"}],"login":{"enabled":true}}`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if s, ok := p.FindStatus("lunch"); !ok || s.Base != "away" || !p.LoginEnabled() {
		t.Fatalf("parsed %+v", p)
	}
}
