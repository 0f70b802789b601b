package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed ECDSA certificate for localhost and 127.0.0.1 to dir:
// cert.pem, key.pem, and both.pem holding the two (what perf passes to -tls-cert and
// -tls-key alike). It returns the certificate's DER.
func writeCert(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	k := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	for name, data := range map[string][]byte{"cert.pem": c, "key.pem": k, "both.pem": append(append([]byte{}, c...), k...)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return der
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	der := writeCert(t, dir)
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, files := range [][2]string{{"cert.pem", "key.pem"}, {"both.pem", "both.pem"}} {
		cert, err := loadCert(filepath.Join(dir, files[0]), filepath.Join(dir, files[1]))
		if err != nil || cert == nil {
			t.Fatalf("loadCert(%v): %v", files, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- serve(ctx, ln, newBackend("b1", 1), cert, 5*time.Second) }()

		// A verifying client, over HTTP/1.1 as the proxies speak to backends.
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}},
		}}
		resp, err := client.Get("https://" + ln.Addr().String() + "/bytes?n=16384")
		if err != nil {
			cancel()
			t.Fatalf("%v: %v", files, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(body) != 16384 || resp.TLS == nil || resp.Proto != "HTTP/1.1" ||
			resp.Header.Get("X-Backend") != "b1" {
			t.Fatalf("%v: got %d %s, %d bytes, err %v, TLS %v", files, resp.StatusCode, resp.Proto, len(body), err, resp.TLS != nil)
		}
		// / says what the connection negotiated.
		resp, err = client.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			cancel()
			t.Fatalf("%v: %v", files, err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		got := decode[Received](t, body).TLS
		if got == nil || got.Version != "TLS 1.3" || got.Cipher == "" || got.ALPN != "http/1.1" || got.Resumed {
			t.Fatalf("%v: / reports TLS %+v", files, got)
		}
		client.CloseIdleConnections()

		// Plain HTTP on the TLS port is refused, not served.
		if resp, err := http.Get("http://" + ln.Addr().String() + "/bytes?n=1"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatalf("%v: plain HTTP answered 200 on the TLS port", files)
			}
		}
		cancel()
		if err := <-served; err != nil {
			t.Fatalf("serve: %v", err)
		}
	}
}

func TestLoadCert(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if c, err := loadCert("", ""); c != nil || err != nil {
		t.Fatalf(`loadCert("", ""): got %v, %v; want plain HTTP`, c, err)
	}
	f := func(certFile, keyFile string) {
		t.Helper()
		if c, err := loadCert(certFile, keyFile); err == nil || c != nil {
			t.Fatalf("loadCert(%q, %q): got %v, nil; want an error", certFile, keyFile, c)
		}
	}
	f(cert, "")
	f("", key)
	f(key, cert) // swapped
	f(cert, filepath.Join(dir, "missing.pem"))
}
