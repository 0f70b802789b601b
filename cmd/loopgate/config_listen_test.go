package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for localhost and its key to dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	return writeNamedCert(t, dir, "localhost", "localhost", 1)
}

func TestTOMLListeners(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	in := `[[listener]]
address = "0.0.0.0:8080"
redirect_https = true
https_port = 8443

[[listener]]
address = "127.0.0.1:8443"
tls = true
cert_file = "` + cert + `"
key_file = "` + key + `"

[server]
max_tls_handshakes = 64

[timeouts]
tls_handshake = "3s"
` + minimal
	c, err := parse("c.toml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Engine
	if len(e.Listeners) != 2 || e.Listen != "0.0.0.0:8080" {
		t.Fatalf("listeners %+v, listen %q", e.Listeners, e.Listen)
	}
	l0, l1 := e.Listeners[0], e.Listeners[1]
	if l0.TLS != nil || !l0.RedirectHTTPS || l0.HTTPSPort != 8443 {
		t.Fatalf("listener 0: %+v", l0)
	}
	// A TLS listener's pair joins [tls]'s certificates; the app gives it
	// the store's tls.Config when it starts (tls.go).
	if l1.TLS != nil || !c.listenerTLS[1] || c.listenerTLS[0] || l1.RedirectHTTPS || l1.Address != "127.0.0.1:8443" ||
		len(c.TLS.Certs) != 1 || c.TLS.Certs[0].Cert != cert || c.TLS.Certs[0].Key != key {
		t.Fatalf("listener 1: %+v, tls %v, certs %+v", l1, c.listenerTLS, c.TLS.Certs)
	}
	if e.MaxTLSHandshakes != 64 || e.Timeouts.TLSHandshake != 3*time.Second {
		t.Fatalf("max_tls_handshakes %d, tls_handshake %v", e.MaxTLSHandshakes, e.Timeouts.TLSHandshake)
	}

	// Without [[listener]], [server] listen is the one plain listener.
	c, err = parse("c.toml", []byte(minimal))
	if err != nil || len(c.Engine.Listeners) != 0 || c.Engine.Listen != "0.0.0.0:8080" {
		t.Fatalf("no listeners: %+v %v", c.Engine.Listeners, err)
	}
}

func TestTOMLListenerErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	f := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", in+minimal, kind, want...)
	}
	f("[server]\nlisten = \"0.0.0.0:80\"\n[[listener]]\naddress = \"0.0.0.0:81\"\n", ErrValue, "c.toml:2: server.listen:")
	f("[[listener]]\naddress = \"0.0.0.0:81\"\n[[listener]]\naddress = \"0.0.0.0:81\"\n", ErrDuplicate, "c.toml:4: listener[1].address:")
	f("[[listener]]\nredirect_https = true\n", ErrMissing, "c.toml:1: listener[0].address:")
	f("[[listener]]\naddress = \"nope\"\n", ErrValue, "c.toml:2: listener[0].address:")
	f("[[listener]]\naddress = \":443\"\ntls = true\n", ErrMissing, "c.toml:3: listener[0].tls:")
	f("[[listener]]\naddress = \":443\"\ntls = true\ncert_file = \""+cert+"\"\n", ErrMissing, "c.toml:4: listener[0].cert_file:")
	f("[[listener]]\naddress = \":443\"\ntls = true\ncert_file = \""+cert+"\"\nkey_file = \""+filepath.Join(dir, "missing.pem")+"\"\n",
		ErrValue, "c.toml:4: listener[0].cert_file:")
	f("[[listener]]\naddress = \":443\"\ntls = true\ncert_file = \""+cert+"\"\nkey_file = \""+cert+"\"\n",
		ErrValue, "c.toml:4: listener[0].cert_file:")
	f("[[listener]]\naddress = \":443\"\ntls = true\nredirect_https = true\ncert_file = \""+cert+"\"\nkey_file = \""+key+"\"\n",
		ErrValue, "c.toml:4: listener[0].redirect_https:")
	f("[[listener]]\naddress = \":80\"\ncert_file = \""+cert+"\"\n", ErrValue, "c.toml:1: listener[0].tls:")
	f("[[listener]]\naddress = \":80\"\nhttps_port = 8443\n", ErrValue, "c.toml:3: listener[0].https_port:")
	f("[[listener]]\naddress = \":80\"\nredirect_https = true\nhttps_port = 70000\n", ErrValue, "c.toml:4: listener[0].https_port:")
	f("[[listener]]\naddress = \":80\"\ntsl = true\n", ErrUnknown, "c.toml:3: listener[0].tsl:")
	f("[[listener]]\naddress = \":80\"\ntls = \"yes\"\n", ErrType, "c.toml:3: listener[0].tls:")
	f("[timeouts]\ntls_handshake = 5\n", ErrType, "c.toml:2: timeouts.tls_handshake:")
	f("[server]\nmax_tls_handshakes = -1\n", ErrValue, "c.toml:2: server.max_tls_handshakes:")
}

// TestServeListeners runs loopgate from a config with a redirecting plain
// listener and a TLS listener: https reaches the backend with
// X-Forwarded-Proto https, http is redirected, and the startup log names
// both listeners.
func TestServeListeners(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Header.Get("X-Forwarded-Proto"), r.URL.RequestURI())
	}))
	defer backend.Close()
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	plain, secure := free(), free()
	_, securePort, _ := net.SplitHostPort(secure)
	in := fmt.Sprintf(`[server]
event_loops = 1
shutdown_grace = "2s"
access_log = false

[admin]
listen = ""

[[listener]]
address = %q
redirect_https = true
https_port = %s

[[listener]]
address = %q
tls = true
cert_file = %q
key_file = %q

[[pool]]
name = "web"
  [[pool.backend]]
  address = %q
`, plain, securePort, secure, certFile, keyFile, strings.TrimPrefix(backend.URL, "http://"))
	cfg, err := parse(filepath.Join(dir, "c.toml"), []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, filepath.Join(dir, "c.toml"), log, io.Discard, func() {}) }()

	pem, _ := os.ReadFile(certFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var resp *http.Response
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err = client.Get("https://" + secure + "/a?b=1")
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET over https: %v\nlogs:\n%s", err, logs.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "https /a?b=1" {
		t.Fatalf("over https: %q", body)
	}
	resp, err = client.Get("http://" + plain + "/a?b=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://127.0.0.1:" + securePort + "/a?b=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Fatalf("over http: %d %q; want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
	for _, want := range []string{"address=" + plain + " tls=false redirect_https=true", "address=" + secure + " tls=true"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("logs lack %q:\n%s", want, logs.String())
		}
	}
}
