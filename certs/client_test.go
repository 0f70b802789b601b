package certs

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

func TestNewClientConfigDefaults(t *testing.T) {
	cfg, err := NewClientConfig(Client{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InsecureSkipVerify || cfg.RootCAs != nil || cfg.ServerName != "" || len(cfg.Certificates) != 0 {
		t.Fatalf("zero Client: skip verify %v, roots %v, server name %q, %d certificates; want verification against the system's roots",
			cfg.InsecureSkipVerify, cfg.RootCAs, cfg.ServerName, len(cfg.Certificates))
	}
	if cfg.MinVersion != tls.VersionTLS12 || !slices.Equal(cfg.NextProtos, []string{ALPNHTTP1}) {
		t.Fatalf("zero Client: min %x, ALPN %q; want TLS 1.2 and http/1.1", cfg.MinVersion, cfg.NextProtos)
	}
	if cfg.ClientSessionCache == nil {
		t.Fatal("zero Client: no session cache; sessions are resumed by default")
	}

	on, off := true, false
	f := func(c Client, check func(*tls.Config) bool) {
		t.Helper()
		cfg, err := NewClientConfig(c)
		if err != nil || !check(cfg) {
			t.Fatalf("NewClientConfig(%+v): %+v, %v", c, cfg, err)
		}
	}
	f(Client{SessionReuse: &off}, func(c *tls.Config) bool { return c.ClientSessionCache == nil })
	f(Client{SessionReuse: &on}, func(c *tls.Config) bool { return c.ClientSessionCache != nil })
	f(Client{Verify: &off}, func(c *tls.Config) bool { return c.InsecureSkipVerify })
	f(Client{Verify: &on}, func(c *tls.Config) bool { return !c.InsecureSkipVerify })
	f(Client{MinVersion: "1.2"}, func(c *tls.Config) bool { return c.MinVersion == tls.VersionTLS12 })
	f(Client{MinVersion: "1.3"}, func(c *tls.Config) bool { return c.MinVersion == tls.VersionTLS13 })
	f(Client{ServerName: "api.internal"}, func(c *tls.Config) bool { return c.ServerName == "api.internal" })
	f(Client{ServerName: "10.0.0.7"}, func(c *tls.Config) bool { return c.ServerName == "10.0.0.7" })
	f(Client{ServerName: "svc_a.internal"}, func(c *tls.Config) bool { return c.ServerName == "svc_a.internal" })

	// Two configs never share a cache: each pool resumes its own sessions.
	a, _ := NewClientConfig(Client{})
	b, _ := NewClientConfig(Client{})
	if a.ClientSessionCache == b.ClientSessionCache {
		t.Fatal("two configs share one session cache")
	}
}

func TestNewClientConfigFiles(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, ca.pem)
	p, _ := ca.writePair(t, dir, "client", leafOpts{client: true})

	cfg, err := NewClientConfig(Client{CA: caFile, Cert: p.Cert, Key: p.Key})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || !cfg.RootCAs.Equal(ca.pool()) {
		t.Fatal("ca: the pool does not hold the file's CA")
	}
	if len(cfg.Certificates) != 1 {
		t.Fatalf("cert and key: %d certificates; want 1", len(cfg.Certificates))
	}
}

func TestNewClientConfigErrors(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, ca.pem)
	notCA := filepath.Join(dir, "not-ca.pem")
	writeFile(t, notCA, []byte("nothing here"))
	p, _ := ca.writePair(t, dir, "client", leafOpts{client: true})
	other, _ := ca.writePair(t, dir, "other", leafOpts{client: true})
	off := false

	f := func(c Client, want error, key string) {
		t.Helper()
		cfg, err := NewClientConfig(c)
		if !errors.Is(err, want) || !errors.Is(err, ErrConfig) {
			t.Fatalf("NewClientConfig(%+v): got %v; want %v and %v", c, err, ErrConfig, want)
		}
		if cfg != nil {
			t.Fatalf("NewClientConfig(%+v): a config with the error %v", c, err)
		}
		if !strings.Contains(err.Error(), key) {
			t.Fatalf("NewClientConfig(%+v): error %q does not name %q", c, err, key)
		}
	}
	f(Client{CA: filepath.Join(dir, "missing.pem")}, fs.ErrNotExist, "ca")
	f(Client{CA: notCA}, ErrNoCertificate, "ca")
	f(Client{CA: caFile, Verify: &off}, ErrConfig, "ca")
	f(Client{Cert: p.Cert}, ErrConfig, "cert")
	f(Client{Key: p.Key}, ErrConfig, "key")
	f(Client{Cert: p.Cert, Key: filepath.Join(dir, "missing-key.pem")}, fs.ErrNotExist, "cert and key")
	f(Client{Cert: p.Cert, Key: other.Key}, ErrConfig, "cert and key") // a key of another certificate
	f(Client{Cert: p.Key, Key: p.Key}, ErrConfig, "cert and key")      // no certificate in the file
	f(Client{MinVersion: "1.1"}, ErrConfig, "min_version")
	f(Client{MinVersion: "1.0"}, ErrConfig, "min_version")
	f(Client{MinVersion: "TLSv1.3"}, ErrConfig, "min_version")
	for _, name := range []string{"https://x", "x:443", "a b", "*.example.com", ".x", "x."} {
		f(Client{ServerName: name}, ErrConfig, "server_name")
	}
}

func TestForAddr(t *testing.T) {
	base, err := NewClientConfig(Client{})
	if err != nil {
		t.Fatal(err)
	}
	f := func(cfg *tls.Config, addr, want string) {
		t.Helper()
		c := ForAddr(cfg, addr)
		if c == cfg || c.ServerName != want {
			t.Fatalf("ForAddr(%q): server name %q (the shared config: %v); want a copy naming %q", addr, c.ServerName, c == cfg, want)
		}
		if s, ok := c.ClientSessionCache.(addrSessions); !ok || s.cache != cfg.ClientSessionCache || s.addr != addr {
			t.Fatalf("ForAddr(%q): session cache %#v; want the pool's, under the address", addr, c.ClientSessionCache)
		}
	}
	f(base, "api.internal:8443", "api.internal")
	f(base, "127.0.0.1:443", "127.0.0.1")
	f(base, "[::1]:443", "::1")
	f(base, "api.internal", "api.internal") // no port: the address is the host
	if base.ServerName != "" {
		t.Fatalf("ForAddr changed the shared config's server name to %q", base.ServerName)
	}
	named, err := NewClientConfig(Client{ServerName: "api.internal"})
	if err != nil {
		t.Fatal(err)
	}
	f(named, "10.0.0.7:443", "api.internal")

	// Two backends with one name keep their sessions apart.
	s := &tls.ClientSessionState{}
	ForAddr(named, "10.0.0.7:443").ClientSessionCache.Put("api.internal", s)
	if got, ok := ForAddr(named, "10.0.0.8:443").ClientSessionCache.Get("api.internal"); ok || got != nil {
		t.Fatal("a backend was offered another backend's session")
	}
	if got, ok := ForAddr(named, "10.0.0.7:443").ClientSessionCache.Get("api.internal"); !ok || got != s {
		t.Fatal("a backend's session was not kept for it")
	}
	off := false
	if c := ForAddr(mustClient(t, Client{SessionReuse: &off}), "10.0.0.7:443"); c.ClientSessionCache != nil {
		t.Fatal("session_reuse = false: a session cache")
	}
}

// A backend dialed by IP address is verified against its certificate's IP
// addresses and gets no SNI (RFC 6066 §3); one dialed by name gets the name.
// Copies from ForAddr resume each other's sessions, unless session_reuse
// is off.
func TestForAddrHandshake(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, ca.pem)
	certPEM, keyPEM, _ := ca.issue(t, leafOpts{names: []string{"127.0.0.1", "backend.test"}})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	var sni atomic.Value
	addr := serve(t, &tls.Config{NextProtos: []string{ALPNHTTP1}, GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		sni.Store(h.ServerName)
		return &pair, nil
	}})

	cfg, err := NewClientConfig(Client{CA: caFile})
	if err != nil {
		t.Fatal(err)
	}
	st, err := dial(t, addr, ForAddr(cfg, addr))
	if err != nil {
		t.Fatalf("by IP address: %v", err)
	}
	if got := sni.Load(); got != "" || st.DidResume || st.NegotiatedProtocol != ALPNHTTP1 {
		t.Fatalf("by IP address: SNI %q, resumed %v, ALPN %q; want no SNI, a full handshake, http/1.1", got, st.DidResume, st.NegotiatedProtocol)
	}
	if st, err = dial(t, addr, ForAddr(cfg, addr)); err != nil || !st.DidResume {
		t.Fatalf("second dial through a new copy: resumed %v, %v; want resumed", st.DidResume, err)
	}

	named, err := NewClientConfig(Client{CA: caFile, ServerName: "backend.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = dial(t, addr, ForAddr(named, addr)); err != nil || sni.Load() != "backend.test" {
		t.Fatalf("server_name: SNI %q, %v; want backend.test", sni.Load(), err)
	}

	wrong, err := NewClientConfig(Client{CA: caFile, ServerName: "other.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = dial(t, addr, ForAddr(wrong, addr)); err == nil {
		t.Fatal("a certificate without the server name was accepted")
	}
	if _, err = dial(t, addr, ForAddr(mustClient(t, Client{}), addr)); err == nil {
		t.Fatal("a certificate of a CA outside the system's roots was accepted")
	}
	off := false
	if _, err = dial(t, addr, ForAddr(mustClient(t, Client{Verify: &off, ServerName: "other.test"}), addr)); err != nil {
		t.Fatalf("verify = false: %v; want any certificate accepted", err)
	}

	noReuse := mustClient(t, Client{CA: caFile, SessionReuse: &off})
	for i := range 2 {
		if st, err = dial(t, addr, ForAddr(noReuse, addr)); err != nil || st.DidResume {
			t.Fatalf("session_reuse = false, dial %d: resumed %v, %v; want a full handshake", i, st.DidResume, err)
		}
	}
}

func mustClient(t *testing.T, c Client) *tls.Config {
	t.Helper()
	cfg, err := NewClientConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
