package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// ALPNHTTP1 is the protocol offered by ALPN (RFC 7301); "h2" joins it when the
// engine speaks HTTP/2.
const ALPNHTTP1 = "http/1.1"

// ALPNACME is the protocol of the TLS-ALPN-01 challenge (RFC 8737 §6.2). A
// connection that negotiated it carries no application data: the engine must
// close it right after the handshake (RFC 8737 §3).
const ALPNACME = "acme-tls/1"

// Client authentication modes of Profile.ClientAuth.
const (
	ClientAuthNone     = "none"     // no client certificate asked for
	ClientAuthOptional = "optional" // asked for; verified against client_ca if sent
	ClientAuthRequire  = "require"  // required and verified against client_ca
)

// Profile is the TLS policy of one listener. The zero value is Mozilla's
// "intermediate" profile (TLS 1.2 and 1.3, AEAD ciphers with forward secrecy)
// without client certificates.
type Profile struct {
	// MinVersion is "1.2" (default) or "1.3". TLS 1.0 and 1.1 are refused:
	// RFC 8996 deprecates them.
	MinVersion string `toml:"min_version"`
	// Ciphers lists the TLS 1.2 cipher suites by their IANA names as Go spells
	// them (tls.CipherSuiteName), e.g. "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	// (default: IntermediateCiphers). TLS 1.3 suites are not configurable in Go;
	// all three are AEADs (RFC 8446 §9.1).
	Ciphers []string `toml:"ciphers"`
	// ClientCA is a PEM file of CA certificates that client certificates must
	// chain to (mTLS). Empty: no client certificates.
	ClientCA string `toml:"client_ca"`
	// ClientAuth is "require" (default when ClientCA is set), "optional" or "none".
	ClientAuth string `toml:"client_auth"`
}

// IntermediateCiphers is Mozilla's "intermediate" TLS 1.2 list (Server Side TLS
// 5.x) without the DHE suites, which Go does not implement. The order is
// Mozilla's; Go applies its own preference order anyway (since Go 1.17).
var IntermediateCiphers = []string{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

// IntermediateCurves are Mozilla's groups (X25519, P-256, P-384) after the
// hybrid post-quantum X25519MLKEM768 that Go and current browsers offer by
// default; it is TLS 1.3 only and falls back to X25519 for other clients.
var IntermediateCurves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}

// ErrConfig is wrapped by every error of NewTLSConfig.
var ErrConfig = errors.New("certs: bad TLS configuration")

// NewTLSConfig builds the tls.Config of one listener: certificates from s
// (chosen per handshake by SNI), the profile's versions, ciphers and client
// authentication, ALPN "http/1.1", and the TLS-ALPN-01 answer of the ACME
// manager feeding s. Errors name the configuration key (min_version, ciphers,
// client_ca, client_auth) and what is wrong. Session tickets stay Go's
// (random keys rotated daily) until a Tickets is attached.
func NewTLSConfig(p Profile, s *Store) (*tls.Config, error) {
	min, err := parseMinVersion(p.MinVersion)
	if err != nil {
		return nil, err
	}
	suites, err := parseCiphers(p.Ciphers)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:       min,
		CipherSuites:     suites,
		CurvePreferences: slices.Clone(IntermediateCurves),
		NextProtos:       []string{ALPNHTTP1},
		GetCertificate:   s.GetCertificate,
	}
	if err := clientAuth(cfg, p); err != nil {
		return nil, err
	}
	cfg.GetConfigForClient = s.alpnConfig
	return cfg, nil
}

func parseMinVersion(v string) (uint16, error) {
	switch v {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	case "1.0", "1.1":
		return 0, fmt.Errorf("%w: min_version %q: TLS 1.0 and 1.1 are deprecated (RFC 8996); use \"1.2\" or \"1.3\"", ErrConfig, v)
	default:
		return 0, fmt.Errorf("%w: min_version %q: want \"1.2\" or \"1.3\"", ErrConfig, v)
	}
}

func parseCiphers(names []string) ([]uint16, error) {
	if len(names) == 0 {
		names = IntermediateCiphers
	}
	ids := make([]uint16, 0, len(names))
	for _, n := range names {
		id, ok := cipherID(n, tls.CipherSuites())
		if !ok {
			if _, weak := cipherID(n, tls.InsecureCipherSuites()); weak {
				return nil, fmt.Errorf("%w: ciphers: %q is insecure (no forward secrecy, or a broken algorithm) and is refused", ErrConfig, n)
			}
			return nil, fmt.Errorf("%w: ciphers: unknown cipher suite %q (use Go's IANA names, e.g. %q)", ErrConfig, n, IntermediateCiphers[0])
		}
		if tls13Suite(id) {
			return nil, fmt.Errorf("%w: ciphers: %q is a TLS 1.3 suite; Go always enables all three, list only TLS 1.2 suites", ErrConfig, n)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func cipherID(name string, list []*tls.CipherSuite) (uint16, bool) {
	for _, c := range list {
		if c.Name == name {
			return c.ID, true
		}
	}
	return 0, false
}

func tls13Suite(id uint16) bool {
	return id == tls.TLS_AES_128_GCM_SHA256 || id == tls.TLS_AES_256_GCM_SHA384 || id == tls.TLS_CHACHA20_POLY1305_SHA256
}

func clientAuth(cfg *tls.Config, p Profile) error {
	mode := p.ClientAuth
	if mode == "" {
		mode = ClientAuthNone
		if p.ClientCA != "" {
			mode = ClientAuthRequire
		}
	}
	switch mode {
	case ClientAuthNone:
		if p.ClientCA != "" {
			return fmt.Errorf("%w: client_auth %q with client_ca %q set: use \"optional\" or \"require\", or remove client_ca", ErrConfig, mode, p.ClientCA)
		}
		return nil
	case ClientAuthOptional:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return fmt.Errorf("%w: client_auth %q: want \"none\", \"optional\" or \"require\"", ErrConfig, p.ClientAuth)
	}
	if p.ClientCA == "" {
		return fmt.Errorf("%w: client_auth %q needs client_ca (a PEM file of CA certificates)", ErrConfig, mode)
	}
	pool, err := LoadCAFile(p.ClientCA)
	if err != nil {
		return fmt.Errorf("%w: client_ca: %w", ErrConfig, err)
	}
	cfg.ClientCAs = pool
	return nil
}

// LoadCAFile reads a PEM file of CA certificates into a pool. It refuses a file
// without any certificate, which would otherwise reject every client silently.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %q: %w", path, ErrNoCertificate)
	}
	return pool, nil
}

// alpnConfig answers RFC 8737 validation handshakes: a client offering
// "acme-tls/1" for a name with a pending TLS-ALPN-01 challenge gets the
// challenge certificate and that protocol only. Every other handshake keeps
// the listener's config (nil), whose ALPN list does not include "acme-tls/1",
// so the challenge certificate is never shown to ordinary clients. Cost when no
// challenge is pending: one atomic load.
func (s *Store) alpnConfig(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	m := s.alpn.Load()
	if m == nil || !slices.Contains(hello.SupportedProtos, ALPNACME) {
		return nil, nil
	}
	c, ok := (*m)[lowerName(hello.ServerName)]
	if !ok {
		return nil, nil
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{ALPNACME},
		Certificates: []tls.Certificate{*c},
	}, nil
}

// Config is the proposed [tls] table of config.toml in one struct: the
// certificate pairs, the default listener Profile, session tickets and ACME.
// Embedded structs decode as if their keys were written here. A listener that
// needs another policy (the admin listener requiring client certificates) gets
// its own Profile.
type Config struct {
	Profile
	TicketConfig
	ACMEConfig
	// Certs are the static pairs ([[tls.cert]] entries).
	Certs []Pair `toml:"cert"`
	// ReloadCheck is how often the pairs' files are checked for changes
	// (default 5s; negative: never, reload on SIGHUP only).
	ReloadCheck time.Duration `toml:"reload_check"`
}

// ACMEEnabled reports whether the configuration lists names for ACME.
func (c *Config) ACMEEnabled() bool { return len(c.Domains) > 0 }
