package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"loopgate/certs"
	"loopgate/codec"
)

// prober runs the probes of one pool. It is immutable after newProber and
// safe to use from many goroutines.
type prober struct {
	tcp      bool
	timeout  time.Duration
	method   codec.Method // for framing the answer: HEAD has no body
	expect   expect
	expectS  string
	contains []byte
	reqs     [][]byte      // per backend: the whole request, built once
	tls      []*tls.Config // per backend, for a TLS pool; nil: plain
	dialer   net.Dialer
}

func newProber(c Config, addrs []string) *prober {
	p := &prober{
		tcp:      c.Type == "tcp",
		timeout:  c.Timeout,
		method:   codec.MethodGet,
		expectS:  c.Expect,
		contains: []byte(c.BodyContains),
		reqs:     make([][]byte, len(addrs)),
		dialer:   net.Dialer{Timeout: c.Timeout},
	}
	if c.Method == "HEAD" {
		p.method = codec.MethodHead
	}
	p.expect, _ = parseExpect(c.Expect) // Validate has checked it
	if c.TLS != nil {
		p.tls = make([]*tls.Config, len(addrs))
		for i, a := range addrs {
			p.tls[i] = certs.ForAddr(c.TLS, a)
		}
	}
	for i, a := range addrs {
		host := c.Host
		if host == "" {
			host = a
		}
		b := fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\n", c.Method, c.Path, host)
		for _, h := range c.Headers {
			b = append(b, h...)
			b = append(b, "\r\n"...)
		}
		b = append(b, "User-Agent: loopgate-health\r\nConnection: close\r\n\r\n"...)
		p.reqs[i] = b
	}
	return p
}

// run probes backend i at addr once and returns the HTTP status (0 for TCP
// probes and for failures before a status) and nil when the probe passed, or
// the reason it failed. ctx aborts the probe (Stop); the probe's own budget
// is p.timeout, counted from the start of the call.
func (p *prober) run(ctx context.Context, i int, addr string) (int, error) {
	deadline := time.Now().Add(p.timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var conn net.Conn
	conn, err := p.dialer.DialContext(dctx, "tcp", addr)
	if err != nil {
		return 0, dialError(err, p.timeout)
	}
	defer conn.Close()
	if p.tls != nil {
		tc := tls.Client(conn, p.tls[i])
		if err := tc.HandshakeContext(dctx); err != nil {
			return 0, ioError("TLS handshake failed", err, p.timeout)
		}
		conn = tc
	}
	if p.tcp {
		return 0, nil
	}
	// Stop (ctx) closes the socket, so a probe in a blocking read returns at
	// once; the probe's own timeout is the socket deadline.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(deadline)
	if _, err := conn.Write(p.reqs[i]); err != nil {
		return 0, ioError("cannot send the request", err, p.timeout)
	}
	return p.read(conn)
}

// read reads the answer from conn: the head (skipping 1xx interim answers)
// and, when the body must be searched, the body, up to maxBody bytes.
func (p *prober) read(conn net.Conn) (int, error) {
	buf := make([]byte, 0, 4096)
	var r codec.Response
	var n int
	for {
		var err error
		n, err = codec.ParseResponse(buf, &r, p.method, nil)
		if err == nil {
			if r.Status >= 200 || r.Status == 101 {
				break
			}
			buf = buf[:copy(buf, buf[n:])] // 1xx interim answer (RFC 9110 §15.2): the real one follows
			continue
		}
		if !errors.Is(err, codec.ErrNeedMore) {
			return 0, errors.New("malformed response")
		}
		if buf, err = readMore(conn, buf); err != nil {
			return 0, ioError("no complete response head", err, p.timeout)
		}
	}
	status := r.Status
	if !p.expect.has(status) {
		return status, fmt.Errorf("HTTP %d not in %s", status, p.expectS)
	}
	if len(p.contains) == 0 {
		return status, nil
	}
	body, err := p.body(conn, buf[n:], &r)
	if bytes.Contains(body, p.contains) {
		return status, nil
	}
	if err != nil {
		return status, ioError(fmt.Sprintf("body without %q", p.contains), err, p.timeout)
	}
	return status, fmt.Errorf("body does not contain %q", p.contains)
}

// body returns up to maxBody bytes of the body whose head r was parsed, with
// rest the bytes already read after the head. The error says why it stopped
// early (io.EOF for a body cut short).
func (p *prober) body(conn net.Conn, rest []byte, r *codec.Response) ([]byte, error) {
	raw := append(make([]byte, 0, 4096), rest...)
	var body []byte
	var ch codec.Chunked
	for {
		switch r.Body {
		case codec.BodyNone:
			return nil, nil
		case codec.BodyLength:
			if int64(len(raw)) >= r.BodyLen || len(raw) >= maxBody {
				return raw[:min(int64(len(raw)), r.BodyLen)], nil
			}
		case codec.BodyClose:
			if len(raw) >= maxBody {
				return raw, nil
			}
		case codec.BodyChunked:
			for len(raw) > 0 && !ch.Done() {
				n, data, err := ch.Next(raw, nil)
				if errors.Is(err, codec.ErrNeedMore) {
					break
				}
				if err != nil {
					return body, errors.New("malformed chunked body")
				}
				if data {
					body = append(body, raw[:n]...)
				}
				raw = raw[:copy(raw, raw[n:])]
			}
			if ch.Done() || len(body) >= maxBody {
				return body, nil
			}
		}
		var err error
		if raw, err = readMore(conn, raw); err != nil {
			if r.Body == codec.BodyClose && errors.Is(err, io.EOF) {
				return raw, nil
			}
			if r.Body == codec.BodyChunked {
				return body, err
			}
			return raw, err
		}
	}
}

// readMore appends one read from conn to buf, growing it up to maxBody bytes
// (and a little over when a chunk-size line straddles the bound).
func readMore(conn net.Conn, buf []byte) ([]byte, error) {
	if len(buf) >= maxBody+4096 {
		return buf, errors.New("answer too long")
	}
	if len(buf) == cap(buf) {
		buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
	}
	n, err := conn.Read(buf[len(buf):cap(buf)])
	buf = buf[:len(buf)+n]
	if n > 0 {
		return buf, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return buf, err
}

// dialError says briefly why a connect failed: "connect: connection refused"
// or "connect timeout after 2s".
func dialError(err error, timeout time.Duration) error {
	if isTimeout(err) {
		return fmt.Errorf("connect timeout after %s", timeout)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// ioError says briefly why a read or write failed.
func ioError(what string, err error, timeout time.Duration) error {
	switch {
	case isTimeout(err):
		return fmt.Errorf("%s within the %s timeout", what, timeout)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%s: connection closed", what)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
