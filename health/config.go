package health

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is a pool's [pool.health] section. Its zero value is the default:
// HTTP probes of "GET /health" every 10s. WithDefaults fills in the defaults;
// Validate checks the result.
type Config struct {
	// Disabled turns active probes off: every backend stays up as far as
	// this package is concerned (default false).
	Disabled bool `toml:"disabled"`
	// Type is "http" (a request; the answer's status and optionally its
	// body are checked) or "tcp" (a connect only) (default "http").
	Type string `toml:"type"`
	// Method of the probe request; a token, not CONNECT (default "GET").
	Method string `toml:"method"`
	// Path is the request target; it starts with "/" (default "/health").
	Path string `toml:"path"`
	// Host is the Host header of the probe (default: the backend address).
	Host string `toml:"host"`
	// Headers are extra "Name: value" lines sent with the probe, such as
	// "User-Agent: x" or "Authorization: Bearer t". Host, Connection,
	// Content-Length and Transfer-Encoding are not allowed (default none).
	Headers []string `toml:"headers"`
	// Expect lists the statuses that pass: codes and ranges separated by
	// commas, such as "200-399" or "200,204,301-302" (default "200-399").
	Expect string `toml:"expect"`
	// BodyContains, when set, must appear in the first 64 KiB of the
	// response body for the probe to pass (default "": not checked).
	BodyContains string `toml:"body_contains"`
	// Interval is the time between the starts of two probes of a backend
	// that is steadily up (default 10s).
	Interval time.Duration `toml:"interval"`
	// Timeout bounds one probe, connect and answer included; it must be
	// shorter than Interval (default 2s, or Interval/2 if that is smaller).
	Timeout time.Duration `toml:"timeout"`
	// Rise is the number of consecutive passes that bring a down backend
	// up (default 2).
	Rise int `toml:"rise"`
	// Fall is the number of consecutive failures that take an up backend
	// down (default 3).
	Fall int `toml:"fall"`
	// Jitter spreads probes: each delay is scaled by a random factor in
	// [1-Jitter, 1+Jitter]. 0 means the default; a negative value turns
	// jitter off; at most 0.5 (default 0.1).
	Jitter float64 `toml:"jitter"`
	// FastInterval replaces Interval while a backend is changing state (an
	// up backend that failed its last probe, or a down one that passed it),
	// so a flip is confirmed quickly (default Interval/4, at least 100ms and
	// at most Interval).
	FastInterval time.Duration `toml:"fast_interval"`
	// DownInterval replaces Interval while a backend is steadily down, to
	// probe dead backends less often if wanted (default Interval).
	DownInterval time.Duration `toml:"down_interval"`

	// TLS probes over TLS with this client config (the pool's [pool.tls],
	// set by the engine, as HAProxy's check-ssl): the handshake must pass,
	// and an "http" probe is sent through it. Each backend is named by
	// certs.ForAddr. nil: plain TCP.
	TLS *tls.Config `toml:"-"`
}

// Defaults, documented in docs/HEALTH.md.
const (
	DefaultType     = "http"
	DefaultMethod   = "GET"
	DefaultPath     = "/health"
	DefaultExpect   = "200-399"
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 2 * time.Second
	DefaultRise     = 2
	DefaultFall     = 3
	DefaultJitter   = 0.1

	minFastInterval = 100 * time.Millisecond
	maxJitter       = 0.5
	maxRiseFall     = 1000
	// maxBody bounds the response bytes a probe reads (head and body).
	maxBody = 64 << 10
)

// ErrConfig is wrapped by every error of Validate.
var ErrConfig = errors.New("invalid health config")

// WithDefaults returns a copy of c with zero fields set to their defaults.
// It does not validate: a negative Interval stays negative for Validate.
func (c Config) WithDefaults() Config {
	if c.Type == "" {
		c.Type = DefaultType
	}
	if c.Method == "" {
		c.Method = DefaultMethod
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.Expect == "" {
		c.Expect = DefaultExpect
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = min(DefaultTimeout, c.Interval/2)
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	if c.Jitter == 0 {
		c.Jitter = DefaultJitter
	}
	if c.FastInterval == 0 {
		c.FastInterval = min(c.Interval, max(c.Interval/4, minFastInterval))
	}
	if c.DownInterval == 0 {
		c.DownInterval = c.Interval
	}
	return c
}

// Validate checks c once defaults are applied (it applies them itself). Each
// error starts with "cannot", names the key and wraps ErrConfig. A disabled
// Config is valid whatever its other keys say.
func (c Config) Validate() error {
	if c.Disabled {
		return nil
	}
	c = c.WithDefaults()
	bad := func(key string, v any, why string) error {
		return fmt.Errorf("cannot use health.%s %q: %w: %s", key, fmt.Sprint(v), ErrConfig, why)
	}
	switch c.Type {
	case "http", "tcp":
	default:
		return bad("type", c.Type, `want "http" or "tcp"`)
	}
	if !isToken(c.Method) {
		return bad("method", c.Method, "want a method token such as GET or HEAD")
	}
	if c.Method == "CONNECT" {
		return bad("method", c.Method, "a probe cannot tunnel")
	}
	if !strings.HasPrefix(c.Path, "/") || !isVisible(c.Path) {
		return bad("path", c.Path, `want a path starting with "/", without spaces or control bytes`)
	}
	if c.Host != "" && !isVisible(c.Host) {
		return bad("host", c.Host, "want a host[:port] without spaces or control bytes")
	}
	for _, h := range c.Headers {
		if err := checkHeader(h); err != nil {
			return bad("headers", h, err.Error())
		}
	}
	if _, err := parseExpect(c.Expect); err != nil {
		return bad("expect", c.Expect, err.Error())
	}
	if len(c.BodyContains) > maxBody/2 {
		return bad("body_contains", c.BodyContains, "want at most 32 KiB")
	}
	if c.Type == "tcp" && c.BodyContains != "" {
		return bad("body_contains", c.BodyContains, `applies to type "http" only`)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"interval", c.Interval}, {"timeout", c.Timeout}, {"fast_interval", c.FastInterval}, {"down_interval", c.DownInterval}} {
		if d.v <= 0 {
			return bad(d.key, d.v, "want a positive duration")
		}
	}
	if c.Timeout >= c.Interval {
		return bad("timeout", c.Timeout, fmt.Sprintf("must be shorter than the interval %s: lower the timeout or raise the interval", c.Interval))
	}
	if c.Rise < 1 || c.Rise > maxRiseFall {
		return bad("rise", c.Rise, "want 1..1000")
	}
	if c.Fall < 1 || c.Fall > maxRiseFall {
		return bad("fall", c.Fall, "want 1..1000")
	}
	if !(c.Jitter <= maxJitter) { // NaN fails too
		return bad("jitter", c.Jitter, "want at most 0.5 (negative: off)")
	}
	return nil
}

// checkHeader checks one "Name: value" line of Config.Headers.
func checkHeader(h string) error {
	name, value, ok := strings.Cut(h, ":")
	if !ok || !isToken(name) {
		return errors.New(`want "Name: value" with a token for a name`)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return errors.New("want a value without control bytes")
		}
	}
	switch strings.ToLower(name) {
	case "host":
		return errors.New("set the Host header with health.host")
	case "connection", "content-length", "transfer-encoding":
		return errors.New("the probe sets " + name + " itself")
	}
	return nil
}

// expect is a parsed Config.Expect: inclusive status ranges.
type expect []struct{ lo, hi int }

// parseExpect parses "200-399" or "200,204,301-302". Codes are 100..599.
func parseExpect(s string) (expect, error) {
	var e expect
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		los, his, isRange := strings.Cut(part, "-")
		lo, err1 := parseStatus(los)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = parseStatus(his)
		}
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		if lo > hi {
			return nil, fmt.Errorf("range %q runs backwards", part)
		}
		e = append(e, struct{ lo, hi int }{lo, hi})
	}
	return e, nil
}

func parseStatus(s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || len(s) != 3 || n < 100 || n > 599 {
		return 0, fmt.Errorf("want status codes 100..599 and ranges like 200-399, separated by commas; got %q", s)
	}
	return n, nil
}

func (e expect) has(status int) bool {
	for _, r := range e {
		if r.lo <= status && status <= r.hi {
			return true
		}
	}
	return false
}

// isToken reports whether s is an RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// isVisible reports whether s is non-empty printable ASCII without spaces.
func isVisible(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
