package main

// The promise, end to end: two lines of [tls] (acme_domains and
// acme_dir) and loopgate gets its certificate from an ACME CA and serves it.
// The CA is Pebble, Let's Encrypt's test server, in-process on 127.0.0.1,
// with a DNS server of ours resolving every name to 127.0.0.1; it validates
// HTTP-01 against loopgate's plain listener, or TLS-ALPN-01 against its TLS one.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"loopgate/internal/pebbletest"
)

func TestACMEThroughLoopgate(t *testing.T) {
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) { acmeThroughLoopgate(t, challenge) })
	}
}

// acmeThroughLoopgate gets a certificate validated with challenge: HTTP-01
// on the plain listener, or TLS-ALPN-01 (RFC 8737) on the TLS one.
func acmeThroughLoopgate(t *testing.T, challenge string) {
	b := startTestBackend(t, "b", 0)
	dir := t.TempDir()
	plain, secure := freeAddr(t), freeAddr(t)
	portOf := func(addr string) int { _, p, _ := net.SplitHostPort(addr); n, _ := strconv.Atoi(p); return n }

	// Pebble: HTTP-01 is validated on the plain listener's port, TLS-ALPN-01
	// on the TLS one's.
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: 3600}})
	vaImpl := va.New(logger, portOf(plain), portOf(secure), false, pebbletest.LocalDNS(t), store)
	front := wfe.New(logger, store, vaImpl, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	dirSrv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(dirSrv.Close)
	dirCA := filepath.Join(dir, "pebble-https.pem")
	os.WriteFile(dirCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dirSrv.Certificate().Raw}), 0o600)

	path := writeConfig(t, dir, "loopgate.toml", fmt.Sprintf(`
[admin]
listen = %q

[tls]
acme_domains = ["shop.test"]
acme_dir = %q
acme_directory = %q
acme_directory_ca = %q
acme_challenges = [%q]

[[listener]]
address = %q
redirect_https = true

[[listener]]
address = %q
tls = true

[[pool]]
name = "web"
  [[pool.backend]]
  address = %q
`, freeAddr(t), filepath.Join(dir, "acme"), dirSrv.URL+wfe.DirectoryPath, dirCA, challenge, plain, secure, b.addr))
	r := startApp(t, path)

	roots := x509.NewCertPool()
	roots.AddCert(authority.GetRootCert(0).Cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "shop.test"}}}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err = client.Get("https://" + secure + "/"); err == nil {
			break
		}
	}
	if err != nil {
		code, m := r.call(t, "GET", "/api/tls", "")
		t.Fatalf("no certificate from the ACME CA within 60s: %v\n/api/tls: %d %v", err, code, m)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "b" || resp.TLS.PeerCertificates[0].DNSNames[0] != "shop.test" {
		t.Errorf("over https: %q, certificate for %v", body, resp.TLS.PeerCertificates[0].DNSNames)
	}
	code, m := r.call(t, "GET", "/api/tls", "")
	if list, _ := m["certificates"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["source"] != "acme" {
		t.Errorf("/api/tls: %d %v", code, m)
	}
	// The certificate is on disk: a restart serves it at once.
	if _, err := os.Stat(filepath.Join(dir, "acme")); err != nil {
		t.Errorf("acme_dir: %v", err)
	}
}
