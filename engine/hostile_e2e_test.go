package engine_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A backend that misbehaves must not be able to reach any client but the
// one whose exchange it serves, nor to make a cut response look complete,
// nor to make the proxy buffer without bound. Each row runs against a live
// proxy with one event loop; the backend misbehaves on its first connection
// only, and afterwards a second, honest client on the same loop must get its
// own answer with none of the hostile bytes in it (docs/ARCHITECTURE.md,
// "Framing decisions").
func TestHostileBackendE2E(t *testing.T) {
	for _, row := range hostileRows() {
		t.Run(row.name, func(t *testing.T) {
			runs := max(row.repeat, 1)
			be := startBadFor(t, int64(runs), row.bad)
			cfg := hostileConfig(be.addr())
			if row.retries {
				cfg.Pools[0].Retries = 2
			}
			_, px := startProxy(t, cfg)
			for range runs {
				row.attack(t, px)
			}
			checkHonestClient(t, px)
		})
	}
}

// hostileRow is one misbehaviour: how the backend serves its first
// connection(s), and the client's exchange with it.
type hostileRow struct {
	name    string
	bad     func(c net.Conn, br *bufio.Reader) // serves the backend's bad connection(s)
	attack  func(t *testing.T, px string)      // the exchange a bad connection serves
	retries bool                               // leave the pool's retries on
	// repeat runs the attack this many times, on as many bad connections,
	// for rows whose outcome on a broken proxy depends on a race (default 1).
	repeat int
}

func hostileRows() []hostileRow {
	smuggled := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + marker
	rows := []hostileRow{
		// G1: bytes after a response without a body, in the same write.
		bytesAfter("head-then-response", "HEAD", "", "HTTP/1.1 200 OK\r\nContent-Length: 44\r\n\r\n"+smuggled),
		bytesAfter("204-then-bytes", "GET", "", "HTTP/1.1 204 No Content\r\n\r\n"+smuggled),
		bytesAfter("304-then-bytes", "GET", "If-None-Match: \"x\"\r\n", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"+smuggled),
		bytesAfter("content-length-0-then-bytes", "GET", "", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"+smuggled),
		{
			// G1: bytes a pooled connection sends while idle.
			name: "bytes-while-idle",
			bad: func(c net.Conn, br *bufio.Reader) {
				if readHead(c, br) == "" {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nclean")
				time.Sleep(50 * time.Millisecond)
				io.WriteString(c, smuggled)
				serveHonest(c, br)
			},
			attack: func(t *testing.T, px string) {
				c := dial(t, px)
				c.capture()
				r := c.roundTrip("GET", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
				if r.StatusCode != 200 || r.body != "clean" {
					t.Fatalf("got %d %q, want 200 clean", r.StatusCode, r.body)
				}
				time.Sleep(150 * time.Millisecond) // the garbage is in by now
				secondOnSameClient(t, c)
			},
		},
	}
	// G5: an early final response while the client is still uploading.
	for _, chunked := range []bool{false, true} {
		rows = append(rows, earlyResponse(true, chunked), earlyResponse(false, chunked))
	}
	rows = append(rows, resetMidUpload(false), resetMidUpload(true))
	rows = append(rows,
		hostileRow{
			// An answered GET is never sent again, even when the backend
			// resets the connection right after its answer.
			name:    "answered-get-not-replayed",
			retries: true,
			bad: func(c net.Conn, br *bufio.Reader) {
				if readHead(c, br) == "" {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nonce")
				resetClose(c)
			},
			attack: func(t *testing.T, px string) {
				c := dial(t, px)
				r := c.roundTrip("GET", "GET /once HTTP/1.1\r\nHost: a\r\n\r\n")
				if r.StatusCode != 200 || r.body != "once" {
					t.Fatalf("got %d %q, want the first backend's 200 \"once\" (%q: the GET was replayed)",
						r.StatusCode, r.body, honestAnswer("/once"))
				}
			},
		},
	)
	// G3: a response cut by a reset or a FIN inside its body.
	const part = "the first part of a body that never ends. "
	partial := strings.Repeat(part, 24) // 1032 bytes
	rows = append(rows,
		cutResponse("reset-mid-content-length", true,
			"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"+partial, partial),
		cutResponse("reset-mid-chunked", true,
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+
				fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s", len(partial), partial, 2*len(partial), partial), partial),
		cutResponse("reset-mid-close-delimited", true,
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"+partial, partial),
		cutResponse("fin-mid-chunk", false,
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+
				fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s", len(partial), partial, 2*len(partial), partial), partial),
		hostileRow{
			// Control: a close-delimited body ended by a FIN is complete.
			name: "close-delimited-clean-fin",
			bad: func(c net.Conn, br *bufio.Reader) {
				if readHead(c, br) == "" {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"+partial)
				time.Sleep(50 * time.Millisecond)
			},
			attack: func(t *testing.T, px string) {
				c := dial(t, px)
				c.capture()
				r := c.roundTrip("GET", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
				if r.StatusCode != 200 || r.body != partial {
					t.Fatalf("got %d and %d body bytes, want 200 and %d", r.StatusCode, len(r.body), len(partial))
				}
				if !strings.HasSuffix(c.raw.String(), "\r\n0\r\n\r\n") {
					t.Fatalf("no last chunk after a complete close-delimited body: %q", trim(c.raw.String()))
				}
				secondOnSameClient(t, c)
			},
		},
		hostileRow{
			// 10,000 interim responses, then the final one.
			name: "1xx-flood",
			bad: func(c net.Conn, br *bufio.Reader) {
				if readHead(c, br) == "" {
					return
				}
				w := bufio.NewWriterSize(c, 64<<10)
				for range 10000 {
					w.WriteString("HTTP/1.1 103 Early Hints\r\n\r\n")
				}
				w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nfinal-after")
				w.Flush()
				serveHonest(c, br)
			},
			attack: func(t *testing.T, px string) {
				c := dial(t, px)
				c.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
				deadline := time.Now().Add(5 * time.Second)
				interim := 0
				for {
					r, err := c.readErr("GET", time.Until(deadline))
					if err != nil {
						t.Fatalf("no final response within 5s (%d interim responses read): %v", interim, err)
					}
					if r.StatusCode < 200 {
						interim++
						continue
					}
					if r.StatusCode == 200 && r.body != "final-after" {
						t.Fatalf("final response body %q, want %q", r.body, "final-after")
					}
					t.Logf("final %d after %d interim responses", r.StatusCode, interim)
					return
				}
			},
		},
		invalidResponse("oversized-head", func() string {
			var b strings.Builder
			b.WriteString("HTTP/1.1 200 OK\r\n")
			for i := range 20 {
				fmt.Fprintf(&b, "X-Big-%02d: %s%s\r\n", i, strings.Repeat("p", 4000), marker)
			}
			b.WriteString("Content-Length: 5\r\n\r\n" + marker)
			return b.String()
		}()),
		invalidResponse("content-length-and-chunked",
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n"+marker+"\r\n0\r\n\r\n"),
		invalidResponse("two-content-lengths",
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"+marker+"!"),
		hostileRow{
			// The backend answers right after the head, before reading any
			// of the body; it then reads on as if the body were the next
			// request, and that body holds one.
			name: "answer-before-body",
			bad: func(c net.Conn, br *bufio.Reader) {
				if readHead(c, br) == "" {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
				serveHonest(c, br)
			},
			attack: func(t *testing.T, px string) {
				inner := "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
				body := inner + strings.Repeat("z", 4096-len(inner))
				c := dial(t, px)
				c.capture()
				c.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
				r, err := c.readErr("POST", ioTimeout)
				if err != nil {
					t.Fatalf("the early answer did not reach the client: %v", err)
				}
				if r.StatusCode != 200 || r.body != "early" {
					t.Fatalf("got %d %q, want 200 early", r.StatusCode, r.body)
				}
				if !r.Close {
					t.Errorf("an answer before the end of the upload without Connection: close")
				}
				c.c.Write([]byte(body)) // may fail: the proxy may have closed
				if _, err := readUntilClosed(c, ioTimeout); err != nil {
					t.Errorf("the client connection was not closed after an early answer: %v", err)
				}
				if strings.Contains(c.raw.String(), marker) {
					t.Fatalf("the answer to the smuggled request reached the client: %q", trim(c.raw.String()))
				}
			},
		},
		slowReaderRow(),
		tinyChunksDownRow(),
	)
	return rows
}

// bytesAfter is a row where the backend answers a request with a response
// that has no body, followed in the same write by bytes shaped as a second
// response; it then serves that connection honestly, so a proxy that reuses
// it hands the stale bytes to the next request.
func bytesAfter(name, method, extra, answer string) hostileRow {
	return hostileRow{
		name: name,
		bad:  answerThenHonest(answer),
		attack: func(t *testing.T, px string) {
			c := dial(t, px)
			c.capture()
			r := c.roundTrip(method, method+" /x HTTP/1.1\r\nHost: a\r\n"+extra+"\r\n")
			if r.body != "" {
				t.Fatalf("%s /x: body %q", method, r.body)
			}
			secondOnSameClient(t, c)
		},
	}
}

// secondOnSameClient sends a second request on c: the proxy may close the
// connection instead, but if it answers, the answer is the client's own and
// no hostile byte was ever read on c.
func secondOnSameClient(t *testing.T, c *client) {
	t.Helper()
	c.c.Write([]byte("GET /second HTTP/1.1\r\nHost: a\r\n\r\n"))
	r, err := c.readErr("GET", ioTimeout)
	if strings.Contains(c.raw.String(), marker) {
		t.Fatalf("hostile bytes reached the client: %q", trim(c.raw.String()))
	}
	if err == nil && (r.StatusCode != 200 || r.body != honestAnswer("/second")) {
		t.Fatalf("second request on the same client: %d %q, want 200 %q", r.StatusCode, r.body, honestAnswer("/second"))
	}
	if err != nil && !isClosed(err) && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("second request on the same client: %v", err)
	}
}

// earlyResponse is a row where the backend answers 413 while the client
// uploads 8 MiB: with Connection: close and a close while the upload is
// unread (a reset), or without it, staying open and reading no more.
func earlyResponse(closes, chunked bool) hostileRow {
	const size = 8 << 20
	const refusal = "upload refused: too big"
	name := "early-413-stays-open"
	answer := fmt.Sprintf("HTTP/1.1 413 Payload Too Large\r\nContent-Length: %d\r\n\r\n%s", len(refusal), refusal)
	if closes {
		name = "early-413-close-reset"
		answer = fmt.Sprintf("HTTP/1.1 413 Payload Too Large\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(refusal), refusal)
	}
	if chunked {
		name += "-chunked"
	} else {
		name += "-content-length"
	}
	held := newHold()
	return hostileRow{
		name:   name,
		repeat: 5,
		bad: func(c net.Conn, br *bufio.Reader) {
			if readHead(c, br) == "" {
				return
			}
			io.ReadFull(br, make([]byte, 64<<10)) // some of the body
			io.WriteString(c, answer)
			if closes {
				return // the close resets: the upload is unread
			}
			held.wait(ioTimeout) // open, reading nothing more
		},
		attack: func(t *testing.T, px string) {
			held.until(t)
			c := dial(t, px)
			head := "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n"
			if chunked {
				head = "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
			}
			c.send(head)
			defer uploadInBackground(c, size, chunked)()
			r, err := c.readErr("POST", ioTimeout)
			if err != nil {
				t.Fatalf("the early 413 did not reach the client: %v", err)
			}
			if r.StatusCode != 413 || r.body != refusal {
				t.Fatalf("got %d %q, want the backend's 413 %q", r.StatusCode, r.body, refusal)
			}
			if !r.Close {
				t.Errorf("an answer before the end of the upload without Connection: close")
			}
			if _, err := readUntilClosed(c, ioTimeout); err != nil {
				t.Errorf("the client connection was not closed after the early answer: %v", err)
			}
		},
	}
}

// uploadInBackground writes the first size bytes of the pattern to c as a
// body (chunked or not, the head is sent), ignoring write errors: the proxy
// may stop reading. The returned function waits for the writer to stop.
func uploadInBackground(c *client, size int64, chunked bool) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
		w := bufio.NewWriterSize(c.c, 64<<10)
		p := &pattern{n: size}
		buf := make([]byte, 32<<10)
		for {
			k, _ := p.Read(buf)
			if k == 0 {
				break
			}
			if chunked {
				fmt.Fprintf(w, "%x\r\n", k)
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			if chunked {
				w.WriteString("\r\n")
			}
		}
		if chunked {
			w.WriteString("0\r\n\r\n")
		}
		w.Flush()
	}()
	return func() { <-done }
}

// resetMidUpload is a row where the backend resets the connection in the
// middle of an upload without answering: the exchange fails visibly (G2),
// with a 5xx and Connection: close or a closed connection, never a success.
func resetMidUpload(chunked bool) hostileRow {
	const size = 8 << 20
	name := "reset-mid-upload-content-length"
	head := "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n"
	if chunked {
		name = "reset-mid-upload-chunked"
		head = "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	}
	return hostileRow{
		name:   name,
		repeat: 5,
		bad: func(c net.Conn, br *bufio.Reader) {
			if readHead(c, br) == "" {
				return
			}
			io.ReadFull(br, make([]byte, 64<<10))
			resetClose(c)
		},
		attack: func(t *testing.T, px string) {
			c := dial(t, px)
			c.send(head)
			defer uploadInBackground(c, size, chunked)()
			r, err := c.readErr("POST", ioTimeout)
			if err == nil {
				if r.StatusCode < 500 || !r.Close {
					t.Fatalf("an upload cut by the backend was answered %d (Connection: close %v) %q, want a 5xx and a close",
						r.StatusCode, r.Close, r.body)
				}
				_, err = readUntilClosed(c, ioTimeout)
			}
			if err != nil && !isClosed(err) && !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("the client connection was not closed after a failed upload: %v", err)
			}
		},
	}
}

// cutResponse is a row where the backend sends answer, the head and part of
// a body, then ends the connection inside the body: with a reset, or with a
// clean FIN. The client must not see a complete message, and its connection
// must be closed.
func cutResponse(name string, reset bool, answer, partial string) hostileRow {
	return hostileRow{
		name: name,
		bad: func(c net.Conn, br *bufio.Reader) {
			if readHead(c, br) == "" {
				return
			}
			io.WriteString(c, answer)
			time.Sleep(50 * time.Millisecond) // the part is forwarded by now
			if reset {
				resetClose(c)
			}
		},
		attack: func(t *testing.T, px string) {
			c := dial(t, px)
			c.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
			raw, err := readUntilClosed(c, ioTimeout)
			if err != nil {
				t.Fatalf("the client connection was not closed after a cut response: %v (read %q)", err, trim(raw))
			}
			wantIncomplete(t, raw, partial)
		},
	}
}

// invalidResponse is a row where the backend's answer cannot be framed: the
// client gets 502 and none of the answer's bytes.
func invalidResponse(name, answer string) hostileRow {
	return hostileRow{
		name: name,
		bad:  answerThenHonest(answer),
		attack: func(t *testing.T, px string) {
			c := dial(t, px)
			c.capture()
			c.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
			r, err := c.readErr("GET", ioTimeout)
			if strings.Contains(c.raw.String(), marker) {
				t.Fatalf("bytes of an invalid response reached the client: %q", trim(c.raw.String()))
			}
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			wantStatus(t, r, 502)
		},
	}
}

// slowReaderRow: a 32 MiB response to a client that reads about 1 MiB/s for
// two seconds, then fast. The body arrives intact, and the proxy holds the
// backend back instead of buffering the difference (G4).
func slowReaderRow() hostileRow {
	const size = 32 << 20
	return hostileRow{
		name: "slow-reader-32MiB",
		bad: func(c net.Conn, br *bufio.Reader) {
			if readHead(c, br) == "" {
				return
			}
			c.SetWriteDeadline(time.Now().Add(4 * ioTimeout))
			w := bufio.NewWriterSize(c, 64<<10)
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
			io.Copy(w, &pattern{n: size})
			w.Flush()
			serveHonest(c, br)
		},
		attack: func(t *testing.T, px string) {
			want := patternSum(size)
			c := dial(t, px)
			heap := watchHeap()
			c.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
			c.c.SetReadDeadline(time.Now().Add(4 * ioTimeout)) // integrity, not speed, is checked here
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				heap.check(t)
				t.Fatalf("no response: %v", err)
			}
			sum, n, err := slowRead(resp.Body, 64<<10, 64*time.Millisecond, 2*time.Second)
			heap.check(t)
			if err != nil || n != size || sum != want {
				t.Fatalf("read %d of %d bytes (sha256 match %v): %v", n, size, sum == want, err)
			}
		},
	}
}

// tinyChunksDownRow: 6 MB as chunks of 1 to 3 bytes to a client that reads
// slowly at first; the body arrives whole and in time, nothing stalls.
func tinyChunksDownRow() hostileRow {
	const size = 6_000_000
	held := newHold()
	return hostileRow{
		name: "tiny-chunks-download",
		bad: func(c net.Conn, br *bufio.Reader) {
			if readHead(c, br) == "" {
				return
			}
			c.SetWriteDeadline(time.Now().Add(2 * ioTimeout))
			w := bufio.NewWriterSize(c, 64<<10)
			// Connection: close, because this handler serves no second
			// request on the connection it holds open.
			w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
			writeTinyChunks(w, size)
			// Keep the connection open until the test ends, so that
			// only the transfer's own speed is measured.
			held.wait(2 * ioTimeout)
		},
		attack: func(t *testing.T, px string) {
			held.until(t)
			want := patternSum(size)
			c := dial(t, px)
			start := time.Now()
			c.send("GET /tiny HTTP/1.1\r\nHost: a\r\n\r\n")
			c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			sum, n, err := slowRead(resp.Body, 64<<10, 10*time.Millisecond, time.Second)
			if err != nil || n != size || sum != want {
				t.Fatalf("read %d of %d bytes in %v (sha256 match %v): %v", n, size, time.Since(start), sum == want, err)
			}
			t.Logf("%d bytes in 1-3 byte chunks in %v", n, time.Since(start))
		},
	}
}

// The upload direction of tiny chunks: a client sends 6 MB as chunks of 1 to
// 3 bytes to a backend that reads slowly; the backend gets the exact payload.
func TestHostileTinyChunksUploadE2E(t *testing.T) {
	const size = 6_000_000
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum, n, err := slowRead(r.Body, 64<<10, 10*time.Millisecond, time.Second)
		fmt.Fprintf(w, "%d %s %v", n, sum, err)
	}))
	_, px := startProxy(t, hostileConfig(be))
	want := fmt.Sprintf("%d %s <nil>", size, patternSum(size))
	c := dial(t, px)
	start := time.Now()
	c.send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
	errc := make(chan error, 1)
	go func() {
		c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		errc <- writeTinyChunks(bufio.NewWriterSize(c.c, 64<<10), size)
	}()
	r, err := c.readErr("POST", 10*time.Second)
	if err != nil {
		t.Fatalf("no answer after %v: %v", time.Since(start), err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("writing the upload: %v", err)
	}
	if r.StatusCode != 200 || r.body != want {
		t.Fatalf("backend says %d %q, want %q", r.StatusCode, r.body, want)
	}
	t.Logf("%d bytes in 1-3 byte chunks in %v", size, time.Since(start))

	// A second client on the loop gets its own answer.
	r = dial(t, px).roundTrip("POST", "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
	if want := fmt.Sprintf("3 %s <nil>", sha256Hex([]byte("abc"))); r.StatusCode != 200 || r.body != want {
		t.Fatalf("second client: %d %q, want %q", r.StatusCode, r.body, want)
	}
}

// answerThenHonest is a backend that writes answer to the first request on a
// connection, whatever it is, and then serves that connection honestly.
func answerThenHonest(answer string) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		if readHead(c, br) == "" {
			return
		}
		io.WriteString(c, answer)
		serveHonest(c, br)
	}
}

// [limits] max_interim_responses bounds the 1xx a backend may send before its
// final answer: at the limit they are relayed, past it the client gets 502.
func TestInterimLimitE2E(t *testing.T) {
	const answer = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </b.css>\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </c.css>\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	be := startBadFor(t, 2, answerThenHonest(answer))
	for _, tc := range []struct{ limit, status int }{{3, 200}, {2, 502}} {
		cfg := poolOf(be.addr())
		cfg.Limits.MaxInterim = tc.limit
		cfg.Pools[0].Retries = -1
		_, px := startProxy(t, cfg)
		c := dial(t, px)
		c.capture()
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		r := c.read("GET")
		for r.StatusCode < 200 {
			r = c.read("GET")
		}
		if r.StatusCode != tc.status {
			t.Fatalf("3 interim responses with max_interim_responses %d: status %d, want %d", tc.limit, r.StatusCode, tc.status)
		}
		if n := strings.Count(c.raw.String(), "103 Early Hints"); tc.status == 200 && n != 3 {
			t.Fatalf("relayed %d interim responses, want 3", n)
		}
	}
}
