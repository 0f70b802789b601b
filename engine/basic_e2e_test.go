package engine_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// methodBackend answers with the method, path and a digest of the body it read.
func methodBackend(t *testing.T) string {
	return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		sum := sha256.Sum256(b)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Body-Len", strconv.Itoa(len(b)))
		w.Header().Set("X-Body-Sha", hex.EncodeToString(sum[:]))
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.RequestURI())
	}))
}

func TestMethodsE2E(t *testing.T) {
	px := startProxyTo(t, methodBackend(t))
	c := dial(t, px)
	f := func(method, body string) {
		t.Helper()
		req := method + " /m/" + method + " HTTP/1.1\r\nHost: example.test\r\n"
		if body != "" {
			req += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
		}
		r := c.roundTrip(method, req+"\r\n"+body)
		wantStatus(t, r, 200)
		if got := r.Header.Get("X-Method"); got != method {
			t.Fatalf("%s: backend saw method %q", method, got)
		}
		if got := r.Header.Get("X-Body-Len"); got != strconv.Itoa(len(body)) {
			t.Fatalf("%s: backend read %s body bytes, want %d", method, got, len(body))
		}
		want := method + " /m/" + method
		if method == "HEAD" {
			want = ""
		}
		if r.body != want {
			t.Fatalf("%s: body %q, want %q", method, r.body, want)
		}
	}
	// All on one keep-alive connection: a stray byte after any of them
	// (a HEAD body, say) would break the next one.
	f("GET", "")
	f("HEAD", "")
	f("POST", "post body")
	f("PUT", strings.Repeat("put", 1000))
	f("DELETE", "")
	f("OPTIONS", "")
	f("PATCH", "patch body")
	f("TRACE", "")
	f("PURGE", "")         // an extension method
	f("X-CUSTOM.1", "abc") // another one, with token characters
	f("GET", "")
}

func TestOptionsAsteriskE2E(t *testing.T) {
	be := startEchoBackend(t)
	c := dial(t, startProxyTo(t, be.addr()))
	r := c.roundTrip("OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
	wantStatus(t, r, 200)
	if !strings.HasPrefix(r.body, "OPTIONS * HTTP/1.1\r\n") {
		t.Fatalf("backend got %q", r.body)
	}
}

func TestRoundRobinE2E(t *testing.T) {
	name := func(n string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, n) })
	}
	cfg := poolOf(startBackend(t, name("a")), startBackend(t, name("b")), startBackend(t, name("c")))
	cfg.Pools[0].Algorithm = "round_robin"
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	var got []string
	for range 12 {
		r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		got = append(got, r.body)
	}
	for i := 3; i < len(got); i++ {
		if got[i] != got[i-3] {
			t.Fatalf("not round robin: %v", got)
		}
	}
	if got[0] == got[1] || got[1] == got[2] || got[0] == got[2] {
		t.Fatalf("not round robin: %v", got)
	}
}

func TestRequestBodyChunkedE2E(t *testing.T) {
	be := startEchoBackend(t)
	c := dial(t, startProxyTo(t, be.addr()))
	body := "5;ext=1;name=\"q v\"\r\nhello\r\n" +
		"6\r\n world\r\n" +
		"0;last\r\nX-Trailer: t1\r\nX-Other: t2\r\n\r\n"
	r := c.roundTrip("POST", "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n\r\n"+body)
	wantStatus(t, r, 200)
	off, _ := strconv.Atoi(r.Header.Get("X-Body-Offset"))
	head, got := r.body[:off], r.body[off:]
	// Re-framed canonically (issue 11): no extensions, allowed trailers kept.
	if want := "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t1\r\nX-Other: t2\r\n\r\n"; got != want {
		t.Fatalf("backend got body framing %q, want %q", got, want)
	}
	if te := values(fieldsOf(head), "Transfer-Encoding"); len(te) != 1 || te[0] != "chunked" {
		t.Fatalf("backend got Transfer-Encoding %q in %q", te, head)
	}
	if cl := values(fieldsOf(head), "Content-Length"); len(cl) != 0 {
		t.Fatalf("backend got Content-Length %q with a chunked body", cl)
	}
	// The connection is still good.
	wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
}

func TestRequestBodyContentLengthE2E(t *testing.T) {
	be := startEchoBackend(t)
	c := dial(t, startProxyTo(t, be.addr()))
	r := c.roundTrip("PUT", "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world")
	off, _ := strconv.Atoi(r.Header.Get("X-Body-Offset"))
	if got := r.body[off:]; got != "hello world" {
		t.Fatalf("backend got body %q", got)
	}
	if cl := values(fieldsOf(r.body[:off]), "Content-Length"); len(cl) != 1 || cl[0] != "11" {
		t.Fatalf("backend got Content-Length %q", cl)
	}
}

// respondWith is a raw backend that answers every request with resp(req).
// It closes the connection after an answer with "Connection: close" in it,
// and instead of an empty answer.
func respondWith(t *testing.T, resp func(req rawRequest) string) *rawBackend {
	return startRawBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			req, err := readRawRequest(br)
			if err != nil {
				return
			}
			s := resp(req)
			if s == "" {
				return
			}
			if _, err := io.WriteString(c, s); err != nil {
				return
			}
			if strings.Contains(s, "Connection: close\r\n") {
				return
			}
		}
	})
}

func TestResponseChunkedE2E(t *testing.T) {
	const body = "5;ext=v\r\nhello\r\n7;a=b;c\r\n, world\r\n0\r\nX-Checksum: done\r\nX-More: 1\r\n\r\n"
	be := respondWith(t, func(rawRequest) string {
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" + body
	})
	c := dial(t, startProxyTo(t, be.addr()))
	c.capture()
	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if r.body != "hello, world" {
		t.Fatalf("body %q", r.body)
	}
	if r.Trailer.Get("X-Checksum") != "done" || r.Trailer.Get("X-More") != "1" {
		t.Fatalf("trailers %v", r.Trailer)
	}
	// Re-framed canonically (issue 11): extensions dropped, trailers kept.
	if want := "5\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: done\r\nX-More: 1\r\n\r\n"; !strings.HasSuffix(c.raw.String(), "\r\n\r\n"+want) {
		t.Fatalf("chunk framing not re-framed: %q", c.raw.String())
	}
	r = c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if r.body != "hello, world" {
		t.Fatalf("second body %q", r.body)
	}
}

// A close-delimited body goes to an HTTP/1.1 client chunked, and the client
// keeps its connection.
func TestResponseCloseDelimitedE2E(t *testing.T) {
	bodies := []string{"until the backend closes", "", strings.Repeat("x", 300<<10)}
	var i atomic.Int64
	be := startRawBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := readRawRequest(br); err != nil {
			return
		}
		b := bodies[(i.Add(1)-1)%int64(len(bodies))]
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
		for len(b) > 0 {
			n := min(len(b), 1000)
			io.WriteString(c, b[:n])
			b = b[n:]
		}
	})
	c := dial(t, startProxyTo(t, be.addr()))
	for _, want := range bodies {
		r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		wantStatus(t, r, 200)
		if r.body != want {
			t.Fatalf("body of %d bytes, want %d", len(r.body), len(want))
		}
		if len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			t.Fatalf("Transfer-Encoding %v, want chunked", r.TransferEncoding)
		}
		if r.Close {
			t.Fatalf("the proxy closes the client connection after a close-delimited response")
		}
	}
}

// HEAD, 204 and 304 carry no body whatever their framing fields say; a byte
// read as body would corrupt the next response on the connection.
func TestNoBodyResponsesE2E(t *testing.T) {
	be := respondWith(t, func(req rawRequest) string {
		switch {
		case strings.HasPrefix(req.head, "HEAD /cl "):
			return "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
		case strings.HasPrefix(req.head, "HEAD /chunked "):
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		case strings.HasPrefix(req.head, "GET /204 "):
			return "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"
		case strings.HasPrefix(req.head, "GET /304 "):
			return "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
	})
	c := dial(t, startProxyTo(t, be.addr()))
	f := func(method, path string, status int) {
		t.Helper()
		r := c.roundTrip(method, method+" "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		wantStatus(t, r, status)
		if r.body != "" {
			t.Fatalf("%s %s: body %q", method, path, r.body)
		}
		// Nothing may follow the head: the next response must start clean.
		r = c.roundTrip("GET", "GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
		if r.StatusCode != 200 || r.body != "next" {
			t.Fatalf("after %s %s: got %d %q", method, path, r.StatusCode, r.body)
		}
	}
	f("HEAD", "/cl", 200)
	f("HEAD", "/chunked", 200)
	f("GET", "/204", 204)
	f("GET", "/304", 304)
}

func TestLargeBodiesE2E(t *testing.T) {
	const size = 10 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		case "/down-cl":
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Write(data)
		case "/down-chunked":
			for b := data; len(b) > 0; {
				n := min(len(b), 100000)
				w.Write(b[:n])
				w.(http.Flusher).Flush()
				b = b[n:]
			}
		}
	}))
	px := startProxyTo(t, be)

	upload := func(t *testing.T, chunked bool) {
		c := dial(t, px)
		head := "POST /up HTTP/1.1\r\nHost: a\r\n"
		if chunked {
			head += "Transfer-Encoding: chunked\r\n\r\n"
		} else {
			head += "Content-Length: " + strconv.Itoa(size) + "\r\n\r\n"
		}
		errc := make(chan error, 1)
		rng := rand.New(rand.NewPCG(1, 2))
		go func() {
			c.c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			w := bufio.NewWriterSize(c.c, 64<<10)
			w.WriteString(head)
			for b := data; len(b) > 0; {
				n := min(len(b), 1+rng.IntN(70000))
				if chunked {
					fmt.Fprintf(w, "%x\r\n", n)
				}
				w.Write(b[:n])
				if chunked {
					w.WriteString("\r\n")
				}
				b = b[n:]
			}
			if chunked {
				w.WriteString("0\r\n\r\n")
			}
			errc <- w.Flush()
		}()
		r, err := c.readErr("POST", 20*time.Second)
		if err != nil {
			t.Fatalf("reading response: %v", err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("writing body: %v", err)
		}
		if r.body != fmt.Sprintf("%d %s", size, want) {
			t.Fatalf("backend got %q, want %d %s", r.body, size, want)
		}
	}
	download := func(t *testing.T, path string) {
		c := dial(t, px)
		c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
		r, err := c.readErr("GET", 20*time.Second)
		if err != nil {
			t.Fatalf("reading response: %v", err)
		}
		got := sha256.Sum256([]byte(r.body))
		if len(r.body) != size || hex.EncodeToString(got[:]) != want {
			t.Fatalf("downloaded %d bytes, sha256 %x; want %d, %s", len(r.body), got, size, want)
		}
	}
	t.Run("up-content-length", func(t *testing.T) { upload(t, false) })
	t.Run("up-chunked", func(t *testing.T) { upload(t, true) })
	t.Run("down-content-length", func(t *testing.T) { download(t, "/down-cl") })
	t.Run("down-chunked", func(t *testing.T) { download(t, "/down-chunked") })
}

// Responses are not buffered whole: the client sees the first part before the
// backend writes the rest, and the backend reads the first part of a body
// before the client has sent the rest.
func TestStreamingE2E(t *testing.T) {
	gotFirst := make(chan struct{})
	sendRest := make(chan struct{})
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			io.WriteString(w, "first;")
			w.(http.Flusher).Flush()
			select {
			case <-sendRest:
			case <-time.After(ioTimeout):
			}
			io.WriteString(w, "rest")
		case "/up":
			b := make([]byte, 6)
			if _, err := io.ReadFull(r.Body, b); err != nil {
				return
			}
			close(gotFirst)
			rest, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s%s", b, rest)
		}
	}))
	px := startProxyTo(t, be)

	t.Run("down", func(t *testing.T) {
		c := dial(t, px)
		c.send("GET /down HTTP/1.1\r\nHost: a\r\n\r\n")
		c.c.SetReadDeadline(time.Now().Add(ioTimeout))
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 6)
		if _, err := io.ReadFull(resp.Body, b); err != nil || string(b) != "first;" {
			t.Fatalf("first part: %q %v", b, err)
		}
		close(sendRest)
		rest, err := io.ReadAll(resp.Body)
		if err != nil || string(rest) != "rest" {
			t.Fatalf("rest: %q %v", rest, err)
		}
	})
	t.Run("up", func(t *testing.T) {
		c := dial(t, px)
		c.send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst;\r\n")
		select {
		case <-gotFirst:
		case <-time.After(ioTimeout):
			t.Fatal("the backend did not get the first part of the body before the rest was sent")
		}
		r := c.roundTrip("POST", "4\r\nrest\r\n0\r\n\r\n")
		if r.body != "first;rest" {
			t.Fatalf("body %q", r.body)
		}
	})
}

func TestPipeliningE2E(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := strconv.Atoi(r.URL.Query().Get("d"))
		time.Sleep(time.Duration(d) * time.Millisecond)
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Query().Get("i"), b)
	}))
	// Two backends, so consecutive requests go to different servers and
	// the slower ones would finish last if the proxy did not keep order.
	px := startProxyTo(t, be, startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Query().Get("i"), b)
	})))
	c := dial(t, px)
	var batch strings.Builder
	var want []string
	for i := range 10 {
		d := (10 - i) * 15
		if i%3 == 1 {
			body := fmt.Sprintf("body-%d", i)
			fmt.Fprintf(&batch, "POST /?i=%d&d=%d HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", i, d, len(body), body)
			want = append(want, fmt.Sprintf("POST %d %s", i, body))
		} else {
			fmt.Fprintf(&batch, "GET /?i=%d&d=%d HTTP/1.1\r\nHost: a\r\n\r\n", i, d)
			want = append(want, fmt.Sprintf("GET %d ", i))
		}
	}
	c.send(batch.String())
	for i, w := range want {
		r := c.read("GET")
		if r.body != w {
			t.Fatalf("response %d: %q, want %q", i, r.body, w)
		}
	}
}

func TestHTTP10E2E(t *testing.T) {
	be := respondWith(t, func(req rawRequest) string {
		switch {
		case strings.Contains(req.head, " /chunked "):
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n"
		case strings.Contains(req.head, " /close "):
			return "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" // no framing: ends at close
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	})
	px := startProxyTo(t, be.addr())

	t.Run("no-keep-alive", func(t *testing.T) {
		c := dial(t, px)
		r := c.roundTrip("GET", "GET / HTTP/1.0\r\n\r\n")
		if r.StatusCode != 200 || r.body != "hello" {
			t.Fatalf("got %d %q", r.StatusCode, r.body)
		}
		c.expectClosed(ioTimeout)
	})
	t.Run("keep-alive", func(t *testing.T) {
		c := dial(t, px)
		for range 3 {
			r := c.roundTrip("GET", "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
			if r.StatusCode != 200 || r.body != "hello" {
				t.Fatalf("got %d %q", r.StatusCode, r.body)
			}
			if !strings.EqualFold(r.Header.Get("Connection"), "keep-alive") {
				t.Fatalf("Connection: %q, want keep-alive", r.Header.Get("Connection"))
			}
		}
		r := c.roundTrip("GET", "GET / HTTP/1.0\r\nHost: a\r\n\r\n")
		if r.body != "hello" {
			t.Fatalf("last body %q", r.body)
		}
		c.expectClosed(ioTimeout)
	})
	t.Run("chunked-response-dechunked", func(t *testing.T) {
		c := dial(t, px)
		c.capture()
		r := c.roundTrip("GET", "GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if r.body != "wikipedia" {
			t.Fatalf("body %q", r.body)
		}
		if len(r.TransferEncoding) != 0 || r.ContentLength != -1 {
			t.Fatalf("an HTTP/1.0 client got Transfer-Encoding %v / Content-Length %d", r.TransferEncoding, r.ContentLength)
		}
		c.expectClosed(ioTimeout)
		if raw := c.raw.String(); !strings.HasSuffix(raw, "\r\n\r\nwikipedia") {
			t.Fatalf("raw response %q", raw)
		}
	})
	t.Run("close-delimited", func(t *testing.T) {
		c := dial(t, px)
		r := c.roundTrip("GET", "GET /close HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if r.StatusCode != 200 || r.body != "" {
			t.Fatalf("got %d %q", r.StatusCode, r.body)
		}
		c.expectClosed(ioTimeout)
	})
}

func TestConnectionCloseE2E(t *testing.T) {
	be := respondWith(t, func(req rawRequest) string {
		if strings.Contains(req.head, " /backend-closes ") {
			return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nbc"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	px := startProxyTo(t, be.addr())

	t.Run("client", func(t *testing.T) {
		c := dial(t, px)
		r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if r.body != "ok" || !r.Close {
			t.Fatalf("got %q close=%v", r.body, r.Close)
		}
		c.expectClosed(ioTimeout)
	})
	t.Run("client-pipelined-after-close", func(t *testing.T) {
		// A request after one that asked to close is never served.
		c := dial(t, px)
		c.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /again HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := c.read("GET"); r.body != "ok" {
			t.Fatalf("got %q", r.body)
		}
		c.expectClosed(ioTimeout)
	})
	t.Run("backend", func(t *testing.T) {
		// The backend closing its connection does not close the client's.
		c := dial(t, px)
		for range 3 {
			r := c.roundTrip("GET", "GET /backend-closes HTTP/1.1\r\nHost: a\r\n\r\n")
			if r.body != "bc" || r.Close {
				t.Fatalf("got %q close=%v", r.body, r.Close)
			}
		}
	})
}

func TestExpectContinueE2E(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body) // net/http sends the 100 on the first read
		fmt.Fprintf(w, "got %s", b)
	}))
	c := dial(t, startProxyTo(t, be))
	c.send("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n")
	r := c.read("PUT") // the body is not sent until the 100 arrives
	if r.StatusCode != 100 {
		t.Fatalf("first response %d, want 100 Continue", r.StatusCode)
	}
	r = c.roundTrip("PUT", "some body")
	if r.StatusCode != 200 || r.body != "got some body" {
		t.Fatalf("final response %d %q", r.StatusCode, r.body)
	}
	// The connection goes on.
	r = c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if r.StatusCode != 200 || r.body != "got " {
		t.Fatalf("next response %d %q", r.StatusCode, r.body)
	}
}

// The same with a chunked body: the client sends no byte of the body
// before the 100, so the proxy must forward the head without one.
func TestExpectContinueChunkedE2E(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", b)
	}))
	c := dial(t, startProxyTo(t, be))
	c.send("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
	r, err := c.readErr("POST", 3*time.Second)
	if err != nil {
		t.Fatalf("waiting for 100 Continue: %v", err)
	}
	if r.StatusCode != 100 {
		t.Fatalf("first response %d, want 100 Continue", r.StatusCode)
	}
	r = c.roundTrip("POST", "4\r\nsome\r\n5\r\n body\r\n0\r\n\r\n")
	if r.StatusCode != 200 || r.body != "got some body" {
		t.Fatalf("final response %d %q", r.StatusCode, r.body)
	}
}

// A chunked upload whose first chunk comes a while after the head (a slow
// producer) is forwarded once it comes.
func TestChunkedBodyAfterHeadE2E(t *testing.T) {
	be := startEchoBackend(t)
	c := dial(t, startProxyTo(t, be.addr()))
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	c.send("3\r\nabc")
	time.Sleep(100 * time.Millisecond)
	r := c.roundTrip("POST", "\r\n0\r\n\r\n")
	wantStatus(t, r, 200)
	off, _ := strconv.Atoi(r.Header.Get("X-Body-Offset"))
	if got := r.body[off:]; got != "3\r\nabc\r\n0\r\n\r\n" {
		t.Fatalf("backend got body %q", got)
	}
}
