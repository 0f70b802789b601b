package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"loopgate/certs"
	"loopgate/engine"
)

// writeNamedCert writes a self-signed certificate for name (serial tells
// versions apart) and its key as dir/file.pem and dir/file-key.pem.
func writeNamedCert(t *testing.T, dir, file, name string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, file+".pem"), filepath.Join(dir, file+"-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// served returns the serial of the certificate addr presents for name.
func served(t *testing.T, addr, name string) int64 {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var c *tls.Conn
		c, err = tls.Dial("tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err == nil {
			defer c.Close()
			return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
		}
	}
	t.Fatalf("TLS handshake with %s for %s: %v", addr, name, err)
	return 0
}

// [tls] certificates serve every TLS listener by SNI; /api/tls and the
// expiry metric list them; a reload swaps a changed pair, and refuses a
// broken one while the old keeps serving.
func TestTLSStoreServesReloadsAndReports(t *testing.T) {
	b := startTestBackend(t, "b", 0)
	dir := t.TempDir()
	aCert, aKey := writeNamedCert(t, dir, "a", "a.test", 1)
	bCert, bKey := writeNamedCert(t, dir, "b", "b.test", 2)
	secure := freeAddr(t)
	extra := fmt.Sprintf(`
[tls]
reload_check = "-1s"
[[tls.cert]]
cert = %q
key = %q
[[tls.cert]]
cert = %q
key = %q

[[listener]]
address = %q
tls = true
`, aCert, aKey, bCert, bKey, secure)
	path := adminConfig(t, dir, "", "round_robin", extra, b.addr)
	// adminConfig writes [server] listen; [[listener]] replaces it.
	data, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(data), "listen = \"\"\n", "", 1)), 0o644)
	r := startApp(t, path)

	if a, b := served(t, secure, "a.test"), served(t, secure, "b.test"); a != 1 || b != 2 {
		t.Fatalf("SNI: a.test got serial %d, b.test %d; want 1 and 2", a, b)
	}
	code, m := r.call(t, "GET", "/api/tls", "")
	if list, _ := m["certificates"].([]any); code != 200 || len(list) != 2 {
		t.Fatalf("/api/tls: %d %v", code, m)
	}
	resp, err := http.Get(r.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `loopgate_tls_cert_expiry_seconds{name="a.test"`) {
		t.Errorf("/metrics lacks the expiry of a.test:\n%s", metrics)
	}

	// A renewed pair: the reload serves it.
	writeNamedCert(t, dir, "a", "a.test", 3)
	if err := r.reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if s := served(t, secure, "a.test"); s != 3 {
		t.Errorf("after the reload a.test got serial %d; want 3", s)
	}
	// A broken pair: the reload is refused, naming the file, and the old
	// certificate stays in service.
	os.WriteFile(aKey, []byte("not a key"), 0o600)
	err = r.reload()
	if err == nil || !strings.Contains(err.Error(), aKey) || !strings.Contains(err.Error(), "tls.cert[0]") {
		t.Errorf("reload with a broken key: %v; want a refusal naming tls.cert[0] and %s", err, aKey)
	}
	if s := served(t, secure, "a.test"); s != 3 {
		t.Errorf("after the refused reload a.test got serial %d; want 3", s)
	}
}

// A reload turns a pool's [pool.tls] on, changes it and turns it off in
// place (pools are rebuilt on reload; none of it needs a new process), and
// refuses a broken one at its key while the running pool keeps its own.
func TestReloadPoolTLS(t *testing.T) {
	b := startTestBackend(t, "b", 0)
	dir := t.TempDir()
	caFile, _ := writeNamedCert(t, dir, "ca", "backend.test", 1)
	listen := freeAddr(t)
	write := func(section string) string { return adminConfig(t, dir, listen, "round_robin", section, b.addr) }
	r := startApp(t, write(""))
	running := func() *certs.Client { return r.srv.Pools()[0].TLS }

	write(fmt.Sprintf("  [pool.tls]\n  ca = %q\n  server_name = \"backend.test\"\n", caFile))
	if err := r.reload(); err != nil {
		t.Fatalf("reload turning [pool.tls] on: %v", err)
	}
	if c := running(); c == nil || c.CA != caFile || c.ServerName != "backend.test" || !c.Verifies() {
		t.Fatalf("after the reload the pool runs with TLS %+v; want the file's", c)
	}
	if code, m := r.call(t, "GET", "/api/config", ""); code != 200 || fmt.Sprint(m["pools"].([]any)[0].(map[string]any)["tls"]) !=
		fmt.Sprintf("map[ca:%s cert: min_version:1.2 server_name:backend.test session_reuse:true verify:true]", caFile) {
		t.Fatalf("GET /api/config: %d, pools %v", code, m["pools"])
	}

	write("  [pool.tls]\n  server_name = \"backend.test\"\n  min_version = \"1.3\"\n")
	if err := r.reload(); err != nil {
		t.Fatalf("reload changing [pool.tls]: %v", err)
	}
	if c := running(); c == nil || c.CA != "" || c.MinVersion != "1.3" {
		t.Fatalf("after the change the pool runs with TLS %+v; want system roots and TLS 1.3", c)
	}

	write(fmt.Sprintf("  [pool.tls]\n  ca = %q\n", filepath.Join(dir, "missing.pem")))
	err := r.reload()
	if err == nil || errors.Is(err, engine.ErrNeedsRestart) || !strings.Contains(err.Error(), "loopgate.toml:13: pool[0].tls.ca: ") {
		t.Fatalf("reload with a missing CA file: %v; want a refusal at loopgate.toml:13: pool[0].tls.ca", err)
	}
	if c := running(); c == nil || c.MinVersion != "1.3" {
		t.Fatalf("after the refused reload the pool runs with TLS %+v; want the previous one", c)
	}

	write("")
	if err := r.reload(); err != nil {
		t.Fatalf("reload turning [pool.tls] off: %v", err)
	}
	if c := running(); c != nil {
		t.Fatalf("after removing [pool.tls] the pool runs with TLS %+v; want plain HTTP", c)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeNamedCert(t, dir, "a", "a.test", 1)
	f := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", in+minimal, kind, want...)
	}
	f("[tls]\nmin_version = \"1.1\"\n", ErrValue, "c.toml:1: tls:")
	f("[tls]\nciphers = [\"TLS_RSA_WITH_RC4_128_SHA\"]\n", ErrValue, "c.toml:1: tls:")
	f("[tls]\n[[tls.cert]]\ncert = \""+cert+"\"\nkey = \""+filepath.Join(dir, "none.pem")+"\"\n", ErrValue, "c.toml:3: tls.cert[0].cert:")
	f("[tls]\n[[tls.cert]]\ncert = \""+cert+"\"\n", ErrMissing, "c.toml:2: tls.cert[0].key:")
	f("[tls]\nacme_domains = [\"example.com\"]\n", ErrValue, "c.toml:1: tls:")
	f("[tls]\nacme_domains = [\"*.example.com\"]\nacme_dir = \"x\"\n", ErrValue, "c.toml:1: tls:")
	f("[tls]\nsession_ticket_key_file = \""+filepath.Join(dir, "none")+"\"\n", ErrValue, "c.toml:1: tls:")
	f("[tls]\nreload_chek = \"5s\"\n", ErrUnknown, "c.toml:2: tls.reload_chek:")
	if _, err := parse("c.toml", []byte("[tls]\n[[tls.cert]]\ncert = \""+cert+"\"\nkey = \""+key+"\"\n"+minimal)); err != nil {
		t.Errorf("a good pair: %v", err)
	}
}

// examples/tls.toml does what its comment says: https on 8443 rotating over
// the three backends with X-Forwarded-Proto https, and http on 8080
// redirecting there. It runs with its addresses and certificate files
// replaced (make certs writes the real ones; CI has none).
func TestTLSExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/tls.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := writeNamedCert(t, dir, "localhost", "localhost", 7)
	plain, secure := freeAddr(t), freeAddr(t)
	in := string(data)
	for old, new := range map[string]string{
		"examples/tls/localhost.pem": cert, "examples/tls/localhost-key.pem": key,
		`"127.0.0.1:8080"`: fmt.Sprintf("%q", plain), `"127.0.0.1:8443"`: fmt.Sprintf("%q", secure),
	} {
		if !strings.Contains(in, old) {
			t.Fatalf("examples/tls.toml no longer has %s", old)
		}
		in = strings.ReplaceAll(in, old, new)
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("backend-%d", i)
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", name, r.Header.Get("X-Forwarded-Proto"))
		}))
		t.Cleanup(b.Close)
		in = strings.Replace(in, fmt.Sprintf(`"127.0.0.1:800%d"`, i), fmt.Sprintf("%q", b.Listener.Addr().String()), 1)
	}
	path := filepath.Join(dir, "tls.toml")
	os.WriteFile(path, []byte(in), 0o644)
	startApp(t, path)

	pemData, _ := os.ReadFile(cert)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemData)
	client := &http.Client{Timeout: 5 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	seen := map[string]bool{}
	for range 6 {
		resp, err := client.Get("https://" + secure + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		name, proto, _ := strings.Cut(string(body), " ")
		if proto != "https" {
			t.Errorf("%s saw X-Forwarded-Proto %q; want https", name, proto)
		}
		seen[name] = true
	}
	if len(seen) != 3 {
		t.Errorf("https answers came from %v; want backend-1..3 in turn", seen)
	}
	resp, err := client.Get("http://" + plain + "/a?b=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	host, _, _ := strings.Cut(plain, ":")
	if want := "https://" + host + ":8443/a?b=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("plain listener: %d Location %q; want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// writeCA writes a CA and a client certificate it signed, as PEM files.
func writeCA(t *testing.T, dir string) (caFile string, client tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(100), Subject: pkix.Name{CommonName: "test CA"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	caFile = filepath.Join(dir, "clients-ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(101), Subject: pkix.Name{CommonName: "client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A listener's own client_ca requires client certificates there only; the
// other TLS listener stays open, and a session from it is not resumed
// where a client certificate is required.
func TestListenerMTLS(t *testing.T) {
	b := startTestBackend(t, "b", 0)
	dir := t.TempDir()
	cert, key := writeNamedCert(t, dir, "a", "a.test", 1)
	caFile, clientCert := writeCA(t, dir)
	open, locked := freeAddr(t), freeAddr(t)
	path := writeConfig(t, dir, "c.toml", fmt.Sprintf(`
[admin]
listen = ""
[tls]
[[tls.cert]]
cert = %q
key = %q
[[listener]]
address = %q
tls = true
[[listener]]
address = %q
tls = true
client_ca = %q
[[pool]]
name = "web"
  [[pool.backend]]
  address = %q
`, cert, key, open, locked, caFile, b.addr))
	startApp(t, path)
	sessions := tls.NewLRUClientSessionCache(8) // shared: the locked listener must not resume the open one's
	resumed := false
	get := func(addr string, certs ...tls.Certificate) error {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "a.test", Certificates: certs, ClientSessionCache: sessions}}}
		resp, err := c.Get("https://" + addr + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		resumed = resp.TLS.DidResume
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(open); err != nil {
		t.Errorf("the open listener without a client certificate: %v", err)
	}
	if err := get(locked); err == nil {
		t.Error("the client_ca listener answered a client without a certificate")
	}
	if err := get(open); err != nil || !resumed {
		t.Errorf("the open listener again: %v, resumed %v; want a resumed session", err, resumed)
	}
	if err := get(locked, clientCert); err != nil || resumed {
		t.Errorf("the client_ca listener with a good client certificate: %v, resumed %v; want a full handshake", err, resumed)
	}
	for _, tc := range []struct{ in, want string }{
		{"[[listener]]\naddress = \":80\"\nclient_ca = \"" + caFile + "\"\n", "c.toml:3: listener[0].client_ca: client certificates need tls = true"},
		{"[[listener]]\naddress = \":443\"\ntls = true\ncert_file = \"" + cert + "\"\nkey_file = \"" + key + "\"\nclient_ca = \"" + filepath.Join(dir, "none.pem") + "\"\n", "c.toml:6: listener[0].client_ca:"},
	} {
		_, err := parse("c.toml", []byte(tc.in+minimal))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s...", tc.in, err, tc.want)
		}
	}
}

// The admin listener over https, requiring client certificates: no token is
// needed off loopback then, a client without a certificate gets nothing,
// and one the CA signed uses the API.
func TestAdminMTLS(t *testing.T) {
	b := startTestBackend(t, "b", 0)
	dir := t.TempDir()
	cert, key := writeNamedCert(t, dir, "admin", "admin.test", 9)
	caFile, clientCert := writeCA(t, dir)
	adminAddr := freeAddr(t)
	path := writeConfig(t, dir, "c.toml", fmt.Sprintf(`
[server]
listen = %q
[admin]
listen = %q
tls_cert_file = %q
tls_key_file = %q
client_ca = %q
[[pool]]
name = "web"
  [[pool.backend]]
  address = %q
`, freeAddr(t), adminAddr, cert, key, caFile, b.addr))
	r := startApp(t, path)
	if r.adminAddr == nil {
		t.Fatal("no admin listener")
	}
	call := func(certs ...tls.Certificate) (int, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: certs}}}
		resp, err := c.Get("https://" + adminAddr + "/api/pools")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := call(); err == nil {
		t.Errorf("without a client certificate: %d; want a refused handshake", code)
	}
	if code, err := call(clientCert); err != nil || code != 200 {
		t.Errorf("with a client certificate: %d %v; want 200", code, err)
	}
	// Off loopback, requiring client certificates stands in for the token;
	// asking for them optionally does not.
	for _, tc := range []struct{ in, want string }{
		{"[admin]\nlisten = \"0.0.0.0:9443\"\ntls_cert_file = \"" + cert + "\"\ntls_key_file = \"" + key + "\"\nclient_ca = \"" + caFile + "\"\n", ""},
		{"[admin]\nlisten = \"0.0.0.0:9443\"\ntls_cert_file = \"" + cert + "\"\ntls_key_file = \"" + key + "\"\nclient_ca = \"" + caFile + "\"\nclient_auth = \"optional\"\n", "c.toml:2: admin.listen: cannot listen"},
		{"[admin]\nclient_ca = \"" + caFile + "\"\n", "c.toml:2: admin.client_ca: client certificates need https"},
		{"[admin]\ntls_cert_file = \"" + cert + "\"\n", "c.toml:2: admin.tls_cert_file: tls_cert_file and tls_key_file go together"},
	} {
		_, err := parse("c.toml", []byte(tc.in+minimal))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("%q:\n got %v\nwant %q", tc.in, err, tc.want)
		}
	}
}
