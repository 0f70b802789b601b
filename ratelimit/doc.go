// Package ratelimit limits request rates and requests in flight per key, from
// every event loop at once, without locks, allocation, syscalls or waiting:
// Local is a GCRA rate limit, Gauge an in-flight bound, Shared a rate limit
// shared by several instances through Redis. Keys are uint64 hashes the caller
// computes; time is the caller's monotonic clock in nanoseconds.
//
//	l := ratelimit.NewLocal(ratelimit.Rule{Rate: 100, Burst: 20}, 0) // once, at config time
//	d := l.Allow(key, now)                                           // per request, on any loop
//	if !d.Allowed { /* 429, Retry-After: d.RetryAfter */ }
//
// # The rate algorithm: GCRA
//
// A rule of Rate requests per Period admits one request every T = Period/Rate
// on average, and Burst at once. GCRA keeps one number per key, the
// theoretical arrival time (TAT): when the key's history would be fully spent.
// A request at now is admitted if max(TAT, now) + T - now <= Burst·T; then
// TAT becomes max(TAT, now) + T. A refused request changes nothing. So a key
// idle for long enough (TAT in the past) is exactly a key never seen, and in any
// window of length w a key is admitted at most Burst + w/T times. T is kept in
// whole microseconds (rounded; rules above one million per second per key run
// at one million).
//
// # The table: one atomic word per key
//
// Keys live in a table of buckets of 8 slots (64 bytes, one cache line). The
// bucket comes from the high bits of the (remixed) key; each slot is one uint64
// holding a 16-bit fingerprint of the key's low bits and a 48-bit value: the TAT
// in microseconds for Local, the count for Gauge. A decision reads the bucket,
// finds the key's slot by fingerprint, computes the new value and publishes it
// with one compare-and-swap on the word it read. If the CAS fails another loop
// changed that slot first; the decision starts again from a fresh read. Every
// admission is thus one atomic step from one state of the key to the next: N
// loops hammering one key admit exactly what one loop would (the tests check
// Burst + elapsed/T to the request under contention).
//
// A key not in its bucket takes the slot with the smallest TAT. If that TAT has
// passed, the slot is free (its key is in the state of a key never seen): idle
// keys are evicted for free, with no sweeper. Otherwise the bucket holds 8 live
// keys and the one closest to idle loses its history: that key may then be
// over-admitted by up to Burst. This needs more than 8 keys live at once in one
// bucket, where live means admitted within the last Burst·T. With as many live
// keys as slots, 41% of buckets overflow (14% of keys); with half as many, 2%
// (0.8% of keys); with a quarter, 0.02%. Size maxKeys to at least twice the keys
// live at once.
//
// Two keys with the same bucket and fingerprint share one limit (stricter for
// both, never looser). In the default table (2^20 slots: 2^17 buckets times
// 2^16 fingerprints) a pair collides with probability 2^-33: with a million
// keys live at once, a given key shares its limit with probability 1/8192, and
// about 64 pairs share in all.
//
// Memory is fixed at construction: maxKeys (default 2^20) rounded up to a power
// of two, 8 bytes per slot: 8 MiB for Local or Gauge by default, 16 MiB (16
// bytes per slot) for Shared.
//
// One rare race is tolerated: two loops seeing a new key at once while a third
// key claims a slot in the same bucket may give the new key two slots; the
// first is used from then on, and at most one request per racing loop is
// over-admitted, once.
//
// # In flight: Gauge
//
// Gauge counts requests in flight per key in the same table (count 0 is a free
// slot). Acquire increments unless the key already holds max; Release
// decrements a slot of the key's fingerprint, so even colliding keys (which
// share a count) release exactly what they acquired. When a bucket holds 8 keys
// with requests in flight, Acquire admits without counting (fails open): the
// count reads low while such a request runs, and is back at zero when the key's
// last request ends, so nothing leaks.
//
// # Across instances: Shared
//
// Shared never makes a loop wait on Redis. Each instance runs a Local at the
// full rate and decides on it; what it admits is counted per key in a second
// word per slot (the key's 44-bit tag, which also names it in Redis, and a
// 20-bit count), and a bit per bucket marks where counts wait. Every Sync (20ms)
// one goroutine takes the counts and, in one pipelined round trip, runs a Lua
// script that merges them into each key's global TAT on Redis's own clock
// (instance clocks never meet): the global TAT becomes the later of tat + k·T
// (k admissions stacked on the others') and the instance's own TAT. Redis
// answers how far each global TAT runs ahead, and the instance raises its local
// TAT to that (never lowers it). Keys expire in Redis once their TAT has
// passed. Every admission reaches the global TAT once, so the long-run rate over
// all instances is exact.
//
// What an instance does not know when it decides is what the others admitted
// since their last sync that reached Redis before its own last sync: at most a
// window of D = 2·Sync + 4·RTT (RTT: a Redis round trip plus scheduling). Each
// other instance admits at most Burst + D/T in such a window (its own GCRA), so
// with N instances, in any window of length w, all of them together admit at
// most
//
//	Burst + w/T + (N-1)·(Burst + D/T)
//
// requests: the over-admission is at most (N-1)·(Burst + Rate·D/Period), spent
// when a key turns busy on several instances at once, then paid back (the
// global TAT runs ahead until the excess is drained). Measured here (two
// instances, 100/s, burst 10, Sync 20ms, local Redis): 11 in the worst
// 20–50ms window (bound 14.4 with a 1ms RTT), +1 over 3 s.
//
// Redis is reached by one connection per Shared, with no retries inside a sync
// (the next sync is the retry). Healthy turns false after a failed sync (within
// Sync + Timeout) and true after a good one (go-redis probes a refused address
// once a second, so within about a second of Redis's return). While unhealthy,
// OnError decides: FailLocal limits each instance alone at the full rate,
// FailOpen admits everything, FailClosed refuses everything. Counts that cannot
// be sent are dropped and counted (Dropped), so a dead Redis costs no memory and
// no goroutines. Redis does one script step per distinct key admitted per sync
// per instance.
package ratelimit
