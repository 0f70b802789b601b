package perf

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBenchTLSSmoke is `make perf PERFFLAGS="-tls -quick"` in short: every proxy terminates
// TLS and proxies to an HTTPS backend, every scenario yields a row per proxy, resumed
// handshakes resume (handshakeLoad checks it), every proxy reaches the HTTPS backend over
// TLS 1.3 (checkHTTPSBackend) and nothing fails.
func TestBenchTLSSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts proxies and loads them")
	}
	for _, tool := range []string{"wrk", "nginx", "haproxy"} {
		if !installed(tool) {
			t.Skipf("%s is not installed (apt-get install wrk nginx-light haproxy)", tool)
		}
	}
	dir := t.TempDir()
	lg := buildBinary(t, dir, "loopgate/cmd/loopgate")
	be := buildBinary(t, dir, "loopgate/cmd/backend")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := BenchTLS(ctx, TLSBenchConfig{Loopgate: lg, Backend: be, Rounds: 1, Duration: time.Second,
		Conns: []int{8}, Sizes: []int{100}, HandshakeConns: 4, IdleConns: 100, WorkDir: dir, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) > 0 {
		t.Fatalf("notes: %q", res.Notes)
	}
	want := []string{"idle 100 conns", "keepalive 100 B c8", "https-backend 100 B c8",
		"handshake ecdsa full", "handshake ecdsa resumed", "handshake rsa full", "handshake rsa resumed"}
	for _, sc := range want {
		var proxies []string
		for _, r := range res.Rows {
			if r.Scenario != sc {
				continue
			}
			proxies = append(proxies, r.Proxy)
			if r.Errors != 0 || (!strings.HasPrefix(sc, "idle") && (r.RPS <= 0 || r.CPUus <= 0)) || (strings.HasPrefix(sc, "idle") && r.IdleB <= 0) {
				t.Errorf("%s %s: %+v", sc, r.Proxy, r)
			}
		}
		slices.Sort(proxies)
		if !slices.Equal(proxies, []string{"haproxy", "loopgate", "nginx"}) {
			t.Errorf("%s: rows for %v", sc, proxies)
		}
	}
	for _, p := range []string{"haproxy", "loopgate", "nginx"} {
		if got := res.BackendTLS[p]; !strings.HasPrefix(got, "TLS 1.3 ") {
			t.Errorf("%s's connection to the HTTPS backend: %q; want TLS 1.3", p, got)
		}
	}
	var b bytes.Buffer
	if err := res.WriteTLSTable(&b); err != nil || !strings.Contains(b.String(), "handshake rsa resumed") ||
		!strings.Contains(b.String(), "https-backend 100 B c8") || !strings.Contains(b.String(), "https backend: nginx's connection") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
}
