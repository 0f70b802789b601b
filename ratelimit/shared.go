package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisConfig says where a Shared limit keeps its global state. The zero value
// of each field but Address takes the default.
type RedisConfig struct {
	Address  string        `toml:"address"` // host:port
	Username string        `toml:"username"`
	Password string        `toml:"password"`
	DB       int           `toml:"db"`
	Prefix   string        `toml:"prefix"`  // key prefix (default "loopgate:rl:")
	Sync     time.Duration `toml:"sync"`    // how often counts are pushed and global state pulled (default 20ms)
	Timeout  time.Duration `toml:"timeout"` // per Redis round trip, dial included (default 250ms)
}

// OnError is what a Shared limit does while Redis is unreachable.
type OnError int

const (
	FailLocal  OnError = iota // each instance limits alone at the full rate (the default)
	FailOpen                  // admit everything
	FailClosed                // refuse everything
)

var onErrorNames = [...]string{FailLocal: "local", FailOpen: "open", FailClosed: "closed"}

func (e OnError) String() string {
	if e < 0 || int(e) >= len(onErrorNames) {
		return "OnError(" + strconv.Itoa(int(e)) + ")"
	}
	return onErrorNames[e]
}

// UnmarshalText reads "local", "open" or "closed", so that configs can hold an
// OnError directly.
func (e *OnError) UnmarshalText(b []byte) error {
	for i, n := range onErrorNames {
		if string(b) == n {
			*e = OnError(i)
			return nil
		}
	}
	return fmt.Errorf("cannot use %q as on_error: want local, open or closed", b)
}

const (
	// A pending entry is tag<<countBits | count: the admissions of one key since
	// the last sync. The tag (the low 44 bits of the mixed key) names the key in
	// Redis, and its low 16 bits are the key's fingerprint in the Local table.
	countBits = 20
	countMask = 1<<countBits - 1
	tagMask   = 1<<(64-countBits) - 1

	redisChunk = 256  // keys per script call; the calls of one sync are pipelined
	ttlPadMS   = 1000 // a global TAT outlives its backlog by this much
	lastUnset  = math.MinInt64
)

// Shared is a rate limit shared by every instance that uses the same name and
// Redis. Allow never waits on Redis: it decides on a Local at the full rate and
// counts what it admits; a goroutine syncs those counts with Redis every
// RedisConfig.Sync and moves the local state forward to the global one. Allow
// is safe from any goroutine; it takes no lock, does not allocate and makes no
// syscall.
type Shared struct {
	local   *Local
	pend    []atomic.Uint64 // parallel to local.slots: the slot's key's admissions since the last sync
	dirty   []atomic.Uint64 // one bit per bucket holding a pending count
	onErr   OnError
	healthy atomic.Bool
	last    atomic.Int64  // the newest caller clock Allow saw, to 1ms
	dropped atomic.Uint64 // admissions that could not be told to Redis

	// Owned by the sync goroutine.
	name     string
	cfg      RedisConfig
	client   *redis.Client
	log      *slog.Logger
	start    time.Time
	offset   int64 // caller clock minus time.Since(start), largest seen
	offsetOK bool
	batch    []pending
	stop     chan struct{}
	done     chan struct{}
	closing  sync.Once
}

type pending struct {
	slot  int
	v     uint64 // the pending entry: tag and count
	ahead int64  // how far the key's local TAT ran ahead of now when collected, µs
}

// NewShared starts a limit named name (instances with the same name, Redis and
// prefix share it; they must agree on r) with its sync goroutine and a Redis
// client of one connection. It does not contact Redis: the first sync does,
// and until it fails the limit counts as healthy. log (nil: slog.Default) gets
// one line per change of health. Close stops it.
func NewShared(name string, r Rule, cfg RedisConfig, onErr OnError, maxKeys int, log *slog.Logger) *Shared {
	if cfg.Prefix == "" {
		cfg.Prefix = "loopgate:rl:"
	}
	if cfg.Sync <= 0 {
		cfg.Sync = 20 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	if log == nil {
		log = slog.Default()
	}
	l := NewLocal(r, maxKeys)
	s := &Shared{
		local: l,
		pend:  make([]atomic.Uint64, len(l.slots)),
		dirty: make([]atomic.Uint64, (len(l.slots)/slotsPerBucket+63)/64),
		onErr: onErr,
		name:  name,
		cfg:   cfg,
		log:   log,
		start: time.Now(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		client: redis.NewClient(&redis.Options{
			Addr:     cfg.Address,
			Username: cfg.Username,
			Password: cfg.Password,
			DB:       cfg.DB,
			// One sync at a time needs one connection. No retries inside a sync:
			// the next sync is the retry, and a retried script could count twice.
			PoolSize:              1,
			PipelinePoolSize:      -1,
			MaxRetries:            -1,
			DialerRetries:         1,
			DialTimeout:           cfg.Timeout,
			ReadTimeout:           cfg.Timeout,
			WriteTimeout:          cfg.Timeout,
			ContextTimeoutEnabled: true,
			DisableIdentity:       true,
			MaintNotificationsConfig: &maintnotifications.Config{
				Mode: maintnotifications.ModeDisabled,
			},
		}),
	}
	s.healthy.Store(true)
	s.last.Store(lastUnset)
	go s.run()
	return s
}

// Allow admits a request for key at now (monotonic nanoseconds of a clock that
// runs at real speed, any origin) and counts it, or refuses it and counts
// nothing. While Redis is unreachable, OnError decides. It does not allocate,
// lock, block or make a syscall.
func (s *Shared) Allow(key uint64, now int64) Decision {
	if !s.healthy.Load() {
		switch s.onErr {
		case FailOpen:
			return Decision{Allowed: true, Limit: s.local.burst, Remaining: s.local.burst - 1}
		case FailClosed:
			return Decision{Limit: s.local.burst, RetryAfter: time.Second}
		}
	}
	if now > s.last.Load()+int64(time.Millisecond) {
		s.last.Store(now) // at most once per ms: a rarely written line
	}
	h := mix(key)
	d, i := s.local.decide(h, s.local.micros(now), true)
	if d.Allowed {
		s.note(i, h)
	}
	return d
}

// note adds one admission of the mixed key h, whose Local slot is i, to the
// counts the next sync pushes.
func (s *Shared) note(i int, h uint64) {
	tag := h & tagMask
	for {
		v := s.pend[i].Load()
		switch {
		case v == 0:
			if s.pend[i].CompareAndSwap(0, tag<<countBits|1) {
				b := i / slotsPerBucket
				s.dirty[b/64].Or(1 << (b % 64))
				return
			}
		case v>>countBits == tag && v&countMask < countMask:
			if s.pend[i].CompareAndSwap(v, v+1) {
				return
			}
		default:
			// The slot's previous key, evicted within this sync interval, still
			// has counts to send, or this key's count is saturated: Redis will not
			// hear of this admission.
			s.dropped.Add(1)
			return
		}
	}
}

// Healthy reports whether Redis answered the last sync.
func (s *Shared) Healthy() bool { return s.healthy.Load() }

// Dropped is the number of admissions Redis never heard of: pushes that failed
// while it was unreachable, and the rare collisions of note.
func (s *Shared) Dropped() uint64 { return s.dropped.Load() }

// Bytes is the memory the tables hold: 16 bytes per slot (the Local's TAT and
// the pending count), plus one bit per bucket.
func (s *Shared) Bytes() int { return s.local.Bytes() + len(s.pend)*8 + len(s.dirty)*8 }

// Close stops the sync goroutine and closes the Redis client. Counts not yet
// pushed are lost. Allow stays safe after Close (a loop may still hold the old
// limit during a reload): it then limits this instance alone.
func (s *Shared) Close() {
	s.closing.Do(func() {
		close(s.stop)
		<-s.done
		s.client.Close()
	})
}

func (s *Shared) run() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.Sync)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sync()
		}
	}
}

// sync pushes the counts gathered since the last sync and applies the global
// state they return; with nothing to push it pings, so that Healthy stays true
// to its word. A sync that takes longer than Sync delays the next (the ticker
// drops ticks), so a slow or dead Redis never piles up work.
func (s *Shared) sync() {
	s.batch = s.batch[:0]
	var now int64
	if s.last.Load() != lastUnset { // else Allow never ran: nothing to push
		now = s.local.micros(s.callerNow())
		s.batch = s.collect(s.batch, now)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	var err error
	if len(s.batch) == 0 {
		err = s.client.Ping(ctx).Err()
	} else if err = s.push(ctx, now); err != nil {
		var n uint64
		for _, p := range s.batch {
			n += p.v & countMask
		}
		s.dropped.Add(n)
	}
	ok := err == nil
	if s.healthy.Swap(ok) != ok {
		if ok {
			s.log.Info("ratelimit: redis reachable again; sharing the limit", "limit", s.name, "address", s.cfg.Address)
		} else {
			s.log.Warn("ratelimit: redis unreachable", "limit", s.name, "address", s.cfg.Address, "on_error", s.onErr.String(), "err", err)
		}
	}
}

// collect takes every pending count out of the table, with how far the key's
// local TAT runs ahead of now (µs). A count added after its entry was taken
// starts a new entry and sets the dirty bit again, so nothing is lost between
// syncs.
func (s *Shared) collect(dst []pending, now int64) []pending {
	for w := range s.dirty {
		if s.dirty[w].Load() == 0 {
			continue
		}
		for x := s.dirty[w].Swap(0); x != 0; x &= x - 1 {
			b := w*64 + bits.TrailingZeros64(x)
			for i := b * slotsPerBucket; i < (b+1)*slotsPerBucket; i++ {
				if s.pend[i].Load() == 0 {
					continue
				}
				v := s.pend[i].Swap(0)
				if v == 0 {
					continue
				}
				// Unknown (the slot changed hands): k·T, as if admitted just now.
				ahead := int64(v&countMask) * s.local.t
				if w := s.local.slots[i].Load(); w>>valueBits == fingerprint(v>>countBits) {
					ahead = max(int64(w&valueMask)-now, 0)
				}
				dst = append(dst, pending{slot: i, v: v, ahead: ahead})
			}
		}
	}
	return dst
}

// script merges one instance's news into the global TAT of each key, on
// Redis's clock, and returns how far each TAT now runs ahead of that clock
// (µs). For each key the instance sends k, what it admitted since its last
// sync, and ahead, how far its own TAT runs ahead of its clock. The global TAT
// becomes the later of
//
//	tat + k·T    every admission stacks on what the other instances sent, and
//	now + ahead  the instance's own view, which already holds the global TAT it
//	             last pulled and its own admissions at the times they happened.
//
// (A plain max(tat, now) + k·T would date every admission to the sync, and cost
// a key up to Sync worth of quota each time it turns from idle to busy.) TATs
// are stored as decimal microseconds; a key expires once its TAT has passed
// (plus a margin), which is the same state as no key.
var script = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local T = tonumber(ARGV[1])
local pad = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS do
	local tat = tonumber(redis.call('GET', KEYS[i])) or 0
	tat = math.max(tat + tonumber(ARGV[2 * i + 1]) * T, now + tonumber(ARGV[2 * i + 2]))
	redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + pad)
	out[i] = tat - now
end
return out
`)

// push sends the batch in one pipelined round trip and raises each key's local
// TAT to the global one. now (µs) is the local time at which the batch was
// collected: the backlogs received are applied from that same instant, so an
// instance's own view makes the round trip unchanged (applying them from the
// time of the answer would push every busy key one round trip further into the
// future at each sync). The others' news is then early by up to one round trip.
func (s *Shared) push(ctx context.Context, now int64) error {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.Cmd, 0, (len(s.batch)+redisChunk-1)/redisChunk)
	for off := 0; off < len(s.batch); off += redisChunk {
		part := s.batch[off:min(off+redisChunk, len(s.batch))]
		keys := make([]string, len(part))
		args := make([]any, 2+2*len(part))
		args[0], args[1] = s.local.t, ttlPadMS
		buf := make([]byte, 0, len(s.cfg.Prefix)+len(s.name)+12)
		for j, p := range part {
			buf = append(buf[:0], s.cfg.Prefix...)
			buf = append(buf, s.name...)
			buf = append(buf, ':')
			buf = strconv.AppendUint(buf, p.v>>countBits, 16)
			keys[j] = string(buf)
			args[2+2*j], args[3+2*j] = p.v&countMask, p.ahead
		}
		// EVAL, not EVALSHA: a restarted Redis has an empty script cache, and the
		// script is a few hundred bytes every Sync.
		cmds = append(cmds, script.Eval(ctx, pipe, keys, args...))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for c, cmd := range cmds {
		ahead, err := cmd.Int64Slice()
		if err != nil {
			return err
		}
		part := s.batch[c*redisChunk : min((c+1)*redisChunk, len(s.batch))]
		for j, p := range part {
			if j < len(ahead) {
				tag := p.v >> countBits
				s.local.raise(p.slot, fingerprint(tag), uint64(now+ahead[j]))
			}
		}
	}
	return nil
}

// callerNow estimates the caller's clock. Both clocks are monotonic and run at
// real speed, so they differ by a constant; a reading of the caller's clock
// that Allow published can only be late, so the largest difference seen is
// the best estimate (within the 1ms at which Allow publishes, plus the caller's
// clock tick).
func (s *Shared) callerNow() int64 {
	mono := int64(time.Since(s.start))
	if l := s.last.Load(); l != lastUnset {
		if o := l - mono; o > s.offset || !s.offsetOK {
			s.offset, s.offsetOK = o, true
		}
	}
	return mono + s.offset
}
