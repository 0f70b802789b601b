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

	if _, err := ParseRequest(req, &r, &lim); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseResponse(resp, &rs, MethodGet, &lim); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 4096)
	fw := testForward
	f("AppendRequestHead", func() { dst = AppendRequestHead(dst[:0], req, &r, &fw) })
	f("AppendResponseHead", func() { dst = AppendResponseHead(dst[:0], resp, &rs, ResponseFraming{Chunked: true, KeepAlive: true}) })
	f("AppendError", func() { dst = AppendError(dst[:0], 503, true, 5) })
	f("AppendChunkHeader", func() { dst = AppendChunkHeader(dst[:0], 12345) })
	f("Error", func() { _ = ErrBadChunk.Error() })
}
