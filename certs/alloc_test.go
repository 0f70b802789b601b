//go:build !race

package certs

import (
	"crypto/tls"
	"testing"
)

// The per-handshake lookups must not allocate: GetCertificate for a lower-case
// name with one candidate (exact, wildcard, default), the TLS-ALPN-01 check and
// the HTTP-01 token lookup. Choosing between ECDSA and RSA candidates calls
// tls.ClientHelloInfo.SupportsCertificate, which allocates a few small objects;
// a full handshake allocates far more, so that is not worth re-implementing.
func TestAllocs(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	ec, _ := ca.writePair(t, dir, "ec", leafOpts{names: []string{"a.example.com", "*.example.com"}})
	s := mustStore(t, []Pair{ec})
	hellos := []*tls.ClientHelloInfo{
		{ServerName: "a.example.com"},
		{ServerName: "b.example.com"},
		{ServerName: "unknown.test"},
	}
	for _, h := range hellos {
		if n := testing.AllocsPerRun(100, func() { s.GetCertificate(h) }); n != 0 {
			t.Errorf("GetCertificate(%q): %v allocs", h.ServerName, n)
		}
	}
	m := &ACME{}
	m.setToken("tok", []byte("ka"))
	if n := testing.AllocsPerRun(100, func() { m.HTTPChallenge("tok") }); n != 0 {
		t.Errorf("HTTPChallenge: %v allocs", n)
	}
	cfg, _ := NewTLSConfig(Profile{}, s)
	h := &tls.ClientHelloInfo{ServerName: "a.example.com", SupportedProtos: []string{"http/1.1"}}
	if n := testing.AllocsPerRun(100, func() { cfg.GetConfigForClient(h) }); n != 0 {
		t.Errorf("GetConfigForClient: %v allocs", n)
	}
}
