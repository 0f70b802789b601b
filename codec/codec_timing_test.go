package codec

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// sink keeps results alive so the compiler cannot drop the calls being measured.
var sink int

var benchRequests = []struct {
	name string
	raw  []byte
}{
	{"small_GET", []byte(simpleGet)},
	{"browser_GET", []byte(browserGet)},
	{"chunked_POST", []byte("POST /api/v1/items HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: curl/8.5.0\r\n" +
		"Accept: application/json\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" +
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc\r\n\r\n")},
}

func BenchmarkParseRequest(b *testing.B) {
	for _, tc := range benchRequests {
		b.Run(tc.name, func(b *testing.B) {
			var r Request
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.raw)))
			for b.Loop() {
				n, _ := ParseRequest(tc.raw, &r, &DefaultLimits)
				sink += n
			}
		})
	}
}

// BenchmarkParseRequestNetHTTP is the baseline: net/http.ReadRequest on the same bytes, with
// its readers reused so only the parse is measured.
func BenchmarkParseRequestNetHTTP(b *testing.B) {
	for _, tc := range benchRequests {
		b.Run(tc.name, func(b *testing.B) {
			rd := bytes.NewReader(tc.raw)
			br := bufio.NewReader(rd)
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.raw)))
			for b.Loop() {
				rd.Reset(tc.raw)
				br.Reset(rd)
				req, err := http.ReadRequest(br)
				if err != nil {
					b.Fatal(err)
				}
				sink += len(req.Header)
			}
		})
	}
}

var benchResponse = []byte("HTTP/1.1 200 OK\r\nServer: nginx/1.25.4\r\nDate: Tue, 14 May 2024 10:00:00 GMT\r\n" +
	"Content-Type: text/html; charset=utf-8\r\nContent-Length: 1234\r\nConnection: keep-alive\r\n" +
	"Cache-Control: max-age=3600\r\nETag: \"5f2b3c-1a2b\"\r\nVary: Accept-Encoding\r\n" +
	"Last-Modified: Mon, 13 May 2024 09:00:00 GMT\r\n\r\n")

func BenchmarkParseResponse(b *testing.B) {
	var r Response
	b.ReportAllocs()
	b.SetBytes(int64(len(benchResponse)))
	for b.Loop() {
		n, _ := ParseResponse(benchResponse, &r, MethodGet, &DefaultLimits)
		sink += n
	}
}

func BenchmarkParseResponseNetHTTP(b *testing.B) {
	req, _ := http.NewRequest("GET", "http://a/", nil)
	rd := bytes.NewReader(benchResponse)
	br := bufio.NewReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchResponse)))
	for b.Loop() {
		rd.Reset(benchResponse)
		br.Reset(rd)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			b.Fatal(err)
		}
		sink += len(resp.Header)
	}
}

func BenchmarkAppendRequestHead(b *testing.B) {
	for _, tc := range benchRequests {
		b.Run(tc.name, func(b *testing.B) {
			var r Request
			if _, err := ParseRequest(tc.raw, &r, nil); err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, 4096)
			fw := testForward
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.raw)))
			for b.Loop() {
				dst = AppendRequestHead(dst[:0], tc.raw, &r, &fw)
				sink += len(dst)
			}
		})
	}
}

func BenchmarkAppendResponseHead(b *testing.B) {
	var r Response
	if _, err := ParseResponse(benchResponse, &r, MethodGet, nil); err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchResponse)))
	for b.Loop() {
		dst = AppendResponseHead(dst[:0], benchResponse, &r, ResponseFraming{})
		sink += len(dst)
	}
}

// benchChunkedBody is 64 KiB of payload in 4 KiB chunks, arriving in one buffer.
var benchChunkedBody = func() []byte {
	var body []byte
	chunk := bytes.Repeat([]byte("x"), 4096)
	for range 16 {
		body = AppendChunkHeader(body, len(chunk))
		body = append(body, chunk...)
		body = append(body, "\r\n"...)
	}
	return append(body, LastChunk...)
}()

func BenchmarkChunked(b *testing.B) {
	var c Chunked
	b.ReportAllocs()
	b.SetBytes(int64(len(benchChunkedBody)))
	for b.Loop() {
		c.Reset()
		for p := benchChunkedBody; !c.Done(); {
			n, _, err := c.Next(p, &DefaultLimits)
			if err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
		sink += int(c.Payload())
	}
}

// benchOddChunkedBody is benchChunkedBody spelled so that every size line must be replaced:
// leading zeros and an extension.
var benchOddChunkedBody = bytes.ReplaceAll(benchChunkedBody, []byte("1000\r\n"), []byte("01000;e=1\r\n"))

// BenchmarkChunkedReframe is the engine's re-framing loop (Next, Canonical, Size and
// AppendChunkHeader) over 64 KiB in 4 KiB chunks: canonical as sent, and with every size
// line replaced. Payload is not copied, only framing, as the engine writes data in place.
func BenchmarkChunkedReframe(b *testing.B) {
	for _, tc := range []struct {
		name string
		body []byte
	}{{"canonical", benchChunkedBody}, {"replaced", benchOddChunkedBody}} {
		b.Run(tc.name, func(b *testing.B) {
			var c Chunked
			out := make([]byte, 0, 1024)
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				c.Reset()
				out = out[:0]
				for p := tc.body; !c.Done(); {
					n, data, err := c.Next(p, &DefaultLimits)
					if err != nil {
						b.Fatal(err)
					}
					size := c.Size()
					if !data {
						if c.Canonical() {
							out = append(out, p[:n]...)
						} else if size > 0 {
							out = AppendChunkHeader(out, int(size))
						} else if size == 0 {
							out = append(out, "0\r\n"...)
						}
					}
					p = p[n:]
				}
				sink += len(out)
			}
		})
	}
}

// BenchmarkParseRequestTrickle measures a 32 KiB head arriving 256 bytes per read, parsed
// again after each read as the engine does: the cost of a client that trickles its head.
func BenchmarkParseRequestTrickle(b *testing.B) {
	raw := []byte("GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("Cookie: "+strings.Repeat("c", 400)+"\r\n", 80) + "\r\n")
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		for end := 256; ; end += 256 {
			n, err := ParseRequest(raw[:min(end, len(raw))], &r, &DefaultLimits)
			if err == nil {
				sink += n
				break
			}
			if err != ErrNeedMore {
				b.Fatal(err)
			}
		}
	}
}
