package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on what a request may ask for.
const (
	maxDelay  = 60 * time.Second
	maxBytes  = 1 << 30
	maxAge    = 1<<31 - 1 // the largest delta-seconds caches must accept (RFC 9111 §1.2.2)
	maxTextKB = 64 << 10  // /text answers at most 64 MiB
)

// Backend answers the demo endpoints. Make it with newBackend, set the
// exported fields before serving and leave them alone afterwards; the counters and the failing switch are
// atomic, so ServeHTTP is safe from any number of goroutines.
type Backend struct {
	Name     string        // reported in every body and in the X-Backend header
	Port     int           // reported by /info
	Latency  time.Duration // slept before answering any request
	FailRate float64       // fraction of requests answered 500, except /health* and /info
	Log      *slog.Logger  // one line per request; nil logs nothing

	started time.Time
	served  atomic.Int64
	failing atomic.Bool // /health answers 503
	cached  sync.Map    // path?query -> *cacheCount, for /cache
}

// SetFailing turns the failing mode of /health on or off.
func (b *Backend) SetFailing(on bool) { b.failing.Store(on) }

// ServeHTTP counts, delays, maybe fails and then routes the request. Paths are
// matched exactly and never cleaned or redirected, so / reports any path as it
// arrived.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.served.Add(1)
	if r.URL.Path == "/ws" {
		b.ws(w, r) // needs the connection itself (http.Hijacker), not a recorder
		return
	}
	w.Header().Set("X-Backend", b.Name)
	if b.Log == nil {
		b.route(w, r)
		return
	}
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	b.route(rec, r)
	b.Log.Info("request", "method", r.Method, "uri", r.RequestURI, "status", rec.status,
		"bytes", rec.bytes, "remote", r.RemoteAddr, "took", time.Since(start))
}

// newBackend returns a Backend whose uptime starts now.
func newBackend(name string, port int) *Backend {
	return &Backend{Name: name, Port: port, started: time.Now()}
}

func (b *Backend) route(w http.ResponseWriter, r *http.Request) {
	if b.Latency > 0 && !sleep(r.Context(), b.Latency) {
		return // the client went away
	}
	path := r.URL.Path
	exempt := path == "/health" || path == "/health/fail" || path == "/info"
	if !exempt && b.FailRate > 0 && rand.Float64() < b.FailRate {
		b.writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "injected failure", "name": b.Name})
		return
	}
	switch path {
	case "/health":
		b.health(w)
	case "/health/fail":
		b.healthFail(w, r)
	case "/info":
		b.info(w)
	case "/delay":
		b.delay(w, r)
	case "/status":
		b.status(w, r)
	case "/bytes":
		b.bytes(w, r)
	case "/echo":
		b.echo(w, r)
	case "/cache":
		b.cache(w, r)
	case "/text":
		b.text(w, r)
	default:
		b.report(w, r, http.StatusOK)
	}
}

// health answers {"status":"healthy"} with 200, or "unhealthy" with 503 while
// the failing mode is on.
func (b *Backend) health(w http.ResponseWriter) {
	if b.failing.Load() {
		b.writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unhealthy", "name": b.Name})
		return
	}
	b.writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "name": b.Name})
}

// healthFail switches the failing mode at run time, for failover demos:
// POST or PUT turns it on, DELETE turns it off, GET reports it.
func (b *Backend) healthFail(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost, http.MethodPut:
		b.failing.Store(true)
	case http.MethodDelete:
		b.failing.Store(false)
	case http.MethodGet, http.MethodHead:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, DELETE")
		b.writeError(w, http.StatusMethodNotAllowed, "use POST to fail /health, DELETE to recover")
		return
	}
	b.writeJSON(w, http.StatusOK, map[string]any{"name": b.Name, "failing": b.failing.Load()})
}

func (b *Backend) info(w http.ResponseWriter) {
	b.writeJSON(w, http.StatusOK, map[string]any{
		"name":           b.Name,
		"port":           b.Port,
		"pid":            os.Getpid(),
		"started":        b.started.UTC().Format(time.RFC3339),
		"uptime_seconds": time.Since(b.started).Seconds(),
		"requests":       b.served.Load(),
	})
}

// delay sleeps ?ms=N milliseconds (0..60000), then answers like /.
func (b *Backend) delay(w http.ResponseWriter, r *http.Request) {
	ms, ok := b.intParam(w, r, "ms", 0, maxDelay.Milliseconds())
	if !ok {
		return
	}
	if !sleep(r.Context(), time.Duration(ms)*time.Millisecond) {
		return
	}
	b.report(w, r, http.StatusOK)
}

// status answers like / with the status ?code=N (200..599).
func (b *Backend) status(w http.ResponseWriter, r *http.Request) {
	code, ok := b.intParam(w, r, "code", 200, 599)
	if !ok {
		return
	}
	b.report(w, r, int(code))
}

// bytes streams ?n=N bytes (0..1 GiB) of the pattern that fillPattern
// describes: with Content-Length, or with ?chunked=1 chunked and flushed after
// every write. With ?max_age=S (0..2^31-1) it says Cache-Control: max-age=S, so
// a cache in front may store it (the perf harness's cache scenarios); without
// it, it says nothing about caching. It allocates one 64 KiB buffer per request.
func (b *Backend) bytes(w http.ResponseWriter, r *http.Request) {
	n, ok := b.intParam(w, r, "n", 0, maxBytes)
	if !ok {
		return
	}
	age := int64(-1)
	if r.URL.Query().Has("max_age") {
		if age, ok = b.intParam(w, r, "max_age", 0, maxAge); !ok {
			return
		}
	}
	chunked := false
	if s := r.URL.Query().Get("chunked"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			b.writeError(w, http.StatusBadRequest, "cannot parse chunked="+strconv.Quote(s)+": want 0 or 1")
			return
		}
		chunked = v
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if age >= 0 {
		h.Set("Cache-Control", "max-age="+strconv.FormatInt(age, 10))
	}
	if !chunked {
		h.Set("Content-Length", strconv.FormatInt(n, 10))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	if chunked {
		// Send the head now: even n=0 is then chunked rather than
		// Content-Length: 0, and the client sees headers before the body.
		if rc.Flush() != nil {
			return
		}
	}
	buf := make([]byte, 64<<10)
	for off := int64(0); off < n; {
		p := buf[:min(int64(len(buf)), n-off)]
		fillPattern(p, off)
		if _, err := w.Write(p); err != nil {
			return // the client went away
		}
		off += int64(len(p))
		if chunked {
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

// Pattern of /bytes: line k (bytes 64k .. 64k+63) is the offset 64k as 16
// zero-padded decimal digits, a space, patternFill and "\n". A reader can tell
// where any byte belongs, so a lost, repeated or reordered piece shows.
const (
	patternLine = 64
	patternFill = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
)

// fillPattern fills p with the /bytes content from offset off on.
func fillPattern(p []byte, off int64) {
	var line [patternLine]byte
	line[16] = ' '
	copy(line[17:], patternFill)
	line[patternLine-1] = '\n'
	for len(p) > 0 {
		v := off - off%patternLine
		for i := 15; i >= 0; i-- {
			line[i] = '0' + byte(v%10)
			v /= 10
		}
		n := copy(p, line[off%patternLine:])
		p = p[n:]
		off += int64(n)
	}
}

// echo streams the request body back as it arrives: with the request's
// Content-Length when it had one, else chunked and flushed after every read.
// It keeps the request's Content-Type. net/http closes the connection after
// echoing a request that sent "Expect: 100-continue" (it answers before the
// body is fully read), so keep-alive tests should not send Expect.
func (b *Backend) echo(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// Without full duplex net/http may close the request body once the
	// response head is flushed (HTTP/1.x), which would cut large uploads.
	_ = rc.EnableFullDuplex()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if ct := r.Header.Get("Content-Type"); ct != "" {
		h.Set("Content-Type", ct)
	}
	chunked := r.ContentLength < 0
	if !chunked {
		h.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if chunked {
				if rc.Flush() != nil {
					return
				}
			}
		}
		if err != nil {
			return // io.EOF, or a body that ended early: net/http closes the conn
		}
	}
}

// cacheCount counts what /cache answered for one path and query.
type cacheCount struct {
	bodies   atomic.Int64 // 200s: the count in the body
	requests atomic.Int64 // 200s and 304s: X-Requests
}

// CacheBody is the body of /cache. It changes only when the backend serves a new body, so
// its ETag stays valid until then.
type CacheBody struct {
	Name  string `json:"name"`            // the backend's name
	Label string `json:"label,omitempty"` // ?name=, to make distinct cache keys
	Count int64  `json:"count"`           // bodies served on this path and query, this one included
	Vary  string `json:"vary,omitempty"`  // ?vary=H
	Value string `json:"value,omitempty"` // the request's field H
}

// cache answers ?max_age=N (0..2^31-1) with Cache-Control: max-age=N and a CacheBody, for
// testing a cache in front of the backend: Count goes up only when a full body is served.
// With ?etag=1 the body gets a strong ETag (a hash of the body) and a GET or HEAD whose
// If-None-Match matches the body that is current (compared weakly, RFC 9110 §13.1.2, so a
// proxy's W/"…" matches too) gets 304 and leaves Count alone. With ?vary=H the answer
// carries Vary: H and the request's H in the body, so each variant has its own body and
// ETag. X-Requests counts every answer on this path and query, 304s included.
func (b *Backend) cache(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	age, ok := b.intParam(w, r, "max_age", 0, maxAge)
	if !ok {
		return
	}
	etag := false
	if s := q.Get("etag"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			b.writeError(w, http.StatusBadRequest, "cannot parse etag="+strconv.Quote(s)+": want 0 or 1")
			return
		}
		etag = v
	}
	vary := q.Get("vary")
	if vary != "" && !validFieldName(vary) {
		b.writeError(w, http.StatusBadRequest, "cannot use vary="+strconv.Quote(vary)+": want a field name")
		return
	}
	key := r.URL.Path + "?" + r.URL.RawQuery
	v, _ := b.cached.LoadOrStore(key, new(cacheCount))
	cnt := v.(*cacheCount)

	body := CacheBody{Name: b.Name, Label: q.Get("name"), Vary: vary}
	if vary != "" {
		body.Value = r.Header.Get(vary)
	}
	h := w.Header()
	h.Set("Cache-Control", "max-age="+strconv.FormatInt(age, 10))
	if vary != "" {
		h.Set("Vary", vary)
	}
	if etag && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
			// The body as it is now, without serving a new one.
			body.Count = cnt.bodies.Load()
			if tag := bodyETag(b.marshal(body)); body.Count > 0 && etagMatches(inm, tag) {
				h.Set("ETag", tag)
				h.Set("X-Requests", strconv.FormatInt(cnt.requests.Add(1), 10))
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	body.Count = cnt.bodies.Add(1)
	h.Set("X-Requests", strconv.FormatInt(cnt.requests.Add(1), 10))
	raw := b.marshal(body)
	if etag {
		h.Set("ETag", bodyETag(raw))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
}

// bodyETag is a strong entity tag for body: the first 16 hex digits of its SHA-256.
func bodyETag(body []byte) string {
	s := sha256.Sum256(body)
	return `"` + hex.EncodeToString(s[:8]) + `"`
}

// etagMatches reports whether an If-None-Match field (its lines) names tag or is "*",
// comparing weakly: W/ prefixes are ignored (RFC 9110 §13.1.2, §8.8.3.2).
func etagMatches(fields []string, tag string) bool {
	for _, f := range fields {
		for e := range strings.SplitSeq(f, ",") {
			e = strings.TrimSpace(e)
			if e == "*" || strings.TrimPrefix(e, "W/") == strings.TrimPrefix(tag, "W/") {
				return true
			}
		}
	}
	return false
}

// validFieldName reports whether s is a token (RFC 9110 §5.1), which a Vary member must be.
func validFieldName(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// text answers ?kb=N (0..65536) KiB of HTML as text/html with a Content-Length: the same
// bytes for the same N, compressible like a real page (markup, a small vocabulary), for
// measuring compression through the proxy. See fillText.
func (b *Backend) text(w http.ResponseWriter, r *http.Request) {
	kb, ok := b.intParam(w, r, "kb", 0, maxTextKB)
	if !ok {
		return
	}
	n := kb << 10
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	buf := make([]byte, 64<<10)
	for off := int64(0); off < n; {
		p := buf[:min(int64(len(buf)), n-off)]
		fillText(p, off)
		if _, err := w.Write(p); err != nil {
			return // the client went away
		}
		off += int64(len(p))
	}
}

// Content of /text: block k (bytes 1024k .. 1024k+1023) is one paragraph, `<p id="pNNNNNNNN">`
// with k in eight digits, words picked by a generator seeded with k, spaces to pad, and
// "</p>\n"; block 0 starts with the document's head. Any byte can be computed on its own.
const textBlock = 1024

const textHead = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>loopgate /text</title></head>\n<body>\n"

var textWords = strings.Fields(`proxy loop event buffer request response header body chunk stream backend
pool health probe route limit token bucket window latency queue socket timer retry weight cache entry value
key version build test profile trace span metric label counter the a of and to in is for on with as by`)

// fillText fills p with the /text content from offset off on.
func fillText(p []byte, off int64) {
	var blk [textBlock]byte
	for len(p) > 0 {
		k := off / textBlock
		textBlockAt(&blk, k)
		n := copy(p, blk[off%textBlock:])
		p = p[n:]
		off += int64(n)
	}
}

// textBlockAt writes block k of the /text content into blk.
func textBlockAt(blk *[textBlock]byte, k int64) {
	b := blk[:0]
	if k == 0 {
		b = append(b, textHead...)
	}
	b = append(b, `<p id="p`...)
	for d := int64(1e7); d > 0; d /= 10 {
		b = append(b, byte('0'+k/d%10))
	}
	b = append(b, `">`...)
	const tail = "</p>\n"
	x := uint64(k)*0x9e3779b97f4a7c15 + 1
	for {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		w := textWords[x%uint64(len(textWords))]
		if len(b)+1+len(w)+len(tail) > textBlock {
			break
		}
		if b[len(b)-1] != '>' {
			b = append(b, ' ')
		}
		b = append(b, w...)
	}
	for len(b)+len(tail) < textBlock {
		b = append(b, ' ')
	}
	b = append(b, tail...)
}

// marshal returns v as JSON and a newline.
func (b *Backend) marshal(v any) []byte {
	body, err := json.Marshal(v)
	if err != nil {
		panic("BUG: cannot encode response: " + err.Error())
	}
	return append(body, '\n')
}

// Received is the body of /, /delay and /status: what the backend got. Tests
// through the proxy decode it to check what arrived.
type Received struct {
	Name             string       `json:"name"`
	Status           int          `json:"status"`
	Method           string       `json:"method"`
	URI              string       `json:"uri"` // request target as sent
	Path             string       `json:"path"`
	Query            string       `json:"query"`
	Proto            string       `json:"proto"`
	Host             string       `json:"host"`
	RemoteAddr       string       `json:"remote_addr"`
	Headers          http.Header  `json:"headers"`        // net/http moves Host and Transfer-Encoding to their fields
	ContentLength    int64        `json:"content_length"` // -1 when unknown (chunked)
	TransferEncoding []string     `json:"transfer_encoding,omitempty"`
	BodyBytes        int64        `json:"body_bytes"`
	BodySHA256       string       `json:"body_sha256"`
	BodyError        string       `json:"body_error,omitempty"`
	Trailers         http.Header  `json:"trailers,omitempty"`
	TLS              *ReceivedTLS `json:"tls,omitempty"` // nil over plain HTTP
}

// ReceivedTLS is what the connection negotiated, when the backend serves HTTPS: the
// perf harness checks that every proxy reaches it the same way.
type ReceivedTLS struct {
	Version string `json:"version"` // "TLS 1.3"
	Cipher  string `json:"cipher"`  // "TLS_AES_128_GCM_SHA256"
	Curve   string `json:"curve"`   // key exchange group, "X25519"; "" when resumed without one
	ALPN    string `json:"alpn,omitempty"`
	Resumed bool   `json:"resumed"`
}

// report reads the whole request body into a hash and answers with status and
// a Received. It keeps nothing of the body, so uploads of any size are fine.
func (b *Backend) report(w http.ResponseWriter, r *http.Request, status int) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	rcv := Received{
		Name:             b.Name,
		Status:           status,
		Method:           r.Method,
		URI:              r.RequestURI,
		Path:             r.URL.Path,
		Query:            r.URL.RawQuery,
		Proto:            r.Proto,
		Host:             r.Host,
		RemoteAddr:       r.RemoteAddr,
		Headers:          r.Header,
		ContentLength:    r.ContentLength,
		TransferEncoding: r.TransferEncoding,
		BodyBytes:        n,
		BodySHA256:       hex.EncodeToString(h.Sum(nil)),
	}
	if err != nil {
		rcv.BodyError = err.Error()
	}
	if len(r.Trailer) > 0 {
		rcv.Trailers = r.Trailer
	}
	if cs := r.TLS; cs != nil {
		rcv.TLS = &ReceivedTLS{Version: tls.VersionName(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite),
			ALPN: cs.NegotiatedProtocol, Resumed: cs.DidResume}
		if cs.CurveID != 0 {
			rcv.TLS.Curve = cs.CurveID.String()
		}
	}
	b.writeJSON(w, status, rcv)
}

// intParam returns the query parameter key as an integer in lo..hi, or
// answers 400 and returns false.
func (b *Backend) intParam(w http.ResponseWriter, r *http.Request, key string, lo, hi int64) (int64, bool) {
	s := r.URL.Query().Get(key)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		b.writeError(w, http.StatusBadRequest, "cannot use "+key+"="+strconv.Quote(s)+": want an integer in "+
			strconv.FormatInt(lo, 10)+".."+strconv.FormatInt(hi, 10))
		return 0, false
	}
	return v, true
}

func (b *Backend) writeError(w http.ResponseWriter, status int, msg string) {
	b.writeJSON(w, status, map[string]any{"error": msg, "name": b.Name})
}

// writeJSON answers status with v as JSON and a Content-Length. Statuses that
// forbid a body (204, 304) get none.
func (b *Backend) writeJSON(w http.ResponseWriter, status int, v any) {
	if status == http.StatusNoContent || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	body := b.marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// sleep waits d, or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// recorder remembers the status and body size for the request log. Unwrap
// lets http.ResponseController reach the real writer (Flush, full duplex).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
