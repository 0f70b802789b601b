// Package cache is loopgate's shared HTTP response cache (RFC 9111): the storage and
// freshness decisions as pure functions over a message's fields, and a bounded in-memory
// Store whose hit path runs on any event loop without allocating and without holding a
// lock across a write. Standard library only.
//
//	if cache.Bypass("GET", req, cfg) == cache.ReasonNone {
//		e, st := store.Lookup(key, req, now) // key: lower-cased effective host + target
//		if st == cache.Fresh { out = cache.AppendHit(out, e, now) /* + X-Cache, CRLF, e.Body */ }
//	}
//	// miss: forward; on the response head:
//	if ok, why := cache.Storable("GET", status, req, resp, cfg); ok {
//		e := cache.NewEntry(head, req, times, cfg) // then e.AppendBody(chunk) per chunk
//		store.Insert(key, e)                       // when the body is complete
//	}
//
// # Policy
//
// A shared cache: private responses and responses to Authorization requests that are not
// marked shareable (§3.5) are never stored, s-maxage wins over max-age over Expires, and
// freshness is heuristic only when Config.Heuristic says so. Only GET responses are stored;
// HEAD is served from them. Requests with Cookie bypass the cache and responses with
// Set-Cookie are not stored unless the Config says otherwise. A response is stored when it
// has a freshness lifetime, or asks to be revalidated and has a validator. Dubious
// Cache-Control (repeated or invalid directives) gets the reading that serves less from the
// cache. Vary selects among up to MaxVariants variants per key; Accept-Encoding is compared
// as the set of codings accepted (br, gzip, identity, zstd), other fields after whitespace
// normalisation. Entries are immutable; a 304 makes a new entry sharing the body (Refresh).
//
// # Eviction: S3-FIFO
//
// Memory is bounded by Config.MaxBytes, counting head, body and a fixed per-entry overhead;
// Insert evicts before it admits. New entries enter a small FIFO (10% of the bytes); when
// it is over its share its oldest entry leaves: to the main FIFO if it was hit while there,
// else out of the cache, its key hash kept in a ghost list. A key that returns while its
// ghost is remembered enters the main FIFO directly. The main FIFO evicts its oldest entry
// unless it has hits left (a 0..3 counter), in which case it gets another round with one hit
// less. So one-hit wonders (crawlers, scans) churn through the small queue without pushing
// out the hot set, which LRU cannot promise, and a hit costs one atomic load (and a store
// only while the counter is below 3) instead of a list move under a lock (S3-FIFO: Yang et
// al., SOSP 2023).
//
// # Concurrency
//
// The index is split into shards by a seeded hash of the primary key; each shard is a
// map[string][]*Entry under a RWMutex. Lookup holds the read lock only for the map read
// (m[string(b)] does not allocate), then matches the Vary variant and judges freshness on
// the immutable Entry with no lock at all. The variant slices are copy-on-write, so a
// reader never sees one change. Insert, Purge, PurgePrefix and Flush serialise on one store
// mutex, which guards the queues and the byte count, and take a shard's write lock only to
// swap a map value; they are on the miss and admin paths, where an upstream round trip
// dwarfs them. A lock-free index (atomic pointer to an immutable map) would make every insert
// copy a shard; the read lock is one atomic add on a line that 64 shards spread out.
// Returned entries stay valid after eviction or purge: the garbage collector reclaims them
// when the last writer drops them.
package cache
