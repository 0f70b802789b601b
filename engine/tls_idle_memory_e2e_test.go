//go:build !race

package engine_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxIdleTLSClientHeap bounds the heap one idle keep-alive TLS client holds
// after one request: a plain client's (maxIdleClientHeap) plus crypto/tls's
// Conn with its cipher states and the record buffer it keeps, and the
// engine's tlsConn. The decrypted-input buffer goes back to the loop.
const maxIdleTLSClientHeap = 12 << 10

// TestIdleTLSClientHeap opens keep-alive TLS clients, one request each, and
// measures the proxy's heap per connection. The clients run in a child
// process (this test binary, as tlsIdleHelper), so their own heap is not
// counted.
func TestIdleTLSClientHeap(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 100))
	}))
	_, addr := startTLSProxy(t, poolOf(be), c)
	const n = 1000
	warm := dialTLS(t, addr, c.clientTLS()) // the loop's buffers and the upstream connection exist from here on
	io.WriteString(warm, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(warm), nil); err != nil {
		t.Fatal(err)
	}
	before := memAfterGC().HeapAlloc
	cmd := exec.Command(os.Args[0], "-test.run=^TestTLSIdleHelper$")
	cmd.Env = append(os.Environ(), "LOOPGATE_TLS_IDLE_HELPER="+addr+","+strconv.Itoa(n), "LOOPGATE_TLS_IDLE_CA="+string(c.pem))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		t.Fatalf("helper: %q %v", line, err)
	}
	per := (int64(memAfterGC().HeapAlloc) - int64(before)) / n
	t.Logf("heap per idle keep-alive TLS client (TLS 1.3, ECDSA P-256): %d bytes (%d connections)", per, n)
	if per > maxIdleTLSClientHeap {
		t.Fatalf("an idle keep-alive TLS client holds %d bytes of heap; want at most %d", per, maxIdleTLSClientHeap)
	}
}

// TestTLSIdleHelper is TestIdleTLSClientHeap's child process: it opens the
// connections, makes one request on each, says "ready" and holds them until
// its standard input closes.
func TestTLSIdleHelper(t *testing.T) {
	spec := os.Getenv("LOOPGATE_TLS_IDLE_HELPER")
	if spec == "" {
		t.Skip("helper process for TestIdleTLSClientHeap")
	}
	addr, ns, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(ns)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(os.Getenv("LOOPGATE_TLS_IDLE_CA")))
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	conns := make([]*tls.Conn, 0, n)
	for range n {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", addr, cfg)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		c.SetDeadline(time.Now().Add(ioTimeout))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			fmt.Println("error", err)
			return
		}
		conns = append(conns, c)
	}
	time.Sleep(100 * time.Millisecond) // the proxy's last callbacks end
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}
