package health

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawBackend answers every connection with reply once it has read a request
// head, then closes. It returns its address.
func rawBackend(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				io.WriteString(c, reply)
			}()
		}
	}()
	return ln.Addr().String()
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func probeOnce(t *testing.T, c Config, addr string) (int, error) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p := newProber(c.WithDefaults(), []string{addr})
	return p.run(context.Background(), 0, addr)
}

func TestProbeStatusAndBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			io.WriteString(w, "status: ok")
		case "/chunked":
			io.WriteString(w, "status: ")
			w.(http.Flusher).Flush() // no Content-Length: chunked
			io.WriteString(w, strings.Repeat("x", 10000)+" ok")
		case "/moved":
			http.Redirect(w, r, "/health", http.StatusMovedPermanently)
		case "/down":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	f := func(c Config, wantStatus int, wantErr string) {
		t.Helper()
		c.Timeout, c.Interval = time.Second, 2*time.Second
		status, err := probeOnce(t, c, addr)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if status != wantStatus || !strings.Contains(got, wantErr) || (wantErr == "" && err != nil) {
			t.Fatalf("probe %+v: status=%d err=%q; want %d and an error containing %q", c, status, got, wantStatus, wantErr)
		}
	}
	f(Config{}, 200, "")
	f(Config{Method: "HEAD"}, 200, "")
	f(Config{Path: "/moved"}, 301, "")
	f(Config{Path: "/moved", Expect: "200,204"}, 301, "HTTP 301 not in 200,204")
	f(Config{Path: "/down"}, 503, "HTTP 503 not in 200-399")
	f(Config{Path: "/down", Expect: "503"}, 503, "")
	f(Config{Path: "/nope"}, 404, "HTTP 404 not in 200-399")
	f(Config{BodyContains: "ok"}, 200, "")
	f(Config{BodyContains: "ready"}, 200, `body does not contain "ready"`)
	f(Config{Path: "/chunked", BodyContains: "x ok"}, 200, "")
	f(Config{Path: "/chunked", BodyContains: "status: ok"}, 200, "body does not contain")
	f(Config{Path: "/down", BodyContains: "maintenance"}, 503, "HTTP 503") // status first
}

func TestProbeRawAnswers(t *testing.T) {
	f := func(reply string, c Config, wantStatus int, wantErr string) {
		t.Helper()
		c.Timeout, c.Interval = 500*time.Millisecond, time.Second
		status, err := probeOnce(t, c, rawBackend(t, reply))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if status != wantStatus || !strings.Contains(got, wantErr) || (wantErr == "" && err != nil) {
			t.Fatalf("reply %q: status=%d err=%q; want %d and an error containing %q", reply, status, got, wantStatus, wantErr)
		}
	}
	f("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Config{}, 200, "")
	f("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", Config{}, 204, "")
	f("HTTP/1.0 200 OK\r\n\r\nclose-delimited ok", Config{BodyContains: "ted ok"}, 200, "")
	f("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", Config{BodyContains: "ok"}, 200, "connection closed")
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", Config{BodyContains: "cd"}, 200, "")
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Config{BodyContains: "cd"}, 200, "malformed chunked body")
	f("SSH-2.0-OpenSSH\r\n\r\n", Config{}, 0, "malformed response")
	f("", Config{}, 0, "connection closed")
	f("HTTP/1.1 200 OK\r\n", Config{}, 0, "no complete response head")
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := Config{Type: "tcp", Interval: time.Second}
	if status, err := probeOnce(t, c, ln.Addr().String()); err != nil || status != 0 {
		t.Fatalf("TCP probe of a listener: status=%d err=%v; want 0, nil", status, err)
	}
	_, err = probeOnce(t, c, closedAddr(t))
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("TCP probe of a closed port: err=%v; want connection refused", err)
	}
}

func TestProbeHostAndHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	if _, err := probeOnce(t, Config{Interval: time.Second}, addr); err != nil {
		t.Fatal(err)
	}
	c := Config{Interval: time.Second, Method: "OPTIONS", Path: "/ready?deep=1", Host: "api.example", Headers: []string{"X-Check: yes", "Authorization: Bearer t"}}
	if _, err := probeOnce(t, c, addr); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("backend saw %d requests; want 2", len(seen))
	}
	if r := seen[0]; r.Host != addr || r.Method != "GET" || r.URL.Path != "/health" || r.Header.Get("User-Agent") != "loopgate-health" || !r.Close {
		t.Fatalf("default probe: %s %s Host=%q UA=%q close=%v; want GET /health Host=%q UA=loopgate-health close", r.Method, r.URL, r.Host, r.Header.Get("User-Agent"), r.Close, addr)
	}
	if r := seen[1]; r.Host != "api.example" || r.Method != "OPTIONS" || r.URL.RequestURI() != "/ready?deep=1" ||
		r.Header.Get("X-Check") != "yes" || r.Header.Get("Authorization") != "Bearer t" {
		t.Fatalf("configured probe: %s %s Host=%q headers=%v", r.Method, r.URL.RequestURI(), r.Host, r.Header)
	}
}

func TestProbeTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("delay"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	c := Config{Interval: time.Second, Timeout: 200 * time.Millisecond}

	c.Path = "/?delay=100ms" // late, but within the timeout: passes
	if _, err := probeOnce(t, c, addr); err != nil {
		t.Fatalf("probe answered in 100ms with a 200ms timeout: %v", err)
	}
	c.Path = "/?delay=2s"
	start := time.Now()
	_, err := probeOnce(t, c, addr)
	if err == nil || !strings.Contains(err.Error(), "within the 200ms timeout") {
		t.Fatalf("probe answered in 2s with a 200ms timeout: err=%v; want a timeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("timed-out probe took %s; want about 200ms", d)
	}
}
