package engine_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"loopgate/certs"
	"loopgate/engine"
	"loopgate/health"
	"loopgate/stats"
	"loopgate/upstream"
)

// httpsBackend is a net/http backend serving HTTPS with a test certificate.
// It counts the TCP connections it accepted and remembers what the last
// handshake said.
type httpsBackend struct {
	addr    string
	conns   atomic.Int64 // TCP connections accepted
	resumed atomic.Int64 // requests on a resumed session
	mu      sync.Mutex
	sni     []string // ServerName of each connection's first request
	peers   []string // client certificate CN of each request, "" without one
}

func (b *httpsBackend) lastSNI() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.sni...)
}

// startTLSBackend serves h over TLS with cert; cfg, if not nil, is the
// server's config (client auth, versions) before the certificate is set.
func startTLSBackend(t *testing.T, cert *testCert, cfg *tls.Config, h http.Handler) *httpsBackend {
	t.Helper()
	b := &httpsBackend{}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.Certificates = []tls.Certificate{cert.cert}
	ln := listenLocal(t)
	b.addr = ln.Addr().String()
	seen := sync.Map{}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS.DidResume {
				b.resumed.Add(1)
			}
			cn := ""
			if len(r.TLS.PeerCertificates) > 0 {
				cn = r.TLS.PeerCertificates[0].Subject.CommonName
			}
			b.mu.Lock()
			if _, dup := seen.LoadOrStore(r.RemoteAddr, true); !dup {
				b.sni = append(b.sni, r.TLS.ServerName)
			}
			b.peers = append(b.peers, cn)
			b.mu.Unlock()
			w.Header().Set("X-TLS-Version", tls.VersionName(r.TLS.Version))
			h.ServeHTTP(w, r)
		}),
		TLSConfig: cfg,
		ErrorLog:  log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				b.conns.Add(1)
			}
		},
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return b
}

// tlsPool is a one-pool config over the backends at addrs with TLS x.
func tlsPool(x certs.Client, addrs ...string) engine.Config {
	cfg := poolOf(addrs...)
	cfg.Pools[0].TLS = &x
	return cfg
}

// caFile writes c's certificate, which is its own CA, to a file.
func caFile(t *testing.T, c *testCert) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, c.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func withStats(cfg engine.Config) (engine.Config, *stats.Proxy) {
	st := stats.New(stats.Options{})
	cfg.Stats = st
	return cfg, st
}

func handshakes(t *testing.T, st *stats.Proxy, result string) float64 {
	t.Helper()
	return metricValue(t, st, `loopgate_upstream_tls_handshakes_total{pool="web",result="`+result+`"}`)
}

// TestUpstreamTLSPooled: requests to an https backend go over one verified
// TLS connection that is pooled between requests, even when the backend's
// TLS 1.3 session tickets arrive while it idles; the backend sees ALPN's
// protocol and no SNI for an IP address (RFC 6066 §3).
func TestUpstreamTLSPooled(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	b := startTLSBackend(t, cert, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s %s", r.URL.Path, r.Proto)
	}))
	cfg, st := withStats(tlsPool(certs.Client{CA: caFile(t, cert)}, b.addr))
	_, px := startProxy(t, cfg)

	c := dial(t, px)
	for i := range 50 {
		r := c.roundTrip("GET", fmt.Sprintf("GET /n%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
		wantStatus(t, r, 200)
		if want := fmt.Sprintf("hello /n%d HTTP/1.1", i); r.body != want {
			t.Fatalf("body %q; want %q", r.body, want)
		}
		if v := r.Header.Get("X-TLS-Version"); v != "TLS 1.3" {
			t.Fatalf("backend saw %q; want TLS 1.3", v)
		}
		if i == 0 {
			time.Sleep(100 * time.Millisecond) // the session tickets arrive while the connection idles
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Fatalf("backend accepted %d connections for 50 requests; want 1 (pooled)", n)
	}
	if sni := b.lastSNI(); len(sni) != 1 || sni[0] != "" {
		t.Fatalf("SNI %q; want none for an IP address", sni)
	}
	if full := handshakes(t, st, "full"); full != 1 {
		t.Fatalf("full handshakes = %v; want 1", full)
	}
}

// TestUpstreamTLSVerification: a backend whose certificate the pool's CA
// did not sign gets no request: the client gets 502, the handshake counts
// as failed; verify = false accepts it; a server_name the certificate does
// not carry fails too.
func TestUpstreamTLSVerification(t *testing.T) {
	cert, other := newTestCert(t, "ecdsa"), newTestCert(t, "rsa")
	var reqs atomic.Int64
	b := startTLSBackend(t, cert, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		io.WriteString(w, "ok")
	}))
	no := false
	for _, tc := range []struct {
		name string
		x    certs.Client
		want int
	}{
		{"wrong CA", certs.Client{CA: caFile(t, other)}, 502},
		{"system roots", certs.Client{}, 502},
		{"wrong name", certs.Client{CA: caFile(t, cert), ServerName: "wrong.test"}, 502},
		{"right name", certs.Client{CA: caFile(t, cert), ServerName: "example.test"}, 200},
		{"verify off", certs.Client{Verify: &no}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := reqs.Load()
			cfg, st := withStats(tlsPool(tc.x, b.addr))
			cfg.Pools[0].Retries = -1
			_, px := startProxy(t, cfg)
			r := dial(t, px).roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			wantStatus(t, r, tc.want)
			got := reqs.Load() - before
			if tc.want == 502 {
				if got != 0 {
					t.Fatalf("the backend got %d requests over an unverified connection", got)
				}
				if f := handshakes(t, st, "failed"); f != 1 {
					t.Fatalf("failed handshakes = %v; want 1", f)
				}
			} else if got != 1 {
				t.Fatalf("the backend got %d requests; want 1", got)
			}
		})
	}
	if sni := b.lastSNI(); !containsString(sni, "example.test") {
		t.Fatalf("SNI seen %q; want example.test among them", sni)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestUpstreamTLSClientCertificate: a backend that requires a client
// certificate gets the pool's; without one the handshake fails.
func TestUpstreamTLSClientCertificate(t *testing.T) {
	cert, client := newTestCert(t, "ecdsa"), newTestCert(t, "rsa")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(client.pem)
	b := startTLSBackend(t, cert, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	certFile, keyFile := client.files(t)

	cfg := tlsPool(certs.Client{CA: caFile(t, cert), Cert: certFile, Key: keyFile}, b.addr)
	_, px := startProxy(t, cfg)
	wantStatus(t, dial(t, px).roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	b.mu.Lock()
	peers := append([]string(nil), b.peers...)
	b.mu.Unlock()
	if len(peers) != 1 || peers[0] != "localhost" {
		t.Fatalf("client certificates seen: %q; want [localhost]", peers)
	}

	cfg = tlsPool(certs.Client{CA: caFile(t, cert)}, b.addr)
	cfg.Pools[0].Retries = -1
	_, px = startProxy(t, cfg)
	wantStatus(t, dial(t, px).roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 502)
}

// TestUpstreamTLSResumption: a backend that closes after each response
// makes every request dial again; all but the first handshake resume the
// session, unless session_reuse = false.
func TestUpstreamTLSResumption(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	for _, reuse := range []bool{true, false} {
		t.Run(fmt.Sprint("reuse=", reuse), func(t *testing.T) {
			b := startTLSBackend(t, cert, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				io.WriteString(w, "ok")
			}))
			cfg, st := withStats(tlsPool(certs.Client{CA: caFile(t, cert), SessionReuse: &reuse}, b.addr))
			_, px := startProxy(t, cfg)
			c := dial(t, px)
			const n = 5
			for range n {
				wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
			}
			full, resumed := handshakes(t, st, "full"), handshakes(t, st, "resumed")
			want := float64(1)
			if !reuse {
				want = n
			}
			if full != want || full+resumed != n || b.resumed.Load() != int64(resumed) {
				t.Fatalf("full %v, resumed %v (backend saw %d resumed); want %v full of %d", full, resumed, b.resumed.Load(), want, n)
			}
		})
	}
}

// TestUpstreamTLSResumptionPerBackend: two backends behind one server_name
// (their own ticket keys, as separate servers have) each resume their own
// sessions: the pool's cache keeps them apart by address.
func TestUpstreamTLSResumptionPerBackend(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	closing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "ok")
	})
	b1, b2 := startTLSBackend(t, cert, nil, closing), startTLSBackend(t, cert, nil, closing)
	cfg, st := withStats(tlsPool(certs.Client{CA: caFile(t, cert), ServerName: "example.test"}, b1.addr, b2.addr))
	cfg.Pools[0].Algorithm = "round_robin"
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	for range 6 {
		wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	}
	if full, resumed := handshakes(t, st, "full"), handshakes(t, st, "resumed"); full != 2 || resumed != 4 {
		t.Fatalf("full %v, resumed %v; want 2 full (one per backend) and 4 resumed", full, resumed)
	}
}

// TestUpstreamTLSLargeBodies: 16 MiB each way, fixed-length and chunked,
// from several clients at once, come through byte for byte, to the last
// chunk: records left in gnet's buffer past a full plaintext buffer are
// decrypted without waiting for bytes that will not come (it caught that).
func TestUpstreamTLSLargeBodies(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	b := startTLSBackend(t, cert, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("X-Sum", hex.EncodeToString(h.Sum(nil)))
		w.Header().Set("X-Len", fmt.Sprint(n))
		if r.URL.Path == "/down" {
			io.Copy(w, &pattern{n: 16 << 20})
		}
	}))
	cfg := tlsPool(certs.Client{CA: caFile(t, cert)}, b.addr)
	cfg.EventLoops = 2
	_, px := startProxy(t, cfg)

	want := sha256.New()
	io.Copy(want, &pattern{n: 16 << 20})
	sum := hex.EncodeToString(want.Sum(nil))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", "http://"+px+"/up", &pattern{n: 16 << 20})
			if i%2 == 0 {
				req.ContentLength = 16 << 20
			} // else chunked
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.Header.Get("X-Sum") != sum {
				errs <- fmt.Errorf("upload %d: backend got %s bytes summing %s", i, resp.Header.Get("X-Len"), resp.Header.Get("X-Sum"))
			}
			resp, err = http.Get("http://" + px + "/down")
			if err != nil {
				errs <- err
				return
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil || hex.EncodeToString(h.Sum(nil)) != sum {
				errs <- fmt.Errorf("download %d: %d bytes, %v", i, n, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// startRawTLSBackend runs handle for each connection, after a TLS
// handshake with cert (TLS 1.3 unless maxVersion says otherwise).
func startRawTLSBackend(t *testing.T, cert *testCert, handle func(c *tls.Conn, raw net.Conn)) *rawBackend {
	t.Helper()
	return startRawBackend(t, func(raw net.Conn) {
		c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert.cert}})
		c.SetDeadline(time.Now().Add(ioTimeout))
		if err := c.Handshake(); err != nil {
			return
		}
		handle(c, raw)
	})
}

// TestUpstreamTLSCloseDelimited: a body that ends with the connection is
// complete only if the backend ended its TLS stream with close_notify (RFC
// 9112 §9.8); a bare FIN cuts the client's response, which is never framed
// as complete.
func TestUpstreamTLSCloseDelimited(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	body := strings.Repeat("close-delimited ", 1000)
	for _, notify := range []bool{true, false} {
		t.Run(fmt.Sprint("close_notify=", notify), func(t *testing.T) {
			b := startRawTLSBackend(t, cert, func(c *tls.Conn, raw net.Conn) {
				br := bufio.NewReader(c)
				if _, err := readRawRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"+body)
				if notify {
					c.Close()
				} else {
					raw.(*net.TCPConn).CloseWrite()
					io.Copy(io.Discard, raw)
				}
			})
			_, px := startProxy(t, tlsPool(certs.Client{CA: caFile(t, cert)}, b.addr()))
			c := dial(t, px)
			c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			r, err := c.readErr("GET", ioTimeout)
			if notify {
				if err != nil || r.body != body {
					t.Fatalf("complete body: err %v, %d bytes of %d", err, len(r.body), len(body))
				}
				return
			}
			if err == nil {
				t.Fatalf("a body cut by a bare FIN reached the client as complete (%d bytes)", len(r.body))
			}
		})
	}
}

// TestUpstreamTLSSplitRecords: a backend whose records arrive a byte at a
// time (every read split at every offset) is read whole.
func TestUpstreamTLSSplitRecords(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	body := strings.Repeat("0123456789", 300)
	b := startRawBackend(t, func(raw net.Conn) {
		raw.(*net.TCPConn).SetNoDelay(true)
		c := tls.Server(byteWriter{raw}, &tls.Config{Certificates: []tls.Certificate{cert.cert}})
		c.SetDeadline(time.Now().Add(ioTimeout))
		br := bufio.NewReader(c)
		for {
			if _, err := readRawRequest(br); err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
	_, px := startProxy(t, tlsPool(certs.Client{CA: caFile(t, cert)}, b.addr()))
	c := dial(t, px)
	for range 3 {
		r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		wantStatus(t, r, 200)
		if r.body != body {
			t.Fatalf("body of %d bytes; want %d", len(r.body), len(body))
		}
	}
	if n := b.accepted.Load(); n != 1 {
		t.Fatalf("%d connections; want 1", n)
	}
}

// byteWriter writes a byte per syscall, so that the peer reads records in
// pieces split at every offset.
type byteWriter struct{ net.Conn }

func (w byteWriter) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := w.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

// TestUpstreamTLSHostileBackend: a backend that answers the ClientHello
// with plain HTTP, one that sends a corrupt record after its head, one
// that never finishes the handshake: each costs only its own exchange.
func TestUpstreamTLSHostileBackend(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	plain := startRawBackend(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
		io.Copy(io.Discard, c)
	})
	corrupt := startRawTLSBackend(t, cert, func(c *tls.Conn, raw net.Conn) {
		if _, err := readRawRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
		io.WriteString(c, strings.Repeat("x", 1000))
		// A record of the right type and length whose bytes are garbage:
		// its authentication fails.
		raw.Write(append([]byte{23, 3, 3, 0, 64}, bytes.Repeat([]byte{0xAB}, 64)...))
		io.Copy(io.Discard, raw)
	})
	silent := startRawBackend(t, func(c net.Conn) { io.Copy(io.Discard, c) })

	for _, tc := range []struct {
		name string
		addr string
		cut  bool // the response started, so the client is cut
	}{
		{"plain HTTP", plain.addr(), false},
		{"corrupt record", corrupt.addr(), true},
		{"silent", silent.addr(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tlsPool(certs.Client{CA: caFile(t, cert)}, tc.addr)
			cfg.Pools[0].Retries = -1
			cfg.Timeouts.UpstreamConnect = 300 * time.Millisecond
			_, px := startProxy(t, cfg)
			c := dial(t, px)
			start := time.Now()
			c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			r, err := c.readErr("GET", ioTimeout)
			if tc.cut {
				if err == nil {
					t.Fatalf("a response cut by a corrupt record reached the client as complete (%d bytes)", len(r.body))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, r, 502)
			if tc.name == "silent" && time.Since(start) > 2*time.Second {
				t.Fatalf("a silent backend held the request %v; upstream_connect is 300ms", time.Since(start))
			}
		})
	}
}

// TestUpstreamTLSIdleTickets: a connection that goes to the pool straight
// from its handshake (its client left while it was dialed) receives the
// backend's TLS 1.3 session tickets while idle; they are handshake records,
// not data, so it stays pooled and serves the next request.
func TestUpstreamTLSIdleTickets(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	var conns atomic.Int64
	b := startRawBackend(t, func(raw net.Conn) {
		conns.Add(1)
		time.Sleep(300 * time.Millisecond) // the client leaves meanwhile
		c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert.cert}})
		c.SetDeadline(time.Now().Add(ioTimeout))
		br := bufio.NewReader(c)
		for {
			if _, err := readRawRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	cfg, st := withStats(tlsPool(certs.Client{CA: caFile(t, cert)}, b.addr()))
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	c.c.(*net.TCPConn).SetLinger(0) // a reset: gone, not half-closed after its request
	c.c.Close()
	waitFor(t, func() bool { return idleUpstream(t, st) == 1 }) // dialed, shaken hands, pooled
	time.Sleep(100 * time.Millisecond)                          // its tickets read
	wantStatus(t, dial(t, px).roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d backend connections; want 1: the pooled one was dropped for its session tickets", n)
	}
}

// TestUpstreamTLSStrayData: a TLS backend that sends bytes on a pooled
// connection after its response cannot get them to the next client: the
// connection is closed, and the next request goes out on a new one.
func TestUpstreamTLSStrayData(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	b := startRawTLSBackend(t, cert, func(c *tls.Conn, raw net.Conn) {
		br := bufio.NewReader(c)
		if _, err := readRawRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
		time.Sleep(20 * time.Millisecond)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!")
		io.Copy(io.Discard, c)
	})
	_, px := startProxy(t, tlsPool(certs.Client{CA: caFile(t, cert)}, b.addr()))
	c := dial(t, px)
	for i := range 3 {
		r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		wantStatus(t, r, 200)
		if r.body != "good" {
			t.Fatalf("request %d got %q: a backend's stray bytes reached a client", i, r.body)
		}
		time.Sleep(300 * time.Millisecond) // the stray bytes come while it idles
	}
	if n := b.accepted.Load(); n != 3 {
		t.Fatalf("%d backend connections for 3 requests; want 3 (none reused after stray bytes)", n)
	}
}

// TestUpstreamTLSHealthProbes: a TLS pool's probes go over TLS with its
// settings: a backend whose certificate verifies is up; one whose
// certificate does not is down, and says why; a plain-HTTP backend in a
// TLS pool is down too.
func TestUpstreamTLSHealthProbes(t *testing.T) {
	cert, other := newTestCert(t, "ecdsa"), newTestCert(t, "rsa")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	good := startTLSBackend(t, cert, nil, ok)
	bad := startTLSBackend(t, other, nil, ok)
	plain := startBackend(t, ok)
	cfg := tlsPool(certs.Client{CA: caFile(t, cert)}, good.addr, bad.addr, plain)
	cfg.Pools[0].Health = &health.Config{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, Rise: 1, Fall: 2, Jitter: -1}
	srv, px := startProxy(t, cfg)
	state := func() []upstream.BackendStatus { return srv.Status()[0].Backends }
	waitFor(t, func() bool {
		b := state()
		return b[0].State == "up" && b[1].State == "down" && b[2].State == "down"
	})
	if r := state()[1].Reason; !strings.Contains(r, "TLS handshake failed") || !strings.Contains(r, "certificate") {
		t.Fatalf("down reason %q; want it to name the TLS handshake and the certificate", r)
	}
	c := dial(t, px)
	for range 10 {
		wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	}
	if n := bad.conns.Load(); n == 0 {
		t.Fatal("the untrusted backend was never probed")
	}
}

// TestUpstreamTLSWebSocket: an upgrade to a wss backend becomes a tunnel
// whose backend side runs over TLS: messages small and large come back.
func TestUpstreamTLSWebSocket(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	b := startTLSBackend(t, cert, nil, wsHandler("b1"))
	srv, px := startProxy(t, tlsPool(certs.Client{CA: caFile(t, cert)}, b.addr))
	c, resp, _ := wsDial(t, px, "/ws")
	if resp.StatusCode != 101 { // the backend speaks nothing but TLS
		t.Fatalf("handshake answer %d %v", resp.StatusCode, resp.Header)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	wsEcho(t, c, websocket.TextMessage, []byte("hello"))
	wsEcho(t, c, websocket.BinaryMessage, big)
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(ioTimeout))
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, 1000) {
		t.Fatalf("after our close: %v; want the backend's close 1000", err)
	}
	c.Close()
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
}

// TestUpstreamTLSReload: a reload that keeps [pool.tls] keeps the pooled
// TLS connections; one that changes it (here to a CA that does not sign the
// backend's certificate) retires them, so no request rides a connection
// the new settings would refuse.
func TestUpstreamTLSReload(t *testing.T) {
	cert, other := newTestCert(t, "ecdsa"), newTestCert(t, "rsa")
	b := startTLSBackend(t, cert, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	good := caFile(t, cert)
	cfg := tlsPool(certs.Client{CA: good}, b.addr)
	cfg.Pools[0].Retries = -1
	srv, px := startProxy(t, cfg)
	c := dial(t, px)
	wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)

	same := tlsPool(certs.Client{CA: good}, b.addr)
	same.Pools[0].Retries = -1
	same.Pools[0].RetryBudget = 50 // an unrelated change
	same.Listen = "127.0.0.1:0"    // as startProxy configured it
	if err := srv.Reload(same); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	if n := b.conns.Load(); n != 1 {
		t.Fatalf("%d backend connections after a reload that kept [pool.tls]; want 1 (kept)", n)
	}

	changed := tlsPool(certs.Client{CA: caFile(t, other)}, b.addr)
	changed.Pools[0].Retries = -1
	changed.Listen = "127.0.0.1:0"
	if err := srv.Reload(changed); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 502)
}

// idleUpstream reads the pooled upstream connections gauge.
func idleUpstream(t *testing.T, st *stats.Proxy) int {
	t.Helper()
	var b bytes.Buffer
	st.WritePrometheus(&b, nil)
	m := regexp.MustCompile(`(?m)^loopgate_upstream_connections\{state="idle"\} (\d+)$`).FindSubmatch(b.Bytes())
	if m == nil {
		t.Fatal("no idle upstream connection gauge")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// cutConn passes writes through until, once armed, budget bytes have gone
// out; then it writes what is left of the budget and resets the connection,
// or with fin sends a FIN.
type cutConn struct {
	net.Conn
	armed  bool
	fin    bool
	budget int
}

func (c *cutConn) Write(p []byte) (int, error) {
	if !c.armed || len(p) < c.budget {
		if c.armed {
			c.budget -= len(p)
		}
		return c.Conn.Write(p)
	}
	c.Conn.Write(p[:c.budget])
	if c.fin {
		c.Conn.(*net.TCPConn).CloseWrite()
	} else {
		resetClose(c.Conn)
	}
	return 0, net.ErrClosed
}

// TestUpstreamTLSResetAtEveryOffset: a TLS backend whose connection is
// reset, or ended with a bare FIN, after k bytes of its response's
// ciphertext, for k across the head's record and the body's four: the
// client gets a 502 when no head was decrypted, a cut response otherwise,
// and never a response that passes for complete.
func TestUpstreamTLSResetAtEveryOffset(t *testing.T) {
	for _, fin := range []bool{false, true} {
		t.Run(map[bool]string{false: "reset", true: "FIN"}[fin], func(t *testing.T) { cutAtEveryOffset(t, fin) })
	}
}

func cutAtEveryOffset(t *testing.T, fin bool) {
	cert := newTestCert(t, "ecdsa")
	body := strings.Repeat("b", 1000)
	var k atomic.Int64
	b := startRawBackend(t, func(raw net.Conn) {
		cc := &cutConn{Conn: raw, fin: fin}
		c := tls.Server(cc, &tls.Config{Certificates: []tls.Certificate{cert.cert}, SessionTicketsDisabled: true})
		c.SetDeadline(time.Now().Add(ioTimeout))
		if err := c.Handshake(); err != nil {
			return
		}
		if _, err := readRawRequest(bufio.NewReader(c)); err != nil {
			return
		}
		cc.armed, cc.budget = true, int(k.Load())
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n") // one record each
		for i := range 4 {
			io.WriteString(c, body[i*250:(i+1)*250])
		}
		io.Copy(io.Discard, raw)
	})
	cfg := tlsPool(certs.Client{CA: caFile(t, cert)}, b.addr())
	cfg.Pools[0].Retries = -1
	_, px := startProxy(t, cfg)
	// TLS 1.3 records carry 22 bytes besides their payload: the head's is 60
	// bytes, each body record 272; all five, 1148.
	var bad, gateway, cut int
	for off := 0; off < 1148; off += 7 {
		k.Store(int64(off))
		c := dial(t, px)
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		r, err := c.readErr("GET", ioTimeout)
		switch {
		case err != nil:
			cut++
		case r.StatusCode == 502:
			gateway++
		default:
			bad++
			t.Errorf("cut after %d bytes: the client got %d with %d body bytes, as if complete", off, r.StatusCode, len(r.body))
		}
		c.c.Close()
	}
	if bad > 0 || gateway == 0 || cut == 0 {
		t.Fatalf("502 %d, cut %d, complete-looking %d; want some of the first two and none of the last", gateway, cut, bad)
	}
}

// TestUpstreamTLSSlowPeers: memory stays bounded as for a plain backend
// (G4: 2 × (read_buffer + high_watermark) + 8 MiB) while a TLS backend
// pushes 64 MiB at a client that reads 64 KiB every 100 ms, and while a
// client pushes 64 MiB at a TLS backend that reads that slowly: records
// wait in gnet's buffer, paused, not in decrypted copies.
func TestUpstreamTLSSlowPeers(t *testing.T) {
	const size = 64 << 20
	const measure = 3 * time.Second
	cert := newTestCert(t, "ecdsa")
	tlsConfig := func(addr string) engine.Config {
		cfg := hostileConfig(addr)
		cfg.Pools[0].TLS = &certs.Client{CA: caFile(t, cert)}
		return cfg
	}
	t.Run("slow client", func(t *testing.T) {
		held := newHold()
		b := startRawTLSBackend(t, cert, func(c *tls.Conn, raw net.Conn) {
			if readHead(c, bufio.NewReader(c)) == "" {
				return
			}
			c.SetWriteDeadline(time.Now().Add(2 * measure))
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
			buf := bytes.Repeat([]byte("x"), 16<<10)
			for sent := 0; sent < size; sent += len(buf) {
				if _, err := c.Write(buf); err != nil {
					return
				}
				select {
				case <-held.ch:
					return
				default:
				}
			}
		})
		held.until(t)
		_, px := startProxy(t, tlsConfig(b.addr()))
		c := dial(t, px)
		heap := watchHeap()
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		var got int64
		for start := time.Now(); time.Since(start) < measure; time.Sleep(100 * time.Millisecond) {
			c.c.SetReadDeadline(time.Now().Add(ioTimeout))
			n, err := io.CopyN(io.Discard, c.br, 64<<10)
			got += n
			if err != nil {
				heap.check(t)
				t.Fatalf("after %d bytes: %v", got, err)
			}
		}
		heap.check(t)
	})
	t.Run("slow backend", func(t *testing.T) {
		b := startRawTLSBackend(t, cert, func(c *tls.Conn, raw net.Conn) {
			br := bufio.NewReaderSize(c, 64<<10)
			if readHead(c, br) == "" {
				return
			}
			buf := make([]byte, 64<<10)
			for start := time.Now(); time.Since(start) < measure+time.Second; time.Sleep(100 * time.Millisecond) {
				c.SetReadDeadline(time.Now().Add(ioTimeout))
				if _, err := io.ReadFull(br, buf); err != nil {
					return
				}
			}
		})
		_, px := startProxy(t, tlsConfig(b.addr()))
		c := dial(t, px)
		heap := watchHeap()
		c.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n")
		c.c.SetWriteDeadline(time.Now().Add(measure))
		io.Copy(bufio.NewWriterSize(c.c, 64<<10), &pattern{n: size}) // the deadline ends it
		heap.check(t)
	})
}
