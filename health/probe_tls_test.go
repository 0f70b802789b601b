package health

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbeTLS: with the pool's TLS config, an http probe goes through a
// verified handshake (and its Host and SNI name the backend), a tcp probe
// passes only if the handshake does, and a certificate the config does not
// trust, or a backend that does not speak TLS, fails with the reason.
func TestProbeTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			w.WriteHeader(404)
		}
		io.WriteString(w, "ok "+r.TLS.ServerName)
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	trusted := &tls.Config{RootCAs: roots}

	for _, typ := range []string{"http", "tcp"} {
		status, err := probeOnce(t, Config{Type: typ, TLS: trusted, BodyContains: map[string]string{"http": "ok"}[typ]}, addr)
		if err != nil || typ == "http" && status != 200 {
			t.Fatalf("%s probe over TLS: %d, %v; want it to pass", typ, status, err)
		}
		_, err = probeOnce(t, Config{Type: typ, TLS: &tls.Config{}}, addr) // system roots: the test CA is not one
		if err == nil || !strings.Contains(err.Error(), "TLS handshake failed") || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("%s probe of an untrusted certificate: %v; want a TLS handshake failure naming the certificate", typ, err)
		}
	}
	plain := rawBackend(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if _, err := probeOnce(t, Config{Type: "tcp", TLS: trusted, Interval: time.Second, Timeout: 200 * time.Millisecond}, plain); err == nil || !strings.Contains(err.Error(), "TLS handshake failed") {
		t.Fatalf("tcp probe over TLS of a plain backend: %v; want a TLS handshake failure", err)
	}
}
