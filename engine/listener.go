package engine

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/panjf2000/gnet/v2/pkg/socket"
	"golang.org/x/sys/unix"

	"loopgate/codec"
	"loopgate/route"
	"loopgate/stats"
)

// Listener is one address the proxy takes clients on. Every listener feeds
// the same routes and pools; they differ in how a client speaks to them.
type Listener struct {
	Address string // host:port (required)
	// TLS, when not nil, makes this a TLS listener: the engine terminates
	// TLS on the event loops (docs/ARCHITECTURE.md, "TLS"). It must offer a
	// certificate (Certificates, GetCertificate or GetConfigForClient). New
	// adjusts it in place, before any handshake uses it (prepareTLS), and
	// then uses it as it is: the session ticket keys a certificate store
	// sets on it later, and whatever its GetCertificate returns, apply to
	// every new handshake. Do not change other fields once Run has started.
	TLS *tls.Config
	// RedirectHTTPS, on a plain listener, answers every request with 308 to
	// the same host, path and query over https (RFC 9110 §15.4.9), except
	// ACME HTTP-01 challenges (Config.ACMEChallenge) (default false).
	RedirectHTTPS bool
	// HTTPSPort is the port the redirect names; 443 is left out of the
	// Location (default 443).
	HTTPSPort int
}

// listener is a Listener as the loops use it.
type listener struct {
	Listener
	tls      *tls.Config  // the clone the handshakes use; nil: plain
	scheme   []byte       // "http" or "https": X-Forwarded-Proto and $scheme
	portPart []byte       // ":<HTTPSPort>" for the redirect, "" for 443
	network  string       // gnet's name for it, for DupListener
	key      *net.TCPAddr // Address resolved as gnet resolves it: its connections' LocalAddr
	bound    *net.TCPAddr
}

// DefaultHTTPSPort is Listener.HTTPSPort's default.
const DefaultHTTPSPort = 443

var (
	schemeHTTP  = protoHTTP
	schemeHTTPS = []byte("https")
)

// newListeners checks the configured listeners and prepares them: TLS
// configs get what the engine needs (prepareTLS). Cold path.
func newListeners(cfg *Config) ([]*listener, error) {
	in := cfg.Listeners
	if len(in) == 0 {
		in = []Listener{{Address: cfg.Listen}}
	}
	out := make([]*listener, 0, len(in))
	for i, l := range in {
		if l.Address == "" {
			return nil, fmt.Errorf("cannot listen: listener %d has no address", i)
		}
		for _, o := range out {
			if o.Address == l.Address {
				// Port 0 too: gnet tells listeners apart by address.
				return nil, fmt.Errorf("cannot listen on %s twice", l.Address)
			}
		}
		ln := &listener{Listener: l, scheme: schemeHTTP, network: "tcp"}
		_, _, key, _, err := socket.GetTCPSockAddr(ln.network, l.Address)
		if err != nil {
			return nil, fmt.Errorf("cannot listen on %s: %w", l.Address, err)
		}
		ln.key = key
		if l.TLS != nil {
			if l.RedirectHTTPS {
				return nil, fmt.Errorf("cannot redirect to https from %s: it is a TLS listener", l.Address)
			}
			if len(l.TLS.Certificates) == 0 && l.TLS.GetCertificate == nil && l.TLS.GetConfigForClient == nil {
				return nil, fmt.Errorf("cannot serve TLS on %s: no certificate", l.Address)
			}
			prepareTLS(l.TLS)
			ln.tls = l.TLS
			ln.scheme = schemeHTTPS
		}
		if ln.HTTPSPort == 0 {
			ln.HTTPSPort = DefaultHTTPSPort
		}
		if ln.HTTPSPort < 1 || ln.HTTPSPort > 65535 {
			return nil, fmt.Errorf("cannot redirect to https port %d: want 1..65535", ln.HTTPSPort)
		}
		if ln.HTTPSPort != DefaultHTTPSPort {
			ln.portPart = strconv.AppendInt([]byte{':'}, int64(ln.HTTPSPort), 10)
		}
		out = append(out, ln)
	}
	return out, nil
}

// prepareTLS sets what the engine needs on a listener's config, in place
// rather than on a clone, so that the session ticket keys a certificate
// store rotates on it (SetSessionTicketKeys) are the ones the handshakes
// use. ALPN selects http/1.1, or http/1.0 for a client that offers only
// that (curl --http1.0; nginx does the same): crypto/tls refuses a client
// whose list has nothing in common with ours. h2 is dropped from the list;
// other protocols are kept for whoever answers them (acme-tls/1 comes from
// GetConfigForClient, and such a connection is closed after its
// handshake). Dynamic record sizing is off: the engine encrypts a whole
// write and hands the records to the socket in one call, so small first
// records would buy no latency and cost one seal and 22 bytes each. A
// version floor and a suite list are set only when the config has none.
// Idempotent; call it before any handshake uses c.
func prepareTLS(c *tls.Config) {
	protos := []string{"http/1.1", "http/1.0"}
	for _, p := range c.NextProtos {
		if !slices.Contains(protos, p) && p != "h2" {
			protos = append(protos, p)
		}
	}
	c.NextProtos = protos
	c.DynamicRecordSizingDisabled = true
	if c.CipherSuites == nil {
		c.CipherSuites = aeadSuites
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
}

// aeadSuites are the TLS 1.2 suites offered unless the config names its
// own: forward secrecy and AEAD only (Mozilla's "intermediate" profile).
// Go's default list adds the CBC ones, which testssl.sh reports as
// obsolete (LUCKY13); no client that can do TLS 1.2 needs them. TLS 1.3's
// suites are not configurable and all AEAD.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// addrs is what gnet binds: "tcp://host:port" per listener.
func (s *Server) gnetAddrs() []string {
	a := make([]string, len(s.lns))
	for i, ln := range s.lns {
		a[i] = ln.network + "://" + ln.Address
	}
	return a
}

// bindAddrs records the address each listener bound (port 0 picks one).
func (s *Server) bindAddrs() {
	for _, ln := range s.lns {
		fd, err := s.eng.DupListener(ln.network, ln.Address)
		if err != nil {
			continue
		}
		if sa, err := unix.Getsockname(fd); err == nil {
			ln.bound = sockaddrToTCP(sa)
		}
		unix.Close(fd)
	}
	if a := s.lns[0].bound; a != nil {
		s.addr.Store(a)
	}
}

// ListenerAddrs returns the bound address of each listener, in the order
// of Config.Listeners (a nil entry did not bind). Valid after Ready.
func (s *Server) ListenerAddrs() []net.Addr {
	out := make([]net.Addr, len(s.lns))
	for i, ln := range s.lns {
		if ln.bound != nil {
			out[i] = ln.bound
		}
	}
	return out
}

// listenerOf finds the listener an accepted connection came through. gnet
// gives every connection its listener's configured address as LocalAddr
// (not the socket's, which would cost a getsockname per accept), so it is
// matched against the same resolution of each listener's address. One
// listener: no lookup. Once per accept.
func (s *Server) listenerOf(local net.Addr) *listener {
	if len(s.lns) == 1 {
		return s.lns[0]
	}
	if a, ok := local.(*net.TCPAddr); ok {
		for _, ln := range s.lns {
			if k := ln.key; k != nil && k.Port == a.Port && k.IP.Equal(a.IP) {
				return ln
			}
		}
	}
	return s.lns[0]
}

// acmePrefix is where ACME HTTP-01 challenges are asked (RFC 8555 §8.3).
var acmePrefix = []byte("/.well-known/acme-challenge/")

// acmeType is what an HTTP-01 answer carries: the key authorization, as
// bytes (RFC 8555 §8.3 shows no type; Let's Encrypt's own client sends
// this one).
var acmeType = []byte("application/octet-stream")

// serveACME answers an ACME HTTP-01 challenge for the head b[:n] on a plain
// listener when Config.ACMEChallenge knows its token, and reports whether
// it did. An unknown token goes on like any request.
func (cc *clientConn) serveACME(b []byte, r *codec.Request, n int) bool {
	f := cc.l.s.cfg.ACMEChallenge
	if f == nil || cc.ln.tls != nil || (r.Method != codec.MethodGet && r.Method != codec.MethodHead) {
		return false
	}
	path, _ := targetParts(b, r)
	if !bytes.HasPrefix(path, acmePrefix) {
		return false
	}
	token := path[len(acmePrefix):]
	if len(token) == 0 || bytes.IndexByte(token, '/') >= 0 {
		return false
	}
	body, ok := f(string(token))
	if !ok {
		return false
	}
	cc.consume(n)
	cc.answerBody(200, acmeType, noStore, body)
	return true
}

// redirectHTTPS answers the head b[:n] on a redirecting plain listener
// with 308 to https (RFC 9110 §15.4.9: the method and body stay as they
// are on the new request), same host, path and query. The host comes from
// the Host field (or the absolute-form target), port dropped; one that is
// not a plain name or address gets 400 rather than a Location built from
// it.
func (cc *clientConn) redirectHTTPS(b []byte, r *codec.Request, n int) {
	l := cc.l
	cc.consume(n)
	l.hostBuf = route.NormalizeHost(l.hostBuf[:0], r.EffectiveHost(b))
	if !validRedirectHost(l.hostBuf) {
		cc.log.reason = stats.ReasonParse
		cc.answer(400, true)
		return
	}
	path, query := targetParts(b, r)
	if len(path) == 0 || path[0] != '/' {
		path = slash // OPTIONS *
	}
	f := append(l.fields[:0], "Location: https://"...)
	f = append(f, l.hostBuf...)
	f = append(f, cc.ln.portPart...)
	f = append(f, path...)
	if query != nil {
		f = append(append(f, '?'), query...)
	}
	l.fields = append(f, "\r\n"...)
	cc.answerWith(308, false, l.fields)
}

// validRedirectHost accepts a DNS name or IPv4 address (letters, digits,
// '-', '.', '_') or a bracketed IPv6 literal: what may follow "https://"
// in a Location without changing what it means.
func validRedirectHost(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	if h[0] == '[' {
		if h[len(h)-1] != ']' {
			return false
		}
		_, err := netipParse(h[1 : len(h)-1])
		return err == nil
	}
	return !slices.ContainsFunc(h, func(c byte) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_')
	})
}

var errNotIPv6 = errors.New("not an IPv6 address")

// netipParse parses an IPv6 literal (zones refused: they mean nothing to
// another host).
func netipParse(b []byte) (net.IP, error) {
	ip := net.ParseIP(string(b))
	if ip == nil || ip.To4() != nil && !bytes.Contains(b, []byte{':'}) {
		return nil, errNotIPv6
	}
	return ip, nil
}
