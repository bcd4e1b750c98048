package login

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// Vectors written by a real JVM (ObjectOutputStream.writeObject, OpenJDK
// 17), the bytes the JDK serializer stores in Spring Session hashes.
const (
	javaAlice     = "aced0005740005616c696365"
	javaEmpty     = "aced0005740000"
	javaMixed     = "aced000574000e61c080c3a9e282aceda0bdedb880" // "a\u0000é€😀"
	javaLong      = "aced00057372000e6a6176612e6c616e672e4c6f6e673b8be490cc8f23df0200014a000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b02000078700000019396b0f67b"
	javaLongMinus = "aced00057372000e6a6176612e6c616e672e4c6f6e673b8be490cc8f23df0200014a000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b0200007870ffffffffffffffff"
	javaInt1800   = "aced0005737200116a6176612e6c616e672e496e746567657212e2a0a4f781873802000149000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b020000787000000708"
	javaIntMinus  = "aced0005737200116a6176612e6c616e672e496e746567657212e2a0a4f781873802000149000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b0200007870ffffffff"
	javaList      = "aced0005737200136a6176612e7574696c2e41727261794c6973747881d21d99c7619d03000149000473697a657870000000027704000000027400047573657274000561646d696e78"
	javaBool      = "aced0005737200116a6176612e6c616e672e426f6f6c65616ecd207280d59cfaee0200015a000576616c7565787001"
	javaStrArr    = "aced0005757200135b4c6a6176612e6c616e672e537472696e673badd256e7e91d7b4702000078700000000174000475736572"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// javaLongString is what writeObject writes for a String of n 'x' (more
// than 65535 bytes of modified UTF-8 makes a TC_LONGSTRING record).
func javaLongString(n int) []byte {
	b := []byte{0xAC, 0xED, 0, 5, tcLongString, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(b, strings.Repeat("x", n)...)
}

func TestTextValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"java string", unhex(t, javaAlice), "alice"},
		{"java empty string", unhex(t, javaEmpty), ""},
		{"java modified utf-8: NUL, 2-, 3-byte and a surrogate pair", unhex(t, javaMixed), "a\x00é€😀"},
		{"java long string", javaLongString(70000), strings.Repeat("x", 70000)},
		{"json string", []byte(`"alice"`), "alice"},
		{"json string with escapes", []byte(`"al\u0069ce"`), "alice"},
		{"jackson wrapper", []byte(`["java.lang.String","alice"]`), "alice"},
		{"plain text", []byte("alice"), "alice"},
		{"plain digits", []byte("12345"), "12345"},
		{"json object read as text", []byte(`{"a":1}`), `{"a":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := textValue(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("textValue = %q, %v; want %q", problem.Excerpt(got, 40), err, problem.Excerpt(tc.want, 40))
			}
		})
	}
}

func TestTextValueRefuses(t *testing.T) {
	truncated := unhex(t, javaAlice)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"java list", unhex(t, javaList)},
		{"java boolean", unhex(t, javaBool)},
		{"java string array", unhex(t, javaStrArr)},
		{"java long", unhex(t, javaLong)},
		{"java string truncated", truncated[:len(truncated)-1]},
		{"java string with trailing bytes", append(unhex(t, javaAlice), 'x')},
		{"java wrong version", unhex(t, "aced0004740005616c696365")},
		{"java bare magic", unhex(t, "aced")},
		{"modified utf-8 continuation byte first", unhex(t, "aced0005740002809f")},
		{"modified utf-8 four-byte form", unhex(t, "aced0005740004f09f9880")},
		{"modified utf-8 truncated unit", unhex(t, "aced000574000261c3")},
		{"long string length beyond the bytes", javaLongString(70000)[:100]},
		{"not utf-8", []byte{0xff, 0xfe, 'a'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := textValue(tc.in); err == nil {
				t.Fatalf("textValue accepted %x as %q", tc.in[:min(len(tc.in), 24)], problem.Excerpt(got, 40))
			}
		})
	}
}

func TestRolesValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"json array", []byte(`["user","admin"]`), "user|admin"},
		{"json string, comma-separated", []byte(`"user, admin"`), "user|admin"},
		{"jackson list wrapper", []byte(`["java.util.ArrayList",["user","admin"]]`), "user|admin"},
		{"java string, comma-separated", unhex(t, "aced000574000a757365722c61646d696e"), "user|admin"},
		{"plain text", []byte("bridge"), "bridge"},
		{"empty json array", []byte(`[]`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rolesValue(tc.in)
			if err != nil || strings.Join(got, "|") != tc.want {
				t.Fatalf("rolesValue = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := rolesValue(unhex(t, javaList)); err == nil {
		t.Fatal("a Java-serialized ArrayList was accepted as roles")
	}
}

func TestNumberValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want int64
	}{
		{"java long", unhex(t, javaLong), 1733400000123},
		{"java long negative", unhex(t, javaLongMinus), -1},
		{"java integer", unhex(t, javaInt1800), 1800},
		{"java integer negative", unhex(t, javaIntMinus), -1},
		{"json number", []byte("1796463434051"), 1796463434051},
		{"json negative", []byte("-1"), -1},
		{"json string of digits", []byte(`"1800"`), 1800},
		{"jackson long wrapper", []byte(`["java.lang.Long",1796463434051]`), 1796463434051},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := numberValue(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("numberValue = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	for _, bad := range [][]byte{unhex(t, javaAlice), unhex(t, javaBool), []byte("1.5"), []byte("soon"), unhex(t, javaLong)[:40]} {
		if n, err := numberValue(bad); err == nil {
			t.Fatalf("numberValue(%x) = %d, want an error", bad[:min(len(bad), 16)], n)
		}
	}
}

// FuzzValues feeds arbitrary bytes to every decoder of session values and
// cookie values: none may panic, and whatever a decoder accepts as a
// Java-serialized String must round-trip through the encoder the JDK uses.
func FuzzValues(f *testing.F) {
	for _, s := range []string{javaAlice, javaEmpty, javaMixed, javaLong, javaInt1800, javaList, javaBool, javaStrArr} {
		f.Add(unhex(f, s))
	}
	f.Add(javaLongString(70))
	f.Add([]byte(`["java.util.ArrayList",["user","admin"]]`))
	f.Add([]byte(`"alice"`))
	f.Add([]byte("YWxpY2U="))
	v, err := New(Config{Key: "s:{id}", CookieBase64: true}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := javaString(b); err == nil {
			// What was accepted reads back the same once written the JDK's way.
			if again, err := javaString(encodeJavaString(s)); err != nil || again != s {
				t.Fatalf("javaString(%x) = %q; written again and read: %q, %v", b, s, again, err)
			}
		}
		if utf8.Valid(b) {
			// Every Go string survives the JDK's encoding.
			if got, err := javaString(encodeJavaString(string(b))); err != nil || got != string(b) {
				t.Fatalf("round trip of %q: %q, %v", b, got, err)
			}
		}
		_, _ = textValue(b)
		_, _ = rolesValue(b)
		_, _ = numberValue(b)
		if id, err := v.CookieValue(string(b)); err == nil && !wire.ValidID(id) {
			t.Fatalf("CookieValue(%q) accepted id %q", b, id)
		}
	})
}

// encodeJavaString is ObjectOutputStream.writeObject of a String: modified
// UTF-8 (DataOutput.writeUTF's encoding) in a TC_STRING or TC_LONGSTRING
// record.
func encodeJavaString(s string) []byte {
	var body []byte
	for _, u := range utf16.Encode([]rune(s)) {
		switch {
		case u >= 1 && u <= 0x7F:
			body = append(body, byte(u))
		case u <= 0x7FF: // includes NUL as C0 80
			body = append(body, 0xC0|byte(u>>6), 0x80|byte(u&0x3F))
		default:
			body = append(body, 0xE0|byte(u>>12), 0x80|byte(u>>6&0x3F), 0x80|byte(u&0x3F))
		}
	}
	out := []byte{0xAC, 0xED, 0, 5}
	if len(body) <= 0xFFFF {
		out = append(out, tcString)
		out = binary.BigEndian.AppendUint16(out, uint16(len(body)))
	} else {
		out = append(out, tcLongString)
		out = binary.BigEndian.AppendUint64(out, uint64(len(body)))
	}
	return append(out, body...)
}

func TestEncodeJavaStringMatchesTheJDK(t *testing.T) {
	for s, want := range map[string]string{"alice": javaAlice, "": javaEmpty, "a\x00é€😀": javaMixed} {
		if got := hex.EncodeToString(encodeJavaString(s)); got != want {
			t.Errorf("encodeJavaString(%q) = %s, the JDK wrote %s", s, got, want)
		}
	}
	if got, want := encodeJavaString(strings.Repeat("x", 70000)), javaLongString(70000); string(got) != string(want) {
		t.Errorf("long string record differs from the JDK's: %x…", got[:16])
	}
}
