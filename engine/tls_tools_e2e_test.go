package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"loopgate/engine"
)

// TestRedirectHTTPS: a redirecting plain listener answers 308 to the same
// host, path and query over https; a bad Host gets 400; ACME challenges
// are answered on it rather than redirected.
func TestRedirectHTTPS(t *testing.T) {
	rec := startRecorder(t)
	cfg := poolOf(rec.addr())
	cfg.ACMEChallenge = func(token string) ([]byte, bool) {
		if token == "tok-1" {
			return []byte("tok-1.thumbprint"), true
		}
		return nil, false
	}
	_, addrs := startListeners(t, cfg, engine.Listener{RedirectHTTPS: true, HTTPSPort: 8443}, engine.Listener{RedirectHTTPS: true})
	f := func(addr, req string, wantStatus int, wantLocation string) {
		t.Helper()
		c := dial(t, addr)
		r := c.roundTrip("GET", req)
		if r.StatusCode != wantStatus || r.Header.Get("Location") != wantLocation {
			t.Fatalf("%q: got %d Location %q; want %d %q", req, r.StatusCode, r.Header.Get("Location"), wantStatus, wantLocation)
		}
		c.c.Close()
	}
	f(addrs[0], "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: Example.TEST:8080\r\n\r\n", 308, "https://example.test:8443/a/b?x=1&y=%20")
	f(addrs[1], "GET /a/b?x=1 HTTP/1.1\r\nHost: example.test\r\n\r\n", 308, "https://example.test/a/b?x=1")
	f(addrs[1], "POST /form HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n\r\n", 308, "https://example.test/form")
	f(addrs[1], "GET http://other.test/x?q HTTP/1.1\r\nHost: other.test\r\n\r\n", 308, "https://other.test/x?q")
	f(addrs[1], "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 308, "https://[::1]/")
	f(addrs[1], "OPTIONS * HTTP/1.1\r\nHost: example.test\r\n\r\n", 308, "https://example.test/")
	f(addrs[1], "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400, "")
	f(addrs[1], "GET / HTTP/1.0\r\n\r\n", 400, "")
	f(addrs[1], "GET /.well-known/acme-challenge/tok-1 HTTP/1.1\r\nHost: example.test\r\n\r\n", 200, "")
	f(addrs[1], "GET /.well-known/acme-challenge/unknown HTTP/1.1\r\nHost: example.test\r\n\r\n", 308,
		"https://example.test/.well-known/acme-challenge/unknown")
	c := dial(t, addrs[1])
	r := c.roundTrip("GET", "GET /.well-known/acme-challenge/tok-1 HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if r.body != "tok-1.thumbprint" || r.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("ACME answer: %q, %q", r.body, r.Header.Get("Content-Type"))
	}
	if n, got := rec.seen(); n != 0 || got != "" {
		t.Fatalf("the backend got %d connections and %q; want nothing", n, got)
	}
}

// TestACMEOnlyOnPlainListeners: a TLS listener forwards the challenge path
// like any other (TLS-ALPN-01 is the certificate store's, in
// GetCertificate); a plain listener without redirect answers it and
// forwards everything else.
func TestACMEOnlyOnPlainListeners(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	cfg := poolOf(tlsBackend(t))
	cfg.ACMEChallenge = func(token string) ([]byte, bool) { return []byte("auth-" + token), true }
	_, addrs := startListeners(t, cfg, engine.Listener{}, engine.Listener{TLS: c.serverTLS()})
	hc := httpsClient(c)
	get := func(u string) string {
		t.Helper()
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	if got := get("http://" + addrs[0] + "/.well-known/acme-challenge/t1"); got != "auth-t1" {
		t.Fatalf("plain listener: got %q", got)
	}
	if got := get("http://" + addrs[0] + "/other"); !strings.HasPrefix(got, "proto=http ") {
		t.Fatalf("plain listener, other path: got %q", got)
	}
	if got := get("https://" + addrs[1] + "/.well-known/acme-challenge/t1"); !strings.HasPrefix(got, "proto=https ") {
		t.Fatalf("TLS listener: got %q; want it forwarded", got)
	}
}

// TestSchemeVariable: $scheme in a route's header rules says https on a
// TLS listener.
func TestSchemeVariable(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "scheme=%s", r.Header.Get("X-Scheme"))
	}))
	cfg := poolOf(be)
	cfg.Routes = []engine.Route{{Pool: "web", RequestHeaders: engine.HeaderRules{Set: []engine.Field{{Name: "X-Scheme", Value: "$scheme"}}}}}
	cfg.Routes[0].PathPrefix = "/"
	_, addrs := startListeners(t, cfg, engine.Listener{}, engine.Listener{TLS: c.serverTLS()})
	for i, u := range []string{"http://" + addrs[0] + "/", "https://" + addrs[1] + "/"} {
		resp, err := httpsClient(c).Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := []string{"scheme=http", "scheme=https"}[i]
		if string(b) != want {
			t.Fatalf("%s: got %q; want %q", u, b, want)
		}
	}
}

// needTool returns the path of a command-line tool the test drives, or
// skips when it is absent (CI installs it and sets LOOPGATE_REQUIRE_<TOOL>,
// e.g. LOOPGATE_REQUIRE_CURL, which turns the skip into a failure).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		p, err = exec.LookPath("/usr/sbin/" + name) // nginx, for a PATH without sbin
	}
	if err != nil {
		if env := "LOOPGATE_REQUIRE_" + strings.ToUpper(name); os.Getenv(env) != "" {
			t.Fatalf("%s is required (%s) but not found: %v", name, env, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestTLSCurl drives curl over https: keep-alive (several URLs, one
// connection), a 16 MiB upload and download checked by sum, HTTP/1.0.
func TestTLSCurl(t *testing.T) {
	curl := needTool(t, "curl")
	c := newTestCert(t, "ecdsa")
	_, addr := startTLSProxy(t, poolOf(tlsBackend(t)), c)
	certFile, _ := c.files(t)
	_, port, _ := net.SplitHostPort(addr)
	base := "https://localhost:" + port
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 4*ioTimeout)
		defer cancel()
		args = append([]string{"-sS", "--cacert", certFile, "--resolve", "localhost:" + port + ":127.0.0.1"}, args...)
		out, err := exec.CommandContext(ctx, curl, args...).Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("curl %v: %v %s", args, err, stderr)
		}
		return string(out)
	}
	// Keep-alive: three URLs on one connection ("Re-using existing connection" in -v).
	out := run("-w", "\nconnects=%{num_connects} http=%{http_version}\n", base+"/1", base+"/2", base+"/3")
	if n := strings.Count(out, "proto=https"); n != 3 {
		t.Fatalf("keep-alive: %d answers in %q", n, out)
	}
	if strings.Count(out, "connects=1 http=1.1\n") != 1 || strings.Count(out, "connects=0 http=1.1\n") != 2 {
		t.Fatalf("keep-alive: want one connect then reuse over HTTP/1.1: %q", out)
	}
	// 16 MiB up, with its checksum.
	const n = 16 << 20
	dir := t.TempDir()
	up := filepath.Join(dir, "up")
	f, _ := os.Create(up)
	tlsPattern(f, n)
	f.Close()
	if out := run("--data-binary", "@"+up, "-H", "Content-Type: application/octet-stream", base+"/up"); out != fmt.Sprintf("proto=https len=%d sum=%s path=/up", n, tlsPatternSum(n)) {
		t.Fatalf("upload: %q", out)
	}
	// 16 MiB down.
	down := filepath.Join(dir, "down")
	run("-o", down, base+"/big?n="+strconv.Itoa(n))
	b, _ := os.ReadFile(down)
	if sum := sha256.Sum256(b); len(b) != n || hex.EncodeToString(sum[:]) != tlsPatternSum(n) {
		t.Fatalf("download: %d bytes, sum ok %v", len(b), hex.EncodeToString(sum[:]) == tlsPatternSum(n))
	}
	// HTTP/1.0.
	if out := run("--http1.0", base+"/ten"); !strings.HasPrefix(out, "proto=https len=0") {
		t.Fatalf("HTTP/1.0: %q", out)
	}
}

// TestTLSOpenSSLClient checks SNI and ALPN with openssl s_client: the
// certificate for the name asked is served, and ALPN selects http/1.1 when
// the client offers h2 first.
func TestTLSOpenSSLClient(t *testing.T) {
	openssl := needTool(t, "openssl")
	ec, rsa := newTestCert(t, "ecdsa"), newTestCert(t, "rsa")
	cfg := ec.serverTLS()
	// A certificate store in miniature: the RSA certificate for example.test.
	cfg.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if h.ServerName == "example.test" {
			return &rsa.cert, nil
		}
		return &ec.cert, nil
	}
	_, addrs := startListeners(t, poolOf(tlsBackend(t)), engine.Listener{TLS: cfg})
	for _, tc := range []struct{ name, key string }{{"localhost", "id-ecPublicKey"}, {"example.test", "rsaEncryption"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*ioTimeout)
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addrs[0], "-servername", tc.name,
			"-alpn", "h2,http/1.1", "-ign_eof")
		cmd.Stdin = strings.NewReader("GET /ssl HTTP/1.1\r\nHost: " + tc.name + "\r\nConnection: close\r\n\r\n")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("openssl s_client -servername %s: %v\n%s", tc.name, err, out)
		}
		s := string(out)
		if !strings.Contains(s, "ALPN protocol: http/1.1") {
			t.Fatalf("%s: no ALPN http/1.1 in:\n%s", tc.name, s)
		}
		// The certificate served is the one for the name.
		cert := exec.Command(openssl, "x509", "-noout", "-text")
		cert.Stdin = bytes.NewReader(pemBlock(out))
		text, _ := cert.CombinedOutput()
		if !strings.Contains(string(text), tc.key) {
			t.Fatalf("%s: served certificate is not the %s one:\n%s", tc.name, tc.key, text)
		}
		if !strings.Contains(s, "proto=https len=0") {
			t.Fatalf("%s: no answer in:\n%s", tc.name, s)
		}
	}
}

// pemBlock returns the first PEM certificate in s_client's output
// (-showcerts is not needed: it prints the leaf).
func pemBlock(out []byte) []byte {
	i := bytes.Index(out, []byte("-----BEGIN CERTIFICATE-----"))
	j := bytes.Index(out, []byte("-----END CERTIFICATE-----"))
	if i < 0 || j < i {
		return nil
	}
	return out[i : j+len("-----END CERTIFICATE-----\n")]
}

// TestTLSWrk drives wrk over https for a second: every request answered.
func TestTLSWrk(t *testing.T) {
	wrk := needTool(t, "wrk")
	c := newTestCert(t, "ecdsa")
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	_, addr := startTLSProxy(t, poolOf(be), c)
	ctx, cancel := context.WithTimeout(context.Background(), 4*ioTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrk, "-t1", "-c8", "-d1s", "https://"+addr+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	t.Logf("wrk over https:\n%s", s)
	if strings.Contains(s, "Non-2xx") || strings.Contains(s, "Socket errors") {
		t.Fatalf("wrk saw errors:\n%s", s)
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "Requests/sec:" {
			if v, _ := strconv.ParseFloat(f[1], 64); v < 100 {
				t.Fatalf("wrk: %v requests/s", v)
			}
			return
		}
	}
	t.Fatalf("no Requests/sec in wrk's output:\n%s", s)
}

// TestTLSALPNACMEClosed: a handshake that negotiates acme-tls/1 (a TLS-ALPN-01
// validation, answered by the certificate store from GetConfigForClient) is
// closed right after it (RFC 8737 §3), and nothing of it is read as HTTP.
func TestTLSALPNACMEClosed(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	cfg := c.serverTLS()
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		if len(h.SupportedProtos) == 1 && h.SupportedProtos[0] == "acme-tls/1" {
			return &tls.Config{Certificates: []tls.Certificate{c.cert}, NextProtos: []string{"acme-tls/1"}}, nil
		}
		return nil, nil
	}
	rec := startRecorder(t)
	_, addrs := startListeners(t, poolOf(rec.addr()), engine.Listener{TLS: cfg})
	ccfg := c.clientTLS()
	ccfg.NextProtos = []string{"acme-tls/1"}
	conn := dialTLS(t, addrs[0], ccfg)
	if p := conn.ConnectionState().NegotiatedProtocol; p != "acme-tls/1" {
		t.Fatalf("negotiated %q", p)
	}
	conn.SetDeadline(time.Now().Add(ioTimeout))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if got, err := io.ReadAll(conn); len(got) != 0 || err != nil {
		t.Fatalf("after an acme-tls/1 handshake: %q, %v; want a clean close", got, err)
	}
	if n, got := rec.seen(); n != 0 || got != "" {
		t.Fatalf("the backend got %d connections and %q", n, got)
	}
	// Ordinary clients get http/1.1.
	ccfg = c.clientTLS()
	ccfg.NextProtos = []string{"h2", "http/1.1"}
	if p := dialTLS(t, addrs[0], ccfg).ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("an ordinary client negotiated %q", p)
	}
}

// TestTLSTicketKeysSetLater: the engine uses the listener's config itself,
// not a copy, so session ticket keys a certificate store sets on it after
// New are the ones its handshakes use: a session from one proxy resumes on
// another whose config got the same keys after it started.
func TestTLSTicketKeysSetLater(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	var key [32]byte
	copy(key[:], "a ticket key shared by two proxy")
	cfgA, cfgB := c.serverTLS(), c.serverTLS()
	_, addrsA := startListeners(t, poolOf(tlsBackend(t)), engine.Listener{TLS: cfgA})
	_, addrsB := startListeners(t, poolOf(tlsBackend(t)), engine.Listener{TLS: cfgB})
	cfgA.SetSessionTicketKeys([][32]byte{key})
	cfgB.SetSessionTicketKeys([][32]byte{key})
	ccfg := c.clientTLS()
	ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i, addr := range []string{addrsA[0], addrsB[0]} {
		conn := dialTLS(t, addr, ccfg)
		conn.SetDeadline(time.Now().Add(ioTimeout))
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil {
			t.Fatal(err)
		}
		if got := conn.ConnectionState().DidResume; got != (i == 1) {
			t.Fatalf("connection %d: DidResume %v", i, got)
		}
		conn.Close()
	}
}
