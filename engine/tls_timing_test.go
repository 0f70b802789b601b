package engine

import (
	"bufio"
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
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The measurements behind the TLS design (docs/ARCHITECTURE.md, "TLS"):
// what the record layer costs per request when driven on the loop through
// the in-memory transport, and what one idle connection costs in the
// goroutine-per-connection model the design rejects.

func benchCert(b *testing.B) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsBenchConn carries a handshake over a real socket, then (mem set) reads and
// writes in-memory buffers, non-blockingly as the engine's transport does.
type tlsBenchConn struct {
	net.Conn
	mem     bool
	in, out *[]byte
}

func (c *tlsBenchConn) Read(p []byte) (int, error) {
	if !c.mem {
		return c.Conn.Read(p)
	}
	if len(*c.in) == 0 {
		return 0, errWouldBlock
	}
	n := copy(p, *c.in)
	*c.in = (*c.in)[n:]
	return n, nil
}

func (c *tlsBenchConn) Write(p []byte) (int, error) {
	if !c.mem {
		return c.Conn.Write(p)
	}
	*c.out = append(*c.out, p...)
	return len(p), nil
}

// BenchmarkTLSRecordPath is one keep-alive exchange's record work, as the
// loop does it: decrypt a 100-byte request (one record) read
// non-blockingly, encrypt a response of the given size into one buffer,
// and the client's side of both. The handshake (TLS 1.3, ECDSA P-256,
// AES-128-GCM) is done once, outside the timing.
func BenchmarkTLSRecordPath(b *testing.B) {
	cert := benchCert(b)
	for _, size := range []int{100, 16 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			var c2s, s2c []byte
			s2cBuf := make([]byte, 0, 64<<10)
			sc, cc := &tlsBenchConn{in: &c2s, out: &s2c}, &tlsBenchConn{in: &s2c, out: &c2s}
			srvErr := make(chan error, 1)
			var srv *tls.Conn
			go func() {
				c, err := ln.Accept()
				if err != nil {
					srvErr <- err
					return
				}
				sc.Conn = c
				// No session tickets: they would arrive after the switch to memory.
				srv = tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{cert}, DynamicRecordSizingDisabled: true, SessionTicketsDisabled: true})
				srvErr <- srv.Handshake()
			}()
			raw, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			cc.Conn = raw
			cli := tls.Client(cc, &tls.Config{InsecureSkipVerify: true})
			if err := cli.Handshake(); err != nil {
				b.Fatal(err)
			}
			if err := <-srvErr; err != nil {
				b.Fatal(err)
			}
			defer sc.Conn.Close()
			sc.mem, cc.mem = true, true
			req := make([]byte, 100)
			resp := make([]byte, size)
			plain := make([]byte, 80<<10)
			sink := make([]byte, 32<<10)
			b.ReportAllocs()
			b.SetBytes(int64(len(req) + size))
			for b.Loop() {
				cli.Write(req)
				if _, err := srv.Read(plain); err != nil {
					b.Fatal(err)
				}
				srv.Write(resp)
				for len(s2c) > 0 {
					if _, err := cli.Read(sink); err != nil {
						b.Fatal(err)
					}
				}
				s2c = s2cBuf[:0]
			}
		})
	}
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// BenchmarkTLSGoroutineIdleConn measures one idle keep-alive connection in
// the goroutine-per-connection model: a real socket, crypto/tls over it,
// one request answered, and a goroutine parked in Read. It reports heap and
// stack bytes per connection (ns/op is not meaningful).
func BenchmarkTLSGoroutineIdleConn(b *testing.B) {
	cert := benchCert(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	scfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(c, scfg)
				buf := make([]byte, 4096) // a reader's buffer, as net/http's bufio
				for {
					if _, err := tc.Read(buf); err != nil {
						tc.Close()
						return
					}
					tc.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
				}
			}()
		}
	}()
	// The clients run in a child process (the e2e tests' TestTLSIdleHelper
	// in this same binary), so only the server's side is counted.
	const n = 1000
	warm, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		b.Fatal(err)
	}
	defer warm.Close()
	before := heapAndStacks()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTLSIdleHelper$")
	cmd.Env = append(os.Environ(), "LOOPGATE_TLS_IDLE_HELPER="+ln.Addr().String()+","+itoa(n),
		"LOOPGATE_TLS_IDLE_CA="+string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		b.Fatalf("helper: %q %v", line, err)
	}
	per := float64(heapAndStacks()-before) / n
	for b.Loop() {
	}
	b.ReportMetric(per, "B/idle-conn") // after Loop, whose timer reset drops metrics
}

func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// BenchmarkTLSHandshake is one full server-side handshake (TLS 1.3, X25519
// as OpenSSL 3.0 peers negotiate, or the hybrid X25519MLKEM768 Go prefers)
// with each kind of key, over an in-memory pipe; the client's work is
// included. With -cpuprofile it shows where a handshake's time goes.
func BenchmarkTLSHandshake(b *testing.B) {
	ec := benchCert(b)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rk.PublicKey, rk)
	if err != nil {
		b.Fatal(err)
	}
	rc := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: rk}
	for _, tc := range []struct {
		name  string
		cert  tls.Certificate
		curve tls.CurveID
	}{{"ecdsa-x25519", ec, tls.X25519}, {"rsa-x25519", rc, tls.X25519}, {"ecdsa-mlkem", ec, tls.X25519MLKEM768}} {
		b.Run(tc.name, func(b *testing.B) {
			scfg := &tls.Config{Certificates: []tls.Certificate{tc.cert}, SessionTicketsDisabled: true}
			ccfg := &tls.Config{InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tc.curve}}
			for b.Loop() {
				c1, c2 := net.Pipe()
				done := make(chan error, 1)
				go func() { done <- tls.Server(c1, scfg).Handshake() }()
				if err := tls.Client(c2, ccfg).Handshake(); err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				c1.Close()
				c2.Close()
			}
		})
	}
}
