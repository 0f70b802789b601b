package engine_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"loopgate/engine"
)

// framingVariant is a request body framing that the codec accepts: the
// framing field line(s), the body as sent and the payload it carries.
type framingVariant struct {
	name, field, wire, payload string
}

func framingVariants() []framingVariant {
	const p = "abcdefghijklmnopqrstuvwxyz012" // 0x1d bytes
	te := "Transfer-Encoding: chunked\r\n"
	chunked := func(name, sizeLine string) framingVariant {
		return framingVariant{name, te, sizeLine + "\r\n" + p + "\r\n0\r\n\r\n", p}
	}
	return []framingVariant{
		chunked("chunk-extension", "1d;x"),
		chunked("chunk-extension-space-before-semicolon", "1d ;x"),
		chunked("chunk-extension-quoted", `1d;x="q"`),
		chunked("chunk-extension-quoted-semicolon", `1d;x="a;b"`),
		chunked("chunk-size-leading-zeros", "0001d"),
		chunked("chunk-size-upper-case", "1D"),
		{"last-chunk-extension", te, "1d\r\n" + p + "\r\n0;end\r\n\r\n", p},
		{"trailers", te, "1d\r\n" + p + "\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n", p},
		{"several-chunks", te, "3\r\nabc\r\n1a\r\n" + p[3:] + "\r\n0\r\n\r\n", p},
		{"te-trailing-comma", "Transfer-Encoding: chunked,\r\n", "1d\r\n" + p + "\r\n0\r\n\r\n", p},
		{"te-leading-commas", "Transfer-Encoding: ,,chunked\r\n", "1d\r\n" + p + "\r\n0\r\n\r\n", p},
		{"te-upper-case", "Transfer-Encoding: CHUNKED\r\n", "1d\r\n" + p + "\r\n0\r\n\r\n", p},
		{"content-length-leading-zeros", "Content-Length: 0010\r\n", "0123456789", "0123456789"},
	}
}

// Every framing the proxy accepts means one thing downstream: a strict
// backend (Go's net/http) and a lax one (a tolerant parser of our own) each
// see exactly one request with exactly the body the client sent, and the
// requests after it, on the same client connection and from another client,
// get their own answers (G1, G2). A variant the proxy refuses with 400,
// forwarding nothing, is consistent too.
func TestIntegrityDifferentialFramingE2E(t *testing.T) {
	strict := startStrictBackend(t)
	lax := startLaxBackend(t, false)
	_, pxStrict := startProxy(t, hostileConfig(strict.addr))
	_, pxLax := startProxy(t, hostileConfig(lax.addr()))
	peers := []struct {
		name string
		px   string
		seen func() []string
	}{
		{"strict", pxStrict, strict.seen},
		{"lax", pxLax, lax.seen},
	}
	for _, v := range framingVariants() {
		for _, peer := range peers {
			t.Run(v.name+"/"+peer.name, func(t *testing.T) {
				peer.seen()
				a := dial(t, peer.px)
				a.send("POST /v HTTP/1.1\r\nHost: a\r\n" + v.field + "\r\n" + v.wire)
				r, err := a.readErr("POST", ioTimeout)
				if err != nil {
					t.Fatalf("no answer: %v (the backend saw %q)", err, peer.seen())
				}
				want := []string{digestAnswer("POST", "/v", []byte(v.payload))}
				if r.StatusCode == 400 && strings.HasPrefix(r.body, "400") {
					if got := peer.seen(); len(got) != 0 {
						t.Fatalf("the proxy refused the request but the backend saw %q", got)
					}
					t.Logf("refused by the proxy")
					want = nil
				} else {
					if r.StatusCode != 200 || r.body != want[0] {
						t.Fatalf("got %d %q, want 200 %q", r.StatusCode, r.body, want[0])
					}
					next := digestAnswer("GET", "/next", nil)
					if r := a.roundTrip("GET", "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode != 200 || r.body != next {
						t.Fatalf("next request on the same connection: %d %q, want 200 %q", r.StatusCode, r.body, next)
					}
					want = append(want, next)
				}
				other := digestAnswer("GET", "/other", nil)
				if r := dial(t, peer.px).roundTrip("GET", "GET /other HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode != 200 || r.body != other {
					t.Fatalf("another client: %d %q, want 200 %q", r.StatusCode, r.body, other)
				}
				want = append(want, other)
				if got := peer.seen(); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("the backend saw:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
			})
		}
	}
}

// A chunk size line that Go's net/http rejects (whitespace before the ';')
// and whose chunk holds a whole request: if the line reaches it as sent, Go
// (in full-duplex mode) answers 400, keeps the connection and answers the
// inner request too, 50ms later: its 418 comes after the proxy pooled the
// connection, as the answer to whatever request the proxy sent next on it.
// Another client must never get that 418.
func TestIntegritySmugglingE2E(t *testing.T) {
	strict := startStrictBackend(t)
	_, px := startProxy(t, hostileConfig(strict.addr))
	inner := "GET /status?code=418&delay=50ms HTTP/1.1\r\nHost: x\r\n\r\n"
	attack := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%x ;x\r\n%s\r\n0\r\n\r\n", len(inner), inner)
	victim := digestAnswer("GET", "/?victim", nil)
	for i := range 20 {
		a := dial(t, px)
		a.send(attack)
		a.readErr("POST", ioTimeout) // whatever it is; it is the attacker's
		r := dial(t, px).roundTrip("GET", "GET /?victim HTTP/1.1\r\nHost: a\r\n\r\n")
		if r.StatusCode == 418 {
			t.Fatalf("run %d: the victim got the smuggled request's 418 (the backend saw %q)", i, strict.seen())
		}
		if r.StatusCode != 200 || r.body != victim {
			t.Fatalf("run %d: the victim got %d %q, want 200 %q", i, r.StatusCode, r.body, victim)
		}
		a.c.Close()
	}
}

// Full duplex with flow control both ways at once (G6): the backend streams
// 24 MiB while it reads a 16 MiB upload slowly, and reports the upload's
// digest in a trailer; the client uploads while it starts reading only after
// 300ms. The proxy must not take it for a client that sends without reading.
func TestIntegrityFullDuplexE2E(t *testing.T) {
	const up, down = 16 << 20, 24 << 20
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		w.Header().Set("Trailer", "X-Upload-Sha256, X-Upload-Len")
		type result struct {
			sum string
			n   int64
			err error
		}
		got := make(chan result, 1)
		go func() {
			sum, n, err := slowRead(r.Body, 64<<10, 2*time.Millisecond, 10*time.Second)
			got <- result{sum, n, err}
		}()
		io.Copy(w, &pattern{n: down})
		res := <-got
		if res.err != nil {
			res.sum = res.err.Error()
		}
		w.Header().Set("X-Upload-Sha256", res.sum)
		w.Header().Set("X-Upload-Len", strconv.FormatInt(res.n, 10))
	}))
	_, px := startProxy(t, hostileConfig(be))
	wantUp, wantDown := patternSum(up), patternSum(down)
	for run := range 3 {
		t.Run(strconv.Itoa(run), func(t *testing.T) {
			deadline := time.Now().Add(10 * time.Second)
			c := dial(t, px)
			c.send("POST /duplex HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(up) + "\r\n\r\n")
			errc := make(chan error, 1)
			go func() {
				c.c.SetWriteDeadline(deadline)
				_, err := io.Copy(c.c, &pattern{n: up})
				errc <- err
			}()
			time.Sleep(300 * time.Millisecond)
			c.c.SetReadDeadline(deadline)
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatalf("no response: %v (upload: %v)", err, <-errc)
			}
			sum, n, err := slowRead(resp.Body, 64<<10, 0, 0)
			if werr := <-errc; werr != nil {
				t.Errorf("writing the upload: %v", werr)
			}
			if err != nil || n != down || sum != wantDown {
				t.Fatalf("response: %d status, %d of %d bytes (sha256 match %v): %v", resp.StatusCode, n, down, sum == wantDown, err)
			}
			if got := resp.Trailer.Get("X-Upload-Sha256"); got != wantUp || resp.Trailer.Get("X-Upload-Len") != strconv.Itoa(up) {
				t.Fatalf("the backend read %s bytes with sha256 %s, want %d with %s", resp.Trailer.Get("X-Upload-Len"), got, up, wantUp)
			}
		})
	}
}

// A client that half-closes its side after its request (nc -N) still gets
// the whole response. Ten times each: whether the FIN comes with the
// request or after it is up to the kernel.
func TestIntegrityHalfCloseE2E(t *testing.T) {
	_, px := startProxy(t, hostileConfig(methodBackend(t)))
	for _, tc := range []struct{ name, req, want, bodyLen string }{
		{"get", "GET /hc HTTP/1.1\r\nHost: x\r\n\r\n", "GET /hc", "0"},
		{"post", "POST /hc HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "POST /hc", "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 10 {
				c := dial(t, px)
				c.send(tc.req)
				if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
				r, err := c.readErr("GET", ioTimeout)
				if err != nil {
					t.Fatalf("run %d: no response after a half-close: %v", i, err)
				}
				if r.StatusCode != 200 || r.body != tc.want || r.Header.Get("X-Body-Len") != tc.bodyLen {
					t.Fatalf("run %d: got %d %q (body %s bytes), want 200 %q (%s bytes)",
						i, r.StatusCode, r.body, r.Header.Get("X-Body-Len"), tc.want, tc.bodyLen)
				}
				c.c.Close()
			}
		})
	}
}

// 50 pipelined requests (GETs, Content-Length and chunked POSTs) sent in
// random pieces, so that heads and bodies straddle the proxy's reads: each
// is answered in order with its own ID.
func TestIntegrityPipeliningE2E(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "id=%s body=%s", r.Header.Get("X-ID"), b)
	}))
	_, px := startProxy(t, hostileConfig(be))
	for seed := range uint64(3) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			var all strings.Builder
			var want []string
			for i := range 50 {
				body := fmt.Sprintf("body-%d", i)
				switch i % 3 {
				case 0:
					fmt.Fprintf(&all, "GET /p HTTP/1.1\r\nHost: a\r\nX-ID: %d\r\n\r\n", i)
					body = ""
				case 1:
					fmt.Fprintf(&all, "POST /p HTTP/1.1\r\nHost: a\r\nX-ID: %d\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
				case 2:
					fmt.Fprintf(&all, "POST /p HTTP/1.1\r\nHost: a\r\nX-ID: %d\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n",
						i, body[:5], len(body)-5, body[5:])
				}
				want = append(want, fmt.Sprintf("id=%d body=%s", i, body))
			}
			c := dial(t, px)
			go func() {
				rng := rand.New(rand.NewPCG(seed, 7))
				c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
				for s := all.String(); len(s) > 0; {
					n := min(len(s), 1+rng.IntN(120))
					if _, err := io.WriteString(c.c, s[:n]); err != nil {
						return
					}
					s = s[n:]
					time.Sleep(500 * time.Microsecond)
				}
			}()
			for i, w := range want {
				r, err := c.readErr("GET", ioTimeout)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				if r.StatusCode != 200 || r.body != w {
					t.Fatalf("response %d: %d %q, want 200 %q", i, r.StatusCode, r.body, w)
				}
			}
		})
	}
}

// Memory per exchange is bounded by the read buffer and the high watermark
// in each direction, whatever the chunk sizes (G4): the heap in use may grow
// by at most 2 x (read_buffer + high_watermark) + 8 MiB while 64 MiB are
// pushed at a slow peer, for 3s.
func TestIntegrityMemoryE2E(t *testing.T) {
	const size = 64 << 20
	const measure = 3 * time.Second
	t.Run("download-3-byte-chunks", func(t *testing.T) {
		held := newHold()
		be := startRawBackend(t, func(c net.Conn) {
			if readHead(c, bufio.NewReader(c)) == "" {
				return
			}
			c.SetWriteDeadline(time.Now().Add(2 * measure))
			w := bufio.NewWriterSize(c, 64<<10)
			w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			for range size / 3 {
				if _, err := w.WriteString("3\r\nabc\r\n"); err != nil {
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
		_, px := startProxy(t, hostileConfig(be.addr()))
		c := dial(t, px)
		heap := watchHeap()
		c.send("GET /tiny HTTP/1.1\r\nHost: a\r\n\r\n")
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
	upload := func(t *testing.T, chunked bool) {
		be := startRawBackend(t, func(c net.Conn) {
			br := bufio.NewReaderSize(c, 64<<10)
			if readHead(c, br) == "" {
				return
			}
			buf := make([]byte, 64<<10)
			for start := time.Now(); time.Since(start) < measure+time.Second; time.Sleep(100 * time.Millisecond) {
				if _, err := io.ReadFull(br, buf); err != nil {
					return
				}
			}
		})
		_, px := startProxy(t, hostileConfig(be.addr()))
		c := dial(t, px)
		heap := watchHeap()
		head := "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n"
		if chunked {
			head = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		}
		c.send(head)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.c.SetWriteDeadline(time.Now().Add(measure))
			w := bufio.NewWriterSize(c.c, 64<<10)
			if chunked {
				for range size / 3 {
					if _, err := w.WriteString("3\r\nabc\r\n"); err != nil {
						return
					}
				}
				return
			}
			io.Copy(w, &pattern{n: size})
		}()
		<-done // the write deadline ends it after the measure at the latest
		heap.check(t)
	}
	t.Run("upload-content-length", func(t *testing.T) { upload(t, false) })
	t.Run("upload-3-byte-chunks", func(t *testing.T) { upload(t, true) })
	t.Run("pipelined-unread", func(t *testing.T) {
		// A client pipelines requests as fast as it can and reads none of
		// the answers (each 50 times the size of its request).
		be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, &pattern{n: 2000})
		}))
		_, px := startProxy(t, hostileConfig(be))
		c := dial(t, px)
		heap := watchHeap()
		c.c.SetWriteDeadline(time.Now().Add(measure))
		w := bufio.NewWriterSize(c.c, 64<<10)
		for sent := 0; sent < size; sent += 40 {
			if _, err := w.WriteString("GET /pipelined HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
				break // the write deadline, or the proxy closed the connection
			}
		}
		heap.check(t)
	})
}

// A timeout names the side that stalled, and nothing the backend sends after
// the exchange failed reaches a client. body_progress is 1s; an exchange
// that is not over within ten times that was not ended by it.
func TestIntegrityTimeoutsE2E(t *testing.T) {
	const within = 10 * time.Second
	late := "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(lateMarker)) + "\r\n\r\n" + lateMarker
	withProgress := func(t *testing.T, addr string) string {
		cfg := hostileConfig(addr)
		cfg.Timeouts = engine.Timeouts{BodyProgress: time.Second}
		_, px := startProxy(t, cfg)
		letClockTick()
		return px
	}

	t.Run("backend-stops-reading", func(t *testing.T) {
		answered := make(chan struct{})
		closed := make(chan error, 1)
		be := startFirstBad(t, func(c net.Conn, br *bufio.Reader) {
			if readHead(c, br) == "" {
				return
			}
			select { // read nothing more until the client has its answer
			case <-answered:
			case <-time.After(3 * ioTimeout):
			}
			sendLateThenDrain(c, br, late, closed)
		})
		px := withProgress(t, be.addr())
		c := dial(t, px)
		c.capture()
		start := time.Now()
		c.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(64<<20) + "\r\n\r\n")
		go func() {
			c.c.SetWriteDeadline(time.Now().Add(2 * ioTimeout))
			io.Copy(c.c, &pattern{n: 64 << 20})
		}()
		r, err := c.readErr("POST", within)
		el := time.Since(start)
		close(answered)
		if err != nil {
			t.Fatalf("no answer after %v: %v", el, err)
		}
		if r.StatusCode != 504 && r.StatusCode != 502 {
			t.Fatalf("got %d %q after %v, want 504 or 502", r.StatusCode, r.body, el)
		}
		if el < 900*time.Millisecond {
			t.Errorf("answer after %v, before body_progress (1s) could have passed", el)
		}
		if _, err := readUntilClosed(c, ioTimeout); err != nil {
			t.Errorf("the client connection was not closed after a failed upload: %v", err)
		}
		if strings.Contains(c.raw.String(), lateMarker) {
			t.Fatalf("the backend's late answer reached the client: %q", trim(c.raw.String()))
		}
		select {
		case err := <-closed:
			if err != nil && !isClosed(err) {
				t.Errorf("the stalled backend connection was not closed: %v", err)
			}
		case <-time.After(2 * ioTimeout):
			t.Errorf("the stalled backend connection was not closed")
		}
		checkHonestClient(t, px)
	})

	// A response cut by body_progress is not framed as complete (G3).
	for _, framing := range []string{"Transfer-Encoding: chunked\r\n\r\n400\r\n", "\r\n"} {
		name := "backend-stalls-mid-chunked-response"
		if framing == "\r\n" {
			name = "backend-stalls-mid-close-delimited-response"
		}
		t.Run(name, func(t *testing.T) {
			partial := strings.Repeat("a response that stalls. ", 20)
			held := newHold()
			be := startFirstBad(t, func(c net.Conn, br *bufio.Reader) {
				if readHead(c, br) == "" {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"+framing+partial)
				held.wait(3 * ioTimeout)
				io.WriteString(c, late)
			})
			held.until(t)
			px := withProgress(t, be.addr())
			c := dial(t, px)
			start := time.Now()
			c.send("GET /stall HTTP/1.1\r\nHost: a\r\n\r\n")
			raw, err := readUntilClosed(c, within)
			if err != nil {
				t.Fatalf("the client connection was not closed %v after the backend stalled: %v (read %q)", time.Since(start), err, trim(raw))
			}
			wantIncomplete(t, raw, partial)
			checkHonestClient(t, px)
		})
	}

	t.Run("client-stops-sending", func(t *testing.T) {
		closed := make(chan error, 1)
		be := startFirstBad(t, func(c net.Conn, br *bufio.Reader) {
			if readHead(c, br) == "" {
				return
			}
			time.Sleep(1500 * time.Millisecond) // past the proxy's timeout
			sendLateThenDrain(c, br, late, closed)
		})
		px := withProgress(t, be.addr())
		c := dial(t, px)
		c.capture()
		start := time.Now()
		c.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n0123456789")
		r, err := c.readErr("POST", within)
		el := time.Since(start)
		if err != nil {
			t.Fatalf("no answer after %v: %v", el, err)
		}
		if r.StatusCode != 408 {
			t.Fatalf("got %d %q after %v, want 408", r.StatusCode, r.body, el)
		}
		if el < 900*time.Millisecond {
			t.Errorf("408 after %v, before body_progress (1s) could have passed", el)
		}
		if _, err := readUntilClosed(c, ioTimeout); err != nil {
			t.Errorf("the client connection was not closed after a 408: %v", err)
		}
		select {
		case err := <-closed: // the late answer is out by now
			if err != nil && !isClosed(err) {
				t.Errorf("the backend connection of the failed upload was not closed: %v", err)
			}
		case <-time.After(2 * ioTimeout):
			t.Errorf("the backend connection of the failed upload was not closed")
		}
		if strings.Contains(c.raw.String(), lateMarker) {
			t.Fatalf("the backend's late answer reached the client: %q", trim(c.raw.String()))
		}
		checkHonestClient(t, px)
	})
}

// sendLateThenDrain is the end of a stalled backend: it sends its late
// answer, which must reach nobody, then reads until the proxy closes the
// connection and reports how that read ended.
func sendLateThenDrain(c net.Conn, br *bufio.Reader, late string, closed chan<- error) {
	io.WriteString(c, late)
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	_, err := io.Copy(io.Discard, br)
	closed <- err
}
