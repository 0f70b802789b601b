package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
)

// LetsEncrypt is the default ACME directory: Let's Encrypt production.
// Its staging directory, for trials, is
// https://acme-staging-v02.api.letsencrypt.org/directory.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// Challenge types (RFC 8555 §8.3, RFC 8737 §3).
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// HTTPChallengePrefix is the path under which HTTP-01 tokens are fetched
// (RFC 8555 §8.3), over plain HTTP on port 80.
const HTTPChallengePrefix = "/.well-known/acme-challenge/"

// Defaults of ACMEConfig.
const (
	DefaultRenewAt  = 2.0 / 3
	DefaultRetryMin = 5 * time.Minute
	DefaultRetryMax = 12 * time.Hour
	DefaultTimeout  = 10 * time.Minute
)

// ACMEConfig lists the names whose certificates loopgate obtains and renews
// itself (RFC 8555). Configuring it accepts the CA's terms of service.
type ACMEConfig struct {
	// Domains are the DNS names to obtain certificates for, one certificate per
	// name. Wildcards are refused: they need DNS-01, which loopgate does not do.
	Domains []string `toml:"acme_domains"`
	// Email is the account contact, used by the CA for expiry and incident
	// notices (optional but recommended).
	Email string `toml:"acme_email"`
	// Directory is the CA's directory URL (default LetsEncrypt).
	Directory string `toml:"acme_directory"`
	// DirectoryCA is a PEM file of extra roots trusted for the directory's own
	// HTTPS, for a private ACME CA (default: the system roots only).
	DirectoryCA string `toml:"acme_directory_ca"`
	// Dir is where the account key and the certificates live (required). Keys
	// are written with mode 0600 in directories of mode 0700, under a folder per
	// directory URL so staging and production never mix.
	Dir string `toml:"acme_dir"`
	// Challenges are the challenge types to use, in order of preference
	// (default ["tls-alpn-01", "http-01"]). One type is tried per attempt; a
	// failed attempt is retried with the next type, so a failing one costs one
	// failed validation, not two (Let's Encrypt limits failed validations).
	Challenges []string `toml:"acme_challenges"`
	// CAProfile asks the CA for a named certificate profile (draft-ietf-acme-profiles;
	// Let's Encrypt offers "classic", "tlsserver" and "shortlived"). Empty: the
	// CA's default.
	CAProfile string `toml:"acme_profile"`
	// KeyType is the certificate key: "ecdsa" (P-256, default) or "rsa" (2048 bits).
	KeyType string `toml:"acme_key_type"`
	// RenewAt is the fraction of a certificate's lifetime after which it is
	// renewed (default 2/3: day 60 of a 90-day certificate).
	RenewAt float64 `toml:"acme_renew_at"`
	// RetryMin and RetryMax bound the exponential backoff after a failed
	// attempt (defaults 5m and 12h). The old certificate is served meanwhile.
	RetryMin time.Duration `toml:"acme_retry_min"`
	RetryMax time.Duration `toml:"acme_retry_max"`
	// Timeout bounds one attempt, from order to certificate (default 10m).
	Timeout time.Duration `toml:"acme_timeout"`
}

// DomainStatus is the ACME manager's view of one name, for the status API.
type DomainStatus struct {
	Domain      string    `json:"domain"`
	NotAfter    time.Time `json:"not_after,omitzero"`    // of the certificate served; zero if none yet
	NextAttempt time.Time `json:"next_attempt,omitzero"` // renewal or retry time
	Failures    int       `json:"failures"`              // consecutive failed attempts
	LastError   string    `json:"last_error,omitempty"`
}

// ACME obtains and renews certificates from an ACME CA and feeds them to a
// Store. Each domain has its own goroutine (Run); the challenge answers
// (HTTPChallenge, and TLS-ALPN-01 through the Store) are read lock-free.
type ACME struct {
	cfg    ACMEConfig
	store  *Store
	client *acme.Client
	dir    string // per-directory storage folder

	// Report, if set before Run, is told of every attempt: info describes the
	// new certificate on success, err the failure otherwise.
	Report func(domain string, info *CertInfo, err error)

	tokens atomic.Pointer[map[string][]byte] // HTTP-01: token -> key authorization

	mu         sync.Mutex // tokens writers, account registration, status
	registered bool
	status     map[string]*DomainStatus
	leaf       map[string]*x509.Certificate // certificate served, per domain
}

// NewACME checks c, creates the storage folder and the account key if needed,
// and puts the certificates already on disk into s, so a restart serves them
// at once without asking the CA. hc is the HTTP client for the directory (nil:
// a default one, trusting c.DirectoryCA as well when set). Call Run to obtain
// and renew.
func NewACME(c ACMEConfig, s *Store, hc *http.Client) (*ACME, error) {
	if err := c.normalise(); err != nil {
		return nil, err
	}
	if hc == nil {
		var err error
		if hc, err = directoryClient(c.DirectoryCA); err != nil {
			return nil, err
		}
	}
	m := &ACME{
		cfg:    c,
		store:  s,
		dir:    filepath.Join(c.Dir, folderName(c.Directory)),
		status: map[string]*DomainStatus{},
		leaf:   map[string]*x509.Certificate{},
	}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("acme_dir: cannot create %q: %w", m.dir, err)
	}
	key, err := loadOrCreateKey(filepath.Join(m.dir, "account.key"))
	if err != nil {
		return nil, err
	}
	m.client = &acme.Client{Key: key, DirectoryURL: c.Directory, HTTPClient: hc, UserAgent: "loopgate"}
	now := time.Now()
	for _, d := range c.Domains {
		st := &DomainStatus{Domain: d}
		m.status[d] = st
		l, err := m.loadStored(d, now)
		if err != nil {
			st.LastError = err.Error()
			continue
		}
		if l != nil {
			m.leaf[d] = l.cert.Leaf
			st.NotAfter = l.cert.Leaf.NotAfter
			s.setACME(d, l)
		}
	}
	return m, nil
}

// Check reports what is wrong with c, as NewACME would, without touching the
// disk or the network: for a config check before anything starts.
func (c ACMEConfig) Check() error {
	c.Domains = slices.Clone(c.Domains)
	return c.normalise()
}

func (c *ACMEConfig) normalise() error {
	if len(c.Domains) == 0 {
		return fmt.Errorf("%w: acme_domains is empty", ErrConfig)
	}
	seen := map[string]bool{}
	for i, d := range c.Domains {
		d = lowerName(d)
		if err := checkDomain(d); err != nil {
			return fmt.Errorf("%w: acme_domains %q: %v", ErrConfig, c.Domains[i], err)
		}
		if seen[d] {
			return fmt.Errorf("%w: acme_domains: %q is listed twice", ErrConfig, d)
		}
		seen[d] = true
		c.Domains[i] = d
	}
	if c.Dir == "" {
		return fmt.Errorf("%w: acme_dir is required with acme_domains (the account key and certificates are stored there)", ErrConfig)
	}
	if c.Directory == "" {
		c.Directory = LetsEncrypt
	}
	if u, err := url.Parse(c.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%w: acme_directory %q: want an https:// URL (RFC 8555 §6.1)", ErrConfig, c.Directory)
	}
	if len(c.Challenges) == 0 {
		c.Challenges = []string{ChallengeTLSALPN01, ChallengeHTTP01}
	}
	for _, ch := range c.Challenges {
		if ch != ChallengeHTTP01 && ch != ChallengeTLSALPN01 {
			return fmt.Errorf("%w: acme_challenges: %q: want %q or %q", ErrConfig, ch, ChallengeTLSALPN01, ChallengeHTTP01)
		}
	}
	switch c.KeyType {
	case "":
		c.KeyType = "ecdsa"
	case "ecdsa", "rsa":
	default:
		return fmt.Errorf("%w: acme_key_type %q: want \"ecdsa\" or \"rsa\"", ErrConfig, c.KeyType)
	}
	if c.RenewAt == 0 {
		c.RenewAt = DefaultRenewAt
	}
	if c.RenewAt <= 0 || c.RenewAt >= 1 {
		return fmt.Errorf("%w: acme_renew_at %g: want a fraction of the lifetime between 0 and 1", ErrConfig, c.RenewAt)
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetryMin < 0 || c.RetryMax < c.RetryMin {
		return fmt.Errorf("%w: acme_retry_min %s, acme_retry_max %s: want 0 < min <= max", ErrConfig, c.RetryMin, c.RetryMax)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: acme_timeout %s is negative", ErrConfig, c.Timeout)
	}
	return nil
}

// checkDomain accepts a host name that a public CA can validate over HTTP or
// TLS: letters, digits, hyphens and dots, labels of 1-63 bytes (RFC 1035 §2.3.4).
func checkDomain(d string) error {
	switch {
	case strings.Contains(d, "*"):
		return errors.New("wildcard names need the DNS-01 challenge, which loopgate does not implement")
	case net.ParseIP(d) != nil:
		return errors.New("IP addresses are not supported; list a DNS name")
	case d == "" || len(d) > 253:
		return errors.New("want a DNS name of 1 to 253 bytes")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("bad label %q", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("bad character %q", c)
			}
		}
	}
	return nil
}

func directoryClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: acme_directory_ca: %w", ErrConfig, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%w: acme_directory_ca %q: %w", ErrConfig, caFile, ErrNoCertificate)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}

// folderName turns a directory URL into a file name: host and path, with
// anything but letters, digits, dots and hyphens replaced.
func folderName(dirURL string) string {
	u, _ := url.Parse(dirURL)
	s := u.Host + u.Path
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

func loadOrCreateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := parseKey(b)
		if err != nil {
			return nil, fmt.Errorf("ACME account key %q: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot read ACME account key: %w", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pemKey(k), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func pemKey(k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic("BUG: cannot marshal a key we generated: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func (m *ACME) paths(domain string) Pair {
	return Pair{Cert: filepath.Join(m.dir, domain+".crt"), Key: filepath.Join(m.dir, domain+".key")}
}

// loadStored returns the stored certificate of domain, nil if there is none,
// or an error if the files are there but unusable (they are then replaced at
// the first attempt). An expired certificate is not served.
func (m *ACME) loadStored(domain string, now time.Time) (*loaded, error) {
	p := m.paths(domain)
	certPEM, err := os.ReadFile(p.Cert)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read stored certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(p.Key)
	if err != nil {
		return nil, fmt.Errorf("cannot read stored key: %w", err)
	}
	l, _, err := parsePair(p, certPEM, keyPEM, SourceACME, now)
	if err != nil {
		return nil, err
	}
	if err := l.cert.Leaf.VerifyHostname(domain); err != nil {
		return nil, fmt.Errorf("stored certificate %q: %w", p.Cert, err)
	}
	if now.After(l.cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("stored certificate %q expired on %s", p.Cert, l.cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return l, nil
}

// HTTPChallenge returns the key authorization for an HTTP-01 token (the last
// segment of HTTPChallengePrefix+token), which the engine answers with 200 and
// Content-Type text/plain; ok is false for an unknown token (answer 404). Safe
// on a nil *ACME, lock-free, no allocation: one atomic load and a map lookup.
func (m *ACME) HTTPChallenge(token string) (keyAuth []byte, ok bool) {
	if m == nil {
		return nil, false
	}
	t := m.tokens.Load()
	if t == nil {
		return nil, false
	}
	keyAuth, ok = (*t)[token]
	return keyAuth, ok
}

func (m *ACME) setToken(token string, keyAuth []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := map[string][]byte{}
	if old := m.tokens.Load(); old != nil {
		for k, v := range *old {
			t[k] = v
		}
	}
	if keyAuth == nil {
		delete(t, token)
	} else {
		t[token] = keyAuth
	}
	m.tokens.Store(&t)
}

// Status reports every domain, in configuration order.
func (m *ACME) Status() []DomainStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]DomainStatus, 0, len(m.cfg.Domains))
	for _, d := range m.cfg.Domains {
		out = append(out, *m.status[d])
	}
	return out
}

// Run obtains a certificate for every domain that has none, renews each when
// RenewAt of its lifetime has passed, and retries failures with exponential
// backoff between RetryMin and RetryMax, until ctx ends. The certificate in
// service stays until its replacement is stored.
func (m *ACME) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, d := range m.cfg.Domains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.runDomain(ctx, d)
		}()
	}
	wg.Wait()
}

func (m *ACME) runDomain(ctx context.Context, d string) {
	failures := 0
	for {
		m.mu.Lock()
		next := time.Now()
		if failures > 0 {
			next = next.Add(backoff(failures, m.cfg.RetryMin, m.cfg.RetryMax))
		} else if leaf := m.leaf[d]; leaf != nil {
			next = renewTime(leaf.NotBefore, leaf.NotAfter, m.cfg.RenewAt)
		}
		m.status[d].NextAttempt = next
		m.mu.Unlock()

		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		ch := m.cfg.Challenges[failures%len(m.cfg.Challenges)]
		l, err := m.obtain(ctx, d, ch)
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		st := m.status[d]
		if err != nil {
			failures++
			st.Failures = failures
			st.LastError = err.Error()
		} else {
			failures = 0
			st.Failures, st.LastError = 0, ""
			st.NotAfter = l.cert.Leaf.NotAfter
			m.leaf[d] = l.cert.Leaf
		}
		m.mu.Unlock()
		if m.Report != nil {
			if err != nil {
				m.Report(d, nil, err)
			} else {
				info := l.info
				m.Report(d, &info, nil)
			}
		}
	}
}

// renewTime is when a certificate valid from nb to na is due: after the
// fraction at of its lifetime.
func renewTime(nb, na time.Time, at float64) time.Time {
	return nb.Add(time.Duration(float64(na.Sub(nb)) * at))
}

// backoff is the wait after the n-th consecutive failure (n >= 1): min, 2min,
// 4min ... capped at max, with up to 10% random jitter so that instances
// failing together do not retry together.
func backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d + time.Duration(mrand.Int64N(int64(d)/10+1))
}

// obtain runs one order for domain with challenge type ch, stores the result
// on disk and puts it into the Store.
func (m *ACME) obtain(ctx context.Context, domain, ch string) (*loaded, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := m.register(ctx); err != nil {
		return nil, err
	}
	var opts []acme.OrderOption
	if m.cfg.CAProfile != "" {
		opts = append(opts, acme.WithOrderIssuanceProfile(acme.ProfileName(m.cfg.CAProfile)))
	}
	order, err := m.client.AuthorizeOrder(ctx, acme.DomainIDs(domain), opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create ACME order for %q: %w", domain, err)
	}
	for _, u := range order.AuthzURLs {
		z, err := m.client.GetAuthorization(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("cannot fetch ACME authorization for %q: %w", domain, err)
		}
		if z.Status == acme.StatusValid {
			continue // reused authorization (RFC 8555 §7.1.4)
		}
		if err := m.authorize(ctx, z, domain, ch); err != nil {
			return nil, err
		}
	}
	if order, err = m.client.WaitOrder(ctx, order.URI); err != nil {
		return nil, fmt.Errorf("ACME order for %q did not become ready: %w", domain, err)
	}
	key, err := m.newKey()
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{domain}}, key)
	if err != nil {
		return nil, fmt.Errorf("cannot create CSR for %q: %w", domain, err)
	}
	der, _, err := m.client.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return nil, fmt.Errorf("cannot finalize ACME order for %q: %w", domain, err)
	}
	var certPEM []byte
	for _, b := range der {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})...)
	}
	keyPEM := pemKey(key)
	p := m.paths(domain)
	l, _, err := parsePair(p, certPEM, keyPEM, SourceACME, time.Now())
	if err != nil {
		return nil, fmt.Errorf("CA returned an unusable certificate for %q: %w", domain, err)
	}
	if err := l.cert.Leaf.VerifyHostname(domain); err != nil {
		return nil, fmt.Errorf("CA returned a certificate that does not cover %q: %w", domain, err)
	}
	// Key first: a crash between the two writes leaves a new key beside the old
	// certificate, which loadStored refuses, and the next start obtains again.
	if err := writeFileAtomic(p.Key, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(p.Cert, certPEM, 0o644); err != nil {
		return nil, err
	}
	m.store.setACME(domain, l)
	return l, nil
}

// authorize answers one pending authorization with challenge type ch and waits
// for the CA's verdict. The answer is withdrawn when it returns.
func (m *ACME) authorize(ctx context.Context, z *acme.Authorization, domain, ch string) error {
	var chal *acme.Challenge
	var offered []string
	for _, c := range z.Challenges {
		offered = append(offered, c.Type)
		if c.Type == ch {
			chal = c
		}
	}
	if chal == nil {
		return fmt.Errorf("ACME CA offers no %s challenge for %q (offered: %s)", ch, domain, strings.Join(offered, ", "))
	}
	switch ch {
	case ChallengeHTTP01:
		ka, err := m.client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return err
		}
		m.setToken(chal.Token, []byte(ka))
		defer m.setToken(chal.Token, nil)
	case ChallengeTLSALPN01:
		c, err := m.client.TLSALPN01ChallengeCert(chal.Token, domain)
		if err != nil {
			return err
		}
		m.store.setALPNChallenge(domain, &c)
		defer m.store.setALPNChallenge(domain, nil)
	}
	if _, err := m.client.Accept(ctx, chal); err != nil {
		return fmt.Errorf("cannot accept %s challenge for %q: %w", ch, domain, err)
	}
	if _, err := m.client.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("%s challenge for %q failed: %w", ch, domain, err)
	}
	return nil
}

// register creates the ACME account once per process (RFC 8555 §7.3); an
// account that already exists for the key is fine.
func (m *ACME) register(ctx context.Context) error {
	m.mu.Lock()
	done := m.registered
	m.mu.Unlock()
	if done {
		return nil
	}
	acct := &acme.Account{}
	if m.cfg.Email != "" {
		acct.Contact = []string{"mailto:" + m.cfg.Email}
	}
	if _, err := m.client.Register(ctx, acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return fmt.Errorf("cannot register ACME account at %s: %w", m.cfg.Directory, err)
	}
	m.mu.Lock()
	m.registered = true
	m.mu.Unlock()
	return nil
}

func (m *ACME) newKey() (crypto.Signer, error) {
	if m.cfg.KeyType == "rsa" {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// Domains returns the configured names, normalised.
func (m *ACME) Domains() []string { return slices.Clone(m.cfg.Domains) }
