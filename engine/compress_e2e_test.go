package engine_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"loopgate/engine"
	"loopgate/route"
)

// textBody is n bytes of compressible HTML.
func textBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "<li class=\"item\"><a href=\"/items/%d\">Item %d</a> <span>in stock</span></li>\n", i, i)
	}
	return b.Bytes()[:n]
}

// decodeBody undoes the response's Content-Encoding.
func decodeBody(t *testing.T, coding string, body []byte) []byte {
	t.Helper()
	out, err := decode(coding, body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decode undoes a Content-Encoding; safe from any goroutine.
func decode(coding string, body []byte) ([]byte, error) {
	var r io.Reader
	switch coding {
	case "":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("gzip: %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("unexpected Content-Encoding %q", coding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", coding, err)
	}
	return out, nil
}

// compressBackend serves /text?n=N&framing=length|chunked|close&type=T with
// N bytes of textBody, and passes other settings through query flags.
func compressBackend(t *testing.T) string {
	return startRawBackend(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			q := req.URL.Query()
			n, _ := strconv.Atoi(q.Get("n"))
			body := textBody(n)
			typ := q.Get("type")
			if typ == "" {
				typ = "text/html; charset=utf-8"
			}
			var h strings.Builder
			fmt.Fprintf(&h, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nETag: \"v1\"\r\nVary: Cookie\r\n", typ)
			if e := q.Get("encoding"); e != "" {
				fmt.Fprintf(&h, "Content-Encoding: %s\r\n", e)
			}
			if q.Get("no_transform") != "" {
				h.WriteString("Cache-Control: no-transform\r\n")
			}
			if req.Method == "HEAD" {
				fmt.Fprintf(&h, "Content-Length: %d\r\n\r\n", n)
				io.WriteString(c, h.String())
				continue
			}
			switch q.Get("framing") {
			case "chunked":
				h.WriteString("Transfer-Encoding: chunked\r\n\r\n")
				io.WriteString(c, h.String())
				for off := 0; off < len(body); off += 7000 {
					part := body[off:min(off+7000, len(body))]
					fmt.Fprintf(c, "%x\r\n%s\r\n", len(part), part)
				}
				io.WriteString(c, "0\r\n\r\n")
			case "close":
				h.WriteString("Connection: close\r\n\r\n")
				io.WriteString(c, h.String())
				c.Write(body)
				return
			case "stream": // half now, the rest after a pause
				h.WriteString("Transfer-Encoding: chunked\r\n\r\n")
				io.WriteString(c, h.String())
				fmt.Fprintf(c, "%x\r\n%s\r\n", len(body)/2, body[:len(body)/2])
				time.Sleep(300 * time.Millisecond)
				fmt.Fprintf(c, "%x\r\n%s\r\n0\r\n\r\n", len(body)-len(body)/2, body[len(body)/2:])
			default:
				fmt.Fprintf(&h, "Content-Length: %d\r\n\r\n", n)
				io.WriteString(c, h.String())
				c.Write(body)
			}
		}
	}).addr()
}

func compressConfig(backend string) engine.Config {
	return engine.Config{
		Compression: engine.Compression{Enabled: true},
		Pools:       []engine.Pool{{Name: "p", Backends: []engine.Backend{{Address: backend}}}},
	}
}

// Every coding, every upstream framing, small and 16 MiB bodies: the client
// decodes exactly the backend's body; the head says what was done (chunked,
// Content-Encoding, Vary with Accept-Encoding added, the ETag weakened).
func TestCompressionRoundTrip(t *testing.T) {
	_, px := startProxy(t, compressConfig(compressBackend(t)))
	c := dial(t, px)
	for _, coding := range []string{"gzip", "br", "zstd"} {
		for _, framing := range []string{"length", "chunked", "close"} {
			for _, n := range []int{2000, 16 << 20} {
				if framing == "close" {
					c = dial(t, px)
				}
				r := c.roundTrip("GET", fmt.Sprintf("GET /text?n=%d&framing=%s HTTP/1.1\r\nHost: h\r\nAccept-Encoding: %s\r\n\r\n", n, framing, coding))
				h := r.Header
				if r.StatusCode != 200 || h.Get("Content-Encoding") != coding || h.Get("Content-Length") != "" ||
					len(r.TransferEncoding) != 1 || h.Get("Vary") != "Cookie, Accept-Encoding" || h.Get("ETag") != `W/"v1"` {
					t.Fatalf("%s %s %d: %d %v TE %v", coding, framing, n, r.StatusCode, h, r.TransferEncoding)
				}
				got := decodeBody(t, coding, []byte(r.body))
				if !bytes.Equal(got, textBody(n)) {
					t.Fatalf("%s %s %d: decoded %d bytes, not the body", coding, framing, n, len(got))
				}
				if n > 10000 && len(r.body) > n/3 {
					t.Errorf("%s %s %d: %d bytes on the wire; want it compressed", coding, framing, n, len(r.body))
				}
			}
		}
	}
	// The connection goes on after all of it.
	r := c.roundTrip("GET", "GET /text?n=5000 HTTP/1.1\r\nHost: h\r\n\r\n")
	if r.Header.Get("Content-Encoding") != "" || r.body != string(textBody(5000)) || r.Header.Get("Vary") != "Cookie, Accept-Encoding" {
		t.Errorf("identity after encoded answers: %v, %d bytes", r.Header, len(r.body))
	}
}

// What is left alone: a client that refuses every coding or speaks
// HTTP/1.0, a HEAD, a type not listed, a body below min_size, a body the
// backend encoded, Cache-Control: no-transform, and a route that turns
// compression off.
func TestCompressionLeftAlone(t *testing.T) {
	cfg := compressConfig(compressBackend(t))
	off := false
	cfg.Routes = []engine.Route{
		{Spec: route.Spec{Name: "raw", PathPrefix: "/raw/"}, Pool: "p", ReplacePrefix: strPtr("/"), Compress: &off},
		{Spec: route.Spec{Name: "rest"}, Pool: "p"},
	}
	_, px := startProxy(t, cfg)
	for _, tc := range []struct{ name, req, method string }{
		{"q=0", "GET /text?n=5000 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip;q=0, br;q=0, zstd;q=0\r\n\r\n", "GET"},
		{"HTTP/1.0", "GET /text?n=5000 HTTP/1.0\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", "GET"},
		{"HEAD", "HEAD /text?n=5000 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", "HEAD"},
		{"image", "GET /text?n=5000&type=image/png HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", "GET"},
		{"small", "GET /text?n=100 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", "GET"},
		{"encoded", "GET /text?n=5000&encoding=identity2 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", "GET"},
		{"no-transform", "GET /text?n=5000&no_transform=1 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", "GET"},
		{"request no-transform", "GET /text?n=5000 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nCache-Control: no-transform\r\n\r\n", "GET"},
		{"route off", "GET /raw/text?n=5000 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", "GET"},
	} {
		c := dial(t, px)
		r := c.roundTrip(tc.method, tc.req)
		ce := r.Header.Get("Content-Encoding")
		if r.StatusCode != 200 || ce != "" && ce != "identity2" || r.Header.Get("ETag") != `"v1"` {
			t.Errorf("%s: %d, Content-Encoding %q, ETag %q; want it untouched", tc.name, r.StatusCode, ce, r.Header.Get("ETag"))
		}
		if tc.method == "GET" && ce == "" && r.body != string(textBody(len(r.body))) {
			t.Errorf("%s: body changed", tc.name)
		}
	}
}

// A streamed body reaches the client as it comes: what the backend sent
// before it paused can be decoded before the rest arrives.
func TestCompressionStreams(t *testing.T) {
	_, px := startProxy(t, compressConfig(compressBackend(t)))
	resp, err := http.Get("http://" + px + "/text?n=200000&framing=stream") // Go's client asks for gzip and decodes it
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !resp.Uncompressed {
		t.Fatalf("not gzip-encoded: %v", resp.Header)
	}
	t0 := time.Now()
	buf := make([]byte, 100000)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 250*time.Millisecond {
		t.Errorf("the first half took %v to decode; want it before the backend's 300ms pause ends", d)
	}
	rest, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(append(buf, rest...), textBody(200000)) {
		t.Errorf("streamed body differs")
	}
}

// A client that leaves mid-response and a backend that resets mid-body
// abandon the stream: the encoder goes back to the loop's pool, the next
// responses on the loop decode cleanly, and a cut response is never
// completed (no last chunk, no stream trailer).
func TestCompressionAbandoned(t *testing.T) {
	resetAt := 100000
	bad := startRawBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		body := textBody(1 << 20)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", len(body))
		c.Write(body[:resetAt])
		resetClose(c)
	})
	good := compressBackend(t)
	cfg := compressConfig(good)
	cfg.Pools = append(cfg.Pools, engine.Pool{Name: "bad", Retries: -1, Backends: []engine.Backend{{Address: bad.addr()}}})
	cfg.Routes = []engine.Route{
		{Spec: route.Spec{Name: "bad", PathPrefix: "/bad"}, Pool: "bad"},
		{Spec: route.Spec{Name: "good"}, Pool: "p"},
	}
	_, px := startProxy(t, cfg)
	for i := range 3 {
		// The client leaves after a little of a 16 MiB encoded answer.
		c := dial(t, px)
		c.send("GET /text?n=16777216 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: zstd\r\n\r\n")
		c.c.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := io.ReadFull(c.br, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		c.c.Close()
		// The backend resets mid-body: the client is cut.
		c = dial(t, px)
		c.capture()
		c.send("GET /bad HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n")
		if _, err := readUntilClosed(c, ioTimeout); err != nil && !isClosed(err) {
			t.Fatalf("round %d: %v", i, err)
		}
		if raw := c.raw.String(); strings.HasSuffix(raw, "0\r\n\r\n") || !strings.Contains(raw, "Content-Encoding: gzip") {
			t.Fatalf("round %d: the cut response was completed or not encoded: %q...", i, raw[:min(len(raw), 300)])
		}
		// And the loop's pooled encoders still make clean streams.
		for _, coding := range []string{"zstd", "gzip"} {
			c = dial(t, px)
			r := c.roundTrip("GET", "GET /text?n=300000 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: "+coding+"\r\n\r\n")
			if got := decodeBody(t, r.Header.Get("Content-Encoding"), []byte(r.body)); !bytes.Equal(got, textBody(300000)) {
				t.Fatalf("round %d, %s after abandoned streams: decoded %d bytes, not the body", i, coding, len(got))
			}
		}
	}
}
