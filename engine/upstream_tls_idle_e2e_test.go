//go:build !race

package engine_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"loopgate/certs"
)

// maxIdleTLSUpstreamHeap bounds the heap of one pooled TLS connection to a
// backend after a response of full-size records: crypto/tls's Conn with its
// cipher states and the record buffer it keeps (it never shrinks it), and
// the engine's upConn and tlsConn. The decrypted-input buffer goes back to
// the loop.
const maxIdleTLSUpstreamHeap = 40 << 10

// TestIdleTLSUpstreamHeap pools many TLS connections to an nginx backend
// (its own process, so only the proxy's heap is counted), each after a
// 256 KiB response, and measures the proxy's heap per idle connection.
func TestIdleTLSUpstreamHeap(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	addr, _ := startNginxTLS(t, cert, "TLSv1.3")
	cfg, st := withStats(tlsPool(certs.Client{CA: caFile(t, cert)}, addr))
	_, px := startProxy(t, cfg)
	get := func(path string) error {
		req, _ := http.NewRequest("GET", "http://"+px+path, nil)
		req.Header.Set("Range", "bytes=0-262143")
		req.Close = true
		resp, err := (&http.Client{Timeout: 4 * ioTimeout}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil && n != 256<<10 {
			err = fmt.Errorf("%d bytes", n)
		}
		return err
	}
	if err := get("/big"); err != nil { // the loop's buffers exist from here on
		t.Fatal(err)
	}
	before := memAfterGC().HeapAlloc
	// Concurrent slow responses (256 KiB at 64 KiB/s): each exchange needs a
	// connection of its own, and all of them go to the pool at the end.
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := get("/slow"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the clients' closes reach the proxy
	idle := idleUpstream(t, st)
	if idle < n {
		t.Fatalf("%d idle upstream connections; want at least %d", idle, n)
	}
	per := (int64(memAfterGC().HeapAlloc) - int64(before)) / int64(idle-1)
	t.Logf("heap per idle pooled TLS upstream connection (TLS 1.3, after 256 KiB): %d bytes (%v connections)", per, idle)
	if per > maxIdleTLSUpstreamHeap {
		t.Fatalf("an idle pooled TLS upstream connection holds %d bytes of heap; want at most %d", per, maxIdleTLSUpstreamHeap)
	}
}
