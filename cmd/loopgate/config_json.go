package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net"
	"sort"
	"strconv"
	"time"

	"loopgate/engine"
	"loopgate/health"
)

// seedPool is the name of the one pool a seed config.json describes.
const seedPool = "default"

// decodeJSON decodes the config.json of the seed balancers, with exactly
// their keys; durations are in seconds:
//
//	proxy_host, proxy_port          -> Engine.Listen (default "0.0.0.0", 8080)
//	algorithm, backend_servers      -> one pool named "default"; servers are {host, port, weight}
//	health_check_interval, _timeout -> the pool's Health.Interval, Timeout; either turns probes on
//	max_connections                 -> Engine.MaxConnections
//	connection_timeout              -> Engine.Timeouts.ClientIdle (keep-alive idle)
//	request_timeout                 -> Engine.Timeouts.UpstreamResponse
//	enable_logging, enable_metrics  -> AccessLog, Metrics
//
// and, for the "LRU caching layer" on the seeds' roadmap, in their style:
//
//	enable_cache                    -> the pool's Cache (default false)
//	cache_size_mb                   -> Engine.Cache.MaxBytes, in MiB (default 64)
func decodeJSON(src *source, data []byte) *Config {
	root := jsonRoot(src, data)
	if root == nil {
		return nil
	}
	c := newConfig()
	e := &c.Engine
	// The seed's file cannot move the admin listener: a second instance on
	// one machine would find 9090 taken, so there it starts without one.
	c.Admin.Optional = true
	e.SeedEndpointsAllow = nil // the seeds answer their endpoints to every client

	host, port := "0.0.0.0", int64(8080)
	if root.str("proxy_host", &host) {
		if msg := hostProblem(host, false); msg != "" {
			src.errorf("proxy_host", ErrValue, "%s", msg)
		}
	}
	if n, ok := root.integer("proxy_port", 1, 65535); ok {
		port = n
	}
	e.Listen = net.JoinHostPort(host, strconv.FormatInt(port, 10))

	p := engine.Pool{Name: seedPool, Passive: defaultPassive()} // a hung backend is taken out (config_toml.go)
	if root.str("algorithm", &p.Algorithm) {
		checkAlgorithm(src, "algorithm", p.Algorithm)
	}
	if root.required("backend_servers") {
		bts, isArray := root.tables("backend_servers")
		for _, bt := range bts {
			var b engine.Backend
			if bt.bad {
				p.Backends = append(p.Backends, b) // keeps indexes aligned
				continue
			}
			var host string
			var port int64
			if bt.required("host") && bt.str("host", &host) {
				if msg := hostProblem(host, false); msg != "" {
					src.errorf(bt.key("host"), ErrValue, "%s", msg)
					host = ""
				}
			}
			if bt.required("port") {
				port, _ = bt.integer("port", 1, 65535)
			}
			if w, ok := bt.integer("weight", 0, maxWeight); ok {
				w := int(w)
				b.Weight = &w
			}
			bt.finish()
			if host != "" && port != 0 {
				b.Address = net.JoinHostPort(host, strconv.FormatInt(port, 10))
			}
			p.Backends = append(p.Backends, b)
		}
		if isArray {
			checkBackends(src, "backend_servers", func(j int) string { return indexKey("backend_servers", j) }, p.Backends)
		}
	}

	p.Health = decodeSeedHealth(root)
	root.setInt("max_connections", &e.MaxConnections, 0, math.MaxInt32)
	root.seconds("connection_timeout", &e.Timeouts.ClientIdle)
	root.seconds("request_timeout", &e.Timeouts.UpstreamResponse)
	root.boolean("enable_logging", &c.AccessLog)
	root.boolean("enable_metrics", &c.Metrics)
	root.boolean("enable_cache", &p.Cache)
	if n, ok := root.integer("cache_size_mb", 1, 1<<20); ok {
		e.Cache.MaxBytes = n << 20
	}
	root.finish()

	e.Pools = []engine.Pool{p}
	return c
}

// decodeSeedHealth maps the seed's health check keys onto a health.Config
// with its defaults filled in (probes are GET /health): either key turns
// probes on; with neither, they stay off (nil). A timeout not below the
// interval is lowered, with a warning: see clampSeedTimeout.
func decodeSeedHealth(root *table) *health.Config {
	var h health.Config
	root.seconds("health_check_interval", &h.Interval)
	root.seconds("health_check_timeout", &h.Timeout)
	_, hasInterval := root.m["health_check_interval"]
	_, hasTimeout := root.m["health_check_timeout"]
	if !hasInterval && !hasTimeout {
		return nil
	}
	clampSeedTimeout(root.src, &h, hasInterval && h.Interval != 0)
	keys := map[string]string{"interval": "health_check_interval", "timeout": "health_check_timeout"}
	section := "health_check_timeout"
	if hasInterval {
		section = "health_check_interval"
	}
	checkHealth(root.src, section, func(k string) string { return keys[k] }, h)
	h = h.WithDefaults()
	return &h
}

// clampSeedTimeout lowers a timeout that is not below the interval (the
// default one unless setInterval), which health.Config refuses, and records a
// warning. The seed balancers accept such a file (say 1 and 1), so refusing
// it would break "your config.json works as it is". The timeout becomes
// Interval×(1-Jitter), 90% of the interval: the earliest that jitter lets the
// next probe of an up backend start (a seed file cannot set jitter), so a
// probe that uses all of its timeout does not push that schedule back, and as
// much of the asked-for patience is kept as that allows.
func clampSeedTimeout(src *source, h *health.Config, setInterval bool) {
	iv := h.WithDefaults().Interval
	if h.Timeout < iv {
		return
	}
	t := iv - time.Duration(health.DefaultJitter*float64(iv))
	if t <= 0 || t >= iv {
		return // a nanosecond interval: health.Config.Validate refuses it
	}
	which := "the default health_check_interval"
	if setInterval {
		which = "health_check_interval"
	}
	src.warnf("health_check_timeout", ErrValue, "%s is not below %s %s; using %s", h.Timeout, which, iv, t)
	h.Timeout = t
}

// jsonRoot parses data into the top-level table, recording the line of every
// key path in src.lines and reporting duplicate keys, which encoding/json
// would silently resolve to the last one. It returns nil after a syntax error.
func jsonRoot(src *source, data []byte) *table {
	j := &jsonScanner{src: src, dec: json.NewDecoder(bytes.NewReader(data)), lines: map[string]int{}}
	j.dec.UseNumber()
	for i, c := range data {
		if c == '\n' {
			j.newlines = append(j.newlines, i)
		}
	}
	// json.Unmarshal locates syntax errors exactly (the Token API reports
	// offsets inside its lookahead), so validate with it first.
	if err := json.Unmarshal(data, new(any)); err != nil {
		line := j.lineAt(int64(len(data)) - 1)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = j.lineAt(se.Offset - 1)
		}
		src.add("", line, ErrSyntax, "cannot parse JSON: %s", err.Error())
		return nil
	}
	src.lines = j.lines
	v, err := j.value("")
	if err != nil {
		src.add("", 1, ErrSyntax, "cannot parse JSON: %s", err.Error())
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		src.add("", 1, ErrType, "want an object at the top level, got %s", src.describe(v))
		return nil
	}
	return &table{src: src, m: m}
}

// jsonScanner builds the value tree token by token, so it knows the line of
// every key; json.Unmarshal would not.
type jsonScanner struct {
	src      *source
	dec      *json.Decoder
	newlines []int // offsets of '\n' in the input
	lines    map[string]int
}

// lineAt returns the line of the byte at off.
func (j *jsonScanner) lineAt(off int64) int {
	return 1 + sort.SearchInts(j.newlines, int(max(off, 0)))
}

// value reads one value at path: map[string]any, []any, string, json.Number,
// bool or nil.
func (j *jsonScanner) value(path string) (any, error) {
	tok, err := j.dec.Token()
	if err != nil {
		return nil, err
	}
	if _, ok := j.lines[path]; !ok && path != "" {
		j.lines[path] = j.lineAt(j.dec.InputOffset() - 1)
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for j.dec.More() {
			kt, err := j.dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string) // the decoder only returns strings here
			kp := joinKey(path, k)
			line := j.lineAt(j.dec.InputOffset() - 1)
			_, dup := m[k]
			if dup {
				j.src.add(kp, line, ErrDuplicate, "duplicate key (first on line %d)", j.lines[kp])
			} else {
				j.lines[kp] = line
			}
			v, err := j.value(kp)
			if err != nil {
				return nil, err
			}
			if !dup {
				m[k] = v
			}
		}
		_, err := j.dec.Token() // '}'
		return m, err
	case json.Delim('['):
		a := []any{}
		for i := 0; j.dec.More(); i++ {
			v, err := j.value(indexKey(path, i))
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := j.dec.Token() // ']'
		return a, err
	}
	return tok, nil
}
