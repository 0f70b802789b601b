package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// addrConn is a net.Conn whose only use is LocalAddr, for hellos without SNI.
type addrConn struct {
	net.Conn
	local net.Addr
}

func (c addrConn) LocalAddr() net.Addr { return c.local }

func TestGetCertificateSNI(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	exact, exactLeaf := ca.writePair(t, dir, "exact", leafOpts{names: []string{"a.example.com", "Mixed.Example.org"}})
	wild, wildLeaf := ca.writePair(t, dir, "wild", leafOpts{names: []string{"*.example.com"}})
	ip, ipLeaf := ca.writePair(t, dir, "ip", leafOpts{names: []string{"127.0.0.2"}})
	def, defLeaf := ca.writePair(t, dir, "def", leafOpts{names: []string{"default.test"}})
	def.Default = true
	s := mustStore(t, []Pair{exact, wild, ip, def})

	f := func(name string, local string, want *x509.Certificate) {
		t.Helper()
		hello := &tls.ClientHelloInfo{ServerName: name}
		if local != "" {
			hello.Conn = addrConn{local: &net.TCPAddr{IP: net.ParseIP(local), Port: 443}}
		}
		c, err := s.GetCertificate(hello)
		if err != nil {
			t.Fatalf("GetCertificate(%q, %q): %v", name, local, err)
		}
		if !c.Leaf.Equal(want) {
			t.Fatalf("GetCertificate(%q, %q): got %v, want %v", name, local, c.Leaf.DNSNames, want.DNSNames)
		}
	}
	f("a.example.com", "", exactLeaf)
	f("A.EXAMPLE.com", "", exactLeaf)
	f("a.example.com.", "", exactLeaf)
	f("mixed.example.org", "", exactLeaf) // SANs are matched case-insensitively too
	f("b.example.com", "", wildLeaf)
	f("B.Example.Com", "", wildLeaf)
	f("x.b.example.com", "", defLeaf) // a wildcard covers one label only (RFC 6125 §6.4.3)
	f("example.com", "", defLeaf)     // nor the bare parent
	f("unknown.test", "", defLeaf)
	f("", "127.0.0.2", ipLeaf)              // no SNI: the address the client reached
	f("", "::ffff:127.0.0.2", ipLeaf)       // v4-mapped form of the same address
	f("", "127.0.0.9", defLeaf)             // no IP SAN for it
	f("", "", defLeaf)                      // no SNI, no conn
	f("default.test", "127.0.0.2", defLeaf) // SNI wins over the address
}

func TestDefaultIsFirstPairWithoutFlag(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	p1, l1 := ca.writePair(t, dir, "one", leafOpts{names: []string{"one.test"}})
	p2, _ := ca.writePair(t, dir, "two", leafOpts{names: []string{"two.test"}})
	s := mustStore(t, []Pair{p1, p2})
	c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "other.test"})
	if err != nil || !c.Leaf.Equal(l1) {
		t.Fatalf("got %v, %v; want the first pair", c, err)
	}
	infos := s.Info()
	if !infos[0].Default || infos[1].Default {
		t.Fatalf("Default flags: %v %v", infos[0].Default, infos[1].Default)
	}
}

func TestNoCertificate(t *testing.T) {
	s := mustStore(t, nil)
	if _, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "x.test"}); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("got %v, want ErrNoMatch", err)
	}
	// A real client sees a failed handshake, not a hang.
	cfg, err := NewTLSConfig(Profile{}, s)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)
	if _, err := dial(t, addr, &tls.Config{ServerName: "x.test", InsecureSkipVerify: true}); err == nil {
		t.Fatal("handshake succeeded without any certificate")
	}
}

func TestDualCertificate(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	rsaPair, rsaLeaf := ca.writePair(t, dir, "rsa", leafOpts{names: []string{"dual.test"}, rsa: true})
	ecPair, ecLeaf := ca.writePair(t, dir, "ec", leafOpts{names: []string{"dual.test"}})
	// RSA listed first: the ECDSA one must still win for clients that take it.
	s := mustStore(t, []Pair{rsaPair, ecPair})

	// Hello-level: a TLS 1.3 client that signs only with RSA-PSS gets RSA.
	c, _ := s.GetCertificate(&tls.ClientHelloInfo{
		ServerName:        "dual.test",
		SupportedVersions: []uint16{tls.VersionTLS13},
		SignatureSchemes:  []tls.SignatureScheme{tls.PSSWithSHA256},
		SupportedCurves:   []tls.CurveID{tls.X25519},
	})
	if !c.Leaf.Equal(rsaLeaf) {
		t.Fatalf("RSA-only TLS 1.3 hello got %v", c.Leaf.PublicKeyAlgorithm)
	}

	cfg, err := NewTLSConfig(Profile{}, s)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)
	f := func(client *tls.Config, want *x509.Certificate) {
		t.Helper()
		client.ServerName = "dual.test"
		client.RootCAs = ca.pool()
		st, err := dial(t, addr, client)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		if got := st.PeerCertificates[0]; !got.Equal(want) {
			t.Fatalf("got a %v certificate, want %v", got.PublicKeyAlgorithm, want.PublicKeyAlgorithm)
		}
	}
	f(&tls.Config{}, ecLeaf)
	f(&tls.Config{MaxVersion: tls.VersionTLS12}, ecLeaf)
	f(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}, rsaLeaf)
	f(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, ecLeaf)
}

func TestReloadRefused(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	good, goodLeaf := ca.writePair(t, dir, "good", leafOpts{names: []string{"r.test"}})
	other, _ := ca.writePair(t, dir, "other", leafOpts{names: []string{"r.test"}})
	s := mustStore(t, []Pair{good})

	garbage := dir + "/garbage.pem"
	writeFile(t, garbage, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"))
	text := dir + "/text.pem"
	writeFile(t, text, []byte("hello\n"))
	certOnlyAsKey := dir + "/certaskey.pem"
	writeFile(t, certOnlyAsKey, ca.pem)
	badKey := dir + "/badkey.pem"
	writeFile(t, badKey, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))

	f := func(p Pair, want error, file string) {
		t.Helper()
		_, err := s.Reload([]Pair{good, p})
		if !errors.Is(err, want) {
			t.Fatalf("Reload(%+v): got %v, want %v", p, err, want)
		}
		if file != "" && !strings.Contains(err.Error(), file) {
			t.Fatalf("Reload(%+v): error %q does not name %q", p, err, file)
		}
		c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "r.test"})
		if err != nil || !c.Leaf.Equal(goodLeaf) {
			t.Fatalf("after a refused reload the old certificate must stay: %v", err)
		}
		if got := s.Pairs(); len(got) != 1 || got[0] != good {
			t.Fatalf("Pairs after refused reload: %v", got)
		}
	}
	f(Pair{Cert: other.Cert, Key: good.Key}, ErrKeyMismatch, good.Key)
	f(Pair{Cert: garbage, Key: good.Key}, ErrBadCertificate, garbage)
	f(Pair{Cert: text, Key: good.Key}, ErrNoCertificate, text)
	f(Pair{Cert: good.Cert, Key: text}, ErrNoKey, text)
	f(Pair{Cert: good.Cert, Key: certOnlyAsKey}, ErrNoKey, certOnlyAsKey)
	f(Pair{Cert: good.Cert, Key: badKey}, ErrBadKey, badKey)
	f(Pair{Cert: dir + "/missing.pem", Key: good.Key}, fs.ErrNotExist, dir+"/missing.pem")
	f(Pair{Cert: good.Cert, Key: dir + "/missing-key.pem"}, fs.ErrNotExist, dir+"/missing-key.pem")

	if _, err := s.Reload([]Pair{{Cert: good.Cert}}); err == nil {
		t.Fatal("a pair without a key file was accepted")
	}
	// Every broken pair is reported, not only the first.
	_, err := s.Reload([]Pair{{Cert: garbage, Key: good.Key}, {Cert: good.Cert, Key: text}})
	if !errors.Is(err, ErrBadCertificate) || !errors.Is(err, ErrNoKey) {
		t.Fatalf("want both errors, got %v", err)
	}
	if _, _, err := NewStore([]Pair{{Cert: text, Key: good.Key}}); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("NewStore with a broken pair: %v", err)
	}
}

func TestReloadWarnings(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	expired, _ := ca.writePair(t, dir, "expired", leafOpts{names: []string{"old.test"}, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	future, _ := ca.writePair(t, dir, "future", leafOpts{names: []string{"new.test"}, notBefore: time.Now().Add(time.Hour)})
	noSAN, _ := ca.writePair(t, dir, "nosan", leafOpts{})
	// A chain whose second certificate did not sign the first.
	c, k, _ := ca.issue(t, leafOpts{names: []string{"order.test"}})
	leafOnly, _, _ := bytes.Cut(c, []byte("-----END CERTIFICATE-----\n"))
	wrongChain := append(append(leafOnly, "-----END CERTIFICATE-----\n"...), newTestCA(t).pem...)
	order := Pair{Cert: dir + "/order.pem", Key: dir + "/order-key.pem"}
	writeFile(t, order.Cert, wrongChain)
	writeFile(t, order.Key, k)
	dup, _ := ca.writePair(t, dir, "dup", leafOpts{names: []string{"old.test"}, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})

	s := mustStore(t, nil)
	warn, err := s.Reload([]Pair{expired, future, noSAN, order, dup})
	if err != nil {
		t.Fatalf("warnings must not refuse the reload: %v", err)
	}
	for _, want := range []string{expired.Cert + `" expired`, future.Cert + `" is not valid before`, noSAN.Cert + `" has no subject alternative name`, order.Cert + `": certificate 1 is not signed`, dup.Cert + `": name "old.test"`} {
		found := false
		for _, w := range warn {
			found = found || strings.Contains(w, want)
		}
		if !found {
			t.Errorf("no warning containing %q in %q", want, warn)
		}
	}
}

func TestReloadSwapsWithoutDroppingConnections(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	p1, l1 := ca.writePair(t, dir, "v1", leafOpts{names: []string{"swap.test"}})
	p2, l2 := ca.writePair(t, dir, "v2", leafOpts{names: []string{"swap.test"}})
	s := mustStore(t, []Pair{p1})
	cfg, err := NewTLSConfig(Profile{}, s)
	if err != nil {
		t.Fatal(err)
	}
	// An echo server: a connection opened before the reload keeps working after it.
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
			go func() {
				defer c.Close()
				b := make([]byte, 64)
				for {
					n, err := c.Read(b)
					if err != nil {
						return
					}
					c.Write(b[:n])
				}
			}()
		}
	}()
	client := &tls.Config{ServerName: "swap.test", RootCAs: ca.pool()}
	old, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	old.SetDeadline(time.Now().Add(10 * time.Second))
	echo := func(c *tls.Conn) {
		t.Helper()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4)
		if _, err := c.Read(b); err != nil || string(b) != "ping" {
			t.Fatalf("echo: %q %v", b, err)
		}
	}
	echo(old)

	// Handshakes keep succeeding while the table is swapped underneath them.
	var stop atomic.Bool
	var fails, total atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				c, err := tls.Dial("tcp", ln.Addr().String(), client)
				total.Add(1)
				if err != nil {
					fails.Add(1)
					continue
				}
				c.Close()
			}
		}()
	}
	deadline := time.Now().Add(time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		p := p1
		if i%2 == 0 {
			p = p2
		}
		if _, err := s.Reload([]Pair{p}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if fails.Load() != 0 || total.Load() == 0 {
		t.Fatalf("%d of %d handshakes failed during reloads", fails.Load(), total.Load())
	}
	if _, err := s.Reload([]Pair{p2}); err != nil {
		t.Fatal(err)
	}
	echo(old)
	if !old.ConnectionState().PeerCertificates[0].Equal(l1) {
		t.Fatal("old connection changed certificate")
	}
	st, err := dial(t, serve(t, cfg), client)
	if err != nil || !st.PeerCertificates[0].Equal(l2) {
		t.Fatalf("new connection after reload: %v", err)
	}
}

func TestWatch(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	p, _ := ca.writePair(t, dir, "w", leafOpts{names: []string{"w.test"}})
	s := mustStore(t, []Pair{p})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports := make(chan error, 16)
	go s.Watch(ctx, 10*time.Millisecond, func(_ []string, err error) { reports <- err })

	served := func() *x509.Certificate {
		c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "w.test"})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf
	}
	wait := func() error {
		t.Helper()
		select {
		case err := <-reports:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Watch did not notice the change")
			return nil
		}
	}

	// A renewed pair replaced by rename is picked up.
	c2, k2, l2 := ca.issue(t, leafOpts{names: []string{"w.test"}})
	if err := writeFileAtomic(p.Key, k2, 0o600); err != nil {
		t.Fatal(err)
	}
	// Key first: the mismatch in between is reported and the old pair kept.
	if err := wait(); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("half-written pair: got %v, want ErrKeyMismatch", err)
	}
	if served().Equal(l2) {
		t.Fatal("mismatched pair was installed")
	}
	if err := writeFileAtomic(p.Cert, c2, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("reload after the second file: %v", err)
	}
	if !served().Equal(l2) {
		t.Fatal("new certificate not served")
	}
	// A broken file in place is refused once, not at every tick.
	writeFile(t, p.Cert, []byte("garbage"))
	if err := wait(); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("got %v, want ErrNoCertificate", err)
	}
	select {
	case err := <-reports:
		t.Fatalf("unchanged broken file reported again: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if !served().Equal(l2) {
		t.Fatal("old certificate not kept")
	}
	os.Remove(p.Cert)
	if err := wait(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("deleted file: got %v", err)
	}
}

func TestWriteMetrics(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	p, leaf := ca.writePair(t, dir, `we"ird`, leafOpts{names: []string{"m.test"}, rsa: true})
	s := mustStore(t, []Pair{p})
	var b bytes.Buffer
	s.WriteMetrics(&b)
	want := "# TYPE loopgate_tls_cert_expiry_seconds gauge\n" +
		`loopgate_tls_cert_expiry_seconds{name="m.test",source="static",key="RSA 2048",file="` + strings.ReplaceAll(p.Cert, `"`, `\"`) + `"} ` +
		strconv.FormatInt(leaf.NotAfter.Unix(), 10) + "\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	var empty bytes.Buffer
	mustStore(t, nil).WriteMetrics(&empty)
	if empty.Len() != 0 {
		t.Fatalf("empty store wrote %q", empty.String())
	}
}

func TestInfo(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	p, leaf := ca.writePair(t, dir, "i", leafOpts{names: []string{"i.test", "127.0.0.1"}})
	s := mustStore(t, []Pair{p})
	in := s.Info()
	if len(in) != 1 {
		t.Fatalf("Info: %v", in)
	}
	got := in[0]
	if strings.Join(got.Names, ",") != "i.test,127.0.0.1" || got.Issuer != "certs test CA" || got.KeyType != "ECDSA P-256" ||
		got.Source != SourceStatic || got.File != p.Cert || !got.NotAfter.Equal(leaf.NotAfter) || !got.NotBefore.Equal(leaf.NotBefore) ||
		!got.Default || got.Serial != leaf.SerialNumber.Text(16) {
		t.Fatalf("Info: %+v", got)
	}
	in[0].Names[0] = "changed"
	if s.Info()[0].Names[0] != "i.test" {
		t.Fatal("Info returned shared memory")
	}
}

func TestWatchNegativeIntervalReturns(t *testing.T) {
	s := mustStore(t, nil)
	done := make(chan struct{})
	go func() { s.Watch(context.Background(), -1, nil); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch with a negative interval did not return")
	}
}

// TestACMEPrecedence: for a name obtained by ACME, the ACME certificate is
// served before a static pair for the same name, even an ECDSA one against an
// ACME RSA certificate; the static pair serves until then, and other names and
// the default are unaffected.
func TestACMEPrecedence(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	static, staticLeaf := ca.writePair(t, dir, "static", leafOpts{names: []string{"site.test"}})
	other, otherLeaf := ca.writePair(t, dir, "other", leafOpts{names: []string{"other.test"}})
	s := mustStore(t, []Pair{other, static})
	served := func(name string) *x509.Certificate {
		c, err := s.GetCertificate(&tls.ClientHelloInfo{
			ServerName:        name,
			SupportedVersions: []uint16{tls.VersionTLS13},
			SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256},
			SupportedCurves:   []tls.CurveID{tls.X25519, tls.CurveP256},
		})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf
	}
	if !served("site.test").Equal(staticLeaf) {
		t.Fatal("static pair not served before ACME")
	}
	cp, kp, acmeLeaf := ca.issue(t, leafOpts{names: []string{"site.test"}, rsa: true})
	l, _, err := parsePair(Pair{Cert: "acme.crt", Key: "acme.key"}, cp, kp, SourceACME, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.setACME("site.test", l)
	if !served("site.test").Equal(acmeLeaf) {
		t.Fatal("ACME certificate not preferred")
	}
	if !served("other.test").Equal(otherLeaf) || !served("nomatch.test").Equal(otherLeaf) {
		t.Fatal("other names or the default changed")
	}
	if in := s.Info(); len(in) != 3 || in[0].Source != SourceACME {
		t.Fatalf("Info: %+v", in)
	}
	// A static reload keeps the ACME certificate.
	if _, err := s.Reload([]Pair{static}); err != nil {
		t.Fatal(err)
	}
	if !served("site.test").Equal(acmeLeaf) {
		t.Fatal("reload dropped the ACME certificate")
	}
}
