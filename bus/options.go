package bus

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/nats.go"
)

// authOptions are the NATS client options for the configured credentials
// and TLS. Each file is checked here so a bad setting stops the node at
// start, naming the file.
func (c Config) authOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if c.URL == "" && (c.User != "" || c.Token != "" || c.NKeyFile != "" || c.CredsFile != "" || c.TLSCA != "" || c.TLSCert != "") {
		return nil, fmt.Errorf("NATS credentials and TLS are for an external NATS (set the URL)")
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nkey file %s: %w", c.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, fmt.Errorf("a TLS client certificate needs both the certificate and the key file")
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts, nil
}

// redact hides passwords and tokens of NATS URLs (for errors and logs).
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
