package codec_test

import (
	"bytes"
	"fmt"

	"loopgate/codec"
)

func ExampleParseRequest() {
	buf := []byte("POST /upload HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Trace\r\n" +
		"X-Trace: 1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	var req codec.Request
	n, err := codec.ParseRequest(buf, &req, &codec.DefaultLimits)
	if err != nil {
		return // ErrNeedMore: read more; *codec.Error: answer err.Status and close
	}
	out := codec.AppendRequestHead(nil, buf, &req, &codec.Forward{ClientIP: []byte("192.0.2.1"), Proto: []byte("http")})
	fmt.Printf("%s", bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n"))) // CRLF shown as LF

	// The body follows the head; its chunked framing is checked and passed through as is.
	var c codec.Chunked
	for body := buf[n:]; !c.Done(); {
		k, data, err := c.Next(body, nil)
		if err != nil {
			return
		}
		if data {
			fmt.Printf("payload %q\n", body[:k])
		}
		body = body[k:]
	}
	// Output:
	// POST /upload HTTP/1.1
	// Host: example.com
	// Transfer-Encoding: chunked
	// X-Forwarded-For: 192.0.2.1
	// X-Forwarded-Proto: http
	// X-Forwarded-Host: example.com
	//
	// payload "hello"
}

func ExampleAppendError() {
	fmt.Printf("%q\n", codec.AppendError(nil, 503, true, 5))
	// Output:
	// "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\nConnection: close\r\nRetry-After: 5\r\n\r\n503 Service Unavailable\n"
}
