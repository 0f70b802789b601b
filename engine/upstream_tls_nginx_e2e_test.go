package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"loopgate/certs"
)

// startNginxTLS runs nginx serving TLS (OpenSSL's stack, not Go's) on a free
// loopback port with cert, limited to protocols (an ssl_protocols value),
// and returns its address. Locations:
//
//	/      200 "hello <uri>", with the connection's number, whether its
//	       session was resumed and its protocol in X-Conn, X-Reused, X-Proto
//	/close the same, then the connection closes (keepalive_timeout 0)
//	/big   a 4 MiB file (big.bin in the returned directory)
//	/slow  the same at 64 KiB/s (a range of it keeps an exchange open)
func startNginxTLS(t *testing.T, cert *testCert, protocols string) (addr, dir string) {
	t.Helper()
	nginx := needTool(t, "nginx")
	dir = t.TempDir()
	certFile, keyFile := cert.files(t)
	ln := listenLocal(t)
	addr = ln.Addr().String()
	ln.Close()
	big := bytes.Repeat([]byte("nginx-tls-body!\n"), 4<<20/16)
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path %[1]s/tmp-body;
	proxy_temp_path %[1]s/tmp-proxy;
	fastcgi_temp_path %[1]s/tmp-fastcgi;
	uwsgi_temp_path %[1]s/tmp-uwsgi;
	scgi_temp_path %[1]s/tmp-scgi;
	server {
		listen %[2]s ssl;
		ssl_certificate %[3]s;
		ssl_certificate_key %[4]s;
		ssl_protocols %[5]s;
		ssl_session_tickets on;
		keepalive_requests 10000;
		add_header X-Conn $connection always;
		add_header X-Reused $ssl_session_reused always;
		add_header X-Proto $ssl_protocol always;
		location / { return 200 "hello $uri\n"; }
		location /close { keepalive_timeout 0; return 200 "bye\n"; }
		location /big { alias %[1]s/big.bin; }
		location /slow { limit_rate 64k; alias %[1]s/big.bin; }
	}
}
`, dir, addr, certFile, keyFile, protocols)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nginx, "-p", dir, "-c", cf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("nginx: %v", err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	for deadline := time.Now().Add(ioTimeout); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, dir
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUpstreamTLSNginx: loopgate in front of an nginx that speaks TLS with
// OpenSSL, over TLS 1.3 and over TLS 1.2: requests share one pooled
// connection (OpenSSL sends its TLS 1.3 tickets after the client's
// Finished, so they meet the first request), a 4 MiB body comes whole,
// and connections nginx closes after each response resume their session.
func TestUpstreamTLSNginx(t *testing.T) {
	cert := newTestCert(t, "ecdsa")
	for _, tc := range []struct{ protocols, want string }{{"TLSv1.3", "TLSv1.3"}, {"TLSv1.2", "TLSv1.2"}} {
		t.Run(tc.want, func(t *testing.T) {
			addr, dir := startNginxTLS(t, cert, tc.protocols)
			cfg, st := withStats(tlsPool(certs.Client{CA: caFile(t, cert)}, addr))
			_, px := startProxy(t, cfg)
			c := dial(t, px)
			conn := ""
			for i := range 20 {
				r := c.roundTrip("GET", fmt.Sprintf("GET /n%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
				wantStatus(t, r, 200)
				if r.body != fmt.Sprintf("hello /n%d\n", i) || r.Header.Get("X-Proto") != tc.want {
					t.Fatalf("request %d: %q over %q", i, r.body, r.Header.Get("X-Proto"))
				}
				if i == 0 {
					conn = r.Header.Get("X-Conn")
					time.Sleep(50 * time.Millisecond) // idle, pooled
				} else if got := r.Header.Get("X-Conn"); got != conn {
					t.Fatalf("request %d on nginx connection %s; want %s (pooled)", i, got, conn)
				}
			}

			want, err := os.ReadFile(filepath.Join(dir, "big.bin"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get("http://" + px + "/big")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || sha256.Sum256(got) != sha256.Sum256(want) {
				t.Fatalf("4 MiB file: %d bytes, %v", len(got), err)
			}

			before := handshakes(t, st, "resumed")
			for i := range 3 {
				r := c.roundTrip("GET", "GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
				wantStatus(t, r, 200)
				// The first goes on the pooled connection; nginx closes
				// each, so the others dial again and resume.
				if reused := r.Header.Get("X-Reused"); i > 0 && reused != "r" {
					t.Fatalf("request %d after nginx closed: session reused %q; want r", i, reused)
				}
			}
			if n := handshakes(t, st, "resumed") - before; n != 2 {
				t.Fatalf("resumed handshakes %v; want 2", n)
			}
		})
	}
}
