package engine

import (
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"loopgate/codec"
	"loopgate/ratelimit"
	"loopgate/route"
	"loopgate/stats"
	"loopgate/upstream"
)

// limiter is a rate limit's state: ratelimit.Local, or ratelimit.Shared
// for store = "redis".
type limiter interface {
	Allow(key uint64, now int64) ratelimit.Decision
}

// limitRule is one [[rate_limit]] rule as the loops run it. Rules live in
// the Server across reloads: a reload that keeps a rule unchanged keeps its
// state, so a reload is no way around a limit.
type limitRule struct {
	cfg    RateLimit
	redis  ratelimit.RedisConfig // for store = "redis", what it was built with
	lim    limiter
	shared *ratelimit.Shared // lim, for store = "redis"; nil otherwise
	parts  []keyPart
	stats  *stats.RateLimitStats
	policy []byte // the RateLimit-Policy field line
	name   []byte // the rule's name quoted, for the RateLimit field
}

type keyPart struct {
	kind keyKind // keyIP, keyHeader, keyCookie, or keyRoute, keyHost, keyNormPath below
	name string
}

// Key parts only rate limits use, after key.go's.
const (
	keyRoute keyKind = iota + 100
	keyHost
	keyNormPath // the normalised path
)

// checkRateLimit validates a rule; errors name its key.
func checkRateLimit(r *RateLimit) (parts []keyPart, err error) {
	bad := func(key, format string, a ...any) error {
		return &RouteError{-1, key, fmt.Errorf(format, a...)}
	}
	if r.Name == "" {
		return nil, bad("name", "missing (required)")
	}
	if r.Rate <= 0 {
		return nil, bad("rate", "got %d; want 1 or more requests per period", r.Rate)
	}
	if r.Period < 0 || r.Burst < 0 {
		return nil, bad("burst", "got a negative period or burst")
	}
	switch r.Store {
	case "", "local":
	case "redis":
	default:
		return nil, bad("store", `got %q; want "local" or "redis"`, r.Store)
	}
	var onErr ratelimit.OnError
	if r.OnRedisError != "" {
		if err := onErr.UnmarshalText([]byte(r.OnRedisError)); err != nil {
			return nil, bad("on_redis_error", `got %q; want "local", "open" or "closed"`, r.OnRedisError)
		}
	}
	key := r.Key
	if len(key) == 0 {
		key = []string{"client"}
	}
	for _, k := range key {
		kind, name, ok := strings.Cut(k, ":")
		switch {
		case k == "client":
			parts = append(parts, keyPart{kind: keyIP})
		case k == "route":
			parts = append(parts, keyPart{kind: keyRoute})
		case k == "host":
			parts = append(parts, keyPart{kind: keyHost})
		case k == "path":
			parts = append(parts, keyPart{kind: keyNormPath})
		case ok && kind == "header" && codec.ValidFieldName(name):
			parts = append(parts, keyPart{kind: keyHeader, name: name})
		case ok && kind == "cookie" && name != "":
			parts = append(parts, keyPart{kind: keyCookie, name: name})
		default:
			return nil, bad("key", `cannot use %q; want "client", "route", "host", "path", "header:NAME" or "cookie:NAME"`, k)
		}
	}
	return parts, nil
}

// buildLimits gives every rule of cfg its limiter: the one of have (the
// running rules) when the rule is unchanged, a fresh one otherwise. It runs
// after everything else of the generation compiled, so that a refused
// config starts no Redis client.
func buildLimits(cfg *Config, have map[string]*limitRule, st *stats.Proxy, log *slog.Logger) map[string]*limitRule {
	out := make(map[string]*limitRule, len(cfg.RateLimits))
	for _, r := range cfg.RateLimits {
		parts, _ := checkRateLimit(&r) // checked already
		if old := have[r.Name]; old != nil && sameRule(old, &r, cfg) {
			out[r.Name] = old
			continue
		}
		lr := &limitRule{cfg: r, parts: parts}
		rule := r.Rule
		if r.Store == "redis" {
			var onErr ratelimit.OnError
			if r.OnRedisError != "" {
				_ = onErr.UnmarshalText([]byte(r.OnRedisError))
			}
			lr.redis = cfg.Redis
			lr.shared = ratelimit.NewShared(r.Name, rule, cfg.Redis, onErr, r.MaxKeys, log)
			lr.lim = lr.shared
		} else {
			lr.lim = ratelimit.NewLocal(rule, r.MaxKeys)
		}
		if st != nil {
			lr.stats = st.RateLimit(r.Name)
			if lr.shared != nil {
				lr.stats.WatchRedis(st, lr.shared.Healthy)
			}
		}
		period := r.Period
		if period == 0 {
			period = time.Second
		}
		lr.name = []byte(strconv.Quote(r.Name))
		lr.policy = fmt.Appendf(nil, "RateLimit-Policy: %s;q=%d;w=%d\r\n", lr.name, r.Rate, int64(math.Ceil(period.Seconds())))
		out[r.Name] = lr
	}
	return out
}

// sameRule reports whether the running rule old is what r configures.
func sameRule(old *limitRule, r *RateLimit, cfg *Config) bool {
	return reflect.DeepEqual(old.cfg, *r) && (r.Store != "redis" || old.redis == cfg.Redis)
}

// closeLimits stops the Redis clients of the rules of old that next does
// not keep.
func closeLimits(old, next map[string]*limitRule) {
	for name, lr := range old {
		if lr.shared != nil && next[name] != lr {
			lr.shared.Close()
		}
	}
}

// limited applies rules to the request r parsed from b[:n], routed to a.
// When one refuses it consumes the head, answers 429 and reports true; a
// dry-run rule only counts. An admitted request may get RateLimit fields
// for its response.
func (cc *clientConn) limited(rules []*limitRule, b []byte, r *codec.Request, a *routeAction, n int) bool {
	t := monoNow()
	for _, lr := range rules {
		key, ok := cc.limitKey(lr, b, r, a)
		if !ok {
			continue
		}
		d := lr.lim.Allow(key, t)
		if d.Allowed {
			lr.stats.Allowed.Inc()
			if lr.cfg.HeadersAlways {
				cc.respExtra = appendRateFields(cc.respExtra, lr, &d)
			}
			continue
		}
		if lr.cfg.DryRun {
			lr.stats.DryRun.Inc()
			continue
		}
		lr.stats.Limited.Inc()
		cc.log.reason = stats.ReasonRateLimit
		cc.consume(n)
		l := cc.l
		l.fields = appendRateFields(l.fields[:0], lr, &d)
		cc.answerRetry(429, false, seconds(d.RetryAfter), l.fields)
		return true
	}
	return false
}

// appendRateFields appends the rule's RateLimit-Policy and RateLimit
// fields (draft-ietf-httpapi-ratelimit-headers): the quota per window, and
// what is left of it now and when it is whole again.
func appendRateFields(dst []byte, lr *limitRule, d *ratelimit.Decision) []byte {
	dst = append(dst, lr.policy...)
	dst = append(dst, "RateLimit: "...)
	dst = append(dst, lr.name...)
	dst = append(dst, ";r="...)
	dst = strconv.AppendInt(dst, int64(max(d.Remaining, 0)), 10)
	dst = append(dst, ";t="...)
	dst = strconv.AppendInt(dst, int64(seconds(d.Reset)), 10)
	return append(dst, "\r\n"...)
}

// seconds rounds d up to whole seconds, at least 1 (Retry-After counts
// seconds, RFC 9110 §10.2.3, and 0 would invite an immediate retry).
func seconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// limitKey computes the rule's key for the request; not ok when a part is
// missing (no such header or cookie): the rule does not count the request.
func (cc *clientConn) limitKey(lr *limitRule, b []byte, r *codec.Request, a *routeAction) (uint64, bool) {
	var k uint64
	for i := range lr.parts {
		p := &lr.parts[i]
		var h uint64
		switch p.kind {
		case keyIP:
			h = cc.clientIPKey(b, r)
		case keyHeader:
			sp, ok := r.Lookup(b, p.name)
			if !ok {
				return 0, false
			}
			h = upstream.HashKey(sp.Bytes(b))
		case keyCookie:
			v, ok := cookieValue(b, r, p.name)
			if !ok {
				return 0, false
			}
			h = upstream.HashKey(v)
		case keyRoute:
			h = a.nameKey
		case keyHost:
			l := cc.l
			l.hostBuf = route.NormalizeHost(l.hostBuf[:0], r.EffectiveHost(b))
			h = upstream.HashKey(l.hostBuf)
		case keyNormPath:
			l := cc.l
			path, _ := targetParts(b, r)
			l.keyBuf, _ = route.NormalizePath(l.keyBuf[:0], path)
			h = upstream.HashKey(l.keyBuf)
		}
		k = (k^h)*0x9e3779b97f4a7c15 + uint64(i)
	}
	return k, true
}

// overLimit refuses a request over max_requests_per_client: 429 on a
// connection that stays open, or a close without an answer when
// over_limit = "close".
func (cc *clientConn) overLimit() {
	if cc.l.cfg.OverLimitClose {
		cc.record()
		cc.closeNow()
		return
	}
	cc.answer(429, false)
}
