package cache

import (
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
)

// State is the outcome of a Lookup.
type State uint8

const (
	Miss State = iota // nothing stored for this key and variant: forward the request
	// Fresh: serve the entry (AppendHit). It is fresh for this request, or stale within
	// the request's max-stale and the response allows serving it stale (§4.2.4).
	Fresh
	// Stale: the entry must be validated before use (stale, no-cache in the response or
	// the request, or a request max-age/min-fresh it fails). Revalidate with
	// AppendValidators and Refresh; Entry.Staleness says how stale it is, and
	// ServeWhileRevalidating / ServeOnError whether it may be served anyway.
	Stale
	// GatewayTimeout: the request said only-if-cached and nothing servable is stored; answer
	// 504 without contacting upstream (§5.2.1.7).
	GatewayTimeout
)

func (s State) String() string {
	switch s {
	case Miss:
		return "miss"
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	case GatewayTimeout:
		return "gateway_timeout"
	}
	return "unknown"
}

const (
	queueNone uint8 = iota
	queueSmall
	queueMain
)

// Stats are the store's own counters. Hits and misses are the engine's to count.
type Stats struct {
	Entries    int
	Bytes      int64
	Insertions uint64
	Evictions  uint64 // entries evicted to make room (purges, flushes and replacements not counted)
	Rejected   uint64 // inserts refused: entry above MaxObject
}

// Store is a bounded, shared response cache. All methods are safe from any goroutine.
// Lookup takes only a shard's read lock, for the duration of one map read, and does not
// allocate; Insert, Purge, PurgePrefix and Flush serialise on one mutex (they are off the
// hit path). No lock is held when a method returns, so none is ever held across a socket
// write.
type Store struct {
	cfg    Config
	seed   maphash.Seed
	shards []shard
	shift  uint

	mu          sync.Mutex // guards what follows and every write to a shard's map
	small, main fifo
	ghost       ghost
	bytes       int64
	smallTarget int64
	stats       Stats
}

type shard struct {
	mu sync.RWMutex
	m  map[string][]*Entry // primary key → variants, newest first; slices are never modified in place
	_  [40]byte            // keep neighbouring shards' locks off one cache line
}

// New returns an empty store for c (defaults for zero fields).
func New(c Config) *Store {
	c = c.withDefaults()
	n := 1 << bits.Len(uint(c.Shards-1))
	s := &Store{
		cfg:         c,
		seed:        maphash.MakeSeed(),
		shards:      make([]shard, n),
		shift:       uint(64 - bits.Len(uint(n-1))),
		smallTarget: c.MaxBytes / 10,
	}
	for i := range s.shards {
		s.shards[i].m = make(map[string][]*Entry)
	}
	s.ghost.init(c.MaxBytes)
	return s
}

// Config returns the store's configuration with defaults applied, for Storable, NewEntry
// and Refresh. Do not modify it.
func (s *Store) Config() *Config { return &s.cfg }

func (s *Store) shardOf(h uint64) *shard {
	if len(s.shards) == 1 {
		return &s.shards[0]
	}
	return &s.shards[h>>s.shift]
}

// Lookup finds the variant stored under primary that matches req's Vary fields and judges
// it against req's Cache-Control (or Pragma: no-cache without Cache-Control, §5.4) at now,
// the engine's monotonic clock in ns. The Entry is returned for Fresh and Stale, nil
// otherwise. Safe from any goroutine; it does not allocate and holds a shard read lock only
// while reading the index map. primary is not retained.
func (s *Store) Lookup(primary []byte, req Fields, now int64) (*Entry, State) {
	h := maphash.Bytes(s.seed, primary)
	sh := s.shardOf(h)
	sh.mu.RLock()
	vs := sh.m[string(primary)]
	sh.mu.RUnlock()

	var e *Entry
	for _, v := range vs {
		w := keyWriter{cmp: true, want: v.variant}
		writeKey(&w, v.vary, req)
		if w.matched() {
			e = v
			break
		}
	}
	cc := ParseCacheControl(req)
	if e == nil {
		if cc.OnlyIfCached {
			return nil, GatewayTimeout
		}
		return nil, Miss
	}
	// A hit: mark it for the eviction policy. Load first, so hot entries are not written
	// (and their cache line not bounced between cores) on every hit.
	if e.freq.Load() < 3 {
		e.freq.Add(1)
	}
	st := judge(e, &cc, req, now)
	if st == Stale && cc.OnlyIfCached {
		return nil, GatewayTimeout
	}
	return e, st
}

// judge applies the request directives of §5.2.1 to a stored entry.
func judge(e *Entry, cc *CacheControl, req Fields, now int64) State {
	noCache := cc.NoCache
	if !noCache && !has(req, "Cache-Control") {
		if p, ok := first(req, "Pragma"); ok {
			for item, i := nextItem(p, 0); item != nil; item, i = nextItem(p, i) {
				noCache = noCache || eqFold(item, "no-cache")
			}
		}
	}
	if noCache || e.NoCache {
		return Stale
	}
	age := e.age(now)
	if cc.MaxAge != Absent && age > seconds(cc.MaxAge) {
		return Stale
	}
	left := e.Lifetime - age // freshness left; negative when stale
	if cc.MinFresh != Absent && left < seconds(cc.MinFresh) {
		return Stale
	}
	if left > 0 {
		return Fresh
	}
	if cc.MaxStale != Absent && !e.NoStale && -left <= seconds(cc.MaxStale) {
		return Fresh
	}
	return Stale
}

// Insert publishes e under primary, replacing a stored entry of the same Vary variant, and
// reports whether it was stored: an entry whose head and body exceed MaxObject is refused.
// It evicts before it admits, so the store never holds more than MaxBytes. An Entry can be
// inserted once. Safe from any goroutine; it holds the store's mutex and briefly one shard's
// write lock. Cold path: it copies primary.
func (s *Store) Insert(primary []byte, e *Entry) bool {
	if !e.inserted.CompareAndSwap(false, true) {
		panic("BUG: cache: Entry inserted twice")
	}
	size := int64(len(e.Head)+len(e.Body)+len(e.NotModified)+len(e.variant)+2*len(primary)) + entryOverhead
	s.mu.Lock()
	defer s.mu.Unlock()
	if int64(len(e.Head)+len(e.Body)) > s.cfg.MaxObject || size > s.cfg.MaxBytes {
		s.stats.Rejected++
		return false
	}
	e.key, e.hash, e.size = string(primary), maphash.Bytes(s.seed, primary), size
	sh := s.shardOf(e.hash)

	// Drop the variant e replaces, and the oldest ones beyond MaxVariants.
	sh.mu.Lock()
	vs := sh.m[e.key]
	keep := make([]*Entry, 0, len(vs)+1)
	keep = append(keep, e)
	for _, v := range vs {
		if sameVariant(v, e) || len(keep) >= s.cfg.MaxVariants {
			s.unlink(v)
			continue
		}
		keep = append(keep, v)
	}
	if len(keep) == 1 {
		delete(sh.m, e.key)
	} else {
		sh.m[e.key] = keep[1:] // e itself is not visible until it is admitted
	}
	sh.mu.Unlock()

	for s.bytes+size > s.cfg.MaxBytes {
		s.evictOne()
	}

	// Eviction may have taken other variants of this key: link e to what is left.
	sh.mu.Lock()
	keep = append(make([]*Entry, 0, len(vs)+1), e) // keep[1:] is published: build anew
	for _, v := range vs {
		if v.queue != queueNone {
			keep = append(keep, v)
		}
	}
	sh.m[e.key] = keep
	sh.mu.Unlock()
	if s.ghost.contains(e.hash, s.small.n+s.main.n) {
		s.main.pushHead(e, queueMain)
	} else {
		s.small.pushHead(e, queueSmall)
	}
	s.bytes += size
	s.stats.Insertions++
	if s.bytes > s.cfg.MaxBytes {
		panic("BUG: cache: store above MaxBytes after Insert")
	}
	return true
}

func sameVariant(a, b *Entry) bool {
	if string(a.variant) != string(b.variant) || len(a.vary) != len(b.vary) {
		return false
	}
	for i := range a.vary {
		if a.vary[i] != b.vary[i] {
			return false
		}
	}
	return true
}

// unlink takes e out of its queue and the byte count; the caller updates the index.
// s.mu must be held.
func (s *Store) unlink(e *Entry) {
	switch e.queue {
	case queueSmall:
		s.small.remove(e)
	case queueMain:
		s.main.remove(e)
	default:
		return
	}
	s.bytes -= e.size
}

// evictOne makes progress towards room by S3-FIFO (see doc.go): it evicts one entry, or
// moves one from the small queue to the main queue, or gives one in the main queue another
// round. s.mu must be held and the store must not be empty.
func (s *Store) evictOne() {
	if s.small.n > 0 && (s.small.bytes > s.smallTarget || s.main.n == 0) {
		e := s.small.tail
		s.small.remove(e)
		if e.freq.Load() > 0 {
			e.freq.Store(0)
			s.main.pushHead(e, queueMain)
			return
		}
		s.ghost.add(e.hash)
		s.bytes -= e.size
		s.drop(e)
		return
	}
	e := s.main.tail
	if e == nil {
		panic("BUG: cache: eviction from an empty store")
	}
	s.main.remove(e)
	// Give an entry another round while it has hits left, but not forever: a burst of
	// hits racing with this loop must not keep it from terminating.
	if f := e.freq.Load(); f > 0 && s.main.rounds < 4*s.main.n+4 {
		e.freq.Store(min(f, 3) - 1)
		s.main.pushHead(e, queueMain)
		s.main.rounds++
		return
	}
	s.main.rounds = 0
	s.bytes -= e.size
	s.drop(e)
}

// drop removes an evicted entry, already unlinked, from the index.
func (s *Store) drop(e *Entry) {
	s.stats.Evictions++
	sh := s.shardOf(e.hash)
	sh.mu.Lock()
	vs := sh.m[e.key]
	rest := make([]*Entry, 0, len(vs))
	for _, v := range vs {
		if v != e {
			rest = append(rest, v)
		}
	}
	if len(rest) == 0 {
		delete(sh.m, e.key)
	} else {
		sh.m[e.key] = rest
	}
	sh.mu.Unlock()
}

// Purge removes every variant stored under primary and returns how many there were. Once
// it returns, no Lookup that starts afterwards finds them (one already under way may).
func (s *Store) Purge(primary []byte) int {
	h := maphash.Bytes(s.seed, primary)
	sh := s.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	sh.mu.Lock()
	vs := sh.m[string(primary)]
	delete(sh.m, string(primary))
	sh.mu.Unlock()
	for _, v := range vs {
		s.unlink(v)
	}
	return len(vs)
}

// PurgePrefix removes every entry whose primary key starts with prefix (e.g. a host, or a
// host and a path prefix) and returns how many it removed. It scans the whole index: an
// admin operation, not a request-path one.
func (s *Store) PurgePrefix(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, vs := range sh.m {
			if strings.HasPrefix(k, prefix) {
				delete(sh.m, k)
				for _, v := range vs {
					s.unlink(v)
				}
				n += len(vs)
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// Flush removes every entry. Entries already returned by Lookup stay valid for their users.
func (s *Store) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, vs := range sh.m {
			for _, v := range vs {
				v.queue, v.prev, v.next = queueNone, nil, nil
			}
		}
		sh.m = make(map[string][]*Entry)
		sh.mu.Unlock()
	}
	s.small, s.main = fifo{}, fifo{}
	s.bytes = 0
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Entries = s.small.n + s.main.n
	st.Bytes = s.bytes
	return st
}

// fifo is an intrusive doubly linked queue of entries: pushHead inserts, tail is the
// oldest. Guarded by Store.mu.
type fifo struct {
	head, tail *Entry
	n          int
	bytes      int64
	rounds     int // main queue: reinsertions since the last eviction
}

func (q *fifo) pushHead(e *Entry, id uint8) {
	e.queue, e.prev, e.next = id, nil, q.head
	if q.head != nil {
		q.head.prev = e
	} else {
		q.tail = e
	}
	q.head = e
	q.n++
	q.bytes += e.size
}

func (q *fifo) remove(e *Entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		q.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		q.tail = e.prev
	}
	e.queue, e.prev, e.next = queueNone, nil, nil
	q.n--
	q.bytes -= e.size
}

// ghost remembers the hashes of keys recently evicted from the small queue, so a key that
// comes back soon after goes straight to the main queue. It is a ring of hashes with a map
// from hash to the sequence number of its latest slot; only the last `live` additions
// count (S3-FIFO keeps as many ghosts as the cache holds entries). Guarded by Store.mu.
type ghost struct {
	ring []uint64
	at   map[uint64]uint64
	seq  uint64
}

func (g *ghost) init(maxBytes int64) {
	n := min(max(maxBytes/1024, 1024), 1<<20)
	g.ring = make([]uint64, n)
	g.at = make(map[uint64]uint64, n)
}

func (g *ghost) add(h uint64) {
	slot := g.seq % uint64(len(g.ring))
	if g.seq >= uint64(len(g.ring)) {
		if old := g.ring[slot]; g.at[old] == g.seq-uint64(len(g.ring)) {
			delete(g.at, old)
		}
	}
	g.ring[slot] = h
	g.at[h] = g.seq
	g.seq++
}

func (g *ghost) contains(h uint64, live int) bool {
	s, ok := g.at[h]
	return ok && g.seq-s <= uint64(max(live, 64))
}
