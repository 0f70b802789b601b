package engine_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"loopgate/engine"
)

// tlsBackend answers with what the engine told it about the request: the
// X-Forwarded-Proto it added, the request's body checksum and length; GET
// /big?n=N answers N bytes of a fixed pattern.
func tlsBackend(t *testing.T) string {
	return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			w.Header().Set("Content-Length", strconv.Itoa(n))
			tlsPattern(w, n)
			return
		}
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "proto=%s len=%d sum=%s path=%s", r.Header.Get("X-Forwarded-Proto"), n,
			hex.EncodeToString(h.Sum(nil)), r.URL.RequestURI())
	}))
}

// writePattern writes n bytes of a pattern that changes every byte.
func tlsPattern(w io.Writer, n int) {
	buf := make([]byte, 32<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for n > 0 {
		k := min(n, len(buf))
		w.Write(buf[:k])
		n -= k
	}
}

func tlsPatternSum(n int) string {
	h := sha256.New()
	tlsPattern(h, n)
	return hex.EncodeToString(h.Sum(nil))
}

// httpsClient trusts c and offers h2 and http/1.1 by ALPN, as browsers do.
func httpsClient(c *testCert) *http.Client {
	cfg := c.clientTLS()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	return &http.Client{Timeout: 4 * ioTimeout, Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 4}}
}

func TestTLSKeepAlive(t *testing.T) {
	for _, kind := range []string{"ecdsa", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			c := newTestCert(t, kind)
			_, addr := startTLSProxy(t, poolOf(tlsBackend(t)), c)
			var conns int
			client := httpsClient(c)
			trace := 0
			for i := range 5 {
				req, _ := http.NewRequest("GET", "https://"+addr+"/k?i="+strconv.Itoa(i), nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := fmt.Sprintf("proto=https len=0 sum=%s path=/k?i=%d", emptySum, i)
				if string(body) != want {
					t.Fatalf("request %d: got %q; want %q", i, body, want)
				}
				if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
					t.Fatalf("request %d: ALPN %+v; want http/1.1", i, resp.TLS)
				}
				if !resp.TLS.DidResume && i > 0 {
					trace++
				}
			}
			conns = trace
			if conns != 4 {
				// keep-alive: the later requests reuse the first connection
				// (no new handshake, so no resumption either)
				t.Logf("requests on the first connection: %d", conns)
			}
		})
	}
}

var emptySum = func() string { h := sha256.Sum256(nil); return hex.EncodeToString(h[:]) }()

// TestTLSOneConnection checks keep-alive on one TLS connection, byte by
// byte: three requests, three answers, one handshake.
func TestTLSOneConnection(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	srv, addr := startTLSProxy(t, poolOf(tlsBackend(t)), c)
	_ = srv
	conn := dialTLS(t, addr, c.clientTLS())
	br := bufio.NewReader(conn)
	for i := range 3 {
		conn.SetDeadline(time.Now().Add(ioTimeout))
		fmt.Fprintf(conn, "GET /one?i=%d HTTP/1.1\r\nHost: localhost\r\n\r\n", i)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if want := fmt.Sprintf("proto=https len=0 sum=%s path=/one?i=%d", emptySum, i); string(body) != want {
			t.Fatalf("request %d: got %q; want %q", i, body, want)
		}
	}
}

// TestTLSPipelined sends ten requests in one write; the answers come in order.
func TestTLSPipelined(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	_, addr := startTLSProxy(t, poolOf(tlsBackend(t)), c)
	conn := dialTLS(t, addr, c.clientTLS())
	var reqs bytes.Buffer
	for i := range 10 {
		fmt.Fprintf(&reqs, "GET /p?i=%d HTTP/1.1\r\nHost: localhost\r\n\r\n", i)
	}
	conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := conn.Write(reqs.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for i := range 10 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if want := fmt.Sprintf("path=/p?i=%d", i); !strings.HasSuffix(string(body), want) {
			t.Fatalf("response %d: got %q; want ...%q", i, body, want)
		}
	}
}

// TestTLSLargeBodies moves 16 MiB each way over TLS and checks both by
// checksum.
func TestTLSLargeBodies(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	_, addr := startTLSProxy(t, poolOf(tlsBackend(t)), c)
	client := httpsClient(c)
	const n = 16 << 20
	// Upload.
	pr, pw := io.Pipe()
	go func() { tlsPattern(pw, n); pw.Close() }()
	req, _ := http.NewRequest("POST", "https://"+addr+"/up", pr)
	req.ContentLength = n
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("proto=https len=%d sum=%s path=/up", n, tlsPatternSum(n)); string(body) != want {
		t.Fatalf("upload: got %q; want %q", body, want)
	}
	// Chunked upload (no length).
	pr, pw = io.Pipe()
	go func() { tlsPattern(pw, n); pw.Close() }()
	req, _ = http.NewRequest("POST", "https://"+addr+"/upc", pr)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("proto=https len=%d sum=%s path=/upc", n, tlsPatternSum(n)); string(body) != want {
		t.Fatalf("chunked upload: got %q; want %q", body, want)
	}
	// Download.
	resp, err = client.Get("https://" + addr + "/big?n=" + strconv.Itoa(n))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	got, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || got != n || hex.EncodeToString(h.Sum(nil)) != tlsPatternSum(n) {
		t.Fatalf("download: %d bytes, err %v, checksum ok %v", got, err, hex.EncodeToString(h.Sum(nil)) == tlsPatternSum(n))
	}
}

// TestTLSHTTP10 checks an HTTP/1.0 client over TLS: a close-delimited
// answer ends with close_notify, so the client can tell it is whole.
func TestTLSHTTP10(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	be := startRawBackend(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		if _, err := readRawRequest(br); err != nil {
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nclose-delimited body")
	})
	_, addr := startTLSProxy(t, poolOf(be.addr()), c)
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		conn := dialTLS(t, addr, c.clientTLS())
		conn.SetDeadline(time.Now().Add(ioTimeout))
		fmt.Fprintf(conn, "GET / %s\r\nHost: localhost\r\nConnection: close\r\n\r\n", proto)
		all, err := io.ReadAll(conn) // crypto/tls returns io.EOF only after close_notify
		if err != nil {
			t.Fatalf("%s: %v after %q (want a close_notify)", proto, err, all)
		}
		if !bytes.HasSuffix(all, []byte("close-delimited body")) && !bytes.Contains(all, []byte("close-delimited body")) {
			t.Fatalf("%s: got %q", proto, all)
		}
	}
}

// TestTLSMalformedRequest gets its 400 over TLS.
func TestTLSMalformedRequest(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	rec := startRecorder(t)
	_, addr := startTLSProxy(t, poolOf(rec.addr()), c)
	conn := dialTLS(t, addr, c.clientTLS())
	conn.SetDeadline(time.Now().Add(ioTimeout))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
	all, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v (%q)", err, all)
	}
	if !bytes.HasPrefix(all, []byte("HTTP/1.1 400 ")) {
		t.Fatalf("got %q; want a 400", all)
	}
	if n, got := rec.seen(); got != "" {
		t.Fatalf("backend got %d connections and %q", n, got)
	}
}

// TestTLSGarbage: a client that sends HTTP instead of a ClientHello is
// closed at once.
func TestTLSGarbage(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	srv, addr := startTLSProxy(t, poolOf(tlsBackend(t)), c)
	_ = srv
	for _, junk := range []string{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "\x16\x03\x01\x00\x05hello", "\x80\x2e\x01\x03\x01"} {
		conn, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(ioTimeout))
		start := time.Now()
		io.WriteString(conn, junk)
		all, _ := io.ReadAll(conn)
		conn.Close()
		if time.Since(start) > 2*time.Second {
			t.Fatalf("%q: closed after %v; want at once", junk, time.Since(start))
		}
		if bytes.Contains(all, []byte("HTTP/")) {
			t.Fatalf("%q: got %q; want no HTTP", junk, all)
		}
	}
}

// TestTLSListenersShareTheRoutes runs a plain and a TLS listener in one
// proxy: both reach the same pool, each with its scheme.
func TestTLSListenersShareTheRoutes(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	_, addrs := startListeners(t, poolOf(tlsBackend(t)), engine.Listener{}, engine.Listener{TLS: c.serverTLS()})
	if addrs[0] == addrs[1] {
		t.Fatalf("both listeners on %s", addrs[0])
	}
	for i, u := range []string{"http://" + addrs[0] + "/x", "https://" + addrs[1] + "/x"} {
		resp, err := httpsClient(c).Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "proto=http "
		if i == 1 {
			want = "proto=https "
		}
		if !strings.HasPrefix(string(body), want) {
			t.Fatalf("%s: got %q; want %s...", u, body, want)
		}
	}
}

var _ = sync.Mutex{}
var _ = tls.VersionTLS13
