package engine_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"loopgate/engine"
)

// testCert is a self-signed certificate for localhost and 127.0.0.1,
// generated once per test binary and kind.
type testCert struct {
	cert tls.Certificate
	pool *x509.CertPool // trusts it
	pem  []byte         // the certificate, for curl --cacert and openssl
	key  []byte         // its key, PEM
}

var (
	certOnce sync.Map // "ecdsa" / "rsa" -> *testCert
	certMu   sync.Mutex
)

// newTestCert returns the test certificate of kind "ecdsa" (P-256) or "rsa"
// (2048 bits).
func newTestCert(t testing.TB, kind string) *testCert {
	t.Helper()
	certMu.Lock()
	defer certMu.Unlock()
	if c, ok := certOnce.Load(kind); ok {
		return c.(*testCert)
	}
	var key any
	var err error
	switch kind {
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost", "example.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	pub := key.(crypto.Signer).Public()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCert{
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}
	if c.cert, err = tls.X509KeyPair(c.pem, c.key); err != nil {
		t.Fatal(err)
	}
	c.pool = x509.NewCertPool()
	c.pool.AppendCertsFromPEM(c.pem)
	certOnce.Store(kind, c)
	return c
}

// files writes the certificate and key to the test's temporary directory.
func (c *testCert) files(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.key, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// serverTLS is a server config serving c, as a certificate store would
// hand it to the engine: through GetCertificate.
func (c *testCert) serverTLS() *tls.Config {
	return &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &c.cert, nil }}
}

// clientTLS trusts c and asks for host.
func (c *testCert) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: c.pool, ServerName: "localhost"}
}

// startListeners runs a proxy for cfg with the given listeners (addresses
// are replaced with 127.0.0.1:0) and returns it and each listener's
// address.
func startListeners(t *testing.T, cfg engine.Config, lns ...engine.Listener) (*engine.Server, []string) {
	t.Helper()
	if len(lns) == 1 {
		lns[0].Address = "127.0.0.1:0"
	}
	for i := range lns[:len(lns)-1] {
		// gnet tells listeners apart by their configured address, so two
		// cannot both say port 0: pick free ports.
		ln := listenLocal(t)
		lns[i].Address = ln.Addr().String()
		ln.Close()
	}
	lns[len(lns)-1].Address = "127.0.0.1:0"
	cfg.Listeners = lns
	srv, _ := startProxy(t, cfg)
	var addrs []string
	for _, a := range srv.ListenerAddrs() {
		if a == nil {
			t.Fatal("a listener did not bind")
		}
		addrs = append(addrs, a.String())
	}
	return srv, addrs
}

// startTLSProxy runs a proxy with one TLS listener serving cert kind in
// front of addrs, and returns its address.
func startTLSProxy(t *testing.T, cfg engine.Config, c *testCert) (*engine.Server, string) {
	t.Helper()
	srv, addrs := startListeners(t, cfg, engine.Listener{TLS: c.serverTLS()})
	return srv, addrs[0]
}

// dialTLS connects to addr with cfg and completes the handshake.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: ioTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	c, err := (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*tls.Conn)
}
