package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
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

func TestMakeCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if err := run([]string{"-dir", dir, "-rsa"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for f, mode := range map[string]os.FileMode{
		"ca.pem": 0o644, "ca-key.pem": 0o600, "localhost.pem": 0o644, "localhost-key.pem": 0o600,
		"localhost-rsa.pem": 0o644, "localhost-rsa-key.pem": 0o600, "client.pem": 0o644, "client-key.pem": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v, want mode %v", f, err, mode)
		}
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem has no certificate")
	}
	b, _ := pem.Decode(caPEM)
	ca, _ := x509.ParseCertificate(b.Bytes)
	if !ca.IsCA || !ca.BasicConstraintsValid || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("CA constraints: IsCA %v MaxPathLenZero %v usage %v", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
	}

	// The pairs load into a Store and a real handshake verifies against ca.pem,
	// by name and by IP address, for ECDSA and for RSA clients.
	s, warn, err := certs.NewStore([]certs.Pair{
		{Cert: filepath.Join(dir, "localhost.pem"), Key: filepath.Join(dir, "localhost-key.pem")},
		{Cert: filepath.Join(dir, "localhost-rsa.pem"), Key: filepath.Join(dir, "localhost-rsa-key.pem")},
	})
	if err != nil || len(warn) != 0 {
		t.Fatalf("NewStore: %v %v", err, warn)
	}
	cfg, err := certs.NewTLSConfig(certs.Profile{ClientCA: filepath.Join(dir, "ca.pem"), ClientAuth: "optional"}, s)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	client, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*tls.Config{
		{ServerName: "localhost"},
		{}, // no SNI: the IP SAN 127.0.0.1
		{ServerName: "localhost", MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{ServerName: "localhost", Certificates: []tls.Certificate{client}},
	} {
		c.RootCAs = roots
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), c)
		if err != nil {
			t.Fatalf("handshake %+v: %v", c.ServerName, err)
		}
		var one [1]byte
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(conn, one[:]); err != nil {
			t.Fatalf("read: %v", err)
		}
		conn.Close()
	}

	// A second run keeps the CA, so a ca.pem trusted once stays valid.
	var out bytes.Buffer
	if err := run([]string{"-dir", dir}, &out); err != nil {
		t.Fatal(err)
	}
	caPEM2, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if !bytes.Equal(caPEM, caPEM2) || !bytes.Contains(out.Bytes(), []byte("reusing CA")) {
		t.Fatal("second run replaced the CA")
	}
}

func TestMakeCertsErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-dir", dir, "-names", " , "},
		{"-dir", dir, "-days", "0"},
		{"-dir", dir, "extra"},
		{"-nope"},
	} {
		if err := run(args, io.Discard); err == nil {
			t.Fatalf("run(%q) succeeded", args)
		}
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("garbage"), 0o644)
	os.WriteFile(filepath.Join(dir, "ca-key.pem"), []byte("garbage"), 0o600)
	if err := run([]string{"-dir", dir}, io.Discard); err == nil {
		t.Fatal("garbage CA accepted")
	}
}

func TestTicketKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tickets.keys")
	for range 4 {
		if err := run([]string{"-ticket-keys", file, "-keep", "2"}, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := certs.ReadTicketKeys(file)
	if err != nil || len(keys) != 2 || keys[0] == keys[1] {
		t.Fatalf("ticket keys: %d %v", len(keys), err)
	}
}

// TestCurl checks the output of `make certs` with curl, a peer that is not Go:
// it must verify localhost.pem against ca.pem by name. Skips without curl
// unless LOOPGATE_REQUIRE_CURL is set.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("LOOPGATE_REQUIRE_CURL") != "" {
			t.Fatal("curl not found and LOOPGATE_REQUIRE_CURL is set")
		}
		t.Skip("curl not installed")
	}
	dir := t.TempDir()
	if err := run([]string{"-dir", dir}, io.Discard); err != nil {
		t.Fatal(err)
	}
	s, _, err := certs.NewStore([]certs.Pair{{Cert: filepath.Join(dir, "localhost.pem"), Key: filepath.Join(dir, "localhost-key.pem")}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := certs.NewTLSConfig(certs.Profile{}, s)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.Proto)
	})}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, url := range []string{"https://localhost:" + port + "/", "https://127.0.0.1:" + port + "/"} {
		out, err := exec.Command(curl, "-sS", "--max-time", "10", "--resolve", "localhost:"+port+":127.0.0.1",
			"--cacert", filepath.Join(dir, "ca.pem"), url).CombinedOutput()
		if err != nil || string(out) != "hello HTTP/1.1" {
			t.Fatalf("curl %s: %v %q", url, err, out)
		}
	}
}
