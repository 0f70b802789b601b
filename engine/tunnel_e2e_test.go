package engine_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"loopgate/engine"
	"loopgate/stats"
)

// Tunnels at the byte level: what is forwarded, when, and how each end is
// closed, with raw peers that misbehave on purpose.

const upgradeReq = "GET /t HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-test\r\n\r\n"

const switched = "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x-test\r\n\r\n"

// startSwitcher is a raw backend that answers any request head with a 101
// (extra appended, in the same write) and then hands the connection to
// tunnel. It reports each head it read on heads.
func startSwitcher(t *testing.T, extra string, tunnel func(c net.Conn, br *bufio.Reader)) (*rawBackend, chan string) {
	heads := make(chan string, 16)
	b := startRawBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		h := readHead(c, br)
		heads <- h
		if h == "" {
			return
		}
		c.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := io.WriteString(c, switched+extra); err != nil {
			return
		}
		tunnel(c, br)
	})
	return b, heads
}

// readSwitched reads the 101 head on c and returns what follows it in br's
// buffer.
func readSwitched(t *testing.T, c *client) *http.Response {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("switch: %v %v", resp, err)
	}
	return resp
}

func readN(t *testing.T, r io.Reader, c net.Conn, n int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("reading %d bytes: %v (got %q)", n, err, b)
	}
	return string(b)
}

// TestUpgradeForwarding: the upgrade request reaches the backend with
// Connection: upgrade and its Upgrade; bytes the client pipelined after it
// are held until the 101, then go first; bytes the backend sent with its 101
// reach the client after it; then data flows both ways, and half-closes pass
// through in order: the client's FIN reaches the backend after its bytes,
// the backend still answers, and its FIN closes the tunnel.
func TestUpgradeForwarding(t *testing.T) {
	early := make(chan string, 1)
	backend, heads := startSwitcher(t, "server-first", func(c net.Conn, br *bufio.Reader) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		rest, err := io.ReadAll(br) // until the client's FIN
		early <- string(rest)
		if err != nil {
			return
		}
		io.WriteString(c, "reply after FIN")
	})
	srv, px := startProxy(t, poolOf(backend.addr()))
	c := dial(t, px)
	c.send(upgradeReq + "pipelined ")
	head := within(t, heads)
	for _, want := range []string{"GET /t HTTP/1.1\r\n", "\r\nConnection: upgrade\r\n", "\r\nUpgrade: x-test\r\n"} {
		if !strings.Contains(head, want) {
			t.Fatalf("backend got head %q; want %q in it", head, want)
		}
	}
	resp := readSwitched(t, c)
	if resp.Header.Get("Upgrade") != "x-test" || resp.Header.Get("Connection") != "upgrade" {
		t.Fatalf("101 fields: %v", resp.Header)
	}
	if got := readN(t, c.br, c.c, len("server-first")); got != "server-first" {
		t.Fatalf("after the 101: %q", got)
	}
	c.send("and more")
	c.c.(*net.TCPConn).CloseWrite()
	if got := within(t, early); got != "pipelined and more" {
		t.Fatalf("backend got %q after the head; want the pipelined bytes, then the rest", got)
	}
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	rest, err := io.ReadAll(c.br)
	if err != nil || string(rest) != "reply after FIN" {
		t.Fatalf("after the client's FIN: %q, %v; want the backend's answer, then EOF", rest, err)
	}
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
}

// TestUpgradeNotSwitched: a backend that answers an upgrade request with
// anything but 101 gives an ordinary response, and the connection goes on
// as HTTP.
func TestUpgradeNotSwitched(t *testing.T) {
	var got []http.Header
	backend := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Clone())
		w.Header().Set("Upgrade", "x-test") // RFC 9110 §15.5.22: a 426 says what to upgrade to
		w.WriteHeader(http.StatusUpgradeRequired)
		io.WriteString(w, "no")
	}))
	_, px := startProxy(t, poolOf(backend))
	c := dial(t, px)
	r := c.roundTrip("GET", upgradeReq)
	wantStatus(t, r, 426)
	if r.body != "no" || r.Header.Get("Upgrade") != "" {
		t.Fatalf("426 relayed as %v %q; want the body, hop-by-hop Upgrade removed", r.Header, r.body)
	}
	wantStatus(t, c.roundTrip("GET", "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"), 426)
	if got[0].Get("Upgrade") != "x-test" || got[1].Get("Upgrade") != "" {
		t.Fatalf("backend saw %v then %v", got[0], got[1])
	}
}

// TestUpgradeFieldsFiltered: h2c is never forwarded (Upgrade: h2c alone
// makes an ordinary request), other protocols are; an upgrade on a request
// with a body is ignored; without "upgrade" in Connection, Upgrade is an
// ordinary hop-by-hop field and dropped.
func TestUpgradeFieldsFiltered(t *testing.T) {
	seen := make(chan http.Header, 8)
	backend := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		seen <- r.Header.Clone()
	}))
	_, px := startProxy(t, poolOf(backend))
	f := func(req, wantUpgrade, wantConn string) {
		t.Helper()
		c := dial(t, px)
		wantStatus(t, c.roundTrip("GET", req), 200)
		h := within(t, seen)
		if h.Get("Upgrade") != wantUpgrade || h.Get("Connection") != wantConn || h.Get("Http2-Settings") != "" {
			t.Fatalf("%q reached the backend with Upgrade %q, Connection %q, HTTP2-Settings %q; want %q, %q, none",
				req, h.Get("Upgrade"), h.Get("Connection"), h.Get("Http2-Settings"), wantUpgrade, wantConn)
		}
	}
	f("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n", "", "")
	// The backend answers 200: the upgrade was only offered.
	f("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: H2C, x-test/2 , h2c\r\n\r\n", "x-test/2", "upgrade")
	f("POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-test\r\nContent-Length: 3\r\n\r\nabc", "", "")
	f("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: x-test\r\n\r\n", "", "")
	f("GET / HTTP/1.0\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x-test\r\n\r\n", "", "")
}

// TestUnrequested101: a 101 to a request that did not ask for an upgrade
// (or whose upgrade was not forwarded) is a broken backend: 502.
func TestUnrequested101(t *testing.T) {
	backend, _ := startSwitcher(t, "", func(net.Conn, *bufio.Reader) {})
	_, px := startProxy(t, poolOf(backend.addr()))
	c := dial(t, px)
	wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"), 502)
}

// TestUpgradeBad101: a 101 without Upgrade, or with Content-Length, is
// refused with 502 (RFC 9110 §15.2.2, §8.6).
func TestUpgradeBad101(t *testing.T) {
	for _, ans := range []string{
		"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x-test\r\nContent-Length: 0\r\n\r\n",
	} {
		backend := startRawBackend(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			if readHead(c, br) != "" {
				io.WriteString(c, ans)
				io.Copy(io.Discard, br)
			}
		})
		srv, px := startProxy(t, poolOf(backend.addr()))
		wantStatus(t, dial(t, px).roundTrip("GET", upgradeReq), 502)
		if n := srv.Tunnels(); n != 0 {
			t.Fatalf("%d tunnels after a bad 101", n)
		}
	}
}

// TestTunnelIdleTimeout: a tunnel with no byte either way for tunnel_idle
// is closed, both sides with a FIN; bytes keep it open.
func TestTunnelIdleTimeout(t *testing.T) {
	backendEOF := make(chan error, 1)
	backend, _ := startSwitcher(t, "", func(c net.Conn, br *bufio.Reader) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		_, err := io.Copy(c, br) // echo until the proxy's FIN
		backendEOF <- err
	})
	st := stats.New(stats.Options{})
	cfg := poolOf(backend.addr())
	cfg.Timeouts.TunnelIdle = 400 * time.Millisecond
	cfg.Stats = st
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	c.send(upgradeReq)
	readSwitched(t, c)
	var last time.Time
	for range 6 { // 600ms of traffic: longer than tunnel_idle
		c.send("ping")
		if got := readN(t, c.br, c.c, 4); got != "ping" {
			t.Fatal(got)
		}
		last = time.Now()
		time.Sleep(100 * time.Millisecond)
	}
	if err := readEOF(c.c, ioTimeout); err != nil {
		t.Fatalf("idle tunnel: %v; want a FIN", err)
	}
	// The timers' clock ticks every 50ms.
	if d := time.Since(last); d < 340*time.Millisecond || d > 2*time.Second {
		t.Fatalf("closed %v after the last byte; want about tunnel_idle (400ms)", d)
	}
	if err := within(t, backendEOF); err != nil {
		t.Fatalf("backend side: %v; want a FIN", err)
	}
	waitFor(t, func() bool { return st.TunnelsClosed(stats.TunnelUpgrade) == 1 })
}

// TestTunnelShutdownGrace: a shutdown lets tunnels run for shutdown_grace,
// then ends them with a FIN to each side, never a reset.
func TestTunnelShutdownGrace(t *testing.T) {
	backendEOF := make(chan error, 1)
	backend, _ := startSwitcher(t, "", func(c net.Conn, br *bufio.Reader) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		_, err := io.Copy(c, br)
		backendEOF <- err
	})
	srv, px := startProxy(t, poolOf(backend.addr()))
	c := dial(t, px)
	c.send(upgradeReq)
	readSwitched(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- srv.Shutdown(ctx) }()
	time.Sleep(200 * time.Millisecond)
	c.send("still open") // within the grace the tunnel carries bytes
	if got := readN(t, c.br, c.c, len("still open")); got != "still open" {
		t.Fatal(got)
	}
	if err := readEOF(c.c, ioTimeout); err != nil {
		t.Fatalf("at the end of the grace: %v; want a FIN", err)
	}
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Fatalf("tunnel ended %v into a 500ms grace", d)
	}
	c.c.Close()
	if err := within(t, backendEOF); err != nil {
		t.Fatalf("backend side: %v; want a FIN", err)
	}
	select {
	case <-done:
	case <-time.After(ioTimeout):
		t.Fatal("Shutdown did not return")
	}
}

// TestTunnelBackendReset: the client gets what the backend sent before it
// reset the connection, then a FIN.
func TestTunnelBackendReset(t *testing.T) {
	backend, _ := startSwitcher(t, "last words", func(c net.Conn, br *bufio.Reader) {
		time.Sleep(50 * time.Millisecond)
		resetClose(c)
	})
	srv, px := startProxy(t, poolOf(backend.addr()))
	c := dial(t, px)
	c.send(upgradeReq)
	readSwitched(t, c)
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	rest, err := io.ReadAll(c.br)
	if err != nil || string(rest) != "last words" {
		t.Fatalf("got %q, %v; want the bytes before the reset, then EOF", rest, err)
	}
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
}

// TestTunnelClientReset: a client that resets ends the tunnel; the backend
// gets the bytes sent before, then a FIN.
func TestTunnelClientReset(t *testing.T) {
	got := make(chan string, 1)
	backend, _ := startSwitcher(t, "", func(c net.Conn, br *bufio.Reader) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		b, err := io.ReadAll(br)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- string(b)
	})
	srv, px := startProxy(t, poolOf(backend.addr()))
	c := dial(t, px)
	c.send(upgradeReq)
	readSwitched(t, c)
	c.send("before the reset")
	time.Sleep(50 * time.Millisecond)
	resetClose(c.c)
	if s := within(t, got); s != "before the reset" {
		t.Fatalf("backend got %q", s)
	}
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
}

// TestTunnelSlowReader: 64 MiB into a tunnel whose far end does not read,
// each way: the proxy's memory stays bounded (it stops reading the sender
// at the high watermark), and once the reader reads, every byte arrives
// exactly once, in order, and is counted.
func TestTunnelSlowReader(t *testing.T) {
	const size = 64 << 20
	for _, toBackend := range []bool{true, false} {
		name := "backend reads slowly"
		if !toBackend {
			name = "client reads slowly"
		}
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			sum := make(chan string, 1)
			backend, _ := startSwitcher(t, "", func(c net.Conn, br *bufio.Reader) {
				if toBackend {
					waitClosed(release)
					c.SetReadDeadline(time.Now().Add(30 * time.Second))
					h := sha256.New()
					n, err := io.Copy(h, br)
					if err != nil || n != size {
						sum <- "read " + strconv.FormatInt(n, 10) + ": " + errString(err)
						return
					}
					sum <- hex.EncodeToString(h.Sum(nil))
					return
				}
				c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				if _, err := io.Copy(c, &pattern{n: size}); err != nil {
					sum <- "write: " + err.Error()
					return
				}
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, br)
			})
			st := stats.New(stats.Options{})
			cfg := poolOf(backend.addr())
			cfg.Stats = st
			srv, px := startProxy(t, cfg)
			c := dial(t, px)
			c.send(upgradeReq)
			readSwitched(t, c)

			stop := watchMem()
			var sent int64
			var sendErr error
			sending := make(chan struct{})
			if toBackend {
				go func() {
					defer close(sending)
					c.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
					sent, sendErr = io.Copy(c.c, &pattern{n: size})
					c.c.(*net.TCPConn).CloseWrite()
				}()
			}
			time.Sleep(1500 * time.Millisecond) // the sender fills every buffer on the way
			base, peak := stop()
			checkTunnelGrowth(t, base, peak)
			close(release)
			if toBackend {
				within(t, sending)
				if sendErr != nil || sent != size {
					t.Fatalf("client sent %d: %v", sent, sendErr)
				}
				if got := within(t, sum); got != patternSum(size) {
					t.Fatalf("backend got %s; want the pattern's sum", got)
				}
				c.c.Close()
			} else {
				c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
				h := sha256.New()
				n, err := io.Copy(h, c.br)
				if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != patternSum(size) {
					t.Fatalf("client read %d bytes, %v; want %d bytes of the pattern", n, err, size)
				}
				c.c.Close()
			}
			waitFor(t, func() bool { return srv.Tunnels() == 0 && st.TunnelsClosed(stats.TunnelUpgrade) == 1 })
			up, down := st.TunnelBytes()
			if want := uint64(size); toBackend && up != want || !toBackend && down != want {
				t.Fatalf("tunnel bytes up %d down %d; want %d one way", up, down, want)
			}
		})
	}
}

// checkTunnelGrowth bounds the memory a stalled tunnel may hold: the high
// watermark and a read buffer or two (about 1.2 MiB with the defaults),
// and slack for the runtime and the test's own buffers, far below the
// 64 MiB an unbounded proxy would hold.
func checkTunnelGrowth(t *testing.T, base, peak memUse) {
	t.Helper()
	const limit = 12 << 20
	t.Logf("while stalled: heap+stack %d KiB -> peak %d KiB, RSS %d MiB -> %d MiB", base.heap>>10, peak.heap>>10, base.rss>>20, peak.rss>>20)
	if g := int64(peak.heap) - int64(base.heap); g > limit {
		t.Fatalf("heap grew by %d KiB while the reader stalled; want at most %d KiB", g>>10, limit>>10)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestConnect: with connect_ports, CONNECT to an allowed port opens a
// tunnel (bytes sent with the request go first); names are resolved; the
// end of either side passes through.
func TestConnect(t *testing.T) {
	echo := startRawBackend(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		io.Copy(c, c)
		c.(*net.TCPConn).CloseWrite()
	})
	_, port, _ := net.SplitHostPort(echo.addr())
	p, _ := strconv.Atoi(port)
	st := stats.New(stats.Options{})
	cfg := poolOf(echo.addr())
	cfg.ConnectPorts, cfg.Stats = []int{1, p}, st
	srv, px := startProxy(t, cfg)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		c := dial(t, px)
		c.send("CONNECT " + host + ":" + port + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\n\r\nearly ")
		want := "HTTP/1.1 200 Connection established\r\n\r\nearly "
		if got := readN(t, c.br, c.c, len(want)); got != want {
			t.Fatalf("CONNECT %s: got %q; want %q", host, got, want)
		}
		c.send("bytes")
		c.c.(*net.TCPConn).CloseWrite()
		c.c.SetReadDeadline(time.Now().Add(ioTimeout))
		rest, err := io.ReadAll(c.br)
		if err != nil || string(rest) != "bytes" {
			t.Fatalf("CONNECT %s: %q, %v", host, rest, err)
		}
	}
	waitFor(t, func() bool { return srv.Tunnels() == 0 && st.TunnelsClosed(stats.TunnelConnect) == 2 })
	if up, down := st.TunnelBytes(); up != 22 || down != 22 {
		t.Fatalf("tunnel bytes %d %d; want 22 each way", up, down)
	}
}

// TestConnectRefused: CONNECT stays refused without connect_ports (405),
// and with them to any other port (403), with a body (400), with a target
// that is not host:port (400); an allowed port nobody listens on is 502.
// Nothing of a refused CONNECT is relayed, and nothing is dialed.
func TestConnectRefused(t *testing.T) {
	rec := startRecorder(t)
	_, recPort, _ := net.SplitHostPort(rec.addr())
	closed := listenLocal(t)
	_, closedPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	cp, _ := strconv.Atoi(closedPort)

	_, plain := startProxy(t, poolOf(rec.addr()))
	r := dial(t, plain).roundTrip("CONNECT", "CONNECT 127.0.0.1:"+recPort+" HTTP/1.1\r\nHost: x\r\n\r\n")
	wantStatus(t, r, 405)
	if r.Header.Get("Allow") == "" {
		t.Fatal("405 without Allow")
	}

	cfg := poolOf(rec.addr())
	cfg.ConnectPorts = []int{cp}
	_, px := startProxy(t, cfg)
	f := func(req string, status int) {
		t.Helper()
		c := dial(t, px)
		c.send(req + "tunnel bytes?")
		r, err := c.readErr("CONNECT", ioTimeout)
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		wantStatus(t, r, status)
		c.expectClosed(ioTimeout)
	}
	f("CONNECT 127.0.0.1:"+recPort+" HTTP/1.1\r\nHost: x\r\n\r\n", 403)
	f("CONNECT localhost:"+recPort+" HTTP/1.1\r\nHost: x\r\n\r\n", 403)
	f("CONNECT 127.0.0.1:"+closedPort+" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 400)
	f("CONNECT 127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n", 400)
	f("CONNECT 127.0.0.1:"+closedPort+" HTTP/1.1\r\nHost: x\r\n\r\n", 502)
	if n, got := rec.seen(); n != 0 || got != "" {
		t.Fatalf("refused CONNECTs reached a backend: %d connections, %q", n, got)
	}
}

// TestConnectTimeout: a target that does not complete the handshake gets
// 502 after upstream_connect, as a backend would. The target is a listener with a full accept
// queue, so its SYNs go unanswered.
func TestConnectTimeout(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	port := sa.(*unix.SockaddrInet4).Port
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Fill the accept queue (never accepted).
	for i := 0; i < 8; i++ {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			break // the queue is full: further SYNs are dropped
		}
		t.Cleanup(func() { c.Close() })
	}
	probe := net.Dialer{Timeout: 300 * time.Millisecond}
	if c, err := probe.Dial("tcp", addr); err == nil {
		c.Close()
		t.Skip("the kernel completed a handshake past a full accept queue")
	}
	cfg := poolOf(addr)
	cfg.ConnectPorts = []int{port}
	cfg.Timeouts.UpstreamConnect = 300 * time.Millisecond
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	start := time.Now()
	r := c.roundTrip("CONNECT", "CONNECT "+addr+" HTTP/1.1\r\nHost: x\r\n\r\n")
	wantStatus(t, r, 502)
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("502 after %v; want about the 300ms connect timeout", d)
	}
}

// TestConnectPortsChecked: a port outside 1..65535 is refused by New.
func TestConnectPortsChecked(t *testing.T) {
	cfg := poolOf("127.0.0.1:1")
	cfg.ConnectPorts = []int{70000}
	if _, err := engine.New(cfg, testLogger()); err == nil {
		t.Fatal("New accepted connect port 70000")
	}
}

// TestTunnelHalfClosedTimeout: once the backend has ended its side, a
// client that neither sends nor closes gets body_progress, not tunnel_idle.
func TestTunnelHalfClosedTimeout(t *testing.T) {
	backend, _ := startSwitcher(t, "bye", func(c net.Conn, br *bufio.Reader) {
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		io.Copy(io.Discard, br)
	})
	cfg := poolOf(backend.addr())
	cfg.Timeouts.BodyProgress = 300 * time.Millisecond
	srv, px := startProxy(t, cfg) // tunnel_idle stays 1h
	c := dial(t, px)
	c.send(upgradeReq)
	readSwitched(t, c)
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	if rest, err := io.ReadAll(c.br); err != nil || string(rest) != "bye" {
		t.Fatalf("got %q, %v; want the backend's bytes, then its FIN", rest, err)
	}
	start := time.Now()
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("the half-closed tunnel ended after %v; want about body_progress (300ms)", d)
	}
}

// TestTunnelSurvivesReload: a reload that changes the pool leaves open
// tunnels alone.
func TestTunnelSurvivesReload(t *testing.T) {
	backend, _ := startSwitcher(t, "", func(c net.Conn, br *bufio.Reader) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		io.Copy(c, br)
	})
	cfg := poolOf(backend.addr())
	srv, px := startProxy(t, cfg)
	c := dial(t, px)
	c.send(upgradeReq)
	readSwitched(t, c)
	next := poolOf(startEchoBackend(t).addr())
	next.Listen = "127.0.0.1:0" // as startProxy set it
	if err := srv.Reload(next); err != nil {
		t.Fatalf("reload: %v", err)
	}
	for range 3 {
		c.send("echo")
		if got := readN(t, c.br, c.c, 4); got != "echo" {
			t.Fatalf("after the reload: %q", got)
		}
	}
	c.c.(*net.TCPConn).CloseWrite()
	if err := readEOF(c.c, ioTimeout); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
}

// TestUpgradeResponseFields: the 101 carries what loopgate adds to any
// response: the request ID, and the route's response header rules.
func TestUpgradeResponseFields(t *testing.T) {
	backend, heads := startSwitcher(t, "", func(c net.Conn, br *bufio.Reader) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		io.Copy(io.Discard, br)
	})
	cfg := poolOf(backend.addr())
	cfg.RequestIDHeader = "X-Request-ID"
	cfg.Routes = []engine.Route{{Pool: "web", ResponseHeaders: engine.HeaderRules{Set: []engine.Field{{Name: "X-Served-By", Value: "ws"}}}}}
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	c.send(upgradeReq)
	head := within(t, heads)
	resp := readSwitched(t, c)
	id := resp.Header.Get("X-Request-Id")
	if id == "" || !strings.Contains(head, "X-Request-ID: "+id+"\r\n") || resp.Header.Get("X-Served-By") != "ws" {
		t.Fatalf("101 fields %v (backend got %q); want the request ID sent upstream and X-Served-By", resp.Header, head)
	}
}

// within receives from ch, failing the test after 30s: a proxy that loses
// track of a connection must fail the test, not hang it.
func within[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("nothing came within 30s")
	}
	panic("unreachable")
}

// waitClosed waits until ch is closed, or 30s: a backend handler must not
// outlive a test that failed before releasing it.
func waitClosed(ch <-chan struct{}) {
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
	}
}
