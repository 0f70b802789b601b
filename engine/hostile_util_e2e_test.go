package engine_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"loopgate/engine"
)

// Helpers shared by the hostile, integrity and canonical suites.

// The flow settings of these suites, set explicitly so that the memory bound
// below does not depend on the engine's defaults.
const (
	hostileReadBuffer = 64 << 10
	hostileHigh       = 1 << 20
	hostileLow        = 256 << 10
	// heapLimit is the growth of the heap in use that a transfer may cause:
	// a read buffer and a high watermark in each direction, plus slack for
	// the test's own clients and backends.
	heapLimit = 2*(hostileReadBuffer+hostileHigh) + 8<<20
)

// marker is what hostile backends put in bytes that must never reach a
// client.
const marker = "PWNED"

// hostileConfig is a one-loop proxy config in front of addrs, with explicit
// flow settings and no retries: a hostile backend's answer must surface as
// it is, not be replaced by a second attempt elsewhere.
func hostileConfig(addrs ...string) engine.Config {
	cfg := poolOf(addrs...)
	cfg.EventLoops = 1
	cfg.ReadBufferCap = hostileReadBuffer
	cfg.Flow = engine.Flow{HighWatermark: hostileHigh, LowWatermark: hostileLow}
	cfg.Pools[0].Retries = -1
	return cfg
}

// requestPath returns the target of a raw request head.
func requestPath(head string) string {
	line, _, _ := strings.Cut(head, "\r\n")
	_, rest, _ := strings.Cut(line, " ")
	target, _, _ := strings.Cut(rest, " ")
	return target
}

// honestAnswer is the body an honest backend answers to a request for path.
func honestAnswer(path string) string { return "honest " + path }

// serveHonest answers every request read from br with 200 and
// honestAnswer(path), except requests for a path holding "smuggled", which
// get the marker: a backend that was tricked into seeing a request answers
// it, and that answer must never reach a client.
func serveHonest(c net.Conn, br *bufio.Reader) {
	for {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		req, err := readRawRequest(br)
		if err != nil {
			return
		}
		body := honestAnswer(requestPath(req.head))
		if strings.Contains(req.head, "smuggled") {
			body = marker
		}
		if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
			return
		}
	}
}

// startFirstBad is a raw backend that serves its first connection with bad
// and every later one honestly: a backend that misbehaves once.
func startFirstBad(t *testing.T, bad func(c net.Conn, br *bufio.Reader)) *rawBackend {
	t.Helper()
	return startBadFor(t, 1, bad)
}

// startBadFor is startFirstBad for the first n connections.
func startBadFor(t *testing.T, n int64, bad func(c net.Conn, br *bufio.Reader)) *rawBackend {
	t.Helper()
	var accepted atomic.Int64
	return startRawBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if accepted.Add(1) <= n {
			bad(c, br)
			return
		}
		serveHonest(c, br)
	})
}

// readHead reads a request head from br and returns it (or "" on error),
// leaving any body unread.
func readHead(c net.Conn, br *bufio.Reader) string {
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return ""
		}
		head.WriteString(line)
		if line == "\r\n" && head.Len() > 2 {
			return head.String()
		}
	}
}

// resetClose closes c with a TCP reset instead of a FIN.
func resetClose(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// hold keeps the connections of a bad backend open until the test that
// uses it ends, or at most a given time.
type hold struct {
	ch   chan struct{}
	once sync.Once
}

func newHold() *hold { return &hold{ch: make(chan struct{})} }

// until releases the held connections when t ends; it may be called more
// than once.
func (h *hold) until(t *testing.T) {
	t.Cleanup(func() { h.once.Do(func() { close(h.ch) }) })
}

// wait blocks until the release, or d.
func (h *hold) wait(d time.Duration) {
	select {
	case <-h.ch:
	case <-time.After(d):
	}
}

// isClosed reports whether err is how a reader sees a closed connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// readUntilClosed reads what the proxy sends on c until it closes the
// connection or d passes. It returns the bytes and nil when the connection
// was closed, or the error that stopped the reading otherwise.
func readUntilClosed(c *client, d time.Duration) (string, error) {
	c.c.SetReadDeadline(time.Now().Add(d))
	var b bytes.Buffer
	_, err := io.Copy(&b, c.br) // io.Copy reports EOF as nil
	if err == nil || isClosed(err) {
		return b.String(), nil
	}
	return b.String(), err
}

// checkHonestClient runs one request on a new connection to px and checks
// that it gets its own answer from an honest backend, with no byte of the
// marker in it.
func checkHonestClient(t *testing.T, px string) {
	t.Helper()
	c := dial(t, px)
	c.capture()
	c.send("GET /honest HTTP/1.1\r\nHost: a\r\n\r\n")
	r, err := c.readErr("GET", ioTimeout)
	if strings.Contains(c.raw.String(), marker) || strings.Contains(c.raw.String(), lateMarker) {
		t.Fatalf("the honest client received another exchange's bytes: %q", c.raw.String())
	}
	if err != nil {
		t.Fatalf("the honest client got no answer: %v (read %q)", err, c.raw.String())
	}
	if r.StatusCode != 200 || r.body != honestAnswer("/honest") {
		t.Fatalf("the honest client got %d %q, want 200 %q", r.StatusCode, r.body, honestAnswer("/honest"))
	}
}

// lateMarker is what a backend sends after its exchange has failed.
const lateMarker = "LATE-ANSWER"

// wantIncomplete checks that raw, everything a client read before the proxy
// closed its connection, is not a complete response: either a 502 carrying
// none of the backend's body, or the backend's head with a body that ends
// before its framing says (fewer than Content-Length bytes, or a chunked
// body without its last chunk).
func wantIncomplete(t *testing.T, raw, backendBody string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("no response head before the close: %v (read %q)", err, trim(raw))
	}
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode == 502 && !strings.Contains(string(body), backendBody[:16]) {
		return
	}
	if err == nil {
		t.Fatalf("a cut response reached the client as complete: %d, %d body bytes, Content-Length %d, Transfer-Encoding %v",
			resp.StatusCode, len(body), resp.ContentLength, resp.TransferEncoding)
	}
	if strings.HasSuffix(raw, "0\r\n\r\n") {
		t.Fatalf("a cut response ends with a last chunk: %q", trim(raw))
	}
}

// trim shortens s for a failure message.
func trim(s string) string {
	if len(s) <= 300 {
		return s
	}
	return s[:150] + fmt.Sprintf("...(%d bytes)...", len(s)-300) + s[len(s)-150:]
}

// sha256Hex returns the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// patternSum returns the hex SHA-256 and the length of the first n bytes of
// the pattern.
func patternSum(n int64) string {
	h := sha256.New()
	io.Copy(h, &pattern{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

// writeTinyChunks writes the first n bytes of the pattern to w as a chunked
// body of 1 to 3 byte chunks, last chunk included.
func writeTinyChunks(w *bufio.Writer, n int64) error {
	p := &pattern{n: n}
	var buf [3]byte
	for i := 0; ; i++ {
		k, _ := p.Read(buf[:1+i%3])
		if k == 0 {
			break
		}
		fmt.Fprintf(w, "%x\r\n", k)
		w.Write(buf[:k])
		w.WriteString("\r\n")
	}
	w.WriteString("0\r\n\r\n")
	return w.Flush()
}

// slowRead reads r step bytes at a time, sleeping pause after each step,
// until slowFor has passed; then it reads the rest at full speed. It returns
// the SHA-256 and the length of what it read, and the error that ended the
// body early, if any.
func slowRead(r io.Reader, step int64, pause, slowFor time.Duration) (string, int64, error) {
	h := sha256.New()
	var n int64
	for start := time.Now(); time.Since(start) < slowFor; time.Sleep(pause) {
		k, err := io.CopyN(h, r, step)
		n += k
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), n, nil
		}
		if err != nil {
			return "", n, err
		}
	}
	k, err := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n + k, err
}

// heapWatch samples the heap in use (after a GC) every 100ms until it is
// stopped; the proxy runs in this process, so its buffers show up here.
type heapWatch struct {
	base, peak uint64
	done       chan struct{}
	wg         sync.WaitGroup
}

// heapInuse returns the heap in use after two collections (memAfterGC).
func heapInuse() uint64 { return memAfterGC().HeapInuse }

// memAfterGC returns the memory statistics after two collections: the second
// one empties the sync.Pool victim caches, where buffers of earlier tests linger.
func memAfterGC() *runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &ms
}

func watchHeap() *heapWatch {
	w := &heapWatch{done: make(chan struct{})}
	w.base = heapInuse()
	w.peak = w.base
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-tk.C:
			}
			w.peak = max(w.peak, heapInuse())
		}
	}()
	return w
}

// check stops the watch and fails the test if the heap grew by more than
// heapLimit over its baseline.
func (w *heapWatch) check(t *testing.T) {
	t.Helper()
	close(w.done)
	w.wg.Wait()
	w.peak = max(w.peak, heapInuse())
	grow := int64(w.peak) - int64(w.base)
	t.Logf("heap in use: %d KiB -> peak %d KiB (limit +%d KiB)", w.base>>10, w.peak>>10, heapLimit>>10)
	if grow > heapLimit {
		t.Errorf("heap in use grew by %d KiB, want at most %d KiB (2 x (read_buffer + high_watermark) + 8 MiB)", grow>>10, heapLimit>>10)
	}
}

// digestAnswer is how the differential backends describe a request they
// received: its method, target, body length and body SHA-256.
func digestAnswer(method, target string, body []byte) string {
	return fmt.Sprintf("%s %s n=%d sha=%s", method, target, len(body), sha256Hex(body))
}

// laxBackend is a raw backend with a deliberately tolerant parser of its own
// (the kind that sits behind proxies in the wild): framing by any
// Transfer-Encoding naming chunked, else by Content-Length with leading zeros;
// a chunk size is the hex digits at the start of its line, the rest of the
// line is skipped. It answers digestAnswer, or with echo the request as it
// received it (head, then body framing; X-Body-Offset says where the body
// starts), and logs digestAnswer of what it saw.
type laxBackend struct {
	*rawBackend
	mu  sync.Mutex
	log []string
}

func startLaxBackend(t *testing.T, echo bool) *laxBackend {
	t.Helper()
	b := &laxBackend{}
	b.rawBackend = startRawBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			req, err := laxRead(br)
			if err != nil {
				return
			}
			a := digestAnswer(req.method, req.target, req.payload)
			b.mu.Lock()
			b.log = append(b.log, a)
			b.mu.Unlock()
			switch {
			case strings.Contains(req.target, "status?code=418"):
				io.WriteString(c, "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n")
			case echo:
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Body-Offset: %d\r\n\r\n%s%s",
					len(req.head)+len(req.framing), len(req.head), req.head, req.framing)
			default:
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(a), a)
			}
		}
	})
	return b
}

// seen returns the requests logged so far and clears the log.
func (b *laxBackend) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.log
	b.log = nil
	return l
}

// laxRequest is a request as the lax parser read it.
type laxRequest struct {
	method, target string
	head, framing  string // as received
	payload        []byte // the body, de-chunked
}

// laxReader reads from br and keeps a copy of what it consumed.
type laxReader struct {
	br  *bufio.Reader
	raw strings.Builder
}

func (r *laxReader) line() (string, error) {
	l, err := r.br.ReadString('\n')
	r.raw.WriteString(l)
	return l, err
}

func (r *laxReader) full(n int) ([]byte, error) {
	b := make([]byte, n)
	k, err := io.ReadFull(r.br, b)
	r.raw.Write(b[:k])
	return b, err
}

func laxRead(br *bufio.Reader) (laxRequest, error) {
	var req laxRequest
	r := &laxReader{br: br}
	line, err := r.line()
	for err == nil && strings.TrimSpace(line) == "" {
		r.raw.Reset()
		line, err = r.line()
	}
	if err != nil {
		return req, err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return req, fmt.Errorf("bad request line %q", line)
	}
	req.method, req.target = f[0], f[1]
	chunked, cl := false, 0
	for {
		line, err := r.line()
		if err != nil {
			return req, err
		}
		if strings.TrimSpace(line) == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(value), "chunked")
		case "content-length":
			cl, _ = strconv.Atoi(value)
		}
	}
	req.head = r.raw.String()
	r.raw.Reset()
	if !chunked {
		req.payload, err = r.full(cl)
		req.framing = r.raw.String()
		return req, err
	}
	for {
		line, err := r.line()
		if err != nil {
			return req, err
		}
		s := strings.TrimLeft(line, " \t")
		end := 0
		for end < len(s) && strings.IndexByte("0123456789abcdefABCDEF", s[end]) >= 0 {
			end++
		}
		n, _ := strconv.ParseInt(s[:end], 16, 64)
		if n == 0 {
			for { // trailers, up to the empty line
				line, err := r.line()
				if err != nil {
					return req, err
				}
				if strings.TrimSpace(line) == "" {
					req.framing = r.raw.String()
					return req, nil
				}
			}
		}
		data, err := r.full(int(n))
		if err != nil {
			return req, err
		}
		req.payload = append(req.payload, data...)
		if _, err := r.line(); err != nil {
			return req, err
		}
	}
}

// ownAnswer bounds the wait for an answer the proxy makes by itself (a
// refusal): it comes at once, so this is a hundred times what is needed.
const ownAnswer = 2 * time.Second

// wantRefused sends req on a new connection and checks that the proxy
// answers it with status by itself, with Connection: close, closes the
// connection, and forwards nothing to rec.
func wantRefused(t *testing.T, px string, rec *recorder, req string, status int) {
	t.Helper()
	n0, got0 := rec.seen()
	c := dial(t, px)
	c.c.Write([]byte(req)) // the proxy may answer before it has read it all
	r, err := c.readErr("GET", ownAnswer)
	time.Sleep(20 * time.Millisecond) // let stray bytes arrive
	n, got := rec.seen()
	n, got = n-n0, got[len(got0):]
	if n > 0 || got != "" {
		t.Errorf("the backend got %d connection(s) and %q", n, got)
	}
	if err != nil {
		t.Fatalf("no answer from the proxy within %v: %v", ownAnswer, err)
	}
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d (body %q)", r.StatusCode, status, r.body)
	}
	if !r.Close {
		t.Errorf("no Connection: close in %v", r.Header)
	}
	if err := c.closedWithin(ownAnswer); err != nil {
		t.Error(err)
	}
}

// strictBackend is a Go net/http backend in full-duplex mode, the strict
// peer: it reads the whole body and answers digestAnswer, or 400 naming the
// error if the body does not parse; /status?code=N&delay=D answers N after
// D. It logs what its handler saw.
type strictBackend struct {
	addr string
	mu   sync.Mutex
	log  []string
}

func startStrictBackend(t *testing.T) *strictBackend {
	t.Helper()
	b := &strictBackend{}
	b.addr = startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		body, err := io.ReadAll(r.Body)
		a := digestAnswer(r.Method, r.URL.RequestURI(), body)
		if err != nil {
			a = fmt.Sprintf("%s %s body error: %v", r.Method, r.URL.RequestURI(), err)
		}
		b.mu.Lock()
		b.log = append(b.log, a)
		b.mu.Unlock()
		if err != nil {
			w.WriteHeader(400)
		} else if code, _ := strconv.Atoi(r.URL.Query().Get("code")); r.URL.Path == "/status" && code >= 200 {
			d, _ := time.ParseDuration(r.URL.Query().Get("delay"))
			time.Sleep(min(d, time.Second))
			w.WriteHeader(code)
		}
		io.WriteString(w, a)
	}))
	return b
}

func (b *strictBackend) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.log
	b.log = nil
	return l
}
