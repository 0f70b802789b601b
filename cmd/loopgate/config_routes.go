package main

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"loopgate/engine"
	"loopgate/route"
)

// decodeRoutes decodes the [[route]] tables and default_pool (docs/ROUTING.md).
func decodeRoutes(root *table, e *engine.Config) {
	src := root.src
	rts, _ := root.tables("route")
	for _, t := range rts {
		if t.bad {
			e.Routes = append(e.Routes, engine.Route{}) // keeps indexes aligned
			continue
		}
		e.Routes = append(e.Routes, decodeRoute(t))
	}
	decodeRateLimits(root, e)
	if e.DefaultPool != "" && len(e.Routes) == 0 {
		src.errorf("server.default_pool", ErrValue, "only used with [[route]]: without routes every request goes to the first pool")
	}
}

// decodeRoute decodes one [[route]] table (or an admin API body).
func decodeRoute(t *table) engine.Route {
	src := t.src
	var r engine.Route
	t.str("name", &r.Name)
	if r.Name != "" {
		if msg := poolNameProblem(r.Name); msg != "" {
			src.errorf(t.key("name"), ErrValue, "%s", msg)
		}
	}
	strOrList(t, "host", &r.Hosts)
	t.str("path", &r.Path)
	t.str("path_prefix", &r.PathPrefix)
	t.str("path_regex", &r.PathRegex)
	t.strList("methods", func(key, m string) {
		if !isToken(m) || strings.ToUpper(m) != m {
			src.errorf(key, ErrValue, "cannot use %q: want an upper-case method token such as \"GET\"", m)
			return
		}
		r.Methods = append(r.Methods, m)
	})
	r.Headers = conditions(t, "headers")
	r.Query = conditions(t, "query")

	t.str("pool", &r.Pool)
	t.str("redirect", &r.Redirect)
	t.setInt("redirect_status", &r.RedirectStatus, 0, 999)
	t.setInt("respond", &r.Respond, 0, 999)
	t.str("body", &r.Body)
	t.str("content_type", &r.ContentType)
	t.str("strip_prefix", &r.StripPrefix)
	var replace string
	if t.str("replace_prefix", &replace) {
		r.ReplacePrefix = &replace
	}
	t.duration("timeout", &r.Timeout)
	if n, ok := t.integer("retries", -1, 100); ok {
		n := int(n)
		r.Retries = &n
	}
	if n, ok := t.integer("max_body_bytes", 0, math.MaxInt64); ok {
		r.MaxBodyBytes = n
	}
	r.RequestHeaders = headerRules(t, "request_headers")
	r.ResponseHeaders = headerRules(t, "response_headers")
	cidrList(t, "client_allow", &r.ClientAllow)
	cidrList(t, "client_deny", &r.ClientDeny)
	strOrList(t, "rate_limit", &r.RateLimit)
	r.Compress = optBool(t, "compress")
	r.Cache = optBool(t, "cache")
	t.finish()
	return r
}

// checkRoutes compiles the decoded routes as the engine will, once nothing
// else is wrong, and reports the first problem at its route's key.
func checkRoutes(src *source, e *engine.Config) {
	err := engine.CheckRoutes(*e)
	if err == nil {
		return
	}
	var re *engine.RouteError
	if !errors.As(err, &re) {
		src.errorf("route", ErrValue, "%v", err)
		return
	}
	if re.Route < 0 {
		// route.Compile's messages begin "route N" or "route N (name)",
		// N indexing the routes as route[N] does.
		key, msg := re.Key, re.Err.Error()
		if key == "default_pool" {
			key = "server.default_pool"
		}
		if strings.HasPrefix(key, "rate_limit[") || key == "server.rate_limit" {
			src.errorf(key, ErrValue, "%s", msg)
			return
		}
		var n int
		if _, err := fmt.Sscanf(msg, "route %d", &n); err == nil && n >= 0 && n < len(e.Routes) {
			key = indexKey("route", n)
		}
		src.errorf(key, ErrValue, "%s", msg)
		return
	}
	src.errorf(indexKey("route", re.Route)+"."+re.Key, ErrValue, "%v", re.Err)
}

// strOrList decodes a string or an array of strings at k.
func strOrList(t *table, k string, dst *[]string) {
	v, ok := t.m[k]
	if !ok {
		t.get(k)
		return
	}
	if s, isStr := v.(string); isStr {
		t.get(k)
		*dst = append(*dst, s)
		return
	}
	t.strList(k, func(_, s string) { *dst = append(*dst, s) })
}

// conditions decodes a table of field conditions: name = "value" must
// equal, name = true must be present.
func conditions(t *table, k string) []route.Cond {
	m, names := namedTable(t, k, `a table such as { "X-Canary" = "1", "X-Debug" = true }`)
	var cs []route.Cond
	for _, n := range names {
		switch x := m[n].(type) {
		case string:
			cs = append(cs, route.Cond{Name: n, Value: x})
		case bool:
			if !x {
				t.src.errorf(t.key(k)+"."+n, ErrValue, "want a value to equal, or true for present")
				continue
			}
			cs = append(cs, route.Cond{Name: n, Any: true})
		default:
			t.src.errorf(t.key(k)+"."+n, ErrType, "want a string or true, got %s", t.src.describe(x))
		}
	}
	return cs
}

// headerRules decodes { set = { Name = "value" }, add = { ... }, remove = [ ... ] }.
func headerRules(t *table, k string) engine.HeaderRules {
	var h engine.HeaderRules
	if _, ok := t.m[k]; !ok {
		t.get(k)
		return h
	}
	ht := t.table(k)
	if ht.m == nil {
		return h
	}
	fields := func(k string) []engine.Field {
		m, names := namedTable(ht, k, `a table of field names and values, such as { "X-Served-By" = "b" }`)
		var fs []engine.Field
		for _, n := range names {
			s, isStr := m[n].(string)
			if !isStr {
				ht.src.errorf(ht.key(k)+"."+n, ErrType, "want a string, got %s", ht.src.describe(m[n]))
				continue
			}
			fs = append(fs, engine.Field{Name: n, Value: s})
		}
		return fs
	}
	h.Set = fields("set")
	h.Add = fields("add")
	ht.strList("remove", func(_, s string) { h.Remove = append(h.Remove, s) })
	ht.finish()
	return h
}

// cidrList decodes a list of CIDRs or addresses at k.
func cidrList(t *table, k string, dst *[]string) {
	t.strList(k, func(key, v string) {
		if cidr, msg := parseTrustedProxy(v); msg != "" {
			t.src.errorf(key, ErrValue, "cannot parse %q: %s", v, msg)
		} else {
			*dst = append(*dst, cidr)
		}
	})
}

// decodeRateLimits decodes the [[rate_limit]] rules and [redis]
// (docs/LIMITS.md).
func decodeRateLimits(root *table, e *engine.Config) {
	src := root.src
	rls, _ := root.tables("rate_limit")
	for _, t := range rls {
		var r engine.RateLimit
		if t.bad {
			e.RateLimits = append(e.RateLimits, r)
			continue
		}
		if t.required("name") && t.str("name", &r.Name) {
			if msg := poolNameProblem(r.Name); msg != "" {
				src.errorf(t.key("name"), ErrValue, "%s", msg)
			}
		}
		if t.required("rate") {
			t.setInt("rate", &r.Rate, 1, 1_000_000)
		}
		t.duration("period", &r.Period)
		t.setInt("burst", &r.Burst, 0, 1_000_000)
		strOrList(t, "key", &r.Key)
		t.boolean("dry_run", &r.DryRun)
		t.str("store", &r.Store)
		t.str("on_redis_error", &r.OnRedisError)
		t.setInt("max_keys", &r.MaxKeys, 0, 1<<28)
		var headers string
		if t.str("headers", &headers) {
			switch headers {
			case "limited":
			case "always":
				r.HeadersAlways = true
			default:
				src.errorf(t.key("headers"), ErrValue, `got %q; want "limited" (on 429s) or "always"`, headers)
			}
		}
		t.finish()
		e.RateLimits = append(e.RateLimits, r)
	}
	rt := root.table("redis")
	if rt.str("address", &e.Redis.Address) && e.Redis.Address != "" {
		checkHostPort(src, rt.key("address"), e.Redis.Address, false)
	}
	rt.str("username", &e.Redis.Username)
	rt.str("password", &e.Redis.Password)
	var pwFile string
	if rt.str("password_file", &pwFile) && pwFile != "" {
		if b, err := os.ReadFile(pwFile); err != nil {
			src.errorf(rt.key("password_file"), ErrValue, "cannot read: %v", err)
		} else {
			e.Redis.Password = strings.TrimRight(string(b), "\r\n")
		}
	}
	rt.setInt("db", &e.Redis.DB, 0, 1<<16)
	rt.str("prefix", &e.Redis.Prefix)
	rt.duration("sync", &e.Redis.Sync)
	rt.duration("timeout", &e.Redis.Timeout)
	rt.finish()
}

// namedTable returns the table at k, whose keys are names the user chose
// (field names), with those names sorted; nil when there is none or it is
// not a table (reported, saying what is wanted).
func namedTable(t *table, k, want string) (map[string]any, []string) {
	v, ok := t.get(k)
	if !ok {
		return nil, nil
	}
	m, isTable := v.(map[string]any)
	if !isTable {
		t.wrong(k, want, v)
		return nil, nil
	}
	return m, slices.Sorted(maps.Keys(m))
}

// decodeCompression decodes [compression] (docs/CACHE.md).
func decodeCompression(root *table, e *engine.Config) {
	c := &e.Compression
	t := root.table("compression")
	t.boolean("enabled", &c.Enabled)
	t.strList("types", func(key, v string) {
		if !strings.Contains(v, "/") {
			t.src.errorf(key, ErrValue, "cannot use %q: want a media type such as \"text/html\" or \"text/*\"", v)
			return
		}
		c.Types = append(c.Types, v)
	})
	t.setInt("min_size", &c.MinSize, 0, math.MaxInt32)
	t.strList("codings", func(key, v string) {
		if v != "gzip" && v != "br" && v != "zstd" {
			t.src.errorf(key, ErrValue, `cannot use %q: want "zstd", "br" or "gzip"`, v)
			return
		}
		c.Codings = append(c.Codings, v)
	})
	t.setInt("gzip_level", &c.GzipLevel, 0, 9)
	t.setInt("brotli_quality", &c.BrotliQuality, 0, 11)
	t.setInt("zstd_level", &c.ZstdLevel, 0, 22)
	t.setInt("max_streams", &c.MaxStreams, 0, 1<<20)
	t.finish()
}

// optBool decodes a boolean that may be absent (nil).
func optBool(t *table, k string) *bool {
	if _, set := t.m[k]; !set {
		t.get(k)
		return nil
	}
	var on bool
	t.boolean(k, &on)
	return &on
}

// decodeCache decodes [cache] (docs/CACHE.md).
func decodeCache(root *table, e *engine.Config) {
	c := &e.Cache
	t := root.table("cache")
	if n, ok := t.integer("max_bytes", 0, math.MaxInt64); ok {
		c.MaxBytes = n
	}
	if n, ok := t.integer("max_object", 0, math.MaxInt64); ok {
		c.MaxObject = n
	}
	t.setInt("shards", &c.Shards, 0, 4096)
	t.setInt("max_variants", &c.MaxVariants, 0, 1024)
	t.boolean("heuristic", &c.Heuristic)
	t.duration("heuristic_max", &c.HeuristicMax)
	t.boolean("cache_cookie_requests", &c.CacheCookieRequests)
	t.boolean("store_set_cookie", &c.StoreSetCookie)
	collapse := true
	t.boolean("collapse", &collapse)
	c.NoCollapse = !collapse
	t.duration("collapse_timeout", &c.CollapseTimeout)
	if t.str("header", &c.Header) && c.Header != "" && !isToken(c.Header) {
		t.src.errorf(t.key("header"), ErrValue, "cannot use %q: want a field name, or \"\" for none", c.Header)
	}
	t.finish()
}
