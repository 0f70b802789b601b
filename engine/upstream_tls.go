package engine

import (
	"crypto/tls"
	"net"
	"time"
)

// Backends over TLS (Pool.TLS, docs/TLS.md "Backends over TLS"). The
// handshake runs in the dialing goroutine, on the dialed socket and within
// upstream_connect, as nginx's proxy_connect_timeout covers its SSL
// handshake; the loop never waits for it. The connection then joins the
// loop with its tlsConn, whose records run there like a TLS client's
// (tlsconn.go), and is pooled like a plain one.

// handshakeError is a failed TLS handshake with a backend: a connect
// failure (nothing of the request was sent), named as such.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// handshaker returns the dialer's handshake step for u with cfg (a
// backend's, from certs.ForAddr). It runs in the dialing goroutine; the
// loop takes the result in onOpen, after Enroll.
func (u *upConn) handshaker(cfg *tls.Config) func(net.Conn, time.Time) error {
	return func(nc net.Conn, deadline time.Time) error {
		t := &tlsConn{owner: u}
		t.tr = tlsTransport{nc: nc, local: nc.LocalAddr(), remote: nc.RemoteAddr()}
		t.conn = tls.Client(&t.tr, cfg)
		_ = nc.SetDeadline(deadline)
		err := t.conn.Handshake()
		_ = nc.SetDeadline(time.Time{})
		t.tr.nc = nil
		if err != nil {
			return &handshakeError{err}
		}
		u.dialTLS = t
		return nil
	}
}

// attachTLS moves a backend's TLS onto the loop once its socket has joined.
func (u *upConn) attachTLS(t *tlsConn) {
	t.tr.c, t.tr.l = u.c, u.l
	u.tls = t
	ps := u.lp.p.stats
	if t.conn.ConnectionState().DidResume {
		ps.TLSResumed.Inc()
	} else {
		ps.TLSFull.Inc()
	}
}

// idleRecords takes what a pooled TLS connection received while idle and
// reports whether it may stay pooled: a TLS 1.3 backend sends session
// tickets after its handshake (RFC 8446 §4.6.1), which can arrive after
// the response they follow; those are handshake records, and no data.
// Anything else (data, close_notify, a FIN, a bad record) ends it.
func (u *upConn) idleRecords() bool {
	t := u.tls
	if len(t.input()) > 0 || t.readEOF() {
		return false
	}
	t.dropIn()
	return true
}

// tlsBroken: a bad record or an alert from the backend. The stream cannot
// go on, as after a reset: the socket is closed, and the exchange on it,
// if any, ends as for a reset (readEOF is true, cleanEOF false).
func (u *upConn) tlsBroken(err error) {
	u.l.s.log.Debug("TLS record error from backend", "backend", u.addr(), "err", err)
	_ = u.tls.tr.c.Close()
}
