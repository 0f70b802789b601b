package certs

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
)

// Client is how loopgate connects to a pool's backends over TLS ([pool.tls],
// docs/TLS.md "Backends over TLS"). The zero value verifies each backend's
// certificate against the system's roots and the backend's own host.
type Client struct {
	// ServerName is sent as SNI and is the name the backends' certificates
	// must carry. "" uses each backend's host: a DNS name is sent and
	// checked; an IP address is checked against the certificate's IP
	// addresses and not sent (RFC 6066 §3 allows only host names in SNI).
	ServerName string `toml:"server_name"`
	// CA is a PEM file of the certificates that may sign the backends';
	// "" uses the system's roots.
	CA string `toml:"ca"`
	// Verify checks the certificate chain and name (default true). false
	// accepts any certificate, as nginx's proxy_ssl_verify off and HAProxy's
	// verify none do: the connection is encrypted but not authenticated.
	Verify *bool `toml:"verify"`
	// Cert and Key are the client certificate shown to backends that ask
	// for one (mTLS); both or neither.
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
	// MinVersion is "1.2" or "1.3" (default "1.2").
	MinVersion string `toml:"min_version"`
	// SessionReuse resumes TLS sessions when a new connection to a backend
	// is made, skipping its certificate exchange (default true; nginx's
	// proxy_ssl_session_reuse).
	SessionReuse *bool `toml:"session_reuse"`
}

// sessionCacheSize bounds the sessions a pool keeps for resumption: one
// per backend (ForAddr), with room for pools of many backends.
const sessionCacheSize = 1024

// Verifies reports whether backends' certificates are checked.
func (c Client) Verifies() bool { return c.Verify == nil || *c.Verify }

// NewClientConfig builds the tls.Config a pool dials its backends with; the
// files are read now, so a broken one is refused before anything changes.
// Errors name the key (ca, cert, key, min_version, server_name). The config
// offers ALPN "http/1.1" (the backends' protocol), and when ServerName is
// "" each dial names its backend with ForAddr.
func NewClientConfig(c Client) (*tls.Config, error) {
	min, err := parseMinVersion(c.MinVersion)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:         min,
		CurvePreferences:   []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384},
		NextProtos:         []string{ALPNHTTP1},
		ServerName:         c.ServerName,
		InsecureSkipVerify: !c.Verifies(),
	}
	if c.ServerName != "" {
		if err := checkServerName(c.ServerName); err != nil {
			return nil, err
		}
	}
	if c.CA != "" {
		if !c.Verifies() {
			return nil, fmt.Errorf("%w: ca: unused with verify = false; remove one of them", ErrConfig)
		}
		if cfg.RootCAs, err = LoadCAFile(c.CA); err != nil {
			return nil, fmt.Errorf("%w: ca: %w", ErrConfig, err)
		}
	}
	switch {
	case c.Cert != "" && c.Key != "":
		pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: cert and key: %w", ErrConfig, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case c.Cert != "":
		return nil, fmt.Errorf("%w: cert: needs key too", ErrConfig)
	case c.Key != "":
		return nil, fmt.Errorf("%w: key: needs cert too", ErrConfig)
	}
	if c.SessionReuse == nil || *c.SessionReuse {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(sessionCacheSize)
	}
	return cfg, nil
}

// checkServerName refuses what cannot be a certificate's name: a host, not
// a URL or host:port. (Private CAs issue names public ones would not, such
// as with underscores, so the check stops there.)
func checkServerName(name string) error {
	if net.ParseIP(name) != nil {
		return nil
	}
	if len(name) > 253 || strings.ContainsAny(name, ":/ \t*") || strings.Trim(name, ".") != name {
		return fmt.Errorf("%w: server_name %q: want a host name such as \"api.internal\", without scheme or port", ErrConfig, name)
	}
	return nil
}

// ForAddr returns cfg for dialing the backend at addr (host:port): a copy
// naming addr's host unless cfg names a server, whose sessions are kept
// under addr in cfg's cache. crypto/tls keys a session by server name, so
// without this backends sharing a name (one server_name, one host on
// several ports) would be offered each other's sessions, which only
// resume if they share ticket keys.
func ForAddr(cfg *tls.Config, addr string) *tls.Config {
	c := cfg.Clone()
	if c.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		c.ServerName = host
	}
	if cfg.ClientSessionCache != nil {
		c.ClientSessionCache = addrSessions{addr: addr, cache: cfg.ClientSessionCache}
	}
	return c
}

// addrSessions is a pool's session cache as one backend sees it.
type addrSessions struct {
	addr  string
	cache tls.ClientSessionCache
}

func (a addrSessions) Get(key string) (*tls.ClientSessionState, bool) {
	return a.cache.Get(a.addr + " " + key)
}

func (a addrSessions) Put(key string, s *tls.ClientSessionState) {
	a.cache.Put(a.addr+" "+key, s)
}
