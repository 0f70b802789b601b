package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestACMEConfigErrors(t *testing.T) {
	dir := t.TempDir()
	f := func(c ACMEConfig, key string) {
		t.Helper()
		if c.Dir == "-" {
			c.Dir = ""
		} else if c.Dir == "" {
			c.Dir = dir
		}
		_, err := NewACME(c, mustStore(t, nil), nil)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), key) {
			t.Fatalf("NewACME(%+v): %v; want ErrConfig naming %q", c, err, key)
		}
	}
	d := []string{"ok.example.com"}
	f(ACMEConfig{}, "acme_domains")
	f(ACMEConfig{Domains: []string{"*.example.com"}}, "DNS-01")
	f(ACMEConfig{Domains: []string{"192.0.2.1"}}, "IP")
	f(ACMEConfig{Domains: []string{"a..example.com"}}, "acme_domains")
	f(ACMEConfig{Domains: []string{"-a.example.com"}}, "acme_domains")
	f(ACMEConfig{Domains: []string{"a_b.example.com"}}, "acme_domains")
	f(ACMEConfig{Domains: []string{strings.Repeat("a", 64) + ".com"}}, "acme_domains")
	f(ACMEConfig{Domains: []string{"a.example.com", "A.example.com"}}, "twice")
	f(ACMEConfig{Domains: d, Dir: "-"}, "acme_dir")
	f(ACMEConfig{Domains: d, Directory: "http://ca.example/dir"}, "acme_directory")
	f(ACMEConfig{Domains: d, Directory: "::"}, "acme_directory")
	f(ACMEConfig{Domains: d, Challenges: []string{"dns-01"}}, "acme_challenges")
	f(ACMEConfig{Domains: d, KeyType: "dsa"}, "acme_key_type")
	f(ACMEConfig{Domains: d, RenewAt: 1}, "acme_renew_at")
	f(ACMEConfig{Domains: d, RenewAt: -0.5}, "acme_renew_at")
	f(ACMEConfig{Domains: d, RetryMin: time.Hour, RetryMax: time.Minute}, "acme_retry")
	f(ACMEConfig{Domains: d, RetryMin: -time.Second}, "acme_retry")
	f(ACMEConfig{Domains: d, Timeout: -time.Second}, "acme_timeout")
	f(ACMEConfig{Domains: d, DirectoryCA: filepath.Join(dir, "missing.pem")}, "acme_directory_ca")
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, []byte("garbage"))
	f(ACMEConfig{Domains: d, DirectoryCA: garbage}, "acme_directory_ca")

	// Defaults.
	c := ACMEConfig{Domains: []string{"Ok.Example.com."}, Dir: dir}
	if err := c.normalise(); err != nil {
		t.Fatal(err)
	}
	if c.Domains[0] != "ok.example.com" || c.Directory != LetsEncrypt || c.KeyType != "ecdsa" || c.RenewAt != 2.0/3 ||
		c.RetryMin != 5*time.Minute || c.RetryMax != 12*time.Hour || c.Timeout != 10*time.Minute ||
		strings.Join(c.Challenges, ",") != "tls-alpn-01,http-01" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestBackoff(t *testing.T) {
	min, max := time.Minute, 10*time.Minute
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 4: 8 * time.Minute, 5: max, 50: max} {
		for range 20 {
			got := backoff(n, min, max)
			if got < want || got > want+want/10 {
				t.Fatalf("backoff(%d) = %v, want %v plus at most 10%%", n, got, want)
			}
		}
	}
}

func TestRenewTime(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(90 * 24 * time.Hour)
	if got := renewTime(nb, na, DefaultRenewAt); !got.Equal(nb.Add(60 * 24 * time.Hour)) {
		t.Fatalf("renewTime = %v, want day 60", got)
	}
}

func TestHTTPChallengeNil(t *testing.T) {
	var m *ACME
	if ka, ok := m.HTTPChallenge("x"); ok || ka != nil {
		t.Fatal("nil manager answered a token")
	}
}

func TestACMEBrokenStorage(t *testing.T) {
	dir := t.TempDir()
	c := ACMEConfig{Domains: []string{"s.example.test"}, Dir: dir, Directory: "https://127.0.0.1:1/dir"}
	folder := filepath.Join(dir, folderName(c.Directory))
	os.MkdirAll(folder, 0o700)

	// A garbage account key is an error naming the file.
	writeFile(t, filepath.Join(folder, "account.key"), []byte("garbage"))
	if _, err := NewACME(c, mustStore(t, nil), nil); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "account.key") {
		t.Fatalf("garbage account key: %v", err)
	}
	os.Remove(filepath.Join(folder, "account.key"))

	// A stored certificate that is unusable, expired or for another name is not
	// served, and the reason shows in Status.
	ca := newTestCA(t)
	f := func(o leafOpts, certBytes []byte, want string) {
		t.Helper()
		cp, kp, _ := ca.issue(t, o)
		if certBytes != nil {
			cp = certBytes
		}
		writeFile(t, filepath.Join(folder, "s.example.test.crt"), cp)
		writeFile(t, filepath.Join(folder, "s.example.test.key"), kp)
		s := mustStore(t, nil)
		m, err := NewACME(c, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Info()) != 0 {
			t.Fatal("unusable stored certificate served")
		}
		if st := m.Status()[0]; !strings.Contains(st.LastError, want) {
			t.Fatalf("Status: %+v; want an error containing %q", st, want)
		}
	}
	f(leafOpts{names: []string{"s.example.test"}}, []byte("garbage"), "no PEM CERTIFICATE")
	f(leafOpts{names: []string{"other.example.test"}}, nil, "s.example.test")
	f(leafOpts{names: []string{"s.example.test"}, notBefore: time.Now().Add(-2 * time.Hour), notAfter: time.Now().Add(-time.Hour)}, nil, "expired")

	// A good one is served with source "acme".
	cp, kp, leaf := ca.issue(t, leafOpts{names: []string{"s.example.test"}})
	writeFile(t, filepath.Join(folder, "s.example.test.crt"), cp)
	writeFile(t, filepath.Join(folder, "s.example.test.key"), kp)
	s := mustStore(t, nil)
	m, err := NewACME(c, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if in := s.Info(); len(in) != 1 || in[0].Source != SourceACME || !in[0].NotAfter.Equal(leaf.NotAfter) {
		t.Fatalf("Info: %+v", in)
	}
	if st := m.Status()[0]; !st.NotAfter.Equal(leaf.NotAfter) || st.LastError != "" {
		t.Fatalf("Status: %+v", st)
	}
}

// TestACMEUnreachableCA checks that a CA that cannot be reached is a reported,
// retried failure, not a crash, and that Run stops with its context.
func TestACMEUnreachableCA(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := ACMEConfig{Domains: []string{"u.example.test"}, Dir: t.TempDir(), Directory: "https://" + addr + "/dir",
		RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond, Timeout: 2 * time.Second}
	m, err := NewACME(c, mustStore(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	m.Report = func(_ string, info *CertInfo, err error) {
		select {
		case errs <- err:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	for range 3 {
		select {
		case err := <-errs:
			if err == nil || !strings.Contains(err.Error(), "cannot register ACME account") {
				t.Fatalf("got %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no retry")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
	if st := m.Status()[0]; st.Failures < 3 {
		t.Fatalf("Status: %+v", st)
	}
}

func TestACMEDirectoryCA(t *testing.T) {
	ca := newTestCA(t)
	file := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, file, ca.pem)
	hc, err := directoryClient(file)
	if err != nil {
		t.Fatal(err)
	}
	// The client trusts a server whose certificate chains to the extra root.
	p, _ := ca.writePair(t, t.TempDir(), "dir", leafOpts{names: []string{"127.0.0.1"}})
	s := mustStore(t, []Pair{p})
	cfg, _ := NewTLSConfig(Profile{}, s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveHTTPS(ln, cfg)
	res, err := hc.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatalf("GET with acme_directory_ca: %v", err)
	}
	res.Body.Close()
	if _, err := directoryClient(file + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing CA file: %v", err)
	}
}

func serveHTTPS(ln net.Listener, cfg *tls.Config) {
	srv := &http.Server{TLSConfig: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	srv.ServeTLS(ln, "", "")
}
