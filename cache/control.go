package cache

// MaxDelta is the largest delta-seconds value the cache represents; larger values, and
// calculations that would overflow, become MaxDelta (RFC 9111 §1.2.2).
const MaxDelta = 1 << 31

// Absent is the value of a CacheControl argument whose directive was not sent.
const Absent = -1

// CacheControl holds the directives of the Cache-Control field lines of one message
// (RFC 9111 §5.2). Arguments are seconds in 0..MaxDelta, or Absent. Take it from
// ParseCacheControl: its zero value means "max-age=0, s-maxage=0, ...", not "no directives".
type CacheControl struct {
	MaxAge               int64 // request and response
	SMaxAge              int64 // response
	MaxStale             int64 // request; MaxDelta for max-stale without an argument
	MinFresh             int64 // request
	StaleWhileRevalidate int64 // response (RFC 5861 §3)
	StaleIfError         int64 // request and response (RFC 5861 §4)

	NoStore         bool
	NoCache         bool // with or without field names: see ParseCacheControl
	Private         bool // with or without field names
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	OnlyIfCached    bool
	Immutable       bool // RFC 8246
	NoTransform     bool
}

var noDirectives = CacheControl{
	MaxAge: Absent, SMaxAge: Absent, MaxStale: Absent, MinFresh: Absent,
	StaleWhileRevalidate: Absent, StaleIfError: Absent,
}

// ParseCacheControl reads every Cache-Control field line of f (RFC 9111 §5.2). It does not
// allocate and never fails: directive names are case-insensitive, unknown directives are
// ignored (§5.2.3), arguments may be tokens or quoted strings (§5.2), and anything dubious
// gets the reading that serves less from the cache:
//
//   - an invalid or missing argument where one is required counts as 0 for max-age,
//     s-maxage, stale-while-revalidate and stale-if-error (the response is stale, §4.2.1),
//     and as MaxDelta for min-fresh (no response is fresh enough);
//   - a repeated directive keeps its smallest argument (largest for min-fresh);
//   - no-cache="field" and private="field" are read as plain no-cache and private: the cache
//     never stores a response with some fields stripped (§5.2.2.4, §5.2.2.7 allow that; we
//     take the conservative choice).
func ParseCacheControl(f Fields) CacheControl {
	cc := noDirectives
	for n := 0; ; n++ {
		v, ok := f.Field("Cache-Control", n)
		if !ok {
			break
		}
		for item, i := nextItem(v, 0); item != nil; item, i = nextItem(v, i) {
			cc.directive(item)
		}
	}
	return cc
}

// directive applies one list element: token [ "=" ( token / quoted-string ) ].
func (cc *CacheControl) directive(item []byte) {
	name, arg, hasArg := item, []byte(nil), false
	for k, c := range item {
		if c == '=' {
			name, arg, hasArg = trimOWS(item[:k]), unquote(trimOWS(item[k+1:])), true
			break
		}
	}
	switch {
	case eqFold(name, "max-age"):
		cc.MaxAge = minDelta(cc.MaxAge, delta(arg, hasArg, 0))
	case eqFold(name, "s-maxage"):
		cc.SMaxAge = minDelta(cc.SMaxAge, delta(arg, hasArg, 0))
	case eqFold(name, "max-stale"):
		d := int64(MaxDelta) // "max-stale" alone: any staleness (§5.2.1.2)
		if hasArg {
			d = delta(arg, true, 0)
		}
		cc.MaxStale = minDelta(cc.MaxStale, d)
	case eqFold(name, "min-fresh"):
		cc.MinFresh = max(cc.MinFresh, delta(arg, hasArg, MaxDelta))
	case eqFold(name, "stale-while-revalidate"):
		cc.StaleWhileRevalidate = minDelta(cc.StaleWhileRevalidate, delta(arg, hasArg, 0))
	case eqFold(name, "stale-if-error"):
		cc.StaleIfError = minDelta(cc.StaleIfError, delta(arg, hasArg, 0))
	case eqFold(name, "no-store"):
		cc.NoStore = true
	case eqFold(name, "no-cache"):
		cc.NoCache = true
	case eqFold(name, "private"):
		cc.Private = true
	case eqFold(name, "public"):
		cc.Public = true
	case eqFold(name, "must-revalidate"):
		cc.MustRevalidate = true
	case eqFold(name, "proxy-revalidate"):
		cc.ProxyRevalidate = true
	case eqFold(name, "only-if-cached"):
		cc.OnlyIfCached = true
	case eqFold(name, "immutable"):
		cc.Immutable = true
	case eqFold(name, "no-transform"):
		cc.NoTransform = true
	}
}

// minDelta keeps the smaller of two arguments, Absent counting as unset.
func minDelta(old, d int64) int64 {
	if old == Absent {
		return d
	}
	return min(old, d)
}

// delta parses delta-seconds (1*DIGIT, §1.2.2), saturating at MaxDelta; bad is returned for
// a missing or invalid argument.
func delta(b []byte, hasArg bool, bad int64) int64 {
	if !hasArg || len(b) == 0 {
		return bad
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return bad
		}
		if n = n*10 + int64(c-'0'); n > MaxDelta {
			n = MaxDelta
		}
	}
	return n
}

// unquote strips the quotes of a quoted-string argument ("60" → 60). Arguments the cache
// reads are digits, so a quoted-pair inside is left in place and makes the number invalid.
func unquote(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}
