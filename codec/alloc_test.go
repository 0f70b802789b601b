//go:build !race

package codec

import "testing"

func TestAllocs(t *testing.T) {
	f := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Fatalf("%s: %.1f allocs per run; want 0", name, n)
		}
	}
	req := []byte(browserGet)
	chunked := []byte(chunkPost)
	var r Request
	lim := DefaultLimits
	f("ParseRequest", func() { _, _ = ParseRequest(req, &r, &lim) })
	f("ParseRequest chunked", func() { _, _ = ParseRequest(chunked, &r, &lim) })
	f("ParseRequest nil limits", func() { _, _ = ParseRequest(req, &r, nil) })
	bad := []byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: x-a, close\r\nX-A: 1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
	f("ParseRequest error", func() { _, _ = ParseRequest(bad, &r, &lim) })
	f("ParseRequest need more", func() { _, _ = ParseRequest(req[:len(req)-1], &r, &lim) })
	connect := []byte("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n")
	f("ParseRequest CONNECT", func() { _, _ = ParseRequest(connect, &r, &lim) })
	coded := []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
	f("ParseRequest 501", func() { _, _ = ParseRequest(coded, &r, &lim) })
	abs := []byte("OPTIONS HTTP://evil.example:8080 HTTP/1.5\r\nHost: good.example\r\nContent-Length: 5, 05\r\n\r\n")
	f("ParseRequest absolute-form", func() { _, _ = ParseRequest(abs, &r, &lim) })

	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\nConnection: keep-alive, X-A\r\nX-A: 1\r\n\r\n")
	var rs Response
	f("ParseResponse", func() { _, _ = ParseResponse(resp, &rs, MethodGet, &lim) })

	body := []byte("5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n")
	var c Chunked
	f("Chunked.Next", func() {
		c.Reset()
		for b := body; !c.Done(); {
			n, _, err := c.Next(b, &lim)
			if err != nil {
				panic(err)
			}
			b = b[n:]
		}
	})
	// Re-framing as the engine does it.
	odd := []byte("005 ;ext=1\r\nhello\r\n6\r\n world\r\n00;x\r\nX-T: 1\r\nContent-Length: 3\r\n\r\n")
	out := make([]byte, 0, 256)
	f("Chunked.Next re-framing", func() {
		c.Reset()
		out = out[:0]
		for b := odd; !c.Done(); {
			n, data, err := c.Next(b, &lim)
			if err != nil {
				panic(err)
			}
			switch size := c.Size(); {
			case data || c.Canonical():
				out = append(out, b[:n]...)
			case size > 0:
				out = AppendChunkHeader(out, int(size))
			case size == 0:
				out = append(out, "0\r\n"...)
			}
			b = b[n:]
		}
	})

	if _, err := ParseRequest(req, &r, &lim); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseResponse(resp, &rs, MethodGet, &lim); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 4096)
	fw := testForward
	f("AppendRequestHead", func() { dst = AppendRequestHead(dst[:0], req, &r, &fw) })
	var ra Request
	if _, err := ParseRequest(abs, &ra, &lim); err != nil {
		t.Fatal(err)
	}
	f("AppendRequestHead absolute-form", func() { dst = AppendRequestHead(dst[:0], abs, &ra, &fw) })
	f("EffectiveHost", func() { sink += len(ra.EffectiveHost(abs)) })
	var rc Request
	if _, err := ParseRequest(chunked, &rc, &lim); err != nil {
		t.Fatal(err)
	}
	f("AppendRequestHead chunked", func() { dst = AppendRequestHead(dst[:0], chunked, &rc, &fw) })
	f("AppendResponseHead", func() { dst = AppendResponseHead(dst[:0], resp, &rs, ResponseFraming{Chunked: true, KeepAlive: true}) })
	f("AppendResponseHead HTTP/1.0", func() { dst = AppendResponseHead(dst[:0], resp, &rs, ResponseFraming{HTTP10: true, Close: true}) })
	codings := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: GZIP,, chunked\r\nContent-Type: text/html\r\n\r\n")
	var rsc Response
	if _, err := ParseResponse(codings, &rsc, MethodGet, &lim); err != nil {
		t.Fatal(err)
	}
	f("AppendResponseHead codings", func() { dst = AppendResponseHead(dst[:0], codings, &rsc, ResponseFraming{Chunked: true}) })
	f("AppendError", func() { dst = AppendError(dst[:0], 503, true, 5) })
	f("AppendChunkHeader", func() { dst = AppendChunkHeader(dst[:0], 12345) })
	f("Error", func() { _ = ErrBadChunk.Error() })
}
