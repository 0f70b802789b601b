package codec_test

import (
	"bytes"
	"fmt"

	"loopgate/codec"
)

func ExampleParseRequest() {
	buf := []byte("POST /upload HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Trace\r\n" +
		"X-Trace: 1\r\nTransfer-Encoding: chunked\r\n\r\n005;x=1\r\nhello\r\n0\r\nX-Sum: 1\r\nHost: evil\r\n\r\n")
	var req codec.Request
	n, err := codec.ParseRequest(buf, &req, &codec.DefaultLimits)
	if err != nil {
		return // ErrNeedMore: read more; *codec.Error: answer err.Status and close
	}
	out := codec.AppendRequestHead(nil, buf, &req, &codec.Forward{ClientIP: []byte("192.0.2.1"), Proto: []byte("http")})
	fmt.Printf("%s", bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n"))) // CRLF shown as LF

	// The body follows the head; its chunked framing is checked and re-framed in
	// canonical form: data and canonical pieces are copied, the rest replaced.
	var c codec.Chunked
	var body []byte
	for in := buf[n:]; !c.Done(); {
		k, data, err := c.Next(in, nil)
		if err != nil {
			return
		}
		switch size := c.Size(); {
		case data || c.Canonical():
			body = append(body, in[:k]...)
		case size > 0:
			body = codec.AppendChunkHeader(body, int(size))
		case size == 0:
			body = append(body, "0\r\n"...)
		}
		in = in[k:]
	}
	fmt.Printf("body %q\n", body)
	// Output:
	// POST /upload HTTP/1.1
	// Host: example.com
	// Transfer-Encoding: chunked
	// X-Forwarded-For: 192.0.2.1
	// X-Forwarded-Proto: http
	// X-Forwarded-Host: example.com
	//
	// body "5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"
}

func ExampleAppendError() {
	fmt.Printf("%q\n", codec.AppendError(nil, 503, true, 5))
	// Output:
	// "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\nConnection: close\r\nRetry-After: 5\r\n\r\n503 Service Unavailable\n"
}
