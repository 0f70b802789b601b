package cache

import (
	"strconv"
	"sync/atomic"
	"time"
)

// entryOverhead approximates the memory of an Entry beyond its byte slices: the struct,
// its index map slot and variant slice, the Vary names.
const entryOverhead = 320

// Entry is one stored response. NewEntry makes it, the engine appends the body with
// AppendBody, and Store.Insert publishes it; from then on it is immutable and shared by every
// event loop, which read its fields without locks. Never modify a published Entry:
// Refresh makes a new one that shares Body.
type Entry struct {
	// Head is the stored head: "HTTP/1.1 <status> <reason>\r\n" and the stored field lines,
	// each ending in CRLF, without the empty line that ends a head. It excludes the fields
	// the proxy regenerates or must not replay: Age and Content-Length (AppendHit writes
	// them), hop-by-hop fields (Connection, fields it names, Keep-Alive, Proxy-Connection,
	// TE, Trailer, Transfer-Encoding, Upgrade), Proxy-Authenticate and
	// Proxy-Authentication-Info (§3.1), and Set-Cookie (another client's cookie). Date is
	// kept as the origin sent it, since ages are computed from it, and added from the
	// receipt time when the origin sent none (RFC 9110 §6.6.1).
	Head []byte
	// NotModified is the head of a 304 answering a conditional request for this entry
	// (RFC 9110 §15.4.5), in the same form: status line plus the stored Cache-Control,
	// Content-Location, Date, ETag, Expires and Vary lines.
	NotModified []byte
	Body        []byte // the payload, without transfer coding
	Status      int

	ETag         []byte // the ETag value inside Head, or nil
	LastModified []byte // the Last-Modified value inside Head, or nil

	Lifetime   time.Duration // freshness lifetime (§4.2.1)
	InitialAge time.Duration // corrected_initial_age (§4.2.3)
	Received   int64         // response_time on the engine's monotonic clock (ns)
	// StaleWhileRevalidate and StaleIfError are the response's RFC 5861 windows, or -1.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	NoCache              bool // every use needs a successful validation (§5.2.2.4)
	NoStale              bool // must-revalidate, proxy-revalidate or s-maxage: never served stale
	Immutable            bool // RFC 8246; recorded, not acted on

	date    int64    // Date (Unix s): the fallback validator for If-Modified-Since (§4.3.2)
	lastMod int64    // parsed LastModified, valid when LastModified != nil
	vary    []string // lower-case names from Vary
	variant []byte   // secondary key (see vary.go)
	max     int64    // body limit for AppendBody

	// Store bookkeeping. key, hash and size are set once by Insert before publication;
	// freq is the hit counter (atomic: hits hold no lock); the rest is guarded by Store.mu.
	key        string
	hash       uint64
	size       int64
	inserted   atomic.Bool
	freq       atomic.Int32
	queue      uint8
	prev, next *Entry
}

// NewEntry starts an entry from the head of a response that Storable accepted: head is the
// response head as received (status line through the empty line, e.g. the buffer that
// codec.ParseResponse parsed), req the request it answers (for the Vary key), t the
// exchange's times. It copies what it keeps, so head may be reused afterwards. It returns
// nil when head has no valid status line. Cold path: it allocates.
func NewEntry(head []byte, req Fields, t Times, c *Config) *Entry {
	var d Config
	if c != nil {
		d = *c
	}
	d = d.withDefaults()
	h := RawFields(head)
	e := build(head[:skipLine(head, 0)], nil, h, t, &d)
	if e == nil {
		return nil
	}
	e.vary = varyNames(h)
	w := keyWriter{}
	writeKey(&w, e.vary, req)
	e.variant = w.out
	return e
}

// build makes an entry whose head is status line sl, then the storable fields of old
// (a previous Head: field lines only) not also present in upd, then those of upd.
func build(sl []byte, old []byte, upd RawFields, t Times, c *Config) *Entry {
	status, reason, ok := statusLine(sl)
	if !ok {
		return nil
	}
	e := &Entry{Status: status, max: c.MaxObject}
	hd := make([]byte, 0, len(old)+len(upd)+64)
	hd = append(hd, "HTTP/1.1 "...)
	hd = strconv.AppendInt(hd, int64(status), 10)
	hd = append(hd, ' ')
	hd = append(hd, reason...)
	hd = append(hd, "\r\n"...)
	for p := 0; p < len(old); {
		name, v, next := fieldAt(old, p)
		if name != nil && !hasName(upd, name) {
			hd = appendField(hd, name, v)
		}
		p = next
	}
	for p := skipLine(upd, 0); p < len(upd); {
		name, v, next := fieldAt(upd, p)
		if name == nil {
			break
		}
		if !excluded(upd, name) {
			hd = appendField(hd, name, v)
		}
		p = next
	}
	stored := RawFields(hd)
	if !has(stored, "Date") {
		hd = append(hd, "Date: "...)
		hd = appendHTTPDate(hd, t.Wall)
		hd = append(hd, "\r\n"...)
		stored = RawFields(hd)
	}
	e.Head = hd

	// Freshness and age come from the merged head, except Age, which only upd carries.
	cc := ParseCacheControl(stored)
	e.Lifetime = Freshness(status, stored, &cc, t.Wall, c)
	e.InitialAge = InitialAge(ageFields{stored, upd}, t)
	e.Received = t.Received
	e.StaleWhileRevalidate, e.StaleIfError = window(cc.StaleWhileRevalidate), window(cc.StaleIfError)
	e.NoCache = cc.NoCache
	e.NoStale = cc.MustRevalidate || cc.ProxyRevalidate || cc.SMaxAge != Absent
	e.Immutable = cc.Immutable
	e.date = responseDate(stored, t.Wall)
	e.ETag, _ = first(stored, "ETag")
	if lm, ok := first(stored, "Last-Modified"); ok {
		e.LastModified = lm
		e.lastMod, ok = ParseHTTPDate(lm)
		if !ok {
			e.lastMod = e.date
		}
	}

	nm := make([]byte, 0, 160)
	nm = append(nm, "HTTP/1.1 304 Not Modified\r\n"...)
	for p := skipLine(hd, 0); p < len(hd); {
		name, v, next := fieldAt(hd, p)
		if name == nil {
			break
		}
		for _, keep := range notModifiedFields {
			if eqFold(name, keep) {
				nm = appendField(nm, name, v)
			}
		}
		p = next
	}
	e.NotModified = nm
	return e
}

// ageFields reads Age from the response that carries it (upd) and everything else from the
// stored head, which holds no Age.
type ageFields struct{ stored, upd RawFields }

func (a ageFields) Field(name string, i int) ([]byte, bool) {
	if len(name) == 3 && lower(name[0]) == 'a' && lower(name[1]) == 'g' && lower(name[2]) == 'e' {
		return a.upd.Field(name, i)
	}
	return a.stored.Field(name, i)
}

var notModifiedFields = [...]string{"Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary"}

func window(s int64) time.Duration {
	if s == Absent {
		return -1
	}
	return seconds(s)
}

func appendField(dst, name, v []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, v...)
	return append(dst, "\r\n"...)
}

// hasName reports whether the head h has a field line named name.
func hasName(h RawFields, name []byte) bool {
	for p := skipLine(h, 0); p < len(h); {
		n, _, next := fieldAt(h, p)
		if n == nil {
			return false
		}
		if len(n) == len(name) && eqFoldBytes(n, name) {
			return true
		}
		p = next
	}
	return false
}

func eqFoldBytes(a, b []byte) bool {
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// withoutField returns a copy of h without its name field lines.
func withoutField(h RawFields, name string) RawFields {
	out := make([]byte, 0, len(h))
	start := skipLine(h, 0)
	out = append(out, h[:min(start, len(h))]...)
	for p := start; p < len(h); {
		fname, _, next := fieldAt(h, p)
		if fname == nil || !eqFold(fname, name) {
			out = append(out, h[p:min(next, len(h))]...)
		}
		p = next
	}
	return out
}

// neverStored are the fields a stored head leaves out (see Entry.Head).
var neverStored = [...]string{
	"Age", "Content-Length", "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authentication-Info", "Set-Cookie",
}

// excluded reports whether field name of head h is left out of a stored head: a field of
// neverStored, or one the Connection field lines of h name (§3.1).
func excluded(h RawFields, name []byte) bool {
	for _, s := range neverStored {
		if eqFold(name, s) {
			return true
		}
	}
	for n := 0; ; n++ {
		v, ok := h.Field("Connection", n)
		if !ok {
			return false
		}
		for item, i := nextItem(v, 0); item != nil; item, i = nextItem(v, i) {
			if len(item) == len(name) && eqFoldBytes(item, name) {
				return true
			}
		}
	}
}

// statusLine parses "HTTP/1.x NNN reason".
func statusLine(sl []byte) (status int, reason []byte, ok bool) {
	sl = trimOWS(trimCRLF(sl))
	if len(sl) < 12 || string(sl[:7]) != "HTTP/1." || sl[8] != ' ' {
		return 0, nil, false
	}
	n, ok := digits(sl[9:12])
	if !ok || n < 100 || n > 599 || (len(sl) > 12 && sl[12] != ' ') {
		return 0, nil, false
	}
	if len(sl) > 12 {
		reason = sl[13:]
	}
	return int(n), reason, true
}

func trimCRLF(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// AppendBody appends p to the body of an entry not yet inserted. It returns false, and
// keeps nothing more, once the body would exceed Config.MaxObject: the engine then drops
// the entry. It must not be called after Insert.
func (e *Entry) AppendBody(p []byte) bool {
	if e.inserted.Load() {
		panic("BUG: cache: AppendBody on an inserted Entry")
	}
	if int64(len(e.Head)+len(e.Body)+len(p)) > e.max {
		return false
	}
	e.Body = append(e.Body, p...)
	return true
}

// Age returns the entry's current_age at now (engine's monotonic ns) in whole seconds, for
// the Age field (RFC 9111 §4.2.3). It does not allocate.
func (e *Entry) Age(now int64) int64 {
	return min(int64(e.age(now)/time.Second), MaxDelta)
}

func (e *Entry) age(now int64) time.Duration {
	return e.InitialAge + time.Duration(max(now-e.Received, 0))
}

// Staleness returns how long the entry has been stale at now, or 0 while it is fresh.
func (e *Entry) Staleness(now int64) time.Duration {
	return max(e.age(now)-e.Lifetime, 0)
}

// ServeWhileRevalidating reports whether a stale entry may be served while the engine
// revalidates it in the background (RFC 5861 §3).
func (e *Entry) ServeWhileRevalidating(now int64) bool {
	return !e.NoStale && !e.NoCache && e.StaleWhileRevalidate >= 0 && e.Staleness(now) <= e.StaleWhileRevalidate
}

// ServeOnError reports whether a stale entry may be served because revalidation failed
// (upstream error or 5xx, RFC 5861 §4). must-revalidate forbids it (§5.2.2.2).
func (e *Entry) ServeOnError(now int64) bool {
	return !e.NoStale && !e.NoCache && e.StaleIfError >= 0 && e.Staleness(now) <= e.StaleIfError
}

// AppendHit appends the head of a response served from e at now: Head, then Age and (but
// for 204 and 304) Content-Length. The caller adds its own fields (X-Cache, Connection...)
// and the empty line, then writes Body unless the request was HEAD. It does not allocate
// when dst has room.
func AppendHit(dst []byte, e *Entry, now int64) []byte {
	dst = append(dst, e.Head...)
	dst = append(dst, "Age: "...)
	dst = strconv.AppendInt(dst, e.Age(now), 10)
	dst = append(dst, "\r\n"...)
	if e.Status != 204 && e.Status != 304 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(e.Body)), 10)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// AppendValidators appends the conditional fields that revalidate e upstream (RFC 9111
// §4.3.1): If-None-Match with its ETag, If-Modified-Since with its Last-Modified. The engine
// sends them instead of the client's own conditional fields, and answers the client's
// conditions itself (Evaluate) once the entry is refreshed. HasValidator says whether
// there is anything to send; without it the engine forwards the request unconditionally.
func AppendValidators(dst []byte, e *Entry) []byte {
	if e.ETag != nil {
		dst = append(dst, "If-None-Match: "...)
		dst = append(dst, e.ETag...)
		dst = append(dst, "\r\n"...)
	}
	if e.LastModified != nil {
		dst = append(dst, "If-Modified-Since: "...)
		dst = append(dst, e.LastModified...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// HasValidator reports whether e has an ETag or a Last-Modified.
func (e *Entry) HasValidator() bool { return e.ETag != nil || e.LastModified != nil }

// Refresh applies a 304 received while revalidating e (RFC 9111 §4.3.4) and returns the
// new entry to Insert in its place: e's head with the 304's fields replacing those of the
// same name (except the fields never stored and Content-Length, §3.2), freshness and age
// recomputed from the 304 and t, the same Body and Vary key. It returns nil when the 304
// does not select e: its strong or weak ETag differs from e's, or it has no ETag and a
// Last-Modified different from e's. A 304 with no validator is accepted: it answers a
// request conditioned on exactly e's validators (§4.3.4 asks for "no validators on either
// side" there; we trust our own conditional request). Cold path: it allocates.
func Refresh(e *Entry, head304 []byte, t Times, c *Config) *Entry {
	var d Config
	if c != nil {
		d = *c
	}
	d = d.withDefaults()
	h := RawFields(head304)
	if tag, ok := first(h, "ETag"); ok {
		if e.ETag == nil || !weakEqual(tag, e.ETag) {
			return nil
		}
		// The stored tag stays: it names the same representation (weakly),
		// and may have been weakened because the stored body was transformed
		// (compressed, RFC 9110 §8.8.1), which the origin's 304 cannot know.
		h = withoutField(h, "ETag")
	} else if lm, ok := first(h, "Last-Modified"); ok {
		if string(lm) != string(e.LastModified) {
			return nil
		}
	}
	sl := e.Head[:skipLine(e.Head, 0)]
	n := build(sl, e.Head[len(sl):], h, t, &d)
	if n == nil {
		return nil
	}
	n.Body = e.Body
	n.vary, n.variant = e.vary, e.variant
	return n
}
