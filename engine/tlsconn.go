package engine

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// TLS on the event loops (docs/ARCHITECTURE.md, "TLS").
//
// A TLS client connection is one crypto/tls Conn over tlsTransport, an
// in-memory net.Conn the engine drives, in two phases:
//
//  1. Handshake: a goroutine per connection runs Handshake (the expensive
//     public-key operations stay off the loop, and a client sending its
//     ClientHello a byte a second stalls nobody). The loop copies what
//     gnet reads to the goroutine (tlsHandshake.feed) but consumes
//     nothing; the goroutine's writes go out with AsyncWrite. When
//     Handshake returns, the goroutine hands the connection back to the
//     loop with Execute, and the loop discards exactly the bytes
//     crypto/tls took: whatever the client sent after its Finished (a
//     request) is still in gnet's buffer.
//  2. Records: on the loop, Read and Write of the same tls.Conn never
//     block: the transport's Read returns errWouldBlock, a temporary
//     net.Error, when no whole record is buffered, and crypto/tls does not
//     make a temporary error sticky (readRecordOrCCS). Decrypted bytes go
//     to a plaintext buffer that the client state machine reads instead of
//     gnet's (clientConn.input); encrypted bytes are appended to the
//     loop's tlsOut and written to gnet in one call per write.
//
// A backend connection over TLS (a pool's [pool.tls]) is the same Conn in
// the client role. Its handshake runs in the goroutine that dialed it, on
// the dialed socket itself, before the socket joins the loop (Enroll): the
// transport reads that socket a record at a time, so whatever the backend
// sends after the handshake (TLS 1.3 session tickets, a response) is left
// in the kernel for gnet to read. Then the records run on the loop exactly
// as above.
//
// The transport hands crypto/tls one record at a time and only once the
// whole record has arrived, so between calls crypto/tls holds no input of
// its own: every byte of input is either ciphertext in gnet's buffer or
// plaintext in tlsConn.in. Flow control and the byte accounting therefore
// work as for plain connections.

// maxPlaintext is the largest record payload (RFC 8446 §5.1); a Read into
// at least this much room takes a whole record, so crypto/tls keeps no
// decrypted bytes back.
const maxPlaintext = 16 << 10

// maxCiphertext bounds a record's length field (RFC 5246 §6.2.3, the larger
// of TLS 1.2's and 1.3's): a longer one is handed over at once so that
// crypto/tls refuses it, instead of being waited for.
const maxCiphertext = maxPlaintext + 2048

// alpnACME is the protocol of an ACME TLS-ALPN-01 validation (RFC 8737
// §6.2), which a certificate store answers from GetConfigForClient.
const alpnACME = "acme-tls/1"

// recordHeader is a TLS record header's length.
const recordHeader = 5

// maxHandshakeInput bounds what a client may send before its handshake
// ends (a ClientHello with a post-quantum key share is under 2 KiB; a
// client that sends its request right after its Finished adds that): past
// it, the connection is not read until the handshake is over.
const maxHandshakeInput = 64 << 10

// errWouldBlock is the transport's "no whole record yet". Temporary, so
// crypto/tls returns it without failing the connection.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "engine: no whole TLS record buffered" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

var (
	errHandshakeAborted = errors.New("engine: TLS handshake aborted")
	errHandshaking      = errors.New("engine: TLS handshake in progress")
)

// tlsConn is the TLS state of one connection, a client's or a backend's.
// It is owned by the connection's loop, except hs's shared part during a
// client's handshake, and all of it during a backend's (the dialer's).
type tlsConn struct {
	conn  *tls.Conn
	tr    tlsTransport
	hs    *tlsHandshake // a client's: non-nil until the handshake is over
	owner tlsOwner      // told when the stream breaks

	in  []byte // decrypted input; in[off:] is not consumed yet. nil when empty (the loop's pool has it)
	off int
	eof bool // no more plaintext: close_notify, a FIN at a record boundary, or a broken stream

	peerNotified bool // the peer ended its stream with close_notify, not a bare FIN
	cut          bool // closing after a cut response: no close_notify, so the client cannot take it for whole
	notified     bool // close_notify sent
}

// tlsOwner is the connection a tlsConn belongs to.
type tlsOwner interface {
	// tlsBroken: a bad record or an alert ended the stream (t.eof is set).
	// The alert crypto/tls answered with, if any, is out.
	tlsBroken(err error)
}

// tlsHandshake is the part of a handshake the loop and the handshake's
// goroutine share.
type tlsHandshake struct {
	mu     sync.Mutex
	cond   sync.Cond
	buf    []byte // ciphertext fed by the loop, not yet read by crypto/tls
	eof    bool   // the client's FIN
	closed bool   // the loop gave up on the connection
	used   int    // bytes crypto/tls has read (under mu; the loop reads it when done)

	fed int // loop only: bytes of gnet's buffer copied to buf
}

// tlsTransport is the net.Conn under a tls.Conn. During a client's
// handshake it reads from hs and writes with AsyncWrite; during a
// backend's it reads and writes the dialed socket nc; after, it reads
// gnet's buffer and appends to the loop's tlsOut.
type tlsTransport struct {
	c   gnet.Conn // nil while a backend's handshake runs
	l   *loop
	hs  *tlsHandshake
	nc  net.Conn // a backend's handshake: the dialed socket
	rec int      // bytes of the current record not yet handed to crypto/tls
	fin bool     // a read found the stream's end: a FIN, not a close_notify

	hdr  [recordHeader]byte // nc: the current record's header,
	hdrN int                // of which hdr[hdrN:] is not handed over yet

	local, remote net.Addr
}

// startTLS starts the handshake of a client accepted on a TLS listener.
// It reports false when max_tls_handshakes are already running: the
// connection is then closed by the caller.
func (cc *clientConn) startTLS(cfg *tls.Config) bool {
	s := cc.l.s
	if s.handshakes.Add(1) > int64(s.cfg.MaxTLSHandshakes) {
		s.handshakes.Add(-1)
		s.tlsStats.Refused.Inc()
		return false
	}
	t := &tlsConn{hs: &tlsHandshake{}, owner: cc}
	t.hs.cond.L = &t.hs.mu
	t.tr = tlsTransport{c: cc.c, l: cc.l, hs: t.hs, local: cc.c.LocalAddr(), remote: cc.c.RemoteAddr()}
	t.conn = tls.Server(&t.tr, cfg)
	cc.tls = t
	l := cc.l
	go func() {
		err := t.conn.Handshake()
		l.execute(func() { cc.handshakeDone(t, err) })
	}()
	return true
}

// feedHandshake copies what gnet read since the last call to the
// handshake's goroutine. Nothing is consumed until the handshake is over.
func (cc *clientConn) feedHandshake() {
	hs := cc.tls.hs
	b, _ := cc.c.Peek(-1)
	eof := cc.c.ReadEOF()
	hs.mu.Lock()
	if len(b) > hs.fed {
		hs.buf = append(hs.buf, b[hs.fed:]...)
		hs.fed = len(b)
	}
	hs.eof = eof
	hs.cond.Signal()
	hs.mu.Unlock()
	if len(b) >= maxHandshakeInput {
		cc.pauseRead()
	}
}

// abort wakes a handshake the loop gave up on (timeout, close).
func (hs *tlsHandshake) abort() {
	hs.mu.Lock()
	hs.closed = true
	hs.cond.Signal()
	hs.mu.Unlock()
}

// handshakeDone runs on the loop when the handshake's goroutine is done: on
// success the connection starts reading requests from what the client sent
// after its handshake.
func (cc *clientConn) handshakeDone(t *tlsConn, err error) {
	s := cc.l.s
	s.handshakes.Add(-1)
	if cc.closed || cc.tls != t {
		return // timed out or reset; counted there
	}
	hs := t.hs
	hs.mu.Lock()
	used := hs.used
	hs.mu.Unlock()
	if err != nil {
		s.tlsStats.Failed.Inc()
		s.log.Debug("TLS handshake failed", "client", string(cc.ip), "err", err)
		cc.closeNow() // an alert crypto/tls sent went out first (AsyncWrite)
		return
	}
	t.hs, t.tr.hs = nil, nil
	cc.c.Discard(used)
	st := t.conn.ConnectionState()
	if st.DidResume {
		s.tlsStats.Resumed.Inc()
	} else {
		s.tlsStats.Full.Inc()
	}
	if st.NegotiatedProtocol == alpnACME {
		cc.closeIdle() // a TLS-ALPN-01 validation carries no data (RFC 8737 §3)
		return
	}
	cc.l.arm(&cc.timer, timerClientHeader)
	cc.resumeRead()
	cc.serve()
}

// handshakeTimedOut ends a handshake that took longer than tls_handshake.
func (cc *clientConn) handshakeTimedOut() {
	cc.l.s.tlsStats.Timeout.Inc()
	cc.l.s.log.Debug("TLS handshake timeout", "client", string(cc.ip))
	cc.closeNow()
}

// wire is a connection's socket and, over TLS, its record layer. The client
// and upstream state machines read their input only through input, consume,
// inboundBuffered and readEOF, and write through writeOut, so a TLS
// connection costs the plain path one branch each.
type wire struct {
	c   gnet.Conn
	tls *tlsConn // nil: plain
}

// input returns the unconsumed bytes gnet holds (read now or earlier and
// left there), or over TLS the decrypted ones. They are valid until
// consume or the callback's end.
func (w *wire) input() []byte {
	if t := w.tls; t != nil {
		return t.input()
	}
	b, _ := w.c.Peek(-1)
	return b
}

func (w *wire) consume(n int) {
	if t := w.tls; t != nil {
		t.consume(n)
		return
	}
	w.c.Discard(n)
}

// inboundBuffered counts the input read and not consumed: gnet's buffer
// (ciphertext, over TLS) and the decrypted bytes.
func (w *wire) inboundBuffered() int {
	if t := w.tls; t != nil {
		return t.buffered()
	}
	return w.c.InboundBuffered()
}

// readEOF reports that no more input will come beyond what is buffered: the
// peer's FIN, or over TLS its close_notify, a FIN with no whole record left,
// or a broken stream.
func (w *wire) readEOF() bool {
	if t := w.tls; t != nil {
		return t.readEOF()
	}
	return w.c.ReadEOF()
}

// writeOut writes p, encrypted over TLS.
func (w *wire) writeOut(p []byte) error {
	if t := w.tls; t != nil {
		return t.write(p)
	}
	_, err := w.c.Write(p)
	return err
}

// input returns the decrypted bytes not consumed yet, decrypting first what
// gnet holds. They are valid until consume or the callback's end.
func (t *tlsConn) input() []byte {
	if err := t.fill(); err != nil {
		t.owner.tlsBroken(err)
	}
	return t.in[t.off:]
}

func (t *tlsConn) consume(n int) { t.off += n }

// buffered counts the input in hand: ciphertext in gnet's buffer and the
// decrypted bytes not consumed.
func (t *tlsConn) buffered() int { return t.tr.c.InboundBuffered() + len(t.in) - t.off }

// readEOF reports that no more plaintext will come beyond what is in hand:
// close_notify, a FIN with no whole record left, or a broken stream.
func (t *tlsConn) readEOF() bool {
	c := t.tr.c
	return t.eof || c.ReadEOF() && c.InboundBuffered() == 0
}

// fill decrypts the records gnet holds into t.in while there is room for a
// whole record under the bound. It never blocks. A broken stream (bad
// record, alert) ends the input and is returned, once.
func (t *tlsConn) fill() error {
	if t.hs != nil || t.eof {
		return nil
	}
	l, c := t.tr.l, t.tr.c
	limit := l.gen.tlsIn
	l.tlsOut = l.tlsOut[:0]
	var broken error
	for {
		if !t.recordReady() && !c.ReadEOF() {
			break // crypto/tls would find nothing to do: skip its call
		}
		if cap(t.in)-len(t.in) < maxPlaintext {
			if t.in == nil {
				t.in = l.takeTLSBuf()
			} else if t.off > 0 {
				n := copy(t.in, t.in[t.off:])
				t.in, t.off = t.in[:n], 0
			}
			if len(t.in) >= limit || cap(t.in)-len(t.in) < maxPlaintext {
				break // full: the rest waits in gnet's buffer
			}
		}
		n, err := t.conn.Read(t.in[len(t.in):cap(t.in)])
		t.in = t.in[:len(t.in)+n]
		if err == nil {
			continue
		}
		if err == errWouldBlock {
			break
		}
		t.eof = true
		if err == io.EOF {
			t.peerNotified = !t.tr.fin
		} else {
			broken = err // the alert crypto/tls answers with, if any, goes out first
		}
		break
	}
	_ = t.flush() // key updates and alerts crypto/tls wrote while reading
	if t.off == len(t.in) && broken == nil {
		t.dropIn()
	}
	return broken
}

// recordReady reports whether gnet holds a whole record (or the header of
// one too long to be valid, which crypto/tls must refuse).
func (t *tlsConn) recordReady() bool {
	c := t.tr.c
	n := c.InboundBuffered()
	if n < recordHeader {
		return false
	}
	h, _ := c.Peek(recordHeader)
	need := recordHeader + (int(h[3])<<8 | int(h[4]))
	return n >= need || need > recordHeader+maxCiphertext
}

// flush writes the records crypto/tls appended to the loop's tlsOut.
func (t *tlsConn) flush() error {
	l := t.tr.l
	if len(l.tlsOut) == 0 {
		return nil
	}
	_, err := t.tr.c.Write(l.tlsOut)
	l.tlsOut = l.tlsOut[:0]
	if cap(l.tlsOut) > maxKeptTLSOut {
		l.tlsOut = nil
	}
	return err
}

// maxKeptTLSOut bounds the ciphertext buffer a loop keeps between writes.
const maxKeptTLSOut = 256 << 10

// dropIn gives an empty plaintext buffer back to the loop, so an idle
// connection holds none. Only where no caller can still hold input of the
// connection (the start of a read in fill, the end of serve or pump): the
// next connection to fill would write over it.
func (t *tlsConn) dropIn() {
	if t.in == nil {
		return
	}
	t.tr.l.tlsBufs = append(t.tr.l.tlsBufs, t.in[:0])
	t.in, t.off = nil, 0
}

// dropInIfDrained is dropIn once every decrypted byte is consumed.
func (t *tlsConn) dropInIfDrained() {
	if t.in != nil && t.off == len(t.in) {
		t.dropIn()
	}
}

// forgetIn drops the plaintext buffer without giving it back: input a
// caller may still hold (closing in the middle of an exchange) stays
// intact, and the garbage collector takes it.
func (t *tlsConn) forgetIn() { t.in, t.off = nil, 0 }

// takeTLSBuf returns an empty plaintext buffer of the generation's size.
func (l *loop) takeTLSBuf() []byte {
	want := l.gen.tlsIn + maxPlaintext
	for n := len(l.tlsBufs); n > 0; n = len(l.tlsBufs) {
		b := l.tlsBufs[n-1]
		l.tlsBufs = l.tlsBufs[:n-1]
		if cap(b) == want {
			return b
		}
	}
	return make([]byte, 0, want)
}

// write encrypts p and writes the records in one call.
func (t *tlsConn) write(p []byte) error {
	if t.hs != nil {
		return errHandshaking // nothing is written before the handshake ends
	}
	t.tr.l.tlsOut = t.tr.l.tlsOut[:0]
	if _, err := t.conn.Write(p); err != nil {
		return err
	}
	return t.flush()
}

// writev is write of the pieces in bs: small pieces share records (a head
// and the first body bytes are one record, not two).
func (t *tlsConn) writev(bs [][]byte) error {
	if t.hs != nil {
		return errHandshaking
	}
	l := t.tr.l
	l.tlsOut = l.tlsOut[:0]
	p := l.tlsPlain[:0]
	var err error
	for _, b := range bs {
		if len(p)+len(b) <= maxPlaintext {
			p = append(p, b...)
			continue
		}
		if len(p) > 0 {
			if _, err = t.conn.Write(p); err != nil {
				break
			}
			p = p[:0]
		}
		if len(b) < maxPlaintext {
			p = append(p, b...)
		} else if _, err = t.conn.Write(b); err != nil {
			break
		}
	}
	if err == nil && len(p) > 0 {
		_, err = t.conn.Write(p)
	}
	l.tlsPlain = p[:0]
	if err != nil {
		l.tlsOut = l.tlsOut[:0]
		return err
	}
	return t.flush()
}

// closeNotify sends close_notify (RFC 8446 §6.1) before a clean close: the
// peer can then tell the end of a close-delimited message from a cut. Not
// after a cut, not during a handshake, once.
func (t *tlsConn) closeNotify() {
	if t.hs != nil || t.cut || t.notified {
		return
	}
	t.notified = true
	l := t.tr.l
	l.tlsOut = l.tlsOut[:0]
	if t.conn.CloseWrite() == nil {
		_ = t.flush()
	}
	l.tlsOut = l.tlsOut[:0]
}

// The client connection's TLS, as client.go calls it.

func (cc *clientConn) tlsBroken(err error) {
	cc.l.s.log.Debug("TLS record error", "client", string(cc.ip), "err", err)
	cc.closeNow()
}

// closeNotify: see tlsConn.closeNotify; not on a closed connection.
func (cc *clientConn) closeNotify() {
	if cc.tls != nil && !cc.closed {
		cc.tls.closeNotify()
	}
}

// markCut records that the connection closes in the middle of a response.
func (cc *clientConn) markCut() {
	if cc.tls != nil {
		cc.tls.cut = true
	}
}

// shutTLS ends the TLS state of a closed connection: a handshake in flight
// is woken so its goroutine ends.
func (cc *clientConn) shutTLS() {
	t := cc.tls
	if t.hs != nil {
		t.hs.abort()
	}
	t.forgetIn()
}

// Read hands crypto/tls the next piece of the current record. On the loop
// it starts a record only once all of it is in gnet's buffer and copies
// straight from there (no Peek of the whole buffer per record).
func (tr *tlsTransport) Read(p []byte) (int, error) {
	if tr.hs != nil {
		return tr.hs.read(p, &tr.rec)
	}
	if tr.nc != nil {
		return tr.readSocket(p)
	}
	c := tr.c
	buffered := c.InboundBuffered()
	if tr.rec == 0 {
		if buffered < recordHeader {
			return 0, tr.endOr(buffered, c.ReadEOF())
		}
		h, _ := c.Peek(recordHeader)
		n := recordHeader + (int(h[3])<<8 | int(h[4]))
		if n <= recordHeader+maxCiphertext && buffered < n {
			return 0, tr.endOr(buffered, c.ReadEOF())
		}
		tr.rec = n
	}
	k := min(len(p), tr.rec, buffered)
	if k == 0 {
		return 0, tr.endOr(buffered+1, c.ReadEOF()) // inside a record: an end is a truncation
	}
	k, _ = c.Read(p[:k])
	tr.rec -= k
	return k, nil
}

// endOr is endOr, noting a clean end of the stream (a FIN at a record
// boundary) so that it can be told from close_notify.
func (tr *tlsTransport) endOr(buffered int, eof bool) error {
	err := endOr(buffered, eof)
	if err == io.EOF {
		tr.fin = true
	}
	return err
}

// readSocket is Read during a backend's handshake: a blocking read of the
// dialed socket that never takes a byte past the current record, so what
// the backend sends after its handshake stays in the kernel for gnet.
func (tr *tlsTransport) readSocket(p []byte) (int, error) {
	if tr.rec == 0 {
		if _, err := io.ReadFull(tr.nc, tr.hdr[:]); err != nil {
			return 0, err // io.EOF at a record boundary, io.ErrUnexpectedEOF inside a header
		}
		tr.hdrN = 0
		tr.rec = recordHeader + (int(tr.hdr[3])<<8 | int(tr.hdr[4]))
	}
	if tr.hdrN < recordHeader {
		k := copy(p, tr.hdr[tr.hdrN:])
		tr.hdrN += k
		tr.rec -= k
		return k, nil
	}
	k, err := tr.nc.Read(p[:min(len(p), tr.rec)])
	tr.rec -= k
	if err == io.EOF && k == 0 {
		err = io.ErrUnexpectedEOF // inside a record
	}
	return k, err
}

// nextPiece copies to p the next bytes of b that belong to the current
// record (rec: its bytes not handed over yet). The handshake hands a
// record's header over as soon as it is there, so that a client that
// sends no TLS at all is refused at once, and never a byte past the
// record: what crypto/tls has read is then exactly what it has used.
func nextPiece(b, p []byte, rec *int, eof bool) (int, error) {
	if *rec == 0 {
		if len(b) < recordHeader {
			return 0, endOr(len(b), eof)
		}
		*rec = recordHeader + (int(b[3])<<8 | int(b[4]))
	}
	k := copy(p, b[:min(len(b), *rec)])
	*rec -= k
	if k == 0 {
		return 0, endOr(len(b)+1, eof) // inside a record: an end is a truncation
	}
	return k, nil
}

// endOr is what a read that found nothing to hand over returns: wait for
// more, or the end of the stream: a clean EOF only with nothing of a record
// in hand (buffered counts what is, or the record already begun).
func endOr(buffered int, eof bool) error {
	switch {
	case !eof:
		return errWouldBlock
	case buffered == 0:
		return io.EOF
	default:
		return io.ErrUnexpectedEOF
	}
}

// read is the handshake goroutine's blocking Read.
func (hs *tlsHandshake) read(p []byte, rec *int) (int, error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for {
		if hs.closed {
			return 0, errHandshakeAborted
		}
		k, err := nextPiece(hs.buf, p, rec, hs.eof)
		if k > 0 {
			hs.buf = hs.buf[:copy(hs.buf, hs.buf[k:])]
			hs.used += k
			return k, nil
		}
		if err != errWouldBlock {
			return 0, err
		}
		hs.cond.Wait()
	}
}

// Write sends records: during a client's handshake with AsyncWrite (a
// copy: crypto/tls reuses its buffer), during a backend's to the socket,
// after it into the loop's tlsOut.
func (tr *tlsTransport) Write(p []byte) (int, error) {
	switch {
	case tr.hs != nil:
		if err := tr.c.AsyncWrite(append([]byte(nil), p...), nil); err != nil {
			return 0, err
		}
		return len(p), nil
	case tr.nc != nil:
		return tr.nc.Write(p)
	}
	tr.l.tlsOut = append(tr.l.tlsOut, p...)
	return len(p), nil
}

// Close wakes a handshake; after it the loop closes the socket itself.
func (tr *tlsTransport) Close() error {
	if hs := tr.hs; hs != nil {
		hs.abort()
	}
	return nil
}

func (tr *tlsTransport) LocalAddr() net.Addr  { return tr.local }
func (tr *tlsTransport) RemoteAddr() net.Addr { return tr.remote }

// Deadlines are the engine's timers (tls_handshake, client_header, ...);
// a backend's handshake has the dialed socket's own.
func (tr *tlsTransport) SetDeadline(time.Time) error      { return nil }
func (tr *tlsTransport) SetReadDeadline(time.Time) error  { return nil }
func (tr *tlsTransport) SetWriteDeadline(time.Time) error { return nil }
