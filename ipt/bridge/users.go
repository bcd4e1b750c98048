package bridge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/pgw/pgw/wire"
)

// Users maps an extension ("1001") to the user id that owns it ("alice").
// A nil Users maps every extension to itself.
type Users map[string]string

// User returns the owner of ext and whether ext is mapped.
func (u Users) User(ext string) (string, bool) {
	if u == nil {
		return ext, wire.ValidID(ext)
	}
	user, ok := u[ext]
	return user, ok
}

// Exts returns the mapped extensions, sorted.
func (u Users) Exts() []string {
	exts := make([]string, 0, len(u))
	for e := range u {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return exts
}

// LoadUsers reads a users file (see ParseUsers).
func LoadUsers(path string) (Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsersFile, err)
	}
	defer f.Close()
	u, err := ParseUsers(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// ParseUsers reads either a JSON object {"1001":"alice",...} (when the first
// non-blank byte is '{') or lines "EXT USER": blank lines and lines starting
// with '#' are skipped, fields are separated by spaces or tabs. User ids must
// be valid ids of the contract; an extension may appear once.
func ParseUsers(r io.Reader) (Users, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsersFile, err)
	}
	u := Users{}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		var m map[string]string
		if err := json.Unmarshal(trimmed, &m); err != nil {
			return nil, fmt.Errorf("%w: JSON: %w", ErrUsersFile, err)
		}
		for ext, user := range m {
			if err := u.add(ext, user); err != nil {
				return nil, fmt.Errorf("%w: extension %q: %w", ErrUsersFile, ext, err)
			}
		}
		return u, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: line %d: want \"EXT USER\", got %d fields", ErrUsersFile, n, len(f))
		}
		if err := u.add(f[0], f[1]); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrUsersFile, n, err)
		}
	}
	return u, nil
}

func (u Users) add(ext, user string) error {
	switch {
	case !extPattern.MatchString(ext):
		return fmt.Errorf("extension %q must be 1 to 64 of A-Z a-z 0-9 _ + # * . -", ext)
	case !wire.ValidID(user):
		return fmt.Errorf("user %q must match "+wire.IDPattern, user)
	case u[ext] != "":
		return fmt.Errorf("extension %s listed twice", ext)
	}
	u[ext] = user
	return nil
}
