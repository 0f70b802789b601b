package engine

import (
	"crypto/rand"
	"strconv"
	"time"

	"loopgate/codec"
	"loopgate/stats"
)

// exchangeLog is what metrics and the access log learn about a client's
// current exchange. It lives in the clientConn and is reused, so recording
// allocates nothing once its buffers have grown.
type exchangeLog struct {
	open                bool  // an exchange is being recorded; record ends it
	t0                  int64 // monoNow when its head arrived
	wall                time.Time
	status              int // sent to the client; 0 until a status line is out
	reason              stats.Reason
	bytesIn             int64
	bytesOut            int64
	pooled              bool                // the request reached a pool
	route               *stats.RouteStats   // the [[route]] that took it; nil: none
	bs                  *stats.BackendStats // backend of the last attempt
	connect             time.Duration       // dial time of a fresh upstream connection
	ttfb                time.Duration       // request sent to response head, last attempt
	upTime              time.Duration       // request sent to response complete, last attempt
	tunnel              stats.TunnelKind    // the exchange became a tunnel (tunnel.go)
	tunnelIn, tunnelOut int64               // the bytes it carried each way
	id                  []byte              // request ID
	method              []byte              // copies made only when an access log is on
	target              []byte
	agent               []byte
	referer             []byte
}

// begin resets x for an exchange that starts now, keeping the capacity of
// its buffers; wall is read only when an access log will print it.
func (x *exchangeLog) begin(wall bool) {
	*x = exchangeLog{open: true, t0: monoNow(), id: x.id[:0],
		method: x.method[:0], target: x.target[:0], agent: x.agent[:0], referer: x.referer[:0]}
	if wall {
		x.wall = time.Now()
	}
}

// emptied returns an empty log that keeps the capacity of x's buffers.
func (x *exchangeLog) emptied() exchangeLog {
	return exchangeLog{id: keep(x.id), method: keep(x.method), target: keep(x.target),
		agent: keep(x.agent), referer: keep(x.referer)}
}

// maxRequestID bounds a client's request ID that is kept as it is; a longer
// one is forwarded untouched but logged cut to this length.
const maxRequestID = 128

// beginExchange starts recording the exchange of the head r parsed from b.
// It runs on the loop, once per request, and allocates nothing once the
// connection's buffers have grown.
func (cc *clientConn) beginExchange(b []byte, r *codec.Request, n int) {
	x := &cc.log
	l := cc.l
	x.begin(l.alog != nil)
	x.bytesIn = int64(n)
	if name := l.s.reqIDName; len(name) > 0 {
		if v, ok := fieldValue(b, r.Fields(), name); ok {
			x.id = append(x.id, v[:min(len(v), maxRequestID)]...)
			l.genID = false
		} else {
			x.id = l.appendRequestID(x.id)
			l.genID = true
		}
	}
	if l.alog == nil {
		return
	}
	x.method = append(x.method, r.MethodRaw.Bytes(b)...)
	x.target = append(x.target, r.Target.Bytes(b)...)
	if l.s.logAgent {
		if v, ok := fieldValue(b, r.Fields(), userAgent); ok {
			x.agent = append(x.agent, v...)
		}
		if v, ok := fieldValue(b, r.Fields(), referer); ok {
			x.referer = append(x.referer, v...)
		}
	}
}

var (
	userAgent = []byte("User-Agent")
	referer   = []byte("Referer")
)

// beginBare starts recording an exchange whose head could not be parsed
// (or never arrived): the proxy answers it itself.
func (cc *clientConn) beginBare() {
	x := &cc.log
	x.begin(cc.l.alog != nil)
	if len(cc.l.s.reqIDName) > 0 {
		x.id = cc.l.appendRequestID(x.id)
	}
	if cc.c != nil {
		x.bytesIn = int64(cc.inboundBuffered())
	}
}

// record ends the current exchange: it goes to the metrics and, with an
// access log, into the loop's log buffer. It runs once per exchange, from
// whatever ended it, and does not allocate.
func (cc *clientConn) record() {
	x := &cc.log
	if !x.open {
		return
	}
	x.open = false
	cc.cacheFinish()
	if g := cc.inflight; g != nil {
		g.Release(cc.inflightKey)
		cc.inflight = nil
	}
	l := cc.l
	r := &l.rec
	*r = stats.Record{
		Time: x.wall, ClientIP: cc.ip, Method: x.method, Target: x.target, Minor: cc.minor,
		Status: x.status, BytesIn: x.bytesIn, BytesOut: x.bytesOut, Total: time.Duration(monoNow() - x.t0),
		Backend: x.bs, Connect: x.connect, TTFB: x.ttfb, Upstream: x.upTime, Retries: cc.attempts,
		RequestID: x.id, Reason: x.reason, UserAgent: x.agent, Referer: x.referer,
		Tunnel: x.tunnel, TunnelIn: x.tunnelIn, TunnelOut: x.tunnelOut,
	}
	r.Route = x.route
	if x.pooled {
		r.Pool = cc.lp.p.stats
	}
	l.s.st.Done(r)
	if l.alog != nil {
		l.alog.Append(r)
	}
}

// reasonFor is the reason recorded for an answer of the proxy's own when
// the code that chose the status did not give one.
func reasonFor(status int) stats.Reason {
	switch status {
	case 400, 501, 505:
		return stats.ReasonParse
	case 413, 414, 431:
		return stats.ReasonLimit
	case 408, 504:
		return stats.ReasonTimeout
	case 502:
		return stats.ReasonReset
	case 503:
		return stats.ReasonNoBackend
	}
	return stats.ReasonNone
}

// appendRequestID appends a new request ID: the loop's random prefix (48
// bits, fresh per process and loop) and its sequence number, 24 hex digits
// in all. It does not allocate when dst has room.
func (l *loop) appendRequestID(dst []byte) []byte {
	l.idSeq++
	dst = append(dst, l.idPrefix[:]...)
	for shift := 44; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(l.idSeq>>shift)&15])
	}
	return dst
}

const hexDigits = "0123456789abcdef"

func newIDPrefix() (p [12]byte) {
	var r [6]byte
	rand.Read(r[:])
	for i, c := range r {
		p[2*i], p[2*i+1] = hexDigits[c>>4], hexDigits[c&15]
	}
	return p
}

// appendIDField appends "<name>: <id>\r\n" for the current exchange, or
// nothing when request IDs are off.
func (cc *clientConn) appendIDField(dst []byte) []byte {
	name := cc.l.s.reqIDName
	if len(name) == 0 || len(cc.log.id) == 0 {
		return dst
	}
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, cc.log.id...)
	return append(dst, "\r\n"...)
}

// fieldValue returns the value of the first field named name (ASCII
// case-insensitive, RFC 9110 §5.1) among fs, parsed from b.
func fieldValue(b []byte, fs []codec.Field, name []byte) ([]byte, bool) {
	for i := range fs {
		if n := fs[i].Name.Bytes(b); len(n) == len(name) && equalFold(n, name) {
			return fs[i].Value.Bytes(b), true
		}
	}
	return nil, false
}

func equalFold(a, b []byte) bool {
	for i := range a {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// Seed-compatible endpoints answered on the proxy port (STYLE §6), rendered
// by stats so that they say what the admin listener says.
type seedKind uint8

const (
	seedNone seedKind = iota
	seedHealth
	seedMetrics
	seedStatus
)

// seedEndpoint reports which seed endpoint target names, query ignored.
func seedEndpoint(target []byte) seedKind {
	if len(target) < 3 || target[0] != '/' || target[1] != '_' || target[2] != '_' {
		return seedNone // Fast path: one or two comparisons for every proxied request.
	}
	path := target
	for i, c := range target {
		if c == '?' {
			path = target[:i]
			break
		}
	}
	switch string(path) {
	case "/__health__":
		return seedHealth
	case "/__metrics__":
		return seedMetrics
	case "/__status__":
		return seedStatus
	}
	return seedNone
}

// serveSeed answers seed endpoint k. The bodies are rendered on the loop:
// they are small, and these requests are rare and cold (they allocate, which
// the request path does not).
func (cc *clientConn) serveSeed(k seedKind) {
	if cc.method != codec.MethodGet && cc.method != codec.MethodHead {
		cc.answer(405, false)
		return
	}
	s := cc.l.s
	var body []byte
	status := 200
	switch k {
	case seedHealth:
		var ok bool
		body, ok = s.st.AppendSeedHealth(nil, s.Status())
		if !ok {
			status = 503
		}
	case seedMetrics:
		body = s.st.AppendSeedMetrics(nil)
	case seedStatus:
		body = s.st.AppendSeedStatus(nil, s.Status())
	}
	cc.answerBody(status, jsonType, noStore, body)
}

var (
	jsonType = []byte("application/json")
	noStore  = []byte("Cache-Control: no-store\r\n")
)

// answerBody writes a response of the proxy's own with a body of type ctype
// and extra field lines (a HEAD gets the head only, RFC 9110 §9.3.2), and
// moves to the next request.
func (cc *clientConn) answerBody(status int, ctype, fields, body []byte) {
	close := cc.closeAfter || cc.minor == 0 || !cc.reqDone || cc.l.s.draining.Load()
	l := cc.l
	h := append(l.scratch[:0], "HTTP/1.1 "...)
	h = strconv.AppendInt(h, int64(status), 10)
	h = append(h, ' ')
	h = append(h, codec.StatusText(status)...)
	h = append(h, "\r\nContent-Type: "...)
	h = append(h, ctype...)
	h = append(h, "\r\n"...)
	h = append(h, fields...)
	h = append(h, "Content-Length: "...)
	h = strconv.AppendInt(h, int64(len(body)), 10)
	h = append(h, "\r\n"...)
	if close {
		h = append(h, "Connection: close\r\n"...)
	}
	h = cc.appendIDField(h)
	h = append(h, "\r\n"...)
	if cc.method != codec.MethodHead {
		h = append(h, body...)
	}
	l.scratch = h
	cc.log.status = status
	cc.log.bytesOut += int64(len(h))
	if !cc.closed {
		_ = cc.writeOut(h)
	}
	cc.record()
	if close {
		cc.closeGracefully()
		return
	}
	cc.next()
}
