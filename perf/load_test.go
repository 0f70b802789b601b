package perf

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/codec"
)

// rawServer is a test HTTP/1.1 server on 127.0.0.1 that answers each request with the bytes
// answer returns for it (nil: close the connection without answering). n counts requests
// from 1 over all connections. It reads request bodies with Content-Length.
type rawServer struct {
	ln    net.Listener
	count atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func newRawServer(t *testing.T, answer func(n int64, target string, c net.Conn) []byte) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Go(func() { s.serve(c, answer) })
		}
	})
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() }

func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *rawServer) serve(c net.Conn, answer func(int64, string, net.Conn) []byte) {
	defer c.Close()
	var req codec.Request
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for {
		n, err := codec.ParseRequest(buf, &req, nil)
		if errors.Is(err, codec.ErrNeedMore) {
			k, rerr := c.Read(tmp)
			if k == 0 && rerr != nil {
				return
			}
			buf = append(buf, tmp[:k]...)
			continue
		}
		if err != nil {
			return
		}
		target := string(req.Target.Bytes(buf))
		need := n + int(req.BodyLen)
		for len(buf) < need {
			k, rerr := c.Read(tmp)
			if k == 0 && rerr != nil {
				return
			}
			buf = append(buf, tmp[:k]...)
		}
		buf = append(buf[:0], buf[need:]...)
		out := answer(s.count.Add(1), target, c)
		if out == nil {
			return
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: b1\r\n\r\nok"

// TestRunCoordinatedOmission stalls the server for 300 ms once in a 200 req/s open-loop run.
// Measured from the schedule, the ~60 requests that were due during the stall are all late
// (300 ms down to 0), so p90 and p99 show it; measured from the actual send (what a closed-loop
// tool reports) only the one request that met the stall is slow.
func TestRunCoordinatedOmission(t *testing.T) {
	const stall = 300 * time.Millisecond
	srv := newRawServer(t, func(n int64, _ string, _ net.Conn) []byte {
		if n == 60 {
			time.Sleep(stall)
		}
		return []byte(okResponse)
	})
	rep, err := Run(context.Background(), Config{URL: srv.url(), Concurrency: 1, Rate: 200, Duration: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SuccessfulRequests < 250 || rep.FailedRequests != 0 {
		t.Fatalf("got %d successful, %d failed requests; want about 300 and 0", rep.SuccessfulRequests, rep.FailedRequests)
	}
	lat, svc := rep.ResponseTimes, rep.ServiceTimes
	t.Logf("corrected p50 %.2f p90 %.2f p99 %.2f max %.2f; service p90 %.2f p99 %.2f max %.2f ms",
		lat.P50, lat.P90, lat.P99, lat.Maximum, svc.P90, svc.P99, svc.Maximum)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	if lat.Maximum < ms(stall)*0.95 || svc.Maximum < ms(stall)*0.95 {
		t.Fatalf("max latency %.1f ms, service %.1f ms; want both about %v", lat.Maximum, svc.Maximum, stall)
	}
	// Of ~300 requests, ~30 were due in the first half of the stall and waited over 150 ms.
	if lat.P90 < 80 || lat.P99 < 200 {
		t.Fatalf("corrected p90 %.1f ms, p99 %.1f ms; want >= 80 and >= 200: the stall is hidden", lat.P90, lat.P99)
	}
	if svc.P90 > 40 || svc.P99 > 100 {
		t.Fatalf("service p90 %.1f ms, p99 %.1f ms; want small: only one request met the stall", svc.P90, svc.P99)
	}
}

// TestRunClosedLoopExactCount checks that -n is exact however it divides among connections.
func TestRunClosedLoopExactCount(t *testing.T) {
	srv := newRawServer(t, func(int64, string, net.Conn) []byte { return []byte(okResponse) })
	rep, err := Run(context.Background(), Config{URL: srv.url(), Concurrency: 7, Requests: 1000, ByHeader: "x-backend"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.TotalRequests != 1000 || rep.SuccessfulRequests != 1000 || rep.StatusCodes["200"] != 1000 {
		t.Fatalf("total %d successful %d statuses %v; want 1000", rep.TotalRequests, rep.SuccessfulRequests, rep.StatusCodes)
	}
	if got := rep.ByHeader.Counts["b1"]; got != 1000 {
		t.Fatalf("by header %v; want b1: 1000", rep.ByHeader.Counts)
	}
	if srv.count.Load() != 1000 {
		t.Fatalf("server saw %d requests; want 1000", srv.count.Load())
	}
	wantOut := int64(1000 * len("GET / HTTP/1.1\r\nHost: "+srv.ln.Addr().String()+"\r\nUser-Agent: loopgate-loadgen\r\n\r\n"))
	if rep.BytesSent != wantOut || rep.BytesReceived != 1000*int64(len(okResponse)) {
		t.Fatalf("bytes sent %d received %d; want %d and %d", rep.BytesSent, rep.BytesReceived, wantOut, 1000*len(okResponse))
	}
}

// TestRunFraming reads every way a response can be framed, delivered a few bytes at a time.
func TestRunFraming(t *testing.T) {
	responses := map[string]string{
		"/length":  "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
		"/chunked": "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\n",
		"/interim": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"/empty":   "HTTP/1.1 204 No Content\r\n\r\n",
		"/status":  "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
		"/close":   "HTTP/1.1 200 OK\r\n\r\nuntil the end",
		"/http10":  "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
	}
	srv := newRawServer(t, func(_ int64, target string, c net.Conn) []byte {
		resp := responses[target]
		for i := 0; i < len(resp); i += 3 { // trickle: every parse boundary gets hit
			if _, err := c.Write([]byte(resp[i:min(i+3, len(resp))])); err != nil {
				return nil
			}
		}
		if target == "/close" || target == "/http10" {
			return nil
		}
		return []byte{}
	})
	f := func(path, method string, wantStatus string) {
		t.Helper()
		rep, err := Run(context.Background(), Config{URL: srv.url(), Path: path, Method: method, Concurrency: 2, Requests: 20})
		if err != nil {
			t.Fatal(err)
		}
		if rep.StatusCodes[wantStatus] != 20 || rep.TotalRequests != 20 {
			t.Fatalf("%s %s: statuses %v errors %v; want 20 × %s", method, path, rep.StatusCodes, rep.Errors, wantStatus)
		}
	}
	f("/length", "GET", "200")
	f("/chunked", "GET", "201")
	f("/interim", "POST", "200")
	f("/empty", "GET", "204")
	f("/status", "GET", "503")
	f("/close", "GET", "200")
	f("/http10", "GET", "200")
	// A HEAD response announces a length but has no body: reading one would hang.
	responses["/head"] = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
	f("/head", "HEAD", "200")
}

// TestRunErrorKinds checks that each way a request can fail is counted under its kind.
func TestRunErrorKinds(t *testing.T) {
	srv := newRawServer(t, func(_ int64, target string, _ net.Conn) []byte {
		switch target {
		case "/garbage":
			return []byte("SMTP ready\r\n\r\n")
		case "/badchunk":
			return []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
		case "/short":
			return []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		case "/hang":
			return []byte{}
		}
		return nil // /drop: close without answering
	})
	f := func(url, path, wantKind string, timeout time.Duration) {
		t.Helper()
		rep, err := Run(context.Background(), Config{URL: url, Path: path, Concurrency: 2, Requests: 4, Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors[wantKind] != 4 || rep.FailedRequests != 4 || rep.SuccessfulRequests != 0 || rep.ErrorRate != 100 {
			t.Fatalf("%s: errors %v, failed %d; want 4 × %s", path, rep.Errors, rep.FailedRequests, wantKind)
		}
	}
	f(srv.url(), "/garbage", "parse", 0)
	f(srv.url(), "/badchunk", "parse", 0)
	f(srv.url(), "/drop", "closed", 0)
	f(srv.url(), "/hang", "timeout", 50*time.Millisecond)

	// "/short" sends 3 of 10 body bytes and waits: a timeout, not a success.
	f(srv.url(), "/short", "timeout", 50*time.Millisecond)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	f(dead, "/", "connect", 0)
}

// TestRunInterrupt cancels a load whose requests hang: Run returns at once with them
// counted as unfinished, not as errors.
func TestRunInterrupt(t *testing.T) {
	srv := newRawServer(t, func(int64, string, net.Conn) []byte { return []byte{} })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, Config{URL: srv.url(), Concurrency: 3, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Run took %v after cancel", took)
	}
	if !rep.Interrupted || rep.UnfinishedRequests != 3 || rep.TotalRequests != 0 {
		t.Fatalf("interrupted %v unfinished %d total %d; want true 3 0", rep.Interrupted, rep.UnfinishedRequests, rep.TotalRequests)
	}
}

func TestRunNoKeepAlive(t *testing.T) {
	var conns atomic.Int64
	srv := newRawServer(t, func(_ int64, _ string, c net.Conn) []byte {
		conns.Add(1)
		return []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	rep, err := Run(context.Background(), Config{URL: srv.url(), Concurrency: 2, Requests: 30, NoKeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SuccessfulRequests != 30 {
		t.Fatalf("successful %d errors %v; want 30", rep.SuccessfulRequests, rep.Errors)
	}
}

func TestBuildRequest(t *testing.T) {
	f := func(method string, headers []string, body int, keepAlive bool, want string) {
		t.Helper()
		got, err := buildRequest(method, "/p?q=1", "h:1", headers, body, keepAlive)
		if err != nil {
			if want != "error" {
				t.Fatalf("buildRequest(%q, %q): %v", method, headers, err)
			}
			return
		}
		if string(got) != want {
			t.Fatalf("buildRequest(%q, %q, %d, %v) =\n%q; want\n%q", method, headers, body, keepAlive, got, want)
		}
	}
	f("GET", nil, 0, true, "GET /p?q=1 HTTP/1.1\r\nHost: h:1\r\nUser-Agent: loopgate-loadgen\r\n\r\n")
	f("GET", nil, 0, false, "GET /p?q=1 HTTP/1.1\r\nHost: h:1\r\nUser-Agent: loopgate-loadgen\r\nConnection: close\r\n\r\n")
	f("POST", []string{"X-A:  b ", "host: other"}, 3, true,
		"POST /p?q=1 HTTP/1.1\r\nUser-Agent: loopgate-loadgen\r\nX-A: b\r\nhost: other\r\nContent-Length: 3\r\n\r\nabc")
	f("PUT", nil, 0, true, "PUT /p?q=1 HTTP/1.1\r\nHost: h:1\r\nUser-Agent: loopgate-loadgen\r\nContent-Length: 0\r\n\r\n")
	f("GET", []string{"NoColon"}, 0, true, "error")
	f("GET", []string{"Bad Name: x"}, 0, true, "error")
	f("GET", []string{"X: a\r\nInjected: 1"}, 0, true, "error")
	f("GET", []string{"Content-Length: 5"}, 0, true, "error")
	f("G T", nil, 0, true, "error")
}

func TestConfigErrors(t *testing.T) {
	f := func(cfg Config) {
		t.Helper()
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Fatalf("Run(%+v) succeeded; want an error", cfg)
		}
	}
	f(Config{URL: "http://127.0.0.1:1/"}) // neither requests nor duration
	f(Config{URL: "https://127.0.0.1:1/", Requests: 1})
	f(Config{URL: "http://127.0.0.1:1/", Requests: 1, Path: "nope"})
	f(Config{URL: "http://127.0.0.1:1/", Requests: 1, Rate: -1})
	f(Config{URL: "http://127.0.0.1:1/", Requests: 1, Method: "CONNECT"})
	f(Config{URL: "http://127.0.0.1:1/", Requests: 1, Concurrency: -1})
	f(Config{URL: "http://127.0.0.1:1/", Requests: 1, Headers: []string{"Connection: close"}})
}
