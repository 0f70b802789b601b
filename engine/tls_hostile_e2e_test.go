package engine_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
	"loopgate/stats"
)

// trickleConn writes one byte per Write call to the socket, pausing between
// bytes, so the proxy reads the TLS stream split at (almost) every offset.
type trickleConn struct {
	net.Conn
	gap time.Duration
}

func (c trickleConn) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := c.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		time.Sleep(c.gap)
	}
	return len(p), nil
}

// TestTLSByteAtATime runs handshakes and requests (a body, pipelined heads)
// whose ciphertext reaches the proxy one byte at a time, for TLS 1.2 and 1.3.
func TestTLSByteAtATime(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	_, addr := startTLSProxy(t, poolOf(tlsBackend(t)), c)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			raw, err := net.DialTimeout("tcp", addr, ioTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(4 * ioTimeout))
			cfg := c.clientTLS()
			cfg.MinVersion, cfg.MaxVersion = v, v
			conn := tls.Client(trickleConn{raw, 100 * time.Microsecond}, cfg)
			body := bytes.Repeat([]byte("0123456789abcdef"), 100)
			var reqs bytes.Buffer
			fmt.Fprintf(&reqs, "POST /b HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			io.WriteString(&reqs, "GET /p1 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /p2 HTTP/1.1\r\nHost: localhost\r\n\r\n")
			if _, err := conn.Write(reqs.Bytes()); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			for i, want := range []string{fmt.Sprintf("len=%d", len(body)), "path=/p1", "path=/p2"} {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				got, _ := io.ReadAll(resp.Body)
				if !bytes.Contains(got, []byte(want)) {
					t.Fatalf("response %d: got %q; want %q in it", i, got, want)
				}
			}
		})
	}
}

// resetAfter is a client socket that resets the connection (RST), or with
// fin ends its sending side (FIN, truncating the TLS stream), once n bytes
// have been written.
type resetAfter struct {
	*net.TCPConn
	n   int
	fin bool
}

func (c *resetAfter) Write(p []byte) (int, error) {
	if len(p) >= c.n {
		k, _ := c.TCPConn.Write(p[:c.n])
		if c.fin {
			c.TCPConn.CloseWrite()
		} else {
			c.TCPConn.SetLinger(0)
			c.TCPConn.Close()
		}
		return k, net.ErrClosed
	}
	c.n -= len(p)
	return c.TCPConn.Write(p)
}

// TestTLSResetAtEveryStage resets or half-closes client connections after
// every 64th byte of their stream and around every record boundary: no cut
// body reaches the backend as whole, the proxy keeps serving and every
// client descriptor comes back.
func TestTLSResetAtEveryStage(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	_, addr := startTLSProxy(t, poolOf(tlsBackend(t)), c)
	// One whole exchange, to learn the client's record boundaries.
	var bounds []int
	{
		raw, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recordWriter{Conn: raw}
		conn := tls.Client(rec, c.clientTLS())
		conn.SetDeadline(time.Now().Add(ioTimeout))
		io.WriteString(conn, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3000\r\n\r\n")
		conn.Write(bytes.Repeat([]byte("x"), 3000))
		if _, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil {
			t.Fatal(err)
		}
		bounds = slices.Clone(rec.bounds) // not the close_notify Close adds
		conn.Close()
	}
	// Client connections only: the pool's upstream connections (and the
	// in-process backend's ends of them) come and go on their own.
	_, port, _ := net.SplitHostPort(addr)
	clientFDs := func() []string {
		var out []string
		for fd, what := range openFDs(t) {
			if strings.Contains(what, ":"+port+" ") && !strings.HasSuffix(what, "LISTEN") {
				out = append(out, fd+" -> "+what)
			}
		}
		return out
	}
	var cuts []int
	for _, b := range bounds {
		cuts = append(cuts, b-1, b, b+1, b+recordHeaderLen)
	}
	for k := 1; k < bounds[len(bounds)-1]; k += 64 {
		cuts = append(cuts, k)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, k := range cuts {
		if k <= 0 {
			continue
		}
		fin := i%2 == 1
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			raw, err := net.DialTimeout("tcp", addr, ioTimeout)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			raw.SetDeadline(time.Now().Add(ioTimeout))
			conn := tls.Client(&resetAfter{raw.(*net.TCPConn), k, fin}, c.clientTLS())
			io.WriteString(conn, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3000\r\n\r\n")
			conn.Write(bytes.Repeat([]byte("x"), 3000))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil && k < bounds[len(bounds)-1] {
				// Cut before its last record: the body cannot be whole.
				if body, _ := io.ReadAll(resp.Body); bytes.Contains(body, []byte("len=3000")) {
					t.Errorf("cut after %d of %d bytes, yet the backend got the whole body: %q", k, bounds[len(bounds)-1], body)
				}
			}
			raw.Close()
		}()
	}
	wg.Wait()
	hc := httpsClient(c)
	resp, err := hc.Get("https://" + addr + "/after")
	if err != nil {
		t.Fatalf("after %d resets: %v", len(cuts), err)
	}
	resp.Body.Close()
	hc.CloseIdleConnections()
	for end := time.Now().Add(8 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left := clientFDs()
		if len(left) == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("after %d resets, client sockets still open:\n%s", len(cuts), strings.Join(left, "\n"))
		}
	}
}

const recordHeaderLen = 5

// recordWriter notes the offsets at which the TLS records a client writes
// end.
type recordWriter struct {
	net.Conn
	buf    []byte
	total  int
	bounds []int
}

func (w *recordWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for len(w.buf) >= recordHeaderLen {
		n := recordHeaderLen + (int(w.buf[3])<<8 | int(w.buf[4]))
		if len(w.buf) < n {
			break
		}
		w.total += n
		w.bounds = append(w.bounds, w.total)
		w.buf = w.buf[n:]
	}
	return w.Conn.Write(p)
}

// TestTLSSlowHandshakeStallsNobody: clients that send their ClientHellos a
// byte every 2 ms (seconds each) share the proxy's only event loop with a plain client,
// whose requests meanwhile are answered as fast as without it.
func TestTLSSlowHandshakeStallsNobody(t *testing.T) {
	c := newTestCert(t, "rsa") // the slower handshake
	_, addrs := startListeners(t, poolOf(tlsBackend(t)), engine.Listener{}, engine.Listener{TLS: c.serverTLS()})
	plain, secure := addrs[0], addrs[1]
	var slowDone atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, err := net.DialTimeout("tcp", secure, ioTimeout)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(4 * ioTimeout))
			conn := tls.Client(trickleConn{raw, 2 * time.Millisecond}, c.clientTLS())
			if err := conn.Handshake(); err != nil {
				t.Errorf("slow handshake: %v", err)
			}
			slowDone.Store(true)
		}()
	}
	// Meanwhile (the ClientHellos take seconds), plain requests.
	time.Sleep(50 * time.Millisecond)
	cl := dial(t, plain)
	var worst time.Duration
	n := 0
	for end := time.Now().Add(time.Second); time.Now().Before(end); n++ {
		start := time.Now()
		if r := cl.roundTrip("GET", "GET /plain HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode != 200 {
			t.Fatalf("plain request: status %d", r.StatusCode)
		}
		worst = max(worst, time.Since(start))
	}
	if slowDone.Load() {
		t.Fatal("the slow handshakes ended before the measurement did: the test measured nothing")
	}
	t.Logf("%d plain requests during 4 slow handshakes: worst %v", n, worst)
	if worst > 100*time.Millisecond {
		t.Fatalf("a plain request took %v while handshakes trickled in; want the loop free", worst)
	}
	wg.Wait()
}

// TestTLSHandshakeTimeout closes a client that does not finish its
// handshake within tls_handshake, and counts it.
func TestTLSHandshakeTimeout(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	st := stats.New(stats.Options{})
	cfg := poolOf(tlsBackend(t))
	cfg.Stats = st
	cfg.Timeouts.TLSHandshake = 300 * time.Millisecond
	_, addr := startTLSProxy(t, cfg, c)
	for _, send := range []string{"", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"} { // nothing; half a ClientHello
		conn, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(ioTimeout))
		start := time.Now()
		io.WriteString(conn, send)
		io.ReadAll(conn)
		conn.Close()
		if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
			t.Fatalf("sent %q: closed after %v; want about 300ms", send, d)
		}
	}
	if got := metricValue(t, st, `loopgate_tls_handshakes_total{result="timeout"}`); got != 2 {
		t.Fatalf("timeouts counted: %v; want 2", got)
	}
}

// metricValue reads one series from st's Prometheus text.
func metricValue(t *testing.T, st *stats.Proxy, series string) float64 {
	t.Helper()
	var b bytes.Buffer
	st.Metrics().WritePrometheus(&b)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b.Bytes())
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestTLSResumption: a second connection resumes the first one's session,
// with TLS 1.3 tickets and TLS 1.2 tickets.
func TestTLSResumption(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	st := stats.New(stats.Options{})
	cfg := poolOf(tlsBackend(t))
	cfg.Stats = st
	_, addr := startTLSProxy(t, cfg, c)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		ccfg := c.clientTLS()
		ccfg.MinVersion, ccfg.MaxVersion = v, v
		ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		for i := range 2 {
			conn := dialTLS(t, addr, ccfg)
			conn.SetDeadline(time.Now().Add(ioTimeout))
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
			if _, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil { // reads the TLS 1.3 ticket too
				t.Fatal(err)
			}
			if got := conn.ConnectionState().DidResume; got != (i == 1) {
				t.Fatalf("%s connection %d: DidResume %v", tls.VersionName(v), i, got)
			}
			conn.Close()
		}
	}
	if got := metricValue(t, st, `loopgate_tls_handshakes_total{result="resumed"}`); got != 2 {
		t.Fatalf("resumed handshakes counted: %v; want 2", got)
	}
}

// TestTLSNeverReadingClient: a client that asks for 64 MiB and reads
// nothing costs the proxy bounded memory, and the backend is held back.
func TestTLSNeverReadingClient(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	var sent atomic.Int64
	const size = 64 << 20
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		buf := make([]byte, 64<<10)
		for n := 0; n < size; n += len(buf) {
			if _, err := w.Write(buf); err != nil {
				return
			}
			sent.Add(int64(len(buf)))
		}
	}))
	_, addr := startTLSProxy(t, poolOf(be), c)
	stop := watchMem()
	conn := dialTLS(t, addr, c.clientTLS())
	conn.SetDeadline(time.Now().Add(ioTimeout))
	io.WriteString(conn, "GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
	time.Sleep(2 * time.Second) // let everything that can move move
	base, peak := stop()
	got := sent.Load()
	t.Logf("backend sent %d MiB of %d while the client read nothing", got>>20, size>>20)
	if got > 24<<20 {
		t.Fatalf("the backend sent %d MiB to a client that reads nothing; want it held back near the watermark", got>>20)
	}
	checkGrowth(t, base, peak)
	// The client reads it all after all: the stream is whole.
	conn.SetDeadline(time.Now().Add(4 * ioTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, resp.Body); n != size || err != nil {
		t.Fatalf("read %d bytes of %d: %v", n, size, err)
	}
}

// TestTLSFlowControl: 64 MiB each way over TLS between a fast side and a
// slow one; the proxy holds the fast side back (the plaintext buffer is
// bounded and reading pauses as on the plain path), and every byte arrives.
func TestTLSFlowControl(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB each way through a slow peer")
	}
	const size = 64 << 20
	c := newTestCert(t, "ecdsa")
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			io.Copy(w, &pattern{n: size})
			return
		}
		n, err := slowVerify(r.Body, size, time.Now().Add(flowDeadline))
		fmt.Fprintf(w, "%d %v", n, err)
	}))
	_, addr := startTLSProxy(t, poolOf(be), c)
	t.Run("slow-client", func(t *testing.T) {
		deadline := time.Now().Add(flowDeadline)
		conn := dialTLS(t, addr, c.clientTLS())
		conn.SetDeadline(deadline)
		stop := watchMem()
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			stop()
			t.Fatal(err)
		}
		n, err := slowVerify(resp.Body, size, deadline)
		base, peak := stop()
		if err != nil || n != size {
			t.Fatalf("read %d of %d bytes: %v", n, size, err)
		}
		checkGrowth(t, base, peak)
	})
	t.Run("slow-backend", func(t *testing.T) {
		deadline := time.Now().Add(flowDeadline)
		conn := dialTLS(t, addr, c.clientTLS())
		conn.SetDeadline(deadline)
		stop := watchMem()
		errc := make(chan error, 1)
		go func() {
			w := bufio.NewWriterSize(conn, 128<<10)
			fmt.Fprintf(w, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", size)
			io.Copy(w, &pattern{n: size})
			errc <- w.Flush()
		}()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		base, peak := stop()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if err := <-errc; err != nil {
			t.Fatalf("writing the body: %v", err)
		}
		if want := fmt.Sprintf("%d <nil>", size); string(body) != want {
			t.Fatalf("backend says %q, want %q", body, want)
		}
		checkGrowth(t, base, peak)
	})
}

// TestTLSMaxHandshakes: beyond max_tls_handshakes in progress, a new TLS
// connection is closed at once and counted; once one ends, handshakes are
// taken again.
func TestTLSMaxHandshakes(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	st := stats.New(stats.Options{})
	cfg := poolOf(tlsBackend(t))
	cfg.Stats = st
	cfg.MaxTLSHandshakes = 2
	_, addr := startTLSProxy(t, cfg, c)
	var idle []net.Conn
	for range 2 { // two handshakes that never get a ClientHello
		conn, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, conn)
	}
	time.Sleep(100 * time.Millisecond) // accepted
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(ioTimeout))
	start := time.Now()
	if err := tls.Client(conn, c.clientTLS()).Handshake(); err == nil {
		t.Fatal("a third handshake went ahead; want the connection closed")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("closed after %v; want at once", d)
	}
	if got := metricValue(t, st, `loopgate_tls_handshakes_total{result="refused"}`); got != 1 {
		t.Fatalf("refused handshakes counted: %v; want 1", got)
	}
	idle[0].Close()
	for end := time.Now().Add(ioTimeout); ; time.Sleep(20 * time.Millisecond) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", addr, c.clientTLS())
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no handshake taken after one ended: %v", err)
		}
	}
	idle[1].Close()
}
