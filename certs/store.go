package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoMatch is returned to the TLS stack when no certificate matches the
// client's server name and no default exists; the handshake fails with an
// alert (RFC 8446 §4.4.2.3 leaves the choice to the server).
var ErrNoMatch = errors.New("certs: no certificate for this server name")

// table is an immutable index of the loaded certificates. Each list holds the
// candidates for one name, best first (see keyRank).
type table struct {
	exact map[string][]*tls.Certificate     // lower-case DNS name
	wild  map[string][]*tls.Certificate     // "*.example.com" is stored under "example.com"
	ip    map[netip.Addr][]*tls.Certificate // IP SANs, used when the client sends no SNI
	def   []*tls.Certificate
	infos []CertInfo
}

// Store chooses the certificate for each TLS handshake. Readers (GetCertificate,
// from any goroutine or event loop) take no lock: they load one immutable table.
// Writers (Reload, the ACME manager) are serialised by a mutex and publish a new
// table atomically, so a handshake in flight finishes with the table it started with
// and no connection is dropped.
type Store struct {
	tab  atomic.Pointer[table]
	alpn atomic.Pointer[map[string]*tls.Certificate] // TLS-ALPN-01 certificates (RFC 8737) by lower-case name

	mu     sync.Mutex
	pairs  []Pair
	static []*loaded
	acme   map[string]*loaded // by domain
}

// NewStore loads pairs. It returns the warnings of Reload and fails on the first
// unusable pair. An empty list is allowed (for ACME-only setups): until a
// certificate exists every handshake fails with ErrNoMatch.
func NewStore(pairs []Pair) (*Store, []string, error) {
	s := &Store{acme: map[string]*loaded{}}
	s.tab.Store(&table{})
	warn, err := s.Reload(pairs)
	if err != nil {
		return nil, warn, err
	}
	return s, warn, nil
}

// Reload reads and validates every pair, then swaps them in at once. If any pair
// is unusable (missing or unreadable file, garbage PEM, key that does not match)
// nothing changes: the old certificates stay in service and the error names each
// file and its problem. Warnings (expired, not yet valid, no SAN, chain order)
// do not stop the reload.
func (s *Store) Reload(pairs []Pair) ([]string, error) {
	now := time.Now()
	var warn []string
	var errs []error
	static := make([]*loaded, 0, len(pairs))
	for _, p := range pairs {
		if p.Cert == "" || p.Key == "" {
			errs = append(errs, fmt.Errorf("certificate pair {cert=%q key=%q}: both cert and key must be set", p.Cert, p.Key))
			continue
		}
		l, w, err := loadPair(p, now)
		warn = append(warn, w...)
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot load certificate pair {cert=%q key=%q}: %w", p.Cert, p.Key, err))
			continue
		}
		static = append(static, l)
	}
	if len(errs) > 0 {
		return warn, errors.Join(errs...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, w := buildTable(static, s.acme)
	s.pairs = slices.Clone(pairs)
	s.static = static
	s.tab.Store(t)
	return append(warn, w...), nil
}

// Pairs returns the pairs of the last successful Reload.
func (s *Store) Pairs() []Pair {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pairs)
}

// setACME installs (or replaces) the certificate the ACME manager holds for
// domain. The previous one is served until this call returns.
func (s *Store) setACME(domain string, l *loaded) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acme[domain] = l
	t, _ := buildTable(s.static, s.acme)
	s.tab.Store(t)
}

// setALPNChallenge publishes the TLS-ALPN-01 certificate for name, or removes
// it when cert is nil. Copy on write: challenges are rare, lookups are not.
func (s *Store) setALPNChallenge(name string, cert *tls.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]*tls.Certificate{}
	if old := s.alpn.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	name = lowerName(name)
	if cert == nil {
		delete(m, name)
	} else {
		m[name] = cert
	}
	if len(m) == 0 {
		s.alpn.Store(nil)
		return
	}
	s.alpn.Store(&m)
}

// buildTable indexes static pairs and ACME certificates. ACME certificates come
// first for their names, whatever their key type: the operator listed those
// names for ACME, and a static pair covering them is then only a fallback (for
// example a self-signed certificate served until the first ACME certificate
// arrives, or an RSA twin for old clients).
func buildTable(static []*loaded, acme map[string]*loaded) (*table, []string) {
	all := make([]*loaded, 0, len(static)+len(acme))
	domains := make([]string, 0, len(acme))
	for d := range acme {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	for _, d := range domains {
		all = append(all, acme[d])
	}
	all = append(all, static...)

	t := &table{
		exact: map[string][]*tls.Certificate{},
		wild:  map[string][]*tls.Certificate{},
		ip:    map[netip.Addr][]*tls.Certificate{},
	}
	var warn []string
	seen := map[string]string{} // name + key rank -> file, to report shadowed pairs
	add := func(m map[string][]*tls.Certificate, name string, l *loaded) {
		k := name + "\x00" + l.info.KeyType
		if f, ok := seen[k]; ok {
			if l.info.Source == SourceStatic {
				warn = append(warn, fmt.Sprintf("certificate file %q: name %q with key %s is already served from %q; this one is only used if that one is removed", l.info.File, name, l.info.KeyType, f))
			}
		} else {
			seen[k] = l.info.File
		}
		m[name] = append(m[name], l.cert)
	}
	for _, l := range all {
		for _, n := range l.dns {
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				add(t.wild, rest, l)
			} else {
				add(t.exact, n, l)
			}
		}
		for _, a := range l.ips {
			t.ip[a] = append(t.ip[a], l.cert)
		}
	}

	// Default: pairs marked default; else the first static pair and any pair
	// with exactly its names (its RSA or ECDSA twin); else the first ACME one.
	var first *loaded
	for _, l := range static {
		if l.info.Default {
			t.def = append(t.def, l.cert)
		}
	}
	if len(t.def) == 0 {
		if len(static) > 0 {
			first = static[0]
			for _, l := range static {
				if slices.Equal(l.info.Names, first.info.Names) {
					t.def = append(t.def, l.cert)
					l.info.Default = true
				}
			}
		} else if len(all) > 0 {
			t.def = append(t.def, all[0].cert)
		}
	}

	// Order each list by source (ACME first, see above), then key type.
	srcRank := make(map[*tls.Certificate]int, len(all))
	for _, l := range all {
		if l.info.Source == SourceStatic {
			srcRank[l.cert] = 1
		}
	}
	rank := func(a, b *tls.Certificate) int {
		if d := srcRank[a] - srcRank[b]; d != 0 {
			return d
		}
		return keyRank(a) - keyRank(b)
	}
	for _, m := range []map[string][]*tls.Certificate{t.exact, t.wild} {
		for _, list := range m {
			slices.SortStableFunc(list, rank)
		}
	}
	for _, list := range t.ip {
		slices.SortStableFunc(list, rank)
	}
	slices.SortStableFunc(t.def, rank)

	for _, l := range all {
		t.infos = append(t.infos, l.info)
	}
	return t, warn
}

// GetCertificate implements tls.Config.GetCertificate. The server name is
// matched exactly, then against a wildcard one label deep ("*.example.com"
// covers "a.example.com", not "a.b.example.com" nor "example.com": RFC 6125
// §6.4.3), case-insensitively; without SNI, the IP address the client
// connected to is matched against IP SANs. Otherwise the default is served.
// Among the candidates for a name, the first the client supports wins (ECDSA
// before RSA). It takes no lock; it allocates only for mixed-case names and,
// when a name has several candidates, in tls's SupportsCertificate.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	t := s.tab.Load()
	if list := t.lookup(hello); len(list) > 0 {
		return pick(list, hello), nil
	}
	if len(t.def) > 0 {
		return pick(t.def, hello), nil
	}
	return nil, ErrNoMatch
}

func (t *table) lookup(hello *tls.ClientHelloInfo) []*tls.Certificate {
	name := hello.ServerName
	if name == "" {
		if hello.Conn == nil {
			return nil
		}
		if a, ok := hello.Conn.LocalAddr().(*net.TCPAddr); ok {
			return t.ip[a.AddrPort().Addr().Unmap()]
		}
		return nil
	}
	name = lowerName(name)
	if list := t.exact[name]; len(list) > 0 {
		return list
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		return t.wild[name[i+1:]]
	}
	return nil
}

// pick returns the first candidate the client can use. When none fits, the
// best one is returned anyway: the handshake then fails on the client's side
// with a precise error instead of ours with a generic one.
func pick(list []*tls.Certificate, hello *tls.ClientHelloInfo) *tls.Certificate {
	if len(list) == 1 {
		return list[0]
	}
	for _, c := range list {
		if hello.SupportsCertificate(c) == nil {
			return c
		}
	}
	return list[0]
}

// Info describes every loaded certificate, ACME ones first, for the status API.
func (s *Store) Info() []CertInfo {
	infos := s.tab.Load().infos
	out := make([]CertInfo, len(infos))
	for i, in := range infos {
		in.Names = slices.Clone(in.Names)
		out[i] = in
	}
	return out
}

// lowerName normalises a server name for lookup: lower case, no trailing dot.
// It does not allocate when the name is already lower case.
func lowerName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
