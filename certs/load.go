package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Errors a certificate pair is refused with; test them with errors.Is. A missing
// or unreadable file wraps the os error instead (errors.Is(err, fs.ErrNotExist)).
var (
	ErrNoCertificate  = errors.New("certs: no PEM CERTIFICATE block")
	ErrBadCertificate = errors.New("certs: certificate does not parse")
	ErrNoKey          = errors.New("certs: no PEM private key block")
	ErrBadKey         = errors.New("certs: private key does not parse")
	ErrKeyMismatch    = errors.New("certs: private key does not match the certificate")
)

// Pair names one certificate chain and its private key, both PEM files. The
// certificate file holds the leaf first, then its intermediates.
type Pair struct {
	Cert    string `toml:"cert"`    // PEM file: leaf, then intermediates
	Key     string `toml:"key"`     // PEM file: PKCS#8, PKCS#1 (RSA) or SEC 1 (EC) private key
	Default bool   `toml:"default"` // served when no name matches (default: the first pair)
}

// Source says where a certificate came from.
type Source string

const (
	SourceStatic Source = "static" // a Pair from the configuration
	SourceACME   Source = "acme"   // obtained by the ACME manager
)

// CertInfo describes one loaded certificate for the status API and the expiry
// gauge. Names are the leaf's DNS and IP subject alternative names.
type CertInfo struct {
	Names     []string  `json:"names"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	KeyType   string    `json:"key_type"` // "ECDSA P-256", "RSA 2048", "Ed25519"
	Source    Source    `json:"source"`
	File      string    `json:"file"` // certificate file
	Default   bool      `json:"default"`
}

// keyRank orders the candidates for one name: ECDSA first (smaller, faster
// handshakes; RFC 8446 §4.2.3 lets every TLS 1.3 client use it), then RSA for
// older clients, then Ed25519, which few clients accept.
func keyRank(c *tls.Certificate) int {
	switch c.PrivateKey.(type) {
	case *ecdsa.PrivateKey:
		return 0
	case *rsa.PrivateKey:
		return 1
	default:
		return 2
	}
}

// loaded is one validated certificate with what the table needs to index it.
type loaded struct {
	cert *tls.Certificate
	info CertInfo
	dns  []string     // lower-cased DNS SANs, wildcards kept as "*.x"
	ips  []netip.Addr // IP SANs
}

// loadPair reads and checks one pair. Problems that make the pair unusable are
// errors naming the file; problems a client may survive (expired, not yet
// valid, no SAN, chain out of order) are warnings: refusing them would take
// every other name down with the one that has them, and the expiry gauge and
// the status API show them anyway.
func loadPair(p Pair, now time.Time) (*loaded, []string, error) {
	certPEM, err := os.ReadFile(p.Cert)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(p.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read key file: %w", err)
	}
	return parsePair(p, certPEM, keyPEM, SourceStatic, now)
}

// parsePair builds a loaded certificate from PEM bytes; p names the files for
// messages and CertInfo.
func parsePair(p Pair, certPEM, keyPEM []byte, src Source, now time.Time) (*loaded, []string, error) {
	var chain [][]byte
	var parsed []*x509.Certificate
	rest := certPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("certificate file %q, certificate %d: %w: %v", p.Cert, len(chain)+1, ErrBadCertificate, err)
		}
		chain = append(chain, b.Bytes)
		parsed = append(parsed, c)
	}
	if len(chain) == 0 {
		return nil, nil, fmt.Errorf("certificate file %q: %w", p.Cert, ErrNoCertificate)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("key file %q: %w", p.Key, err)
	}
	leaf := parsed[0]
	if !publicKeyMatches(leaf.PublicKey, key) {
		return nil, nil, fmt.Errorf("key file %q, certificate file %q: %w", p.Key, p.Cert, ErrKeyMismatch)
	}

	var warn []string
	switch {
	case now.After(leaf.NotAfter):
		warn = append(warn, fmt.Sprintf("certificate file %q expired on %s", p.Cert, leaf.NotAfter.UTC().Format(time.RFC3339)))
	case now.Before(leaf.NotBefore):
		warn = append(warn, fmt.Sprintf("certificate file %q is not valid before %s", p.Cert, leaf.NotBefore.UTC().Format(time.RFC3339)))
	}
	for i := 1; i < len(parsed); i++ {
		if parsed[i-1].CheckSignatureFrom(parsed[i]) != nil {
			warn = append(warn, fmt.Sprintf("certificate file %q: certificate %d is not signed by certificate %d (chain out of order or incomplete)", p.Cert, i, i+1))
			break
		}
	}

	l := &loaded{
		cert: &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf},
	}
	for _, n := range leaf.DNSNames {
		l.dns = append(l.dns, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	for _, ip := range leaf.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			l.ips = append(l.ips, a.Unmap())
		}
	}
	if len(l.dns) == 0 && len(l.ips) == 0 {
		warn = append(warn, fmt.Sprintf("certificate file %q has no subject alternative name; clients match names only against SANs (RFC 6125 §6.4.4), so it is only useful as the default", p.Cert))
	}
	names := make([]string, 0, len(l.dns)+len(l.ips))
	names = append(names, l.dns...)
	for _, a := range l.ips {
		names = append(names, a.String())
	}
	issuer := leaf.Issuer.CommonName
	if issuer == "" {
		issuer = leaf.Issuer.String()
	}
	l.info = CertInfo{
		Names:     names,
		Issuer:    issuer,
		Serial:    leaf.SerialNumber.Text(16),
		NotBefore: leaf.NotBefore,
		NotAfter:  leaf.NotAfter,
		KeyType:   keyType(leaf.PublicKey),
		Source:    src,
		File:      p.Cert,
		Default:   p.Default,
	}
	return l, warn, nil
}

// parseKey returns the first private key block of keyPEM. Encrypted keys are
// not supported: a proxy that restarts unattended has nobody to type a passphrase.
func parseKey(keyPEM []byte) (crypto.Signer, error) {
	rest := keyPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, ErrNoKey
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: encrypted keys are not supported", ErrBadKey)
		default:
			continue // EC PARAMETERS and the like
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: unsupported key type %T", ErrBadKey, k)
		}
		return s, nil
	}
}

func publicKeyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := key.Public().(equaler)
	return ok && e.Equal(pub)
}

func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return "RSA " + strconv.Itoa(k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}
