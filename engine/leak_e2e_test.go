package engine_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"loopgate/engine"
)

// Clients that go away at every stage of an exchange leave no file
// descriptor behind: not in the proxy (client, upstream, dups made for flow
// control), which runs in this process, and not through it in the backend.
func TestClientAbortNoFDLeakE2E(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/wait":
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		case "/big":
			w.Header().Set("Content-Length", "67108864")
			io.Copy(w, &pattern{n: 64 << 20})
		case "/noread":
			time.Sleep(time.Second) // never reads the body
		default:
			io.Copy(io.Discard, r.Body)
		}
	}))
	cfg := poolOf(be)
	cfg.Flow = engine.Flow{HighWatermark: 256 << 10}
	// A dial that completes after its client left is pooled, not a leak:
	// a short upstream_idle closes those within the settle loop below.
	cfg.Timeouts = engine.Timeouts{UpstreamIdle: 500 * time.Millisecond}
	_, px := startProxy(t, cfg)
	// A first exchange, so that everything the process opens once is open.
	warm := dial(t, px)
	warm.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	warm.c.Close()
	time.Sleep(100 * time.Millisecond)

	aborts := map[string]func(c net.Conn){
		"mid-head": func(c net.Conn) {
			io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: a\r\nX-Partial")
			time.Sleep(30 * time.Millisecond)
		},
		"mid-body": func(c net.Conn) {
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 5000))
			time.Sleep(50 * time.Millisecond)
		},
		"mid-chunked-body": func(c net.Conn) {
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123")
			time.Sleep(50 * time.Millisecond)
		},
		"awaiting-response": func(c net.Conn) {
			io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: a\r\n\r\n")
			time.Sleep(50 * time.Millisecond)
		},
		"mid-response": func(c net.Conn) {
			// The client reads a little of a big response and leaves while
			// the proxy holds the upstream paused for it.
			io.WriteString(c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			io.ReadFull(c, make([]byte, 1000))
			time.Sleep(100 * time.Millisecond)
		},
		"paused-upload": func(c net.Conn) {
			// The backend does not read; the proxy pauses the client.
			io.WriteString(c, "POST /noread HTTP/1.1\r\nHost: a\r\nContent-Length: 67108864\r\n\r\n")
			c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			io.Copy(c, &pattern{n: 64 << 20})
		},
	}
	const each = 20
	names := make([]string, 0, len(aborts))
	for name := range aborts {
		names = append(names, name)
	}
	slices.Sort(names)
	// Each kind alone, then all of them at once.
	for _, name := range append(names, "all") {
		t.Run(name, func(t *testing.T) {
			before := openFDs(t)
			var wg sync.WaitGroup
			for kind, abort := range aborts {
				if name != "all" && kind != name {
					continue
				}
				for range each {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c, err := net.DialTimeout("tcp", px, ioTimeout)
						if err != nil {
							t.Errorf("dial: %v", err)
							return
						}
						abort(c)
						c.Close()
					}()
				}
			}
			wg.Wait()

			// The proxy still works...
			c := dial(t, px)
			if r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode != 200 {
				t.Fatalf("after the aborts: status %d", r.StatusCode)
			}
			c.c.Close()
			// ...and every descriptor is back.
			var after map[string]string
			for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				if after = openFDs(t); len(after) <= len(before) {
					return
				}
			}
			var leaked []string
			for fd, what := range after {
				if before[fd] != what {
					leaked = append(leaked, fd+" -> "+what)
				}
			}
			slices.Sort(leaked)
			t.Fatalf("%d file descriptors open before %d aborted exchanges, %d after; new ones (proxy %s, backend %s):\n%s",
				len(before), each, len(after), px, be, strings.Join(leaked, "\n"))
		})
	}
}

// openFDs maps this process's open descriptors to what they are; sockets
// are described by their TCP endpoints and state.
func openFDs(t *testing.T) map[string]string {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list file descriptors: %v", err)
	}
	socks := tcpSockets()
	m := make(map[string]string, len(es))
	for _, e := range es {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if inode, ok := strings.CutPrefix(l, "socket:["); ok {
			if d, ok := socks[strings.TrimSuffix(inode, "]")]; ok {
				l += " " + d
			}
		}
		m[e.Name()] = l
	}
	return m
}

// tcpSockets maps socket inodes to "local -> remote state" from /proc/net/tcp.
func tcpSockets() map[string]string {
	m := map[string]string{}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return m
	}
	states := map[string]string{"01": "ESTABLISHED", "02": "SYN_SENT", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
		"06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}
	port := func(a string) string {
		_, p, _ := strings.Cut(a, ":")
		n, _ := strconv.ParseUint(p, 16, 16)
		return ":" + strconv.FormatUint(n, 10)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		m[f[9]] = port(f[1]) + " -> " + port(f[2]) + " " + states[f[3]]
	}
	return m
}

// A client that leaves in the middle of a chunked request body leaves the
// backend with an incomplete request, never a complete one.
func TestClientAbortMidBodyNotCompletedE2E(t *testing.T) {
	got := make(chan string, 1)
	be := startRawBackend(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		req, err := readRawRequest(bufio.NewReader(c))
		if err == nil {
			got <- "complete: " + req.body
			return
		}
		got <- ""
	})
	c := dial(t, startProxyTo(t, be.addr()))
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
	time.Sleep(50 * time.Millisecond)
	c.c.Close()
	select {
	case s := <-got:
		if s != "" {
			t.Fatalf("the backend got a complete request from an aborted one: %q", s)
		}
	case <-time.After(ioTimeout):
		t.Fatal("the upstream connection was not closed after the client left")
	}
}
