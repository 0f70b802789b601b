package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and its key to dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestTOMLListeners(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	in := `[[listener]]
address = "0.0.0.0:8080"
redirect_https = true
https_port = 8443

[[listener]]
address = "127.0.0.1:8443"
tls = true
cert_file = "` + cert + `"
key_file = "` + key + `"

[server]
max_tls_handshakes = 64

[timeouts]
tls_handshake = "3s"
` + minimal
	c, err := parse("c.toml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Engine
	if len(e.Listeners) != 2 || e.Listen != "0.0.0.0:8080" {
		t.Fatalf("listeners %+v, listen %q", e.Listeners, e.Listen)
	}
	l0, l1 := e.Listeners[0], e.Listeners[1]
	if l0.TLS != nil || !l0.RedirectHTTPS || l0.HTTPSPort != 8443 {
		t.Fatalf("listener 0: %+v", l0)
	}
	if l1.TLS == nil || len(l1.TLS.Certificates) != 1 || l1.RedirectHTTPS || l1.Address != "127.0.0.1:8443" {
		t.Fatalf("listener 1: %+v", l1)
	}
	if e.MaxTLSHandshakes != 64 || e.Timeouts.TLSHandshake != 3*time.Second {
		t.Fatalf("max_tls_handshakes %d, tls_handshake %v", e.MaxTLSHandshakes, e.Timeouts.TLSHandshake)
	}

	// Without [[listener]], [server] listen is the one plain listener.
	c, err = parse("c.toml", []byte(minimal))
	if err != nil || len(c.Engine.Listeners) != 0 || c.Engine.Listen != "0.0.0.0:8080" {
		t.Fatalf("no listeners: %+v %v", c.Engine.Listeners, err)
	}
}

func TestTOMLListenerErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	f := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", in+minimal, kind, want...)
	}
	f("[server]\nlisten = \"0.0.0.0:80\"\n[[listener]]\naddress = \"0.0.0.0:81\"\n", ErrValue, "c.toml:2: server.listen:")
	f("[[listener]]\naddress = \"0.0.0.0:81\"\n[[listener]]\naddress = \"0.0.0.0:81\"\n", ErrDuplicate, "c.toml:4: listener[1].address:")
	f("[[listener]]\nredirect_https = true\n", ErrMissing, "c.toml:1: listener[0].address:")
	f("[[listener]]\naddress = \"nope\"\n", ErrValue, "c.toml:2: listener[0].address:")
	f("[[listener]]\naddress = \":443\"\ntls = true\n", ErrMissing, "c.toml:1: listener[0].cert_file:")
	f("[[listener]]\naddress = \":443\"\ntls = true\ncert_file = \""+cert+"\"\nkey_file = \""+filepath.Join(dir, "missing.pem")+"\"\n",
		ErrValue, "c.toml:4: listener[0].cert_file:")
	f("[[listener]]\naddress = \":443\"\ntls = true\ncert_file = \""+cert+"\"\nkey_file = \""+cert+"\"\n",
		ErrValue, "c.toml:4: listener[0].cert_file:")
	f("[[listener]]\naddress = \":443\"\ntls = true\nredirect_https = true\ncert_file = \""+cert+"\"\nkey_file = \""+key+"\"\n",
		ErrValue, "c.toml:4: listener[0].redirect_https:")
	f("[[listener]]\naddress = \":80\"\ncert_file = \""+cert+"\"\n", ErrValue, "c.toml:1: listener[0].tls:")
	f("[[listener]]\naddress = \":80\"\nhttps_port = 8443\n", ErrValue, "c.toml:3: listener[0].https_port:")
	f("[[listener]]\naddress = \":80\"\nredirect_https = true\nhttps_port = 70000\n", ErrValue, "c.toml:4: listener[0].https_port:")
	f("[[listener]]\naddress = \":80\"\ntsl = true\n", ErrUnknown, "c.toml:3: listener[0].tsl:")
	f("[[listener]]\naddress = \":80\"\ntls = \"yes\"\n", ErrType, "c.toml:3: listener[0].tls:")
	f("[timeouts]\ntls_handshake = 5\n", ErrType, "c.toml:2: timeouts.tls_handshake:")
	f("[server]\nmax_tls_handshakes = -1\n", ErrValue, "c.toml:2: server.max_tls_handshakes:")
}
