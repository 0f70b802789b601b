package certs

// End-to-end ACME tests against Pebble, Let's Encrypt's test CA, run in-process
// on 127.0.0.1: its directory on an httptest TLS server, its validation
// authority resolving every name to 127.0.0.1 through a DNS server of ours and
// validating against our real HTTP-01 responder and TLS listener. They never
// skip: Pebble is a Go module in go.mod.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"loopgate/internal/pebbletest"
)

// syncBuffer collects Pebble's log, shown only when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// site is a loopgate stand-in: a Store, an HTTP listener answering HTTP-01 from
// the ACME manager, and a TLS listener using NewTLSConfig, on the ports Pebble
// validates against.
type site struct {
	store   *Store
	acme    atomic.Pointer[ACME]
	httpLn  net.Listener
	tlsAddr string

	failHTTP  atomic.Bool  // answer every challenge with 404
	httpHits  atomic.Int64 // challenge requests answered with 200
	alpnHits  atomic.Int64 // handshakes that negotiated acme-tls/1
	reports   chan report
	pebbleLog *syncBuffer
}

type report struct {
	at   time.Time
	info *CertInfo
	err  error
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{store: mustStore(t, nil), reports: make(chan report, 64)}
	var err error
	if s.httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, HTTPChallengePrefix)
		ka, found := s.acme.Load().HTTPChallenge(token)
		if !ok || !found || s.failHTTP.Load() {
			http.NotFound(w, r)
			return
		}
		s.httpHits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(ka)
	})}
	go hs.Serve(s.httpLn)
	t.Cleanup(func() { hs.Close() })

	cfg, err := NewTLSConfig(Profile{}, s.store)
	if err != nil {
		t.Fatal(err)
	}
	s.tlsAddr = acceptTLS(t, cfg, func(c *tls.Conn) {
		if c.ConnectionState().NegotiatedProtocol == ALPNACME {
			s.alpnHits.Add(1)
			return // RFC 8737 §3: no application data on a validation connection
		}
		c.Write([]byte("ok"))
		var b [1]byte
		c.Read(b[:])
	})
	return s
}

func port(t *testing.T, addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// pebble is one in-process Pebble CA.
type pebble struct {
	dirURL string
	client *http.Client
	roots  *x509.CertPool
}

// startPebble runs Pebble validating HTTP-01 and TLS-ALPN-01 against s's
// listeners, issuing certificates valid for validity seconds.
func startPebble(t *testing.T, s *site, validity uint64) *pebble {
	return startPebbleProfiles(t, s, map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: validity}})
}

// startPebbleProfiles is startPebble with named issuance profiles. Pebble
// picks one at random for orders that name none.
func startPebbleProfiles(t *testing.T, s *site, profiles map[string]ca.Profile) *pebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")     // validate at once
	t.Setenv("PEBBLE_AUTHZREUSE", "0")     // every order validates, so failures can be injected
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "") // default: 5% bad nonces, which the client must retry
	s.pebbleLog = &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", s.pebbleLog.String())
		}
	})
	logger := log.New(s.pebbleLog, "pebble ", log.Lmicroseconds)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	vaImpl := va.New(logger, port(t, s.httpLn.Addr().String()), port(t, s.tlsAddr), false, pebbletest.LocalDNS(t), store)
	front := wfe.New(logger, store, vaImpl, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	srv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(authority.GetRootCert(0).Cert)
	return &pebble{dirURL: srv.URL + wfe.DirectoryPath, client: srv.Client(), roots: roots}
}

func (s *site) start(t *testing.T, p *pebble, c ACMEConfig) (*ACME, context.CancelFunc) {
	t.Helper()
	c.Directory = p.dirURL
	if c.Dir == "" {
		c.Dir = t.TempDir()
	}
	m, err := NewACME(c, s.store, p.client)
	if err != nil {
		t.Fatal(err)
	}
	m.Report = func(_ string, info *CertInfo, err error) { s.reports <- report{time.Now(), info, err} }
	s.acme.Store(m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return m, stop
}

func (s *site) next(t *testing.T) report {
	t.Helper()
	select {
	case r := <-s.reports:
		return r
	case <-time.After(60 * time.Second):
		t.Fatal("no ACME attempt finished within 60s")
		return report{}
	}
}

// verifyServed makes a real handshake for name and checks the chain against
// Pebble's root; it returns the leaf.
func (s *site) verifyServed(t *testing.T, p *pebble, name string) *x509.Certificate {
	t.Helper()
	st, err := dial(t, s.tlsAddr, &tls.Config{ServerName: name, RootCAs: p.roots})
	if err != nil {
		t.Fatalf("handshake for %q verified against Pebble's root: %v", name, err)
	}
	return st.PeerCertificates[0]
}

func TestACMEPebbleHTTP01(t *testing.T) {
	s := newSite(t)
	p := startPebble(t, s, 3600)
	dir := t.TempDir()
	domains := []string{"a.example.test", "B.Example.Test"}
	m, stop := s.start(t, p, ACMEConfig{Domains: domains, Dir: dir, Email: "ops@example.test", Challenges: []string{ChallengeHTTP01}})
	for range domains {
		if r := s.next(t); r.err != nil {
			t.Fatalf("obtain: %v", r.err)
		}
	}
	if s.httpHits.Load() < 2 || s.alpnHits.Load() != 0 {
		t.Fatalf("HTTP-01 answers %d, TLS-ALPN-01 handshakes %d", s.httpHits.Load(), s.alpnHits.Load())
	}
	leafA := s.verifyServed(t, p, "a.example.test")
	leafB := s.verifyServed(t, p, "b.example.test")
	if leafA.Equal(leafB) || leafA.VerifyHostname("a.example.test") != nil {
		t.Fatal("one certificate per name expected")
	}
	for _, in := range s.store.Info() {
		if in.Source != SourceACME || !strings.HasPrefix(in.Issuer, "Pebble Intermediate") {
			t.Fatalf("Info: %+v", in)
		}
	}
	for _, st := range m.Status() {
		if st.Failures != 0 || st.NotAfter.IsZero() || st.LastError != "" {
			t.Fatalf("Status: %+v", st)
		}
		// Renewal is scheduled at 2/3 of the lifetime.
		want := renewTime(st.NotAfter.Add(-3599*time.Second), st.NotAfter, DefaultRenewAt)
		if d := st.NextAttempt.Sub(want); d < -2*time.Second || d > 2*time.Second {
			t.Fatalf("next attempt %v, want about %v", st.NextAttempt, want)
		}
	}

	// Storage: private keys 0600 in a 0700 folder.
	folder := filepath.Join(dir, folderName(p.dirURL))
	for f, mode := range map[string]os.FileMode{folder: 0o700, folder + "/account.key": 0o600, folder + "/a.example.test.key": 0o600, folder + "/a.example.test.crt": 0o644} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v, want mode %v", f, fi, err, mode)
		}
	}

	// A restart serves the stored certificates at once, before any CA contact.
	stop()
	s2 := newSite(t)
	p2 := &pebble{dirURL: p.dirURL, client: p.client, roots: p.roots}
	if _, err := NewACME(ACMEConfig{Domains: domains, Dir: dir, Directory: p2.dirURL}, s2.store, p.client); err != nil {
		t.Fatal(err)
	}
	if got := s2.verifyServed(t, p2, "a.example.test"); !got.Equal(leafA) {
		t.Fatal("restart did not serve the stored certificate")
	}
}

func TestACMEPebbleTLSALPN01(t *testing.T) {
	s := newSite(t)
	s.failHTTP.Store(true) // prove HTTP-01 is not what succeeds
	p := startPebble(t, s, 3600)
	s.start(t, p, ACMEConfig{Domains: []string{"alpn.example.test"}, Challenges: []string{ChallengeTLSALPN01}})
	if r := s.next(t); r.err != nil {
		t.Fatalf("obtain: %v", r.err)
	}
	if s.alpnHits.Load() == 0 {
		t.Fatal("no acme-tls/1 handshake was answered")
	}
	s.verifyServed(t, p, "alpn.example.test")
	// The challenge certificate is withdrawn after validation.
	if s.store.alpn.Load() != nil {
		t.Fatal("TLS-ALPN-01 certificate left behind")
	}
}

// TestACMEPebbleRenews lets Pebble issue 6-second certificates and checks that
// the default policy renews each at 2/3 of its lifetime, with the old
// certificate served without a gap until the new one is in.
func TestACMEPebbleRenews(t *testing.T) {
	s := newSite(t)
	p := startPebble(t, s, 6)
	s.start(t, p, ACMEConfig{Domains: []string{"renew.example.test"}, Challenges: []string{ChallengeHTTP01}})
	first := s.next(t)
	if first.err != nil {
		t.Fatal(first.err)
	}
	// Watch what is served while the renewal runs.
	var gaps atomic.Int64
	var served sync.Map
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stopWatch:
				return
			default:
			}
			c, err := s.store.GetCertificate(&tls.ClientHelloInfo{ServerName: "renew.example.test"})
			if err != nil {
				gaps.Add(1)
			} else {
				served.Store(c.Leaf.SerialNumber.Text(16), true)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	second := s.next(t)
	close(stopWatch)
	<-watched
	if second.err != nil {
		t.Fatal(second.err)
	}
	if second.info.Serial == first.info.Serial {
		t.Fatal("renewal returned the same certificate")
	}
	due := renewTime(first.info.NotBefore, first.info.NotAfter, DefaultRenewAt)
	if second.at.Before(due) {
		t.Fatalf("renewed at %v, before 2/3 of the lifetime (%v)", second.at, due)
	}
	if gaps.Load() != 0 {
		t.Fatalf("%d lookups found no certificate during renewal", gaps.Load())
	}
	if _, ok := served.Load(first.info.Serial); !ok {
		t.Fatal("the old certificate was not served while the renewal ran")
	}
	if got := s.verifyServed(t, p, "renew.example.test"); got.SerialNumber.Text(16) != second.info.Serial {
		t.Fatal("the renewed certificate is not served")
	}
}

// TestACMEPebbleBackoff renews early, makes every validation fail, and checks
// the bounded exponential backoff, the old certificate kept, and recovery.
func TestACMEPebbleBackoff(t *testing.T) {
	s := newSite(t)
	p := startPebble(t, s, 3600)
	const retryMin, retryMax = 150 * time.Millisecond, 600 * time.Millisecond
	m, _ := s.start(t, p, ACMEConfig{
		Domains: []string{"flaky.example.test"}, Challenges: []string{ChallengeHTTP01},
		RenewAt:  0.0005, // renew 1.8s after issuance
		RetryMin: retryMin, RetryMax: retryMax,
	})
	first := s.next(t)
	if first.err != nil {
		t.Fatal(first.err)
	}
	s.failHTTP.Store(true)
	var fails []report
	for len(fails) < 4 {
		r := s.next(t)
		if r.err == nil {
			t.Fatal("renewal succeeded while validation was failing")
		}
		fails = append(fails, r)
		if got := s.verifyServed(t, p, "flaky.example.test"); got.SerialNumber.Text(16) != first.info.Serial {
			t.Fatal("old certificate not kept after a failed renewal")
		}
	}
	// The wait before attempt n+1 is at least backoff(n): 150ms, 300ms, 600ms, 600ms.
	for i := 1; i < len(fails); i++ {
		want := min(retryMin<<(i-1), retryMax)
		if gap := fails[i].at.Sub(fails[i-1].at); gap < want {
			t.Fatalf("failure %d came %v after the previous one, want >= %v", i+1, gap, want)
		}
	}
	st := m.Status()[0]
	if st.Failures < 4 || !strings.Contains(st.LastError, "http-01") || st.NotAfter != first.info.NotAfter {
		t.Fatalf("Status after failures: %+v", st)
	}
	s.failHTTP.Store(false)
	var ok report
	for ok = s.next(t); ok.err != nil; ok = s.next(t) {
	}
	if ok.info.Serial == first.info.Serial {
		t.Fatal("recovery returned the old certificate")
	}
	if st := m.Status()[0]; st.Failures != 0 || st.LastError != "" {
		t.Fatalf("Status after recovery: %+v", st)
	}
}

// TestACMEPebbleProfile asks for a named issuance profile and an RSA key.
func TestACMEPebbleProfile(t *testing.T) {
	s := newSite(t)
	p := startPebbleProfiles(t, s, map[string]ca.Profile{
		"long":  {Description: "long", ValidityPeriod: 90 * 24 * 3600},
		"short": {Description: "short", ValidityPeriod: 600},
	})
	s.start(t, p, ACMEConfig{Domains: []string{"p.example.test"}, Challenges: []string{ChallengeHTTP01}, CAProfile: "short", KeyType: "rsa"})
	r := s.next(t)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if life := r.info.NotAfter.Sub(r.info.NotBefore); life > 10*time.Minute {
		t.Fatalf("lifetime %v: profile \"short\" not used", life)
	}
	if r.info.KeyType != "RSA 2048" {
		t.Fatalf("key type %q", r.info.KeyType)
	}
	s.verifyServed(t, p, "p.example.test")

	// A profile the CA does not offer is a reported failure.
	s2 := newSite(t)
	p2 := startPebbleProfiles(t, s2, map[string]ca.Profile{"only": {ValidityPeriod: 600}})
	s2.start(t, p2, ACMEConfig{Domains: []string{"q.example.test"}, CAProfile: "missing", RetryMin: time.Hour, RetryMax: time.Hour})
	if r := s2.next(t); r.err == nil || !strings.Contains(r.err.Error(), "missing") {
		t.Fatalf("unknown profile: %v", r.err)
	}
}
