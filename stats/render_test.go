package stats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"loopgate/upstream"
)

// object decodes the JSON object in data, keeping the order of its keys.
func object(t *testing.T, data []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object (%v, %v): %s", tok, err, data)
	}
	var keys []string
	m := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("cannot read key: %v: %s", err, data)
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("cannot read value of %q: %v: %s", k, err, data)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("duplicate key %q: %s", k, data)
		}
		keys = append(keys, k)
		m[k] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		t.Fatalf("object not closed (%v, %v): %s", tok, err, data)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("data after the object: %s", data)
	}
	return keys, m
}

// wantKeys checks that the object in data has exactly keys, in order.
func wantKeys(t *testing.T, what string, data []byte, keys ...string) map[string]json.RawMessage {
	t.Helper()
	got, m := object(t, data)
	if !slices.Equal(got, keys) {
		t.Fatalf("%s: keys %q; want %q", what, got, keys)
	}
	return m
}

// array splits the JSON array in data into its elements.
func array(t *testing.T, data []byte) []json.RawMessage {
	t.Helper()
	var a []json.RawMessage
	if err := json.Unmarshal(data, &a); err != nil || a == nil {
		t.Fatalf("not a JSON array (%v): %s", err, data)
	}
	return a
}

func num(t *testing.T, data json.RawMessage) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(string(data), 64)
	if err != nil {
		t.Fatalf("not a number: %s", data)
	}
	return f
}

// wantNum checks a JSON number exactly, or within tol when tol > 0.
func wantNum(t *testing.T, what string, data json.RawMessage, want, tol float64) {
	t.Helper()
	got := num(t, data)
	if tol == 0 && got != want || tol > 0 && math.Abs(got-want) > tol {
		t.Fatalf("%s = %v; want %v (tolerance %v)", what, got, want, tol)
	}
}

func wantRaw(t *testing.T, what string, data json.RawMessage, want string) {
	t.Helper()
	if string(data) != want {
		t.Fatalf("%s = %s; want %s", what, data, want)
	}
}

var t0 = time.Unix(1_700_000_000, 0)

// seedProxy returns a Proxy fed with a known set of exchanges inside one
// 10s window: 3×200 in 1ms, 1×404 in 3ms, 2×503 in 10ms and a cut
// exchange of 5ms; 30 of backend a, 10 of b and 10 without one.
func seedProxy() (p *Proxy, a, b *BackendStats) {
	p = New(Options{Window: 10 * time.Second})
	p.start = time.Now().Add(-time.Minute)
	web := p.Pool("web")
	a, b = web.Backend("10.0.0.1:80"), web.Backend("10.0.0.2:80")
	p.record(t0)
	feed(p, 3, 200, a, time.Millisecond)
	feed(p, 1, 404, a, 3*time.Millisecond)
	feed(p, 2, 503, b, 10*time.Millisecond)
	feed(p, 1, 0, nil, 5*time.Millisecond)
	p.record(t0.Add(10 * time.Second))
	return p, a, b
}

var seedMetricsKeys = []string{"uptime_seconds", "total_requests", "total_errors", "requests_per_second", "error_rate", "response_times", "status_codes"}

func TestAppendSeedMetrics(t *testing.T) {
	p, _, _ := seedProxy()
	out := p.AppendSeedMetrics([]byte("prefix"))
	if !bytes.HasPrefix(out, []byte("prefix{")) {
		t.Fatalf("AppendSeedMetrics does not append: %s", out)
	}
	out = out[len("prefix"):]
	m := wantKeys(t, "/__metrics__", out, append(seedMetricsKeys, "window_seconds")...)
	if up := num(t, m["uptime_seconds"]); up < 60 || up > 120 {
		t.Fatalf("uptime_seconds = %v", up)
	}
	wantRaw(t, "total_requests", m["total_requests"], "7")
	wantRaw(t, "total_errors", m["total_errors"], "3")
	wantNum(t, "requests_per_second", m["requests_per_second"], 0.7, 0)
	wantNum(t, "error_rate", m["error_rate"], 42.857, 0) // 3/7, rounded to 3 decimals
	wantNum(t, "window_seconds", m["window_seconds"], 10, 0)

	rt := wantKeys(t, "response_times", m["response_times"], "average", "minimum", "maximum", "p95", "p99", "p50")
	wantNum(t, "average", rt["average"], 4.429, 0) // 31ms/7
	wantNum(t, "minimum", rt["minimum"], 1, 0)
	wantNum(t, "maximum", rt["maximum"], 10, 0)
	wantNum(t, "p95", rt["p95"], 9.5, 0.5) // in the (9ms, 10ms] bucket
	wantNum(t, "p99", rt["p99"], 9.5, 0.5)
	wantNum(t, "p50", rt["p50"], 2.75, 0.25) // the true median is 3ms: bucket (2.5ms, 3ms]
	if num(t, rt["p99"]) < num(t, rt["p95"]) {
		t.Fatalf("p99 < p95: %s", m["response_times"])
	}

	sc := wantKeys(t, "status_codes", m["status_codes"], "200", "404", "503")
	wantRaw(t, "200", sc["200"], "3")
	wantRaw(t, "404", sc["404"], "1")
	wantRaw(t, "503", sc["503"], "2")
}

func TestAppendSeedMetricsEmpty(t *testing.T) {
	p := New(Options{})
	m := wantKeys(t, "/__metrics__", p.AppendSeedMetrics(nil), append(seedMetricsKeys, "window_seconds")...)
	for _, k := range []string{"total_requests", "total_errors", "requests_per_second", "error_rate"} {
		wantRaw(t, k, m[k], "0")
	}
	rt := wantKeys(t, "response_times", m["response_times"], "average", "minimum", "maximum", "p95", "p99", "p50")
	for k, v := range rt {
		wantRaw(t, k, v, "0")
	}
	wantRaw(t, "status_codes", m["status_codes"], "{}")
}

func TestAppendSeedHealth(t *testing.T) {
	f := func(states []upstream.BackendStatus, wantOK bool, wantAvail, wantTotal int) {
		t.Helper()
		pools := []upstream.PoolStatus{{Name: "web", Backends: states}, {Name: "empty"}}
		out, ok := New(Options{}).AppendSeedHealth(nil, pools)
		m := wantKeys(t, "/__health__", out, "status", "uptime_seconds", "backends_available", "backends_total")
		status := `"unhealthy"`
		if wantOK {
			status = `"healthy"`
		}
		if ok != wantOK {
			t.Fatalf("ok = %v; want %v: %s", ok, wantOK, out)
		}
		wantRaw(t, "status", m["status"], status)
		wantRaw(t, "backends_available", m["backends_available"], strconv.Itoa(wantAvail))
		wantRaw(t, "backends_total", m["backends_total"], strconv.Itoa(wantTotal))
		num(t, m["uptime_seconds"])
	}
	up := upstream.BackendStatus{State: upstream.StateUp, Weight: 1, Current: 1}
	with := func(b upstream.BackendStatus, state string, current int) upstream.BackendStatus {
		b.State, b.Current = state, current
		return b
	}
	f(nil, false, 0, 0)
	f([]upstream.BackendStatus{up}, true, 1, 1)
	f([]upstream.BackendStatus{up, with(up, upstream.StateDown, 1)}, true, 1, 2)
	f([]upstream.BackendStatus{with(up, upstream.StateSlowStart, 1), with(up, upstream.StateEjected, 1)}, true, 1, 2)
	f([]upstream.BackendStatus{with(up, upstream.StateSlowStart, 0), with(up, upstream.StateUp, 0)}, false, 0, 2)
	f([]upstream.BackendStatus{with(up, "draining", 1), with(up, "mystery", 1)}, false, 0, 2)
	backup := up
	backup.Backup = true
	f([]upstream.BackendStatus{with(up, upstream.StateDown, 1), backup}, true, 1, 2)
}

// statusPools is the engine's view that goes with seedProxy.
func statusPools() []upstream.PoolStatus {
	return []upstream.PoolStatus{
		{Name: "web", Algorithm: "round_robin", Backends: []upstream.BackendStatus{
			{
				Addr: "10.0.0.1:80", Weight: 3, Current: 2, State: upstream.StateSlowStart,
				Reason: "2 consecutive passes", Since: t0.Add(1500 * time.Millisecond),
				Transitions: []upstream.Transition{
					{At: t0, From: "up", To: "down", Reason: "3 consecutive failures"},
					{At: t0.Add(1500 * time.Millisecond), From: "down", To: "slow-start", Reason: "2 consecutive passes"},
				},
				Probes: []upstream.Probe{
					{At: t0, OK: false, Err: "connection refused"},
					{At: t0.Add(time.Second), OK: true, Latency: 1234567 * time.Nanosecond, Status: 200},
				},
			},
			{Addr: "10.0.0.2:80", Weight: 1, Current: 1, State: upstream.StateUp},
			{Addr: "10.0.0.9:80", Weight: 1, Current: 0, State: upstream.StateDown, Backup: true}, // no handles
		}},
		{Name: "api", Algorithm: "least_connections"},
	}
}

var backendKeys = []string{"address", "weight", "current_weight", "backup", "state", "reason", "since", "in_flight",
	"requests", "errors", "average_ms", "p95_ms", "last_probe"}

// checkBackends checks the B objects of statusPools fed by seedProxy.
func checkBackends(t *testing.T, bs []json.RawMessage, pool bool, extra ...string) []map[string]json.RawMessage {
	t.Helper()
	keys := slices.Clone(backendKeys)
	if pool {
		keys = append([]string{"pool"}, keys...)
	}
	keys = append(keys, extra...)
	if len(bs) != 3 {
		t.Fatalf("%d backends; want 3", len(bs))
	}
	var out []map[string]json.RawMessage
	for i, raw := range bs {
		m := wantKeys(t, "backend "+strconv.Itoa(i), raw, keys...)
		if pool {
			wantRaw(t, "pool", m["pool"], `"web"`)
		}
		out = append(out, m)
	}
	a, b, c := out[0], out[1], out[2]
	wantRaw(t, "a.address", a["address"], `"10.0.0.1:80"`)
	wantRaw(t, "a.weight", a["weight"], "3")
	wantRaw(t, "a.current_weight", a["current_weight"], "2")
	wantRaw(t, "a.backup", a["backup"], "false")
	wantRaw(t, "a.state", a["state"], `"slow-start"`)
	wantRaw(t, "a.reason", a["reason"], `"2 consecutive passes"`)
	wantRaw(t, "a.since", a["since"], `"2023-11-14T22:13:21.500Z"`)
	wantRaw(t, "a.in_flight", a["in_flight"], "2")
	wantRaw(t, "a.requests", a["requests"], "4")
	wantRaw(t, "a.errors", a["errors"], "0")
	wantNum(t, "a.average_ms", a["average_ms"], 1.5, 0)
	wantNum(t, "a.p95_ms", a["p95_ms"], 2.9, 0.1) // the 3ms one, in (2.5ms, 3ms]
	lp := wantKeys(t, "a.last_probe", a["last_probe"], "at", "ok", "latency_ms", "status", "error")
	wantRaw(t, "last_probe.at", lp["at"], `"2023-11-14T22:13:21.000Z"`)
	wantRaw(t, "last_probe.ok", lp["ok"], "true")
	wantRaw(t, "last_probe.latency_ms", lp["latency_ms"], "1.235")
	wantRaw(t, "last_probe.status", lp["status"], "200")
	wantRaw(t, "last_probe.error", lp["error"], `""`)

	wantRaw(t, "b.requests", b["requests"], "2")
	wantRaw(t, "b.errors", b["errors"], "2")
	wantNum(t, "b.average_ms", b["average_ms"], 10, 0)
	wantNum(t, "b.p95_ms", b["p95_ms"], 10, 0)
	wantRaw(t, "b.since", b["since"], "null")
	wantRaw(t, "b.last_probe", b["last_probe"], "null")

	wantRaw(t, "c.backup", c["backup"], "true")
	wantRaw(t, "c.state", c["state"], `"down"`)
	for _, k := range []string{"in_flight", "requests", "errors", "average_ms", "p95_ms"} {
		wantRaw(t, "c."+k, c[k], "0")
	}
	return out
}

func TestAppendSeedStatus(t *testing.T) {
	p, a, _ := seedProxy()
	a.InFlight.Store(2)
	m := wantKeys(t, "/__status__", p.AppendSeedStatus(nil, statusPools()), "uptime_seconds", "total_requests", "pools", "backends")
	num(t, m["uptime_seconds"])
	wantRaw(t, "total_requests", m["total_requests"], "7")
	pools := array(t, m["pools"])
	if len(pools) != 2 {
		t.Fatalf("%d pools; want 2", len(pools))
	}
	web := wantKeys(t, "pool", pools[0], "name", "algorithm", "backends")
	wantRaw(t, "name", web["name"], `"web"`)
	wantRaw(t, "algorithm", web["algorithm"], `"round_robin"`)
	checkBackends(t, array(t, web["backends"]), false)
	api := wantKeys(t, "pool", pools[1], "name", "algorithm", "backends")
	wantRaw(t, "api backends", api["backends"], "[]")
	checkBackends(t, array(t, m["backends"]), true)
	if p.lookup("web", "10.0.0.9:80") != nil {
		t.Fatal("rendering created handles")
	}
}

func TestAppendAPIStatus(t *testing.T) {
	p, a, _ := seedProxy()
	a.InFlight.Store(2)
	m := wantKeys(t, "/api/status", p.AppendAPIStatus(nil, statusPools()), "uptime_seconds", "total_requests", "pools", "backends")
	wantRaw(t, "total_requests", m["total_requests"], "7")
	pools := array(t, m["pools"])
	web := wantKeys(t, "pool", pools[0], "name", "algorithm", "backends")
	extra := []string{"rps", "share", "transitions", "probes"}
	for _, bs := range [][]map[string]json.RawMessage{
		checkBackends(t, array(t, web["backends"]), false, extra...),
		checkBackends(t, array(t, m["backends"]), true, extra...),
	} {
		a, b, c := bs[0], bs[1], bs[2]
		wantNum(t, "a.rps", a["rps"], 0.4, 0)
		wantNum(t, "a.share", a["share"], 57.143, 0) // 4 of 7
		wantNum(t, "b.rps", b["rps"], 0.2, 0)
		wantNum(t, "b.share", b["share"], 28.571, 0)
		trs := array(t, a["transitions"])
		if len(trs) != 2 {
			t.Fatalf("%d transitions; want 2", len(trs))
		}
		tr := wantKeys(t, "transition", trs[1], "at", "from", "to", "reason")
		wantRaw(t, "at", tr["at"], `"2023-11-14T22:13:21.500Z"`)
		wantRaw(t, "from", tr["from"], `"down"`)
		wantRaw(t, "to", tr["to"], `"slow-start"`)
		wantRaw(t, "reason", tr["reason"], `"2 consecutive passes"`)
		prs := array(t, a["probes"])
		if len(prs) != 2 {
			t.Fatalf("%d probes; want 2", len(prs))
		}
		pr := wantKeys(t, "probe", prs[0], "at", "ok", "latency_ms", "status", "error")
		wantRaw(t, "ok", pr["ok"], "false")
		wantRaw(t, "error", pr["error"], `"connection refused"`)
		wantRaw(t, "status", pr["status"], "0")
		wantRaw(t, "c.transitions", c["transitions"], "[]")
		wantRaw(t, "c.probes", c["probes"], "[]")
		wantRaw(t, "c.rps", c["rps"], "0")
	}
}

var apiMetricsKeys = []string{"uptime_seconds", "total_requests", "total_errors", "requests_per_second", "error_rate",
	"window_seconds", "latency_ms", "status_codes", "connections", "access_log", "series", "pools", "routes", "rate_limits"}

func TestAppendAPIMetrics(t *testing.T) {
	p, a, b := seedProxy()
	a.InFlight.Store(2)
	// A second window: 20 more requests of 100ms to b, 5 of them 502.
	feed(p, 15, 200, b, 100*time.Millisecond)
	feed(p, 5, 502, b, 100*time.Millisecond)
	p.record(t0.Add(20 * time.Second))
	p.SetGauges(Gauges{Clients: func() int64 { return 42 }, UpstreamIdle: func() int64 { return 7 }, Tunnels: func() int64 { return 3 }})
	al := &AccessLog{}
	al.written.Store(1000)
	al.dropped.Store(3)
	p.SetAccessLog(al)

	m := wantKeys(t, "/api/metrics", p.AppendAPIMetrics(nil, statusPools()), apiMetricsKeys...)
	wantRaw(t, "total_requests", m["total_requests"], "27")
	wantRaw(t, "total_errors", m["total_errors"], "8")
	wantNum(t, "requests_per_second", m["requests_per_second"], 2, 0)
	wantNum(t, "error_rate", m["error_rate"], 29.63, 0) // 8/27
	wantNum(t, "window_seconds", m["window_seconds"], 10, 0)
	lat := wantKeys(t, "latency_ms", m["latency_ms"], "p50", "p95", "p99", "average")
	for _, q := range []string{"p50", "p95", "p99"} {
		wantNum(t, q, lat[q], 95, 5) // only the 100ms ones: bucket (90ms, 100ms]
	}
	wantNum(t, "average", lat["average"], 100, 0)
	sc := wantKeys(t, "status_codes", m["status_codes"], "200", "404", "502", "503")
	wantRaw(t, "200", sc["200"], "18")
	conn := wantKeys(t, "connections", m["connections"], "clients", "upstream_active", "upstream_idle", "tunnels")
	wantRaw(t, "clients", conn["clients"], "42")
	wantRaw(t, "tunnels", conn["tunnels"], "3")
	wantRaw(t, "upstream_active", conn["upstream_active"], "0")
	wantRaw(t, "upstream_idle", conn["upstream_idle"], "7")
	alog := wantKeys(t, "access_log", m["access_log"], "written", "dropped")
	wantRaw(t, "written", alog["written"], "1000")
	wantRaw(t, "dropped", alog["dropped"], "3")

	series := array(t, m["series"])
	if len(series) != 2 {
		t.Fatalf("%d series points; want 2", len(series))
	}
	pt := wantKeys(t, "point", series[1], "t", "rps", "errors_per_second", "p50_ms", "p95_ms", "p99_ms")
	wantRaw(t, "t", pt["t"], strconv.FormatInt(t0.Unix()+20, 10))
	wantNum(t, "rps", pt["rps"], 2, 0)
	wantNum(t, "errors_per_second", pt["errors_per_second"], 0.5, 0)
	wantNum(t, "p50_ms", pt["p50_ms"], 95, 5)
	pt = wantKeys(t, "point", series[0], "t", "rps", "errors_per_second", "p50_ms", "p95_ms", "p99_ms")
	wantRaw(t, "t", pt["t"], strconv.FormatInt(t0.Unix()+10, 10))
	wantNum(t, "rps", pt["rps"], 0.7, 0)
	wantNum(t, "errors_per_second", pt["errors_per_second"], 0.3, 0)

	pools := array(t, m["pools"])
	if len(pools) != 2 {
		t.Fatalf("%d pools; want 2", len(pools))
	}
	web := wantKeys(t, "pool", pools[0], "name", "algorithm", "backends")
	bs := array(t, web["backends"])
	if len(bs) != 3 {
		t.Fatalf("%d backends; want 3", len(bs))
	}
	keys := []string{"address", "state", "reason", "weight", "current_weight", "in_flight", "requests", "errors",
		"rps", "share", "average_ms", "p95_ms"}
	ja := wantKeys(t, "backend a", bs[0], keys...)
	wantRaw(t, "a.state", ja["state"], `"slow-start"`)
	wantRaw(t, "a.weight", ja["weight"], "3")
	wantRaw(t, "a.current_weight", ja["current_weight"], "2")
	wantRaw(t, "a.in_flight", ja["in_flight"], "2")
	wantRaw(t, "a.requests", ja["requests"], "4")
	wantRaw(t, "a.rps", ja["rps"], "0") // nothing in the last window
	wantRaw(t, "a.share", ja["share"], "0")
	jb := wantKeys(t, "backend b", bs[1], keys...)
	wantRaw(t, "b.requests", jb["requests"], "22")
	wantRaw(t, "b.errors", jb["errors"], "7")
	wantNum(t, "b.rps", jb["rps"], 2, 0)
	wantNum(t, "b.share", jb["share"], 100, 0)
	wantNum(t, "b.average_ms", jb["average_ms"], (2*10+20*100)/22.0, 0.001)
	jc := wantKeys(t, "backend c", bs[2], keys...)
	wantRaw(t, "c.requests", jc["requests"], "0")

	// Without gauges, access log or samples: zeros and an empty series.
	m = wantKeys(t, "/api/metrics", New(Options{}).AppendAPIMetrics(nil, nil), apiMetricsKeys...)
	wantRaw(t, "connections", m["connections"], `{"clients":0,"upstream_active":0,"upstream_idle":0,"tunnels":0}`)
	wantRaw(t, "access_log", m["access_log"], `{"written":0,"dropped":0}`)
	wantRaw(t, "series", m["series"], "[]")
	wantRaw(t, "pools", m["pools"], "[]")
	wantRaw(t, "status_codes", m["status_codes"], "{}")
}

var (
	promName  = `[a-zA-Z_:][a-zA-Z0-9_:]*`
	promLabel = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"`
	promValue = `(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN)`
	// The runtime metrics write go_info_ext{a="1", b="2"}: the format allows a
	// space after the comma.
	promLine   = regexp.MustCompile(`^(` + promName + `)(\{` + promLabel + `(?:, ?` + promLabel + `)*\})? (` + promValue + `)$`)
	promTypeRE = regexp.MustCompile(`^# TYPE (` + promName + `) (counter|gauge|histogram|summary|untyped)$`)
	promHelpRE = regexp.MustCompile(`^# HELP ` + promName + `( .*)?$`)
	promPairRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

type promSample struct {
	name   string
	labels map[string]string
	raw    string // the labels as written
	value  float64
}

// parseProm checks every line of a Prometheus text exposition strictly and
// returns the samples and the declared types. It also checks that each
// family is written as one group.
func parseProm(t *testing.T, text string) ([]promSample, map[string]string) {
	t.Helper()
	types := map[string]string{}
	var out []promSample
	done := map[string]bool{}
	prev := ""
	family := func(name string) string {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && types[base] == "histogram" {
				return base
			}
		}
		return name
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		var fam string
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			m := promTypeRE.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d: bad TYPE line %q", n, line)
			}
			if _, dup := types[m[1]]; dup {
				t.Fatalf("line %d: second TYPE for %s", n, m[1])
			}
			types[m[1]], fam = m[2], m[1]
		case strings.HasPrefix(line, "#"):
			if !promHelpRE.MatchString(line) {
				t.Fatalf("line %d: bad comment %q", n, line)
			}
			continue
		default:
			m := promLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d: not a sample: %q", n, line)
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				t.Fatalf("line %d: bad value: %q", n, line)
			}
			s := promSample{name: m[1], raw: m[2], value: v, labels: map[string]string{}}
			for _, pm := range promPairRE.FindAllStringSubmatch(m[2], -1) {
				val, err := strconv.Unquote(`"` + pm[2] + `"`)
				if err != nil {
					t.Fatalf("line %d: bad label value: %q", n, line)
				}
				s.labels[pm[1]] = val
			}
			out = append(out, s)
			fam = family(s.name)
		}
		if fam != prev {
			if done[fam] {
				t.Fatalf("line %d: family %s appears in two groups", n, fam)
			}
			done[prev], prev = true, fam
		}
	}
	return out, types
}

// checkHistograms checks every histogram series: buckets in ascending le,
// cumulative, ending with +Inf equal to _count. It returns the buckets of
// each series by name and labels (without le).
func checkHistograms(t *testing.T, samples []promSample, types map[string]string) map[string][]promSample {
	t.Helper()
	series := map[string][]promSample{}
	counts := map[string]float64{}
	for _, s := range samples {
		base, ok := strings.CutSuffix(s.name, "_bucket")
		if ok && types[base] == "histogram" {
			le, ok := s.labels["le"]
			if !ok {
				t.Fatalf("bucket without le: %s%s", s.name, s.raw)
			}
			key := base + strings.Replace(s.raw, `,le="`+le+`"`, "", 1)
			key = strings.Replace(key, `{le="`+le+`"}`, "", 1)
			series[key] = append(series[key], s)
		}
		if base, ok := strings.CutSuffix(s.name, "_count"); ok && types[base] == "histogram" {
			counts[base+s.raw] = s.value
		}
	}
	for key, bs := range series {
		prevLE, prevN := math.Inf(-1), 0.0
		for _, b := range bs {
			le, err := strconv.ParseFloat(b.labels["le"], 64)
			if err != nil || le <= prevLE || b.value < prevN {
				t.Fatalf("%s: bucket le=%s value %v after le=%v value %v", key, b.labels["le"], b.value, prevLE, prevN)
			}
			prevLE, prevN = le, b.value
		}
		last := bs[len(bs)-1]
		if last.labels["le"] != "+Inf" {
			t.Fatalf("%s: last bucket le=%s; want +Inf", key, last.labels["le"])
		}
		if c, ok := counts[key]; !ok || c != last.value {
			t.Fatalf("%s: +Inf bucket %v; _count %v (found %v)", key, last.value, c, ok)
		}
	}
	return series
}

func findSample(t *testing.T, samples []promSample, name string, kv ...string) float64 {
	t.Helper()
	var found []float64
	for _, s := range samples {
		if s.name != name || len(s.labels) != len(kv)/2 {
			continue
		}
		match := true
		for i := 0; i < len(kv); i += 2 {
			if v, ok := s.labels[kv[i]]; !ok || v != kv[i+1] {
				match = false
			}
		}
		if match {
			found = append(found, s.value)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%q: found %d samples; want 1", name, kv, len(found))
	}
	return found[0]
}

func TestWritePrometheus(t *testing.T) {
	p := New(Options{})
	const odd = `we"b\x` + "\n"
	web := p.Pool(odd)
	a, b := web.Backend("10.0.0.1:80"), web.Backend("10.0.0.2:80")
	a.InFlight.Store(5)
	// Bounds are inclusive: 1ms counts in le="0.001", 1ms+1ns does not.
	r := Record{Status: 200, Backend: a, Total: time.Millisecond, Connect: 250 * time.Microsecond, TTFB: 2 * time.Millisecond, Upstream: time.Millisecond}
	for range 3 {
		p.Done(&r)
	}
	r.Total, r.Upstream, r.Backend, r.Status = time.Millisecond+1, 3*time.Second, b, 503
	p.Done(&r)
	p.Done(&Record{Status: 400, Total: 2 * time.Minute, Reason: ReasonParse})
	p.SetGauges(Gauges{Clients: func() int64 { return 9 }, UpstreamActive: func() int64 { return 4 }})
	al := &AccessLog{}
	al.written.Store(12)
	al.dropped.Store(1)
	p.SetAccessLog(al)
	pools := []upstream.PoolStatus{{Name: odd, Backends: []upstream.BackendStatus{
		{Addr: "10.0.0.1:80", Weight: 2, Current: 2, State: upstream.StateUp},
		{Addr: "10.0.0.2:80", Weight: 2, Current: 1, State: upstream.StateSlowStart},
		{Addr: "10.0.0.3:80", Weight: 1, Current: 1, State: "draining"},
		{Addr: "10.0.0.4:80", Weight: 1, Current: 1, State: "mystery"},
	}}}

	var buf bytes.Buffer
	p.WritePrometheus(&buf, pools)
	text := buf.String()
	if !strings.Contains(text, `pool="we\"b\\x\n"`) {
		t.Fatalf("label value not escaped as strconv.Quote does:\n%s", text)
	}
	samples, types := parseProm(t, text)
	series := checkHistograms(t, samples, types)
	for _, name := range []string{"loopgate_request_duration_seconds", "loopgate_upstream_connect_seconds",
		"loopgate_upstream_ttfb_seconds", "loopgate_backend_response_seconds"} {
		if types[name] != "histogram" {
			t.Fatalf("%s: TYPE %q; want histogram", name, types[name])
		}
	}
	total := series["loopgate_request_duration_seconds"]
	if len(total) != len(promLE)+1 {
		t.Fatalf("request duration: %d buckets; want %d", len(total), len(promLE)+1)
	}
	f := func(name string, want float64, kv ...string) {
		t.Helper()
		if got := findSample(t, samples, name, kv...); got != want {
			t.Fatalf("%s%q = %v; want %v", name, kv, got, want)
		}
	}
	f("loopgate_request_duration_seconds_bucket", 0, "le", "0.0005")
	f("loopgate_request_duration_seconds_bucket", 3, "le", "0.001")
	f("loopgate_request_duration_seconds_bucket", 4, "le", "0.0025")
	f("loopgate_request_duration_seconds_bucket", 4, "le", "100")
	f("loopgate_request_duration_seconds_bucket", 5, "le", "+Inf")
	f("loopgate_request_duration_seconds_count", 5)
	f("loopgate_request_duration_seconds_sum", (4*time.Millisecond + 1 + 2*time.Minute).Seconds())
	f("loopgate_upstream_connect_seconds_bucket", 4, "le", "0.00025")
	f("loopgate_upstream_connect_seconds_bucket", 0, "le", "0.0001")
	f("loopgate_upstream_ttfb_seconds_count", 4)
	f("loopgate_backend_response_seconds_bucket", 3, "pool", odd, "backend", "10.0.0.1:80", "le", "0.001")
	f("loopgate_backend_response_seconds_count", 3, "pool", odd, "backend", "10.0.0.1:80")
	f("loopgate_backend_response_seconds_bucket", 0, "pool", odd, "backend", "10.0.0.2:80", "le", "2.5")
	f("loopgate_backend_response_seconds_bucket", 1, "pool", odd, "backend", "10.0.0.2:80", "le", "5")
	f("loopgate_backend_response_seconds_sum", 3, "pool", odd, "backend", "10.0.0.2:80")
	f("loopgate_backend_response_seconds_count", 0, "pool", odd, "backend", "10.0.0.3:80")

	f("loopgate_requests_total", 5)
	f("loopgate_requests_total", 3, "pool", odd, "backend", "10.0.0.1:80", "class", "2xx")
	f("loopgate_requests_total", 1, "pool", odd, "backend", "10.0.0.2:80", "class", "5xx")
	f("loopgate_errors_total", 1, "reason", "parse")
	if up := findSample(t, samples, "loopgate_uptime_seconds"); up <= 0 || up > 60 {
		t.Fatalf("loopgate_uptime_seconds = %v", up)
	}
	f("loopgate_client_connections", 9)
	f("loopgate_upstream_connections", 4, "state", "active")
	f("loopgate_upstream_connections", 0, "state", "idle")
	f("loopgate_access_log_lines_total", 12, "result", "written")
	f("loopgate_access_log_lines_total", 1, "result", "dropped")

	g := func(addr string, inFlight, up, weight float64, state string) {
		t.Helper()
		f("loopgate_backend_in_flight", inFlight, "pool", odd, "backend", addr)
		f("loopgate_backend_up", up, "pool", odd, "backend", addr)
		f("loopgate_backend_weight", weight, "pool", odd, "backend", addr)
		for _, st := range []string{"up", "down", "ejected", "slow-start", "draining"} {
			want := 0.0
			if st == state {
				want = 1
			}
			f("loopgate_backend_state", want, "pool", odd, "backend", addr, "state", st)
		}
	}
	g("10.0.0.1:80", 5, 1, 2, "up")
	g("10.0.0.2:80", 0, 1, 1, "slow-start")
	g("10.0.0.3:80", 0, 0, 1, "draining")
	g("10.0.0.4:80", 0, 0, 1, "")

	for _, name := range []string{"loopgate_uptime_seconds", "loopgate_client_connections", "loopgate_upstream_connections",
		"loopgate_backend_in_flight", "loopgate_backend_up", "loopgate_backend_state", "loopgate_backend_weight"} {
		if types[name] != "gauge" {
			t.Fatalf("%s: TYPE %q; want gauge", name, types[name])
		}
	}
	if types["loopgate_access_log_lines_total"] != "counter" {
		t.Fatalf("loopgate_access_log_lines_total: TYPE %q; want counter", types["loopgate_access_log_lines_total"])
	}
	if !strings.Contains(text, "\ngo_goroutines ") {
		t.Fatal("no process metrics")
	}
}

func TestPromLE(t *testing.T) {
	for k, i := range promIdx {
		le, _ := strconv.ParseFloat(promLE[k], 64)
		if got := time.Duration(bounds[i]).Seconds(); got != le {
			t.Fatalf("promLE[%d] = %s is bucket %d with bound %v", k, promLE[k], i, got)
		}
	}
}

// The "cache" object of /api/metrics: present only while a route uses the
// cache, with the hit ratio over lookups that could hit.
func TestAPIMetricsCache(t *testing.T) {
	p := New(Options{})
	_, m := object(t, p.AppendAPIMetrics(nil, nil))
	if _, ok := m["cache"]; ok {
		t.Fatal("cache reported while off")
	}
	p.SetCacheStore(func() CacheSize { return CacheSize{On: true, Entries: 3, Bytes: 4096, Evictions: 2} })
	for range 5 {
		p.CacheResult(CacheHit)
	}
	p.CacheResult(CacheStale)
	p.CacheResult(CacheMiss)
	p.CacheResult(CacheMiss)
	p.CacheResult(CacheBypass) // not a lookup that could hit
	p.CacheCollapsed()
	_, m = object(t, p.AppendAPIMetrics(nil, nil))
	c := wantKeys(t, "cache", m["cache"], "hit_ratio", "hits", "misses", "stale", "revalidated", "bypassed", "collapsed",
		"entries", "bytes", "evictions")
	wantRaw(t, "hit_ratio", c["hit_ratio"], "75")
	wantRaw(t, "hits", c["hits"], "5")
	wantRaw(t, "misses", c["misses"], "2")
	wantRaw(t, "bypassed", c["bypassed"], "1")
	wantRaw(t, "collapsed", c["collapsed"], "1")
	wantRaw(t, "bytes", c["bytes"], "4096")
}
