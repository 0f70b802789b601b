package engine

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
)

func TestPrepareTLS(t *testing.T) {
	c := &tls.Config{NextProtos: []string{"h2", "acme-tls/1", "http/1.1"}}
	prepareTLS(c)
	if want := []string{"http/1.1", "http/1.0", "acme-tls/1"}; !slices.Equal(c.NextProtos, want) {
		t.Fatalf("NextProtos %q; want %q", c.NextProtos, want)
	}
	if !c.DynamicRecordSizingDisabled || c.MinVersion != tls.VersionTLS12 || !slices.Equal(c.CipherSuites, aeadSuites) {
		t.Fatalf("got %+v", c)
	}
	again := c.Clone()
	prepareTLS(again)
	if !slices.Equal(again.NextProtos, c.NextProtos) {
		t.Fatalf("not idempotent: %q then %q", c.NextProtos, again.NextProtos)
	}
	// What the caller chose stays.
	own := &tls.Config{MinVersion: tls.VersionTLS13, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}
	prepareTLS(own)
	if own.MinVersion != tls.VersionTLS13 || len(own.CipherSuites) != 1 {
		t.Fatalf("got %+v", own)
	}
	for _, id := range aeadSuites {
		for _, s := range tls.InsecureCipherSuites() {
			if s.ID == id {
				t.Fatalf("%s is insecure", s.Name)
			}
		}
	}
}

func TestValidRedirectHost(t *testing.T) {
	f := func(h string, want bool) {
		t.Helper()
		if got := validRedirectHost([]byte(h)); got != want {
			t.Fatalf("validRedirectHost(%q) = %v; want %v", h, got, want)
		}
	}
	f("example.test", true)
	f("a-b_c.example", true)
	f("192.0.2.1", true)
	f("[2001:db8::1]", true)
	f("", false)
	f("a@b", false)
	f("a/b", false)
	f("a b", false)
	f("a%2fb", false)
	f("[192.0.2.1]", false)
	f("[fe80::1%eth0]", false)
	f("[::1", false)
}

func TestNewListeners(t *testing.T) {
	f := func(ls []Listener, wantErr bool) {
		t.Helper()
		_, err := newListeners(&Config{Listeners: ls})
		if (err != nil) != wantErr {
			t.Fatalf("newListeners(%+v): %v; want error %v", ls, err, wantErr)
		}
	}
	cert := &tls.Config{Certificates: []tls.Certificate{{}}}
	f([]Listener{{Address: "127.0.0.1:0"}}, false)
	f([]Listener{{Address: ""}}, true)
	f([]Listener{{Address: "127.0.0.1:0"}, {Address: "127.0.0.1:0"}}, true)
	f([]Listener{{Address: "127.0.0.1:0", TLS: &tls.Config{}}}, true)
	f([]Listener{{Address: "127.0.0.1:0", TLS: cert, RedirectHTTPS: true}}, true)
	f([]Listener{{Address: "127.0.0.1:0", RedirectHTTPS: true, HTTPSPort: 70000}}, true)
	f([]Listener{{Address: "nope"}}, true)
	lns, _ := newListeners(&Config{Listeners: []Listener{{Address: "127.0.0.1:1", RedirectHTTPS: true, HTTPSPort: 8443}, {Address: "127.0.0.1:2", TLS: cert}}})
	if string(lns[0].portPart) != ":8443" || string(lns[0].scheme) != "http" || string(lns[1].scheme) != "https" || lns[1].portPart != nil {
		t.Fatalf("got %+v %+v", lns[0], lns[1])
	}
	s := &Server{lns: lns}
	if got := s.listenerOf(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2}); got != lns[1] {
		t.Fatal("listenerOf port 2: not the TLS listener")
	}
	if got := s.listenerOf(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); got != lns[0] {
		t.Fatal("listenerOf port 1: not the plain listener")
	}
}

// TestNextPiece: the handshake's reads never cross a record's end, and
// the end of the stream is clean only at a record boundary.
func TestNextPiece(t *testing.T) {
	rec := func(n int) []byte { return append([]byte{22, 3, 1, byte(n >> 8), byte(n)}, make([]byte, n)...) }
	b := append(rec(10), rec(3)...)
	var left int
	p := make([]byte, 100)
	if k, err := nextPiece(b, p, &left, false); k != 15 || err != nil || left != 0 {
		t.Fatalf("first record: %d %v left %d", k, err, left)
	}
	b = b[15:]
	if k, err := nextPiece(b[:2], p, &left, false); k != 0 || !errors.Is(err, errWouldBlock) {
		t.Fatalf("a partial header: %d %v", k, err)
	}
	if k, err := nextPiece(b[:6], p[:3], &left, false); k != 3 || err != nil || left != 5 {
		t.Fatalf("a piece: %d %v left %d", k, err, left)
	}
	if k, err := nextPiece(b[3:6], p, &left, true); k != 3 || err != nil || left != 2 {
		t.Fatalf("what is there: %d %v left %d", k, err, left)
	}
	if k, err := nextPiece(nil, p, &left, true); k != 0 || err != io.ErrUnexpectedEOF {
		t.Fatalf("EOF inside a record: %d %v", k, err)
	}
	left = 0
	if k, err := nextPiece(nil, p, &left, true); k != 0 || err != io.EOF {
		t.Fatalf("EOF at a boundary: %d %v", k, err)
	}
}
