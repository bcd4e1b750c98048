package login

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The Java object serialization stream (Java Object Serialization
// Specification §6.4): the magic and version every ObjectOutputStream
// writes first, and the record tags this package reads.
const (
	streamMagic      = 0xACED
	streamVersion    = 5
	tcNull           = 0x70
	tcClassDesc      = 0x72
	tcObject         = 0x73
	tcString         = 0x74
	tcEndBlockData   = 0x78
	tcLongString     = 0x7C
	scSerializable   = 0x02
	maxJavaStringLen = 1 << 20 // far above any id; bounds what a hostile value costs
)

// errNotJava means the bytes do not start a Java serialization stream: the
// value is read some other way.
var errNotJava = errors.New("not a Java serialization stream")

// errJavaObject is a Java stream holding something this package does not
// read (anything but String, Long and Integer): refused, never guessed at.
var errJavaObject = errors.New("a Java-serialized object other than a String")

// isJavaStream reports whether b starts with the Java stream magic.
func isJavaStream(b []byte) bool {
	return len(b) >= 2 && binary.BigEndian.Uint16(b) == streamMagic
}

// javaString decodes a stream holding exactly one String written by
// ObjectOutputStream.writeObject: TC_STRING (u2 length) or TC_LONGSTRING
// (u8 length) and modified UTF-8, with nothing after it.
func javaString(b []byte) (string, error) {
	if !isJavaStream(b) {
		return "", errNotJava
	}
	if len(b) < 5 || binary.BigEndian.Uint16(b[2:]) != streamVersion {
		return "", errJavaObject
	}
	b = b[4:]
	var n uint64
	switch b[0] {
	case tcString:
		if len(b) < 3 {
			return "", errJavaObject
		}
		n, b = uint64(binary.BigEndian.Uint16(b[1:])), b[3:]
	case tcLongString:
		if len(b) < 9 {
			return "", errJavaObject
		}
		n, b = binary.BigEndian.Uint64(b[1:]), b[9:]
	default:
		return "", errJavaObject
	}
	if n > maxJavaStringLen || uint64(len(b)) != n {
		return "", errJavaObject
	}
	return modifiedUTF8(b)
}

// modifiedUTF8 decodes Java's modified UTF-8 (DataInput §"Modified UTF-8")
// as DataInputStream.readUTF does: one to three bytes per UTF-16 unit, NUL
// as C0 80, supplementary characters as two encoded surrogates. Like
// readUTF it refuses a byte that starts no unit (10xxxxxx, 1111xxxx) and a
// truncated unit; the UTF-16 units then become a Go string (a lone
// surrogate becomes U+FFFD, which no id accepts).
func modifiedUTF8(b []byte) (string, error) {
	ascii := true
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b), nil
	}
	units := make([]uint16, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			units = append(units, uint16(c))
			i++
		case c>>5 == 0x6: // 110xxxxx 10xxxxxx
			if i+1 >= len(b) || b[i+1]>>6 != 0x2 {
				return "", errBadUTF
			}
			units = append(units, uint16(c&0x1F)<<6|uint16(b[i+1]&0x3F))
			i += 2
		case c>>4 == 0xE: // 1110xxxx 10xxxxxx 10xxxxxx
			if i+2 >= len(b) || b[i+1]>>6 != 0x2 || b[i+2]>>6 != 0x2 {
				return "", errBadUTF
			}
			units = append(units, uint16(c&0x0F)<<12|uint16(b[i+1]&0x3F)<<6|uint16(b[i+2]&0x3F))
			i += 3
		default:
			return "", errBadUTF
		}
	}
	return string(utf16.Decode(units)), nil
}

var errBadUTF = errors.New("malformed modified UTF-8 in a Java-serialized String")

// The two boxed numbers the JDK serializer writes for Spring Session's
// lastAccessedTime (Long) and maxInactiveInterval (Integer): the class
// descriptor of the box (one field "value"), then java.lang.Number's (no
// fields), then the value. The serialVersionUIDs are the JDK's.
var (
	javaLongDesc    = javaBoxDesc("java.lang.Long", 0x3B8BE490CC8F23DF, 'J')
	javaIntegerDesc = javaBoxDesc("java.lang.Integer", 0x12E2A0A4F7818738, 'I')
)

const javaNumberUID = 0x86AC951D0B94E08B

func javaBoxDesc(class string, uid uint64, typecode byte) []byte {
	var b []byte
	desc := func(name string, uid uint64, fields bool) {
		b = append(b, tcClassDesc)
		b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
		b = append(b, name...)
		b = binary.BigEndian.AppendUint64(b, uid)
		b = append(b, scSerializable)
		if fields {
			b = append(b, 0, 1, typecode, 0, 5)
			b = append(b, "value"...)
		} else {
			b = append(b, 0, 0)
		}
		b = append(b, tcEndBlockData)
	}
	b = append(b, 0xAC, 0xED, 0, streamVersion, tcObject)
	desc(class, uid, true)
	desc("java.lang.Number", javaNumberUID, false)
	return append(b, tcNull)
}

// javaNumber decodes a stream holding exactly one java.lang.Long or
// java.lang.Integer.
func javaNumber(b []byte) (int64, error) {
	if !isJavaStream(b) {
		return 0, errNotJava
	}
	switch {
	case bytes.HasPrefix(b, javaLongDesc) && len(b) == len(javaLongDesc)+8:
		return int64(binary.BigEndian.Uint64(b[len(javaLongDesc):])), nil
	case bytes.HasPrefix(b, javaIntegerDesc) && len(b) == len(javaIntegerDesc)+4:
		return int64(int32(binary.BigEndian.Uint32(b[len(javaIntegerDesc):]))), nil
	}
	return 0, errJavaObject
}

// jacksonWrapper unwraps GenericJackson2JsonRedisSerializer's default
// typing of a non-natural value: ["java.lang.Long", 5] or
// ["java.util.ArrayList", ["a","b"]] gives the second element. ok is false
// for anything else.
func jacksonWrapper(raw json.RawMessage) (json.RawMessage, bool) {
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil || len(arr) != 2 {
		return nil, false
	}
	var class string
	if json.Unmarshal(arr[0], &class) != nil || !strings.HasPrefix(class, "java.") {
		return nil, false
	}
	return arr[1], true
}

// asJSON parses b as one JSON value; ok is false when it is not JSON.
func asJSON(b []byte) (json.RawMessage, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || !json.Valid(b) {
		return nil, false
	}
	return json.RawMessage(b), true
}

// textValue reads a string field: a JSON string (possibly in a Jackson
// wrapper), a Java-serialized String, or plain UTF-8 text. Refused: a Java
// stream of anything else, or bytes that are none of these.
func textValue(b []byte) (string, error) {
	if raw, ok := asJSON(b); ok {
		if inner, ok := jacksonWrapper(raw); ok {
			raw = inner
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, nil
		}
		// Other JSON (a number, say) is read as the text it is.
	}
	if isJavaStream(b) {
		return javaString(b)
	}
	if !utf8.Valid(b) {
		return "", errors.New("not JSON, not a Java-serialized String and not UTF-8 text")
	}
	return string(b), nil
}

// rolesValue reads the roles field: a JSON array of strings (possibly in a
// Jackson wrapper), or a string (JSON, Java-serialized or plain) of
// comma-separated roles.
func rolesValue(b []byte) ([]string, error) {
	if raw, ok := asJSON(b); ok {
		if inner, ok := jacksonWrapper(raw); ok {
			raw = inner
		}
		var list []string
		if json.Unmarshal(raw, &list) == nil {
			return list, nil
		}
	}
	s, err := textValue(b)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out, nil
}

// numberValue reads lastAccessedTime or maxInactiveInterval: a JSON
// integer (possibly in a Jackson wrapper), plain digits, or a
// Java-serialized Long or Integer.
func numberValue(b []byte) (int64, error) {
	if isJavaStream(b) {
		return javaNumber(b)
	}
	if raw, ok := asJSON(b); ok {
		if inner, ok := jacksonWrapper(raw); ok {
			raw = inner
		}
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64); err == nil {
			return n, nil
		}
		var s string // a JSON string of digits
		if json.Unmarshal(raw, &s) == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return n, nil
			}
		}
	}
	return 0, errors.New("not an integer (JSON number, digits, or a Java-serialized Long or Integer)")
}
