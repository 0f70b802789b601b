package certs

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestNewTLSConfigDefaults(t *testing.T) {
	s := mustStore(t, nil)
	cfg, err := NewTLSConfig(Profile{}, s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.NoClientCert || !slices.Equal(cfg.NextProtos, []string{"http/1.1"}) {
		t.Fatalf("defaults: min %x auth %v alpn %v", cfg.MinVersion, cfg.ClientAuth, cfg.NextProtos)
	}
	want := []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	if !slices.Equal(cfg.CipherSuites, want) {
		t.Fatalf("ciphers: %v", cfg.CipherSuites)
	}
	if !slices.Equal(cfg.CurvePreferences, []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}) {
		t.Fatalf("curves: %v", cfg.CurvePreferences)
	}
}

func TestNewTLSConfigErrors(t *testing.T) {
	s := mustStore(t, nil)
	ca := newTestCA(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, caFile, ca.pem)
	notCA := filepath.Join(t.TempDir(), "x.pem")
	writeFile(t, notCA, []byte("nothing here"))

	f := func(p Profile, want error, key string) {
		t.Helper()
		_, err := NewTLSConfig(p, s)
		if !errors.Is(err, want) {
			t.Fatalf("NewTLSConfig(%+v): got %v, want %v", p, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), key) {
			t.Fatalf("NewTLSConfig(%+v): error %q does not name %q", p, err, key)
		}
	}
	f(Profile{MinVersion: "1.3"}, nil, "")
	f(Profile{MinVersion: "1.1"}, ErrConfig, "min_version")
	f(Profile{MinVersion: "1.0"}, ErrConfig, "min_version")
	f(Profile{MinVersion: "TLS1.2"}, ErrConfig, "min_version")
	f(Profile{Ciphers: []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}}, nil, "")
	f(Profile{Ciphers: []string{"ECDHE-RSA-AES128-GCM-SHA256"}}, ErrConfig, "ECDHE-RSA-AES128-GCM-SHA256")
	f(Profile{Ciphers: []string{"TLS_RSA_WITH_RC4_128_SHA"}}, ErrConfig, "insecure")
	f(Profile{Ciphers: []string{"TLS_AES_128_GCM_SHA256"}}, ErrConfig, "TLS 1.3")
	f(Profile{ClientAuth: "require"}, ErrConfig, "client_ca")
	f(Profile{ClientAuth: "optional"}, ErrConfig, "client_ca")
	f(Profile{ClientAuth: "maybe", ClientCA: caFile}, ErrConfig, "client_auth")
	f(Profile{ClientAuth: "none", ClientCA: caFile}, ErrConfig, "client_auth")
	f(Profile{ClientCA: notCA}, ErrNoCertificate, notCA)
	f(Profile{ClientCA: caFile + ".missing"}, fs.ErrNotExist, "client_ca")
	f(Profile{ClientCA: caFile}, nil, "")
}

func TestVersionsAndALPN(t *testing.T) {
	ca := newTestCA(t)
	p, _ := ca.writePair(t, t.TempDir(), "v", leafOpts{names: []string{"v.test"}})
	s := mustStore(t, []Pair{p})
	cfg12, _ := NewTLSConfig(Profile{}, s)
	cfg13, _ := NewTLSConfig(Profile{MinVersion: "1.3"}, s)
	addr12, addr13 := serve(t, cfg12), serve(t, cfg13)
	client := func(max uint16, alpn ...string) *tls.Config {
		return &tls.Config{ServerName: "v.test", RootCAs: ca.pool(), MaxVersion: max, NextProtos: alpn}
	}
	st, err := dial(t, addr12, client(0, "h2", "http/1.1"))
	if err != nil || st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("TLS 1.3 + ALPN: %v %x %q", err, st.Version, st.NegotiatedProtocol)
	}
	if st, err = dial(t, addr12, client(tls.VersionTLS12)); err != nil || st.Version != tls.VersionTLS12 {
		t.Fatalf("TLS 1.2: %v", err)
	}
	if _, err = dial(t, addr13, client(tls.VersionTLS12)); err == nil {
		t.Fatal("min_version 1.3 accepted a TLS 1.2 client")
	}
	if _, err = dial(t, addr12, client(tls.VersionTLS11)); err == nil {
		t.Fatal("TLS 1.1 client accepted")
	}
	// A client that offers only a protocol we do not speak is refused (RFC 7301 §3.2),
	// and "acme-tls/1" is not spoken outside a pending challenge.
	if _, err = dial(t, addr12, client(0, "h2")); err == nil {
		t.Fatal("ALPN h2-only client accepted")
	}
	if _, err = dial(t, addr12, client(0, ALPNACME)); err == nil {
		t.Fatal("acme-tls/1 negotiated without a pending challenge")
	}
	if st, err = dial(t, addr12, client(0)); err != nil || st.NegotiatedProtocol != "" {
		t.Fatalf("no ALPN: %v %q", err, st.NegotiatedProtocol)
	}
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	p, _ := ca.writePair(t, dir, "srv", leafOpts{names: []string{"admin.test"}})
	s := mustStore(t, []Pair{p})
	clientCA := newTestCA(t)
	caFile := filepath.Join(dir, "clients.pem")
	writeFile(t, caFile, clientCA.pem)

	good, goodKey, _ := clientCA.issue(t, leafOpts{client: true})
	goodCert, err := tls.X509KeyPair(good, goodKey)
	if err != nil {
		t.Fatal(err)
	}
	bad, badKey, _ := newTestCA(t).issue(t, leafOpts{client: true})
	badCert, _ := tls.X509KeyPair(bad, badKey)

	require, err := NewTLSConfig(Profile{ClientCA: caFile}, s)
	if err != nil {
		t.Fatal(err)
	}
	optional, err := NewTLSConfig(Profile{ClientCA: caFile, ClientAuth: "optional"}, s)
	if err != nil {
		t.Fatal(err)
	}
	addrReq, addrOpt := serve(t, require), serve(t, optional)

	f := func(addr string, cert *tls.Certificate, max uint16, wantOK bool) {
		t.Helper()
		c := &tls.Config{ServerName: "admin.test", RootCAs: ca.pool(), MaxVersion: max}
		if cert != nil {
			c.Certificates = []tls.Certificate{*cert}
		}
		st, err := dial(t, addr, c)
		if (err == nil) != wantOK {
			t.Fatalf("addr %s cert %v max %x: err %v, want ok=%v", addr, cert != nil, max, err, wantOK)
		}
		if err == nil && cert != nil && len(st.PeerCertificates) == 0 {
			t.Fatal("no server certificate")
		}
	}
	for _, max := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		f(addrReq, &goodCert, max, true)
		f(addrReq, nil, max, false)
		f(addrReq, &badCert, max, false)
		f(addrOpt, &goodCert, max, true)
		f(addrOpt, nil, max, true)
		f(addrOpt, &badCert, max, false)
	}
}

// TestConfigTOML decodes the [tls] table proposed in docs/TLS.md.
func TestConfigTOML(t *testing.T) {
	const doc = `
[tls]
min_version = "1.3"
ciphers = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
client_ca = "ca.pem"
client_auth = "optional"
reload_check = "10s"
session_ticket_rotate = "6h"
session_ticket_keys = 4
session_ticket_key_file = "/etc/loopgate/tickets.keys"
acme_domains = ["example.com", "www.example.com"]
acme_email = "ops@example.com"
acme_directory = "https://acme-staging-v02.api.letsencrypt.org/directory"
acme_dir = "/var/lib/loopgate/acme"
acme_challenges = ["http-01"]
acme_renew_at = 0.5
acme_profile = "shortlived"
acme_retry_max = "1h"

[[tls.cert]]
cert = "a.pem"
key = "a-key.pem"
default = true

[[tls.cert]]
cert = "b.pem"
key = "b-key.pem"
`
	var v struct {
		TLS Config `toml:"tls"`
	}
	md, err := toml.Decode(doc, &v)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("undecoded keys: %v", u)
	}
	c := v.TLS
	if c.MinVersion != "1.3" || len(c.Ciphers) != 1 || c.ClientCA != "ca.pem" || c.ClientAuth != "optional" ||
		c.ReloadCheck != 10*time.Second || c.Rotate != 6*time.Hour || c.Keys != 4 || c.KeyFile != "/etc/loopgate/tickets.keys" ||
		!c.ACMEEnabled() || c.Domains[1] != "www.example.com" || c.Email != "ops@example.com" || c.Dir != "/var/lib/loopgate/acme" ||
		c.Challenges[0] != "http-01" || c.RenewAt != 0.5 || c.CAProfile != "shortlived" || c.RetryMax != time.Hour ||
		len(c.Certs) != 2 || !c.Certs[0].Default || c.Certs[1].Key != "b-key.pem" {
		t.Fatalf("decoded: %+v", c)
	}
}
