package engine_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// raiseFDLimit lifts the soft RLIMIT_NOFILE to at least n (up to the hard
// limit) and restores it when the test ends.
func raiseFDLimit(t *testing.T, n uint64) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if old.Cur >= n {
		return
	}
	lim := old
	lim.Cur = min(n, old.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < n {
		t.Skipf("cannot raise RLIMIT_NOFILE to %d (hard limit %d): %v", n, old.Max, err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// 1,000 concurrent keep-alive clients × 20 requests each, all answered
// correctly, through two event loops and three backends.
func TestManyClientsE2E(t *testing.T) {
	const clients, requests = 1000, 20
	// client + proxy side + upstream + backend side for each, and slack.
	raiseFDLimit(t, 5*clients+1000)

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s", r.URL.Path, b)
	})
	cfg := poolOf(startBackend(t, h), startBackend(t, h), startBackend(t, h))
	cfg.EventLoops = 2
	_, px := startProxy(t, cfg)

	deadline := time.Now().Add(20 * time.Second)
	var ok atomic.Int64
	var mu sync.Mutex
	var errs []string
	fail := func(format string, a ...any) {
		mu.Lock()
		if len(errs) < 10 {
			errs = append(errs, fmt.Sprintf(format, a...))
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	start := time.Now()
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", px, ioTimeout)
			if err != nil {
				fail("client %d: dial: %v", id, err)
				return
			}
			defer c.Close()
			c.SetDeadline(deadline)
			br := bufio.NewReader(c)
			for i := range requests {
				path := fmt.Sprintf("/c%d/r%d", id, i)
				body := ""
				req := "GET " + path + " HTTP/1.1\r\nHost: load\r\n\r\n"
				if i%4 == 3 {
					body = strings.Repeat("b", i*10)
					req = fmt.Sprintf("POST %s HTTP/1.1\r\nHost: load\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
				}
				if _, err := io.WriteString(c, req); err != nil {
					fail("client %d request %d: write: %v", id, i, err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					fail("client %d request %d: read: %v", id, i, err)
					return
				}
				got, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != 200 || string(got) != path+"|"+body {
					fail("client %d request %d: %d %q %v", id, i, resp.StatusCode, got, err)
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	t.Logf("%d requests over %d connections in %v (%.0f req/s)", ok.Load(), clients, el, float64(ok.Load())/el.Seconds())
	if n := ok.Load(); n != clients*requests {
		t.Fatalf("%d of %d requests answered correctly; first errors:\n%s", n, clients*requests, strings.Join(errs, "\n"))
	}
}
