// Package pebbletest helps tests run Pebble, Let's Encrypt's ACME test CA,
// in-process on 127.0.0.1. It is imported by tests only.
package pebbletest

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// LocalDNS starts a DNS server on 127.0.0.1 that answers every A query with
// 127.0.0.1 and nothing else, over TCP (Pebble's resolver uses TCP), so
// that Pebble validates any name against listeners on loopback. It returns
// its address and stops when the test ends.
func LocalDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IPv4(127, 0, 0, 1)})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}
