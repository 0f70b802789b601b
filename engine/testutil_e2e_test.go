package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"loopgate/engine"
)

// ioTimeout bounds every single read or write a test makes, so that a proxy
// that stops answering fails the test instead of hanging it.
const ioTimeout = 5 * time.Second

// testLogger is the proxy's logger: silent unless LOOPGATE_E2E_LOG is set,
// in which case debug logs go to stderr (useful to see why a request was
// rejected). t.Log is not used because the loops outlive a test's body.
func testLogger() *slog.Logger {
	if os.Getenv("LOOPGATE_E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// poolOf returns a one-pool config ("web") with the given backend addresses.
func poolOf(addrs ...string) engine.Config {
	p := engine.Pool{Name: "web"}
	for _, a := range addrs {
		p.Backends = append(p.Backends, engine.Backend{Address: a})
	}
	return engine.Config{EventLoops: 1, Pools: []engine.Pool{p}}
}

// startProxy runs a proxy for cfg on 127.0.0.1:0 and shuts it down when the
// test ends. It returns the server and its address.
func startProxy(t *testing.T, cfg engine.Config) (*engine.Server, string) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.EventLoops == 0 {
		cfg.EventLoops = 1
	}
	srv, err := engine.New(cfg, testLogger())
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run() }()
	select {
	case <-srv.Ready():
	case <-time.After(ioTimeout):
		t.Fatalf("proxy not ready after %v", ioTimeout)
	}
	if srv.Addr() == nil {
		select {
		case err = <-runErr:
		case <-time.After(ioTimeout):
		}
		t.Fatalf("proxy did not bind: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case <-runErr:
		case <-time.After(ioTimeout):
			t.Errorf("Run did not return %v after Shutdown", ioTimeout)
		}
	})
	return srv, srv.Addr().String()
}

// startProxyTo runs a proxy with default settings in front of addrs.
func startProxyTo(t *testing.T, addrs ...string) string {
	t.Helper()
	_, a := startProxy(t, poolOf(addrs...))
	return a
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// startBackend serves h with net/http on 127.0.0.1:0 and returns its address.
func startBackend(t *testing.T, h http.Handler) string {
	t.Helper()
	ln := listenLocal(t)
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawBackend is a TCP "backend" that runs handle for each accepted
// connection; it is for backends that misbehave on purpose.
type rawBackend struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func startRawBackend(t *testing.T, handle func(c net.Conn)) *rawBackend {
	t.Helper()
	b := &rawBackend{ln: listenLocal(t), conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := b.ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			b.mu.Lock()
			b.conns[c] = struct{}{}
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				handle(c)
				c.Close()
				b.mu.Lock()
				delete(b.conns, c)
				b.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		b.ln.Close()
		b.mu.Lock()
		for c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		done := make(chan struct{})
		go func() { b.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(ioTimeout):
			t.Errorf("raw backend handlers still running %v after close", ioTimeout)
		}
	})
	return b
}

func (b *rawBackend) addr() string { return b.ln.Addr().String() }

// recorder is a raw backend that records every byte it receives and never
// answers: requests the proxy must not forward show up here.
type recorder struct {
	*rawBackend
	mu  sync.Mutex
	got bytes.Buffer
}

func startRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{}
	r.rawBackend = startRawBackend(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			r.mu.Lock()
			r.got.Write(buf[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	})
	return r
}

// seen returns the connections accepted and the bytes received so far.
func (r *recorder) seen() (int64, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted.Load(), r.got.String()
}

// rawRequest is one request as a backend received it, byte for byte.
type rawRequest struct {
	head string // request line and fields through the final CRLF CRLF
	body string // the body's framing as received: chunk lines and trailers included
}

// readRawRequest reads one request from br, framing its body by
// Content-Length or chunked. It is deliberately lenient: the proxy is what
// is under test.
func readRawRequest(br *bufio.Reader) (rawRequest, error) {
	var head strings.Builder
	var cl int64
	chunked := false
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			return rawRequest{head: head.String()}, err
		}
		if line == "\r\n" || line == "\n" {
			if head.Len() == len(line) {
				head.Reset() // a stray empty line before a request
				continue
			}
			break
		}
		name, value, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			cl, _ = strconv.ParseInt(value, 10, 64)
		case "transfer-encoding":
			chunked = strings.HasSuffix(strings.ToLower(value), "chunked")
		}
	}
	req := rawRequest{head: head.String()}
	var body bytes.Buffer
	var err error
	switch {
	case chunked:
		err = readRawChunked(br, &body)
	case cl > 0:
		_, err = io.CopyN(&body, br, cl)
	}
	req.body = body.String()
	return req, err
}

// readRawChunked copies a chunked body with its framing from br to w.
func readRawChunked(br *bufio.Reader, w *bytes.Buffer) error {
	for {
		line, err := br.ReadString('\n')
		w.WriteString(line)
		if err != nil {
			return err
		}
		sz, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size line %q", line)
		}
		if n == 0 {
			for { // trailer section
				line, err := br.ReadString('\n')
				w.WriteString(line)
				if err != nil {
					return err
				}
				if line == "\r\n" {
					return nil
				}
			}
		}
		if _, err := io.CopyN(w, br, n+2); err != nil {
			return err
		}
	}
}

// startEchoBackend answers every request with 200 and a body holding the
// request exactly as received (head, then body framing), on keep-alive
// connections. X-Body-Offset says where the body starts.
func startEchoBackend(t *testing.T) *rawBackend {
	t.Helper()
	return startRawBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			req, err := readRawRequest(br)
			if err != nil {
				return
			}
			echo := req.head + req.body
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Body-Offset: %d\r\n\r\n%s", len(echo), len(req.head), echo)
		}
	})
}

// field is one header field line, in the order received.
type field struct{ name, value string }

// fieldsOf parses the field lines of a raw head.
func fieldsOf(head string) []field {
	lines := strings.Split(head, "\r\n")
	var fs []field
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		n, v, _ := strings.Cut(l, ":")
		fs = append(fs, field{n, strings.TrimSpace(v)})
	}
	return fs
}

// values returns the values of the fields named name (case-insensitive), in order.
func values(fs []field, name string) []string {
	var vs []string
	for _, f := range fs {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value)
		}
	}
	return vs
}

// client is a raw client connection to the proxy.
type client struct {
	t   *testing.T
	c   net.Conn
	br  *bufio.Reader
	raw *bytes.Buffer // when capturing: every byte read from the socket
}

// dial connects to the proxy at addr; the connection is closed at the end
// of the test (before the proxy shuts down).
func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReaderSize(c, 64<<10)}
}

// capture makes the client record the raw bytes it reads from now on.
func (c *client) capture() {
	c.raw = &bytes.Buffer{}
	c.br = bufio.NewReaderSize(io.TeeReader(c.c, c.raw), 64<<10)
}

func (c *client) send(s string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// response is a response read completely, body included.
type response struct {
	*http.Response
	body string
}

// readErr reads one response to a request with the given method (it matters
// for HEAD) and its whole body, each within d.
func (c *client) readErr(method string, d time.Duration) (*response, error) {
	c.c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return &response{resp, string(b)}, err
}

// read is readErr that fails the test on error.
func (c *client) read(method string) *response {
	c.t.Helper()
	r, err := c.readErr(method, ioTimeout)
	if err != nil {
		c.t.Fatalf("reading %s response: %v", method, err)
	}
	return r
}

// roundTrip sends req and reads its response.
func (c *client) roundTrip(method, req string) *response {
	c.t.Helper()
	c.send(req)
	return c.read(method)
}

// expectClosed checks that the proxy closes the connection within d without
// sending anything more.
func (c *client) expectClosed(d time.Duration) {
	c.t.Helper()
	if err := c.closedWithin(d); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) closedWithin(d time.Duration) error {
	c.c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 512)
	n, err := c.br.Read(b)
	switch {
	case n > 0:
		return fmt.Errorf("expected the proxy to close the connection, got %d more bytes: %q", n, b[:n])
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return nil
	}
	return fmt.Errorf("expected the proxy to close the connection within %v: %v", d, err)
}

// wantStatus fails the test unless r has the wanted status.
func wantStatus(t *testing.T, r *response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("status %d, want %d (body %q)", r.StatusCode, want, r.body)
	}
}

// pattern is an io.Reader of n deterministic bytes that holds none of them:
// byte i is a function of i, so a receiver can check content and position.
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte(x ^ x>>8 ^ x>>19)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func intPtr(v int) *int { return &v }
