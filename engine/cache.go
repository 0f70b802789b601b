package engine

import (
	"errors"
	"reflect"
	"strconv"
	"time"

	"loopgate/cache"
	"loopgate/codec"
	"loopgate/route"
	"loopgate/stats"
)

// The response cache (package cache; docs/CACHE.md). A route (or its pool)
// with the cache on looks a GET or HEAD up before it picks a backend:
//
//   - fresh: the loop answers from the entry, its head and body written in
//     one system call, with no lock held and nothing allocated; a
//     conditional request the entry satisfies gets 304;
//   - stale with a validator: the request goes upstream with the entry's
//     validators instead of the client's; a 304 refreshes the entry, which
//     answers; a 5xx or a failure answers with the stale entry while its
//     stale-if-error allows;
//   - miss: the request goes upstream; a storable response is copied into
//     a new entry as it streams to the client (after compression, so each
//     coding is its own variant) and stored once complete, never when cut.
//
// Entries are immutable and shared by the loops; the store is bounded in
// bytes (S3-FIFO eviction, package cache).

// CacheConfig is [cache]: the store's bounds and policy switches (package
// cache) and the field that says how a response was served.
type CacheConfig struct {
	cache.Config
	// Header names the field that says HIT, MISS, STALE or BYPASS; "" = none
	// (default "X-Cache").
	Header string `toml:"header"`
	// NoCollapse turns request collapsing off: every miss goes upstream.
	NoCollapse bool `toml:"-"`
	// CollapseTimeout bounds how long a miss waits for another request
	// fetching the same key before it goes upstream itself (default 5s, as
	// nginx's proxy_cache_lock_timeout).
	CollapseTimeout time.Duration `toml:"collapse_timeout"`
}

// DefaultCollapseTimeout is CollapseTimeout when it is 0.
const DefaultCollapseTimeout = 5 * time.Second

// cacheStatus is what the X-Cache field says.
type cacheStatus uint8

const (
	cacheNone cacheStatus = iota
	cacheMiss
	cacheHit
	cacheStale
	cacheBypass
	cacheRevalidated
)

var cacheStatusText = [...]string{"", "MISS", "HIT", "STALE", "BYPASS", "REVALIDATED"}

// cacheState is what an exchange knows of the cache.
type cacheState struct {
	status cacheStatus
	store  bool         // a miss whose response may be stored
	stale  *cache.Entry // being revalidated upstream, or served if that fails
	nm     bool         // the client's conditions select stale (If-None-Match, If-Modified-Since)
	entry  *cache.Entry // the response being copied in, inserted when complete
	key    []byte       // primary key: host + target
	sent   int64        // monoNow when the request went upstream
	// Collapsing: the flight this exchange leads (it must Finish it) or
	// waits for since waitedAt.
	flight   *cache.Flight
	leader   bool
	waitedAt int64
}

// cacheFields is cache.Fields over the head being served; the loop's, so
// converting it to the interface once costs nothing per request.
type cacheFields struct {
	b []byte
	r *codec.Request
}

func (f *cacheFields) Field(name string, i int) ([]byte, bool) {
	for _, fl := range f.r.Fields() {
		if n := fl.Name.Bytes(f.b); len(n) == len(name) && equalFoldString(n, name) {
			if i == 0 {
				return fl.Value.Bytes(f.b), true
			}
			i--
		}
	}
	return nil, false
}

func equalFoldString(b []byte, s string) bool {
	for i := range b {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// newCacheStore returns the store for cfg: prev when its settings are the
// same (a reload keeps the entries), a new one otherwise, nil when no
// route uses the cache.
func newCacheStore(cfg *Config, prev *cache.Store, used bool) *cache.Store {
	if !used {
		return nil
	}
	if prev != nil && reflect.DeepEqual(*prev.Config(), cfg.Cache.Config) {
		return prev
	}
	return cache.New(cfg.Cache.Config)
}

// cacheLookup looks the request r (head b[:n]) up for route a. It answers
// from the cache and reports true, or prepares the exchange to go upstream
// (with validators for a stale entry, and to store the response).
//
// A miss may collapse (mayCollapse): when another request is fetching the
// same key, this one waits for it with its head unread, and looks up again
// when that ends (collapsedDone). Within an entry's stale-while-revalidate
// window, it is answered with the stale entry instead of waiting.
func (cc *clientConn) cacheLookup(a *routeAction, b []byte, r *codec.Request, n int, mayCollapse bool) bool {
	l := cc.l
	x := cc.exchange
	x.cache = cacheState{key: x.cache.key[:0]}
	st := l.gen.cache
	if st == nil || !a.cache || r.Method != codec.MethodGet && r.Method != codec.MethodHead {
		return false
	}
	l.cf = cacheFields{b: b, r: r}
	defer func() { l.cf = cacheFields{} }()
	method := "GET"
	if r.Method == codec.MethodHead {
		method = "HEAD"
	}
	if cache.Bypass(method, &l.cf, st.Config()) != cache.ReasonNone || r.Body != codec.BodyNone {
		x.cache.status = cacheBypass
		l.s.st.CacheResult(stats.CacheBypass)
		return false
	}
	x.cache.key = cc.cacheKey(x.cache.key, b, r)
	now := monoNow()
	e, state := st.Lookup(x.cache.key, &l.cf, now)
	switch state {
	case cache.Fresh:
		cc.consume(n)
		cc.serveEntry(e, cacheHit, cache.Evaluate(&l.cf, e), now)
		return true
	case cache.GatewayTimeout: // only-if-cached, and nothing fresh (RFC 9111 §5.2.1.7)
		cc.consume(n)
		l.s.st.CacheResult(stats.CacheMiss)
		cc.answer(504, false)
		return true
	case cache.Stale:
		if e.HasValidator() {
			x.cache.stale, x.cache.nm = e, cache.Evaluate(&l.cf, e)
		}
	}
	x.cache.status = cacheMiss
	x.cache.store = r.Method == codec.MethodGet
	if !x.cache.store || !mayCollapse || l.cfg.Cache.NoCollapse {
		return false
	}
	f, leader := l.s.flights.Join(x.cache.key)
	if leader {
		x.cache.flight, x.cache.leader = f, true
		return false
	}
	if state == cache.Stale && e.ServeWhileRevalidating(now) {
		// Another request is revalidating it: RFC 5861 §3 lets this one
		// have the stale entry meanwhile.
		x.cache.stale = nil
		cc.consume(n)
		cc.serveEntry(e, cacheStale, cache.Evaluate(&l.cf, e), now)
		return true
	}
	// Wait for the flight with the head unread; collapsedDone looks it up
	// again. The client's timer stops: the wait has its own bound.
	x.cache.stale = nil
	x.cache.flight, x.cache.waitedAt = f, now
	cc.timer.stop()
	cc.state = clientCollapsed
	l.s.st.CacheCollapsed()
	l.wait(cc)
	return true
}

// collapsedDone is the waiter check of a collapsed miss: once the flight it
// waits for has ended, or collapse_timeout has passed, the request is looked
// up again (now a hit, usually) and otherwise goes upstream itself, without
// collapsing again.
func (cc *clientConn) collapsedDone() bool {
	l := cc.l
	x := &cc.exchange.cache
	timeout := l.cfg.Cache.CollapseTimeout
	if timeout <= 0 {
		timeout = DefaultCollapseTimeout
	}
	if !x.flight.Done() && monoNow()-x.waitedAt < int64(timeout) {
		return false
	}
	cc.state = clientReadHead
	b := cc.input()
	r := &l.req
	n, err := codec.ParseRequest(b, r, &l.gen.parse)
	if err != nil { // it parsed before; a reload may have changed the limits
		cc.reject(err)
		return true
	}
	a := l.gen.routes.implicit
	if l.gen.routes.table != nil {
		// Routed again on the current generation, which also sets the
		// loop's request variables the forward path expands.
		if a = cc.route(b, r); a == nil {
			cc.consume(n)
			cc.log.reason = stats.ReasonNoRoute
			cc.answer(404, false)
			return true
		}
		cc.rt = a
	}
	if !(a.cache && cc.cacheLookup(a, b, r, n, false)) {
		cc.forward(a, b, r, n)
	}
	return true
}

// cacheFinish ends the flight this exchange leads, if any: its waiters look
// the key up again.
func (cc *clientConn) cacheFinish() {
	x := &cc.exchange.cache
	if x.leader {
		x.leader = false
		cc.l.s.flights.Finish(x.key, x.flight)
	}
}

// cacheKey appends the primary key of r: its host, normalised, then its
// target with the path normalised.
func (cc *clientConn) cacheKey(dst, b []byte, r *codec.Request) []byte {
	dst = route.NormalizeHost(dst, r.EffectiveHost(b))
	path, query := targetParts(b, r)
	dst, _ = route.NormalizePath(dst, path)
	if query != nil {
		dst = append(append(dst, '?'), query...)
	}
	return dst
}

// serveEntry answers from e: 304 with its validators when the client's
// conditions select it (notModified), the whole response otherwise (its
// head alone for HEAD). One write; nothing allocated once the buffers have
// grown. now is the engine's monotonic clock, read once by the caller.
func (cc *clientConn) serveEntry(e *cache.Entry, how cacheStatus, notModified bool, now int64) {
	l := cc.l
	close := cc.closeAfter || cc.minor == 0 || l.s.draining.Load()
	h := l.scratch[:0]
	status := e.Status
	if notModified {
		status = 304
		h = append(h, e.NotModified...)
		h = append(h, "Age: "...)
		h = strconv.AppendInt(h, e.Age(now), 10)
		h = append(h, "\r\n"...)
	} else {
		h = cache.AppendHit(h, e, now)
	}
	h = cc.appendCacheField(h, how)
	h = cc.appendIDField(h)
	if close {
		h = append(h, "Connection: close\r\n"...)
	} else if cc.minor == 0 {
		h = append(h, "Connection: keep-alive\r\n"...)
	}
	h = append(h, "\r\n"...)
	l.scratch = h
	bufs := l.ziov[:1]
	bufs[0] = h
	if !notModified && cc.method != codec.MethodHead && len(e.Body) > 0 {
		bufs = append(bufs, e.Body)
	}
	cc.log.status = status
	if !cc.closed {
		cc.writev(bufs)
	}
	clear(l.ziov[:])
	l.s.st.CacheResult(statsResult(how))
	cc.record()
	if close {
		cc.closeGracefully()
		return
	}
	cc.next()
}

func statsResult(how cacheStatus) stats.CacheOutcome {
	switch how {
	case cacheHit:
		return stats.CacheHit
	case cacheStale:
		return stats.CacheStale
	case cacheRevalidated:
		return stats.CacheRevalidated
	}
	return stats.CacheMiss
}

// appendCacheField appends "X-Cache: HIT" (or the configured name) when the
// exchange went through the cache.
func (cc *clientConn) appendCacheField(dst []byte, how cacheStatus) []byte {
	name := cc.l.cfg.Cache.Header
	if how == cacheNone || name == "" {
		return dst
	}
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, cacheStatusText[how]...)
	return append(dst, "\r\n"...)
}

// cacheRevalidate handles the response head r (b[:n]) to a request that
// revalidated a stale entry, and reports whether it answered the client
// itself: a 304 refreshes the entry, which answers; a 5xx leaves the stale
// entry to answer while its stale-if-error allows.
func (u *upConn) cacheRevalidate(b []byte, r *codec.Response, n int) bool {
	cc := u.cc
	x := &cc.exchange.cache
	st := u.l.gen.cache
	if x.stale == nil || st == nil {
		return false
	}
	switch {
	case r.Status == 304:
		e := cache.Refresh(x.stale, b[:n], u.cacheTimes(), st.Config())
		if e == nil {
			return false // it selected another representation: relay it
		}
		st.Insert(x.key, e)
		cc.cacheFinish()
		u.consume(n)
		cc.up, u.cc = nil, nil
		u.timer.stop()
		u.done(true)
		u.handBack(cc.reqDone)
		cc.serveEntry(e, cacheRevalidated, x.nm, monoNow())
		return true
	case r.Status >= 500 && x.stale.ServeOnError(monoNow()):
		cc.up, u.cc = nil, nil
		u.done(false)
		u.closeNow() // its body is not read
		cc.serveEntry(x.stale, cacheStale, x.nm, monoNow())
		return true
	}
	return false
}

// serveStaleOnError answers a failed exchange with the stale entry it was
// revalidating, when stale-if-error allows; fail calls it.
func (cc *clientConn) serveStaleOnError() bool {
	if cc.exchange == nil {
		return false
	}
	x := &cc.exchange.cache
	if x.stale == nil || cc.respStarted || !x.stale.ServeOnError(monoNow()) {
		return false
	}
	cc.serveEntry(x.stale, cacheStale, x.nm, monoNow())
	return true
}

// cacheTimes are the exchange's times for ages (RFC 9111 §4.2.3).
func (u *upConn) cacheTimes() cache.Times {
	return cache.Times{Sent: u.cc.exchange.cache.sent, Received: monoNow(), Wall: time.Now().Unix()}
}

// cacheStart begins copying a storable response into an entry. storeHead
// is the head as stored: the one the client gets, without the per-request
// fields (request ID, sticky cookie) and framing, which cache.NewEntry
// leaves out.
func (u *upConn) cacheStart(r *codec.Response, storeHead []byte) {
	cc := u.cc
	x := &cc.exchange.cache
	st := u.l.gen.cache
	if !x.store || st == nil {
		return
	}
	req := cache.RawFields(cc.retry) // the request as sent: its Vary fields
	if ok, _ := cache.Storable("GET", r.Status, req, cache.RawFields(storeHead), st.Config()); !ok {
		return
	}
	x.entry = cache.NewEntry(storeHead, req, u.cacheTimes(), st.Config())
}

// cacheAppend copies body bytes into the entry being stored; one too big
// is dropped.
func (cc *clientConn) cacheAppend(p []byte) {
	x := &cc.exchange.cache
	if x.entry != nil && !x.entry.AppendBody(p) {
		x.entry = nil
	}
}

// cacheDone stores the entry of a response that ended complete.
func (cc *clientConn) cacheDone() {
	x := &cc.exchange.cache
	if x.entry != nil {
		if st := cc.l.gen.cache; st != nil {
			st.Insert(x.key, x.entry)
		}
		x.entry = nil
	}
	cc.cacheFinish()
}

// ErrNoCache refuses a purge when no route uses the cache.
var ErrNoCache = errors.New("engine: the response cache is off (no route or pool has cache = true)")

// PurgeCache removes cached responses: every variant of key (a normalised
// host and target, such as "example.com/a?x=1"), or of every key that
// starts with prefix ("example.com/" for a whole host), or, with all,
// everything. It returns how many entries went.
func (s *Server) PurgeCache(key, prefix string, all bool) (int, error) {
	st := s.gen.Load().cache
	if st == nil {
		return 0, ErrNoCache
	}
	switch {
	case all:
		n := st.Stats().Entries
		st.Flush()
		return n, nil
	case prefix != "":
		return st.PurgePrefix(prefix), nil
	}
	return st.Purge([]byte(key)), nil
}

// cacheStats reads the current store's size for the metrics.
func (s *Server) cacheStats() stats.CacheSize {
	if st := s.gen.Load().cache; st != nil {
		x := st.Stats()
		return stats.CacheSize{On: true, Entries: x.Entries, Bytes: x.Bytes, Insertions: x.Insertions, Evictions: x.Evictions}
	}
	return stats.CacheSize{}
}
