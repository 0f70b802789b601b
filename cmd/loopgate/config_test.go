package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"loopgate/engine"
)

// configErrors returns the *Error values in err, in order.
func configErrors(t *testing.T, err error) []*Error {
	t.Helper()
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else if err != nil {
		list = []error{err}
	}
	out := make([]*Error, len(list))
	for i, e := range list {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q is not a *Error", e)
		}
		out[i] = ce
	}
	return out
}

// checkErrors asserts that parsing in as name fails with exactly the errors
// whose "file:line: key:" prefixes are want (in file order), the first of
// them of the given kind; with no want, that it succeeds.
func checkErrors(t *testing.T, name, in string, kind error, want ...string) {
	t.Helper()
	_, err := parse(name, []byte(in))
	errs := configErrors(t, err)
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	ok := len(errs) == len(want)
	for i := 0; ok && i < len(want); i++ {
		// The prefix ends where the message starts, so a key is matched whole.
		ok = strings.HasPrefix(got[i], want[i]+" ")
	}
	if !ok {
		t.Fatalf("parse(%s):\n%s\n\ngot errors:\n%s\n\nwant prefixes:\n%s", name, in, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(want) > 0 && !errors.Is(errs[0], kind) {
		t.Fatalf("parse(%s):\n%s\n\n%q is not %v", name, in, got[0], kind)
	}
}

// minimal is the smallest valid TOML config.
const minimal = `[[pool]]
name = "web"
  [[pool.backend]]
  address = "127.0.0.1:8001"
`

func TestTOMLErrors(t *testing.T) {
	f := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", in, kind, want...)
	}
	// Syntax.
	f("[server\n"+minimal, ErrSyntax, "c.toml:1:")
	f(minimal+"\n[server]\nlisten = \"x\n", ErrSyntax, "c.toml:7:")
	f(minimal+"  address = \"127.0.0.1:8002\"\n", ErrSyntax, "c.toml:5:") // duplicate key
	f("", ErrMissing, "c.toml:1:")
	f(" \n\t\n", ErrMissing, "c.toml:1:")

	// Wrong types.
	f("[server]\nlisten = 8080\n"+minimal, ErrType, "c.toml:2: server.listen:")
	f("[server]\nreuse_port = \"yes\"\n"+minimal, ErrType, "c.toml:2: server.reuse_port:")
	f("[server]\nmax_connections = 1.5\n"+minimal, ErrType, "c.toml:2: server.max_connections:")
	f("[server]\nshutdown_grace = 10\n"+minimal, ErrType, "c.toml:2: server.shutdown_grace:")
	f("server = 1\n"+minimal, ErrType, "c.toml:1: server:")
	f("pool = 1\n", ErrType, "c.toml:1: pool:")
	f("pool = [1]\n", ErrType, "c.toml:1: pool[0]:")
	f(minimal+"  weight = \"1\"\n", ErrType, "c.toml:5: pool[0].backend[0].weight:")
	f(minimal+"  weight = 1979-05-27\n", ErrType, "c.toml:5: pool[0].backend[0].weight:")
	f("[[pool]]\nname = \"web\"\nbackend = \"127.0.0.1:8001\"\n", ErrType, "c.toml:3: pool[0].backend:")

	// Unknown keys, typos included.
	f("[serverr]\nlisten = \"0.0.0.0:8080\"\n"+minimal, ErrUnknown, "c.toml:1: serverr:")
	f("[server]\nlisten = \"0.0.0.0:8080\"\nlistn = \"x\"\n"+minimal, ErrUnknown, "c.toml:3: server.listn:")
	f("[timeouts]\nclient_idel = \"1s\"\n"+minimal, ErrUnknown, "c.toml:2: timeouts.client_idel:")
	f(minimal+"  wieght = 2\n", ErrUnknown, "c.toml:5: pool[0].backend[0].wieght:")
	f("[[pool]]\nname = \"web\"\n  [[pool.backend]]\n  adress = \"127.0.0.1:8001\"\n", ErrMissing,
		"c.toml:3: pool[0].backend[0].address:", "c.toml:4: pool[0].backend[0].adress:")
	f(minimal+"[pool.healthz]\ninterval = \"1s\"\n", ErrUnknown, "c.toml:5: pool[0].healthz:")
	f("top = 1\n"+minimal, ErrUnknown, "c.toml:1: top:")

	// Out of range.
	f("[server]\nmax_connections = -1\n"+minimal, ErrValue, "c.toml:2: server.max_connections:")
	f("[server]\nread_buffer = -1\n"+minimal, ErrValue, "c.toml:2: server.read_buffer:")
	f("[server]\nevent_loops = -1\n"+minimal, ErrValue, "c.toml:2: server.event_loops:")
	f("[server]\nevent_loops = 1025\n"+minimal, ErrValue, "c.toml:2: server.event_loops:")
	f("[limits]\nmax_body_bytes = -1\n"+minimal, ErrValue, "c.toml:2: limits.max_body_bytes:")
	f("[limits]\nmax_headers = 129\n"+minimal, ErrValue, "c.toml:2: limits.max_headers:")
	f("[limits]\nmax_request_line = 70000\n"+minimal, ErrValue, "c.toml:2: limits.max_request_line:")
	f("[limits]\nmax_request_line = 2000\nmax_header_bytes = 1000\n"+minimal, ErrValue, "c.toml:2: limits.max_request_line:")
	f("[[pool]]\nname = \"web\"\nmax_idle_per_backend = -1\n[[pool.backend]]\naddress = \"a:1\"\n", ErrValue, "c.toml:3: pool[0].max_idle_per_backend:")
	f(minimal+"  weight = 1001\n", ErrValue, "c.toml:5: pool[0].backend[0].weight:")
	f(minimal+"  weight = -1\n", ErrValue, "c.toml:5: pool[0].backend[0].weight:")
	f(minimal+"  weight = 0\n", ErrValue, "c.toml:3: pool[0].backend:") // nothing could take a request

	// Durations.
	f("[timeouts]\nclient_idle = \"-1s\"\n"+minimal, ErrValue, "c.toml:2: timeouts.client_idle:")
	f("[timeouts]\nupstream_connect = \"3x\"\n"+minimal, ErrValue, "c.toml:2: timeouts.upstream_connect:")
	f("[server]\nshutdown_grace = \"-10s\"\n"+minimal, ErrValue, "c.toml:2: server.shutdown_grace:")
	f(minimal+"[pool.health]\ninterval = \"-1s\"\n", ErrValue, "c.toml:6: pool[0].health.interval:")

	// Cross-field checks.
	f("[flow]\nhigh_watermark = 1000\nlow_watermark = 1000\n"+minimal, ErrValue, "c.toml:3: flow.low_watermark:")
	f("[flow]\nlow_watermark = 2000000\n"+minimal, ErrValue, "c.toml:2: flow.low_watermark:") // above the default high
	f("[flow]\nhigh_watermark = 100\n"+minimal, nil)                                          // low defaults to 50
	f(minimal+"[pool.health]\ninterval = \"1s\"\ntimeout = \"1s\"\n", ErrValue, "c.toml:7: pool[0].health.timeout:")
	f(minimal+"[pool.health]\ninterval = \"1s\"\n", nil) // timeout defaults to 500ms

	// Pools and backends.
	f("[server]\nlisten = \"0.0.0.0:8080\"\n", ErrMissing, "c.toml:1: pool:")
	f("[[pool]]\nname = \"web\"\n", ErrMissing, "c.toml:1: pool[0].backend:")
	f("[[pool]]\n  [[pool.backend]]\n  address = \"a:1\"\n", ErrMissing, "c.toml:1: pool[0].name:")
	f("[[pool]]\nname = \"we b\"\n  [[pool.backend]]\n  address = \"a:1\"\n", ErrValue, "c.toml:2: pool[0].name:")
	f(minimal+minimal, ErrDuplicate, "c.toml:6: pool[1].name:")
	f(minimal+"  [[pool.backend]]\n  address = \"127.0.0.1:8001\"\n", ErrDuplicate, "c.toml:6: pool[0].backend[1].address:")
	f(minimal+"  [[pool.backend]]\n  address = \"LOCALHOST:1\"\n  [[pool.backend]]\n  address = \"localhost:1\"\n", ErrDuplicate, "c.toml:8: pool[0].backend[2].address:")
	f("[[pool]]\nname = \"web\"\nalgorithm = \"fastest\"\n  [[pool.backend]]\n  address = \"a:1\"\n", ErrValue, "c.toml:3: pool[0].algorithm:")

	// Addresses.
	f("[server]\nlisten = \"8080\"\n"+minimal, ErrValue, "c.toml:2: server.listen:")
	f("[server]\nlisten = \":0\"\n"+minimal, ErrValue, "c.toml:2: server.listen:")
	f("[server]\nlisten = \"0.0.0.0:65536\"\n"+minimal, ErrValue, "c.toml:2: server.listen:")
	f("[server]\nlisten = \"0.0.0.0:http\"\n"+minimal, ErrValue, "c.toml:2: server.listen:")
	f("[server]\nlisten = \"bad host:80\"\n"+minimal, ErrValue, "c.toml:2: server.listen:")
	f("[server]\nlisten = \"::1:80\"\n"+minimal, ErrValue, "c.toml:2: server.listen:")
	f("[server]\nlisten = \":8080\"\n"+minimal, nil)
	f("[server]\nlisten = \"[::1]:8080\"\n"+minimal, nil)
	f("[[pool]]\nname = \"web\"\n  [[pool.backend]]\n  address = \"127.0.0.1\"\n", ErrValue, "c.toml:4: pool[0].backend[0].address:")
	f("[[pool]]\nname = \"web\"\n  [[pool.backend]]\n  address = \":8001\"\n", ErrValue, "c.toml:4: pool[0].backend[0].address:")
	f("[[pool]]\nname = \"web\"\n  [[pool.backend]]\n  address = \"\"\n", ErrValue, "c.toml:4: pool[0].backend[0].address:")
}

// The error in the brief, verbatim.
func TestTOMLErrorMessage(t *testing.T) {
	in := strings.Repeat("\n", 9) + `[[pool]]
name = "web"
  [[pool.backend]]
  address = "127.0.0.1:8001"
  [[pool.backend]]
  address = "127.0.0.1"
`
	_, err := parse("config.toml", []byte(in))
	want := `config.toml:15: pool[0].backend[1].address: cannot parse "127.0.0.1": missing port`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v; want %s", err, want)
	}
}

// TestTOMLLines covers the line finder on the TOML forms a key can take.
func TestTOMLLines(t *testing.T) {
	in := `# comment with key = "value" and [table]
title = """
[server]
listen = "multi-line string"
"""
[ server ] # spaced header
"listen" = "0.0.0.0:1"
arr = [
  1, # [ and = in a comment
  "a]b",
  'c',
]

[[pool]]
name = "a"
health.interval = "1s"
backend = [ { address = "a:1" },
            { address = "b:1", weight = 2 } ]

[[pool]]
name = 'b'
  [pool.health]
  timeout = "1s"
  [[pool.backend]]
  address = "c:1"
  [[pool.backend]]
  address = "d:1"

[[pool]]
  [[pool.backend]]
  'address' = """e:1"""
`
	got := tomlLines([]byte(in))
	want := map[string]int{
		"title":                      2,
		"server":                     6,
		"server.listen":              7,
		"server.arr":                 8,
		"server.arr[0]":              9,
		"server.arr[1]":              10,
		"server.arr[2]":              11,
		"pool":                       14,
		"pool[0]":                    14,
		"pool[0].name":               15,
		"pool[0].health":             16,
		"pool[0].health.interval":    16,
		"pool[0].backend":            17,
		"pool[0].backend[0]":         17,
		"pool[0].backend[0].address": 17,
		"pool[0].backend[1]":         18,
		"pool[0].backend[1].address": 18,
		"pool[0].backend[1].weight":  18,
		"pool[1]":                    20,
		"pool[1].name":               21,
		"pool[1].health":             22,
		"pool[1].health.timeout":     23,
		"pool[1].backend":            24,
		"pool[1].backend[0]":         24,
		"pool[1].backend[0].address": 25,
		"pool[1].backend[1]":         26,
		"pool[1].backend[1].address": 27,
		"pool[2]":                    29,
		"pool[2].backend":            30,
		"pool[2].backend[0]":         30,
		"pool[2].backend[0].address": 31,
	}
	if !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: got line %d; want %d", k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s: line %d", k, v)
			}
		}
	}
}

// TestTOMLLinesNeverStall feeds the line finder text it cannot follow.
func TestTOMLLinesNeverStall(t *testing.T) {
	for _, in := range []string{"[", "[[", "a", "a =", "a = [", "a = {", "a = \"", "a = '''", "a = \"\"\"x\\", "= 1", "[a.\"b", "a = [1,", "a = {b", "\"", "'", "a = [{]"} {
		tomlLines([]byte(in))
	}
}

func TestJSONErrors(t *testing.T) {
	f := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.json", in, kind, want...)
	}
	const servers = `"backend_servers": [{"host": "127.0.0.1", "port": 8001}]`
	// Syntax.
	f("{\n\"proxy_port\": 8080,\n"+servers+",\n}\n", ErrSyntax, "c.json:4:")
	f("{\n\"a\": [1 2]\n}", ErrSyntax, "c.json:2:")
	f("{\n"+servers+"\n", ErrSyntax, "c.json:2:") // truncated
	f("{"+servers+"}\n{}", ErrSyntax, "c.json:2:")
	f("{\"a\": 1,\n\n\"b\"\n\n:x}", ErrSyntax, "c.json:5:")
	f("[1]", ErrType, "c.json:1:")
	f("", ErrMissing, "c.json:1:")

	// Wrong types.
	f("{\n\"proxy_port\": \"8080\",\n"+servers+"}", ErrType, "c.json:2: proxy_port:")
	f("{\n\"proxy_port\": 80.5,\n"+servers+"}", ErrType, "c.json:2: proxy_port:")
	f("{\n\"enable_logging\": \"yes\",\n"+servers+"}", ErrType, "c.json:2: enable_logging:")
	f("{\n\"enable_metrics\": null,\n"+servers+"}", ErrType, "c.json:2: enable_metrics:")
	f("{\n\"connection_timeout\": \"30\",\n"+servers+"}", ErrType, "c.json:2: connection_timeout:")
	f("{\n\"backend_servers\": {}\n}", ErrType, "c.json:2: backend_servers:")
	f("{\n\"backend_servers\": [\n5\n]\n}", ErrType, "c.json:3: backend_servers[0]:")
	f("{\"backend_servers\": [\n{\"host\": \"a\", \"port\": 1},\n{\"host\": \"b\", \"port\": \"2\"}\n]}", ErrType, "c.json:3: backend_servers[1].port:")

	// Unknown and duplicate keys.
	f("{\n\"proxy_hots\": \"a\",\n"+servers+"}", ErrUnknown, "c.json:2: proxy_hots:")
	f("{\"backend_servers\": [\n{\"host\": \"a\", \"port\": 1,\n \"weigth\": 2}\n]}", ErrUnknown, "c.json:3: backend_servers[0].weigth:")
	f("{\n\"proxy_port\": 1,\n"+servers+",\n\"proxy_port\": 2\n}", ErrDuplicate, "c.json:4: proxy_port:")

	// Values.
	f("{\n\"proxy_port\": 0,\n"+servers+"}", ErrValue, "c.json:2: proxy_port:")
	f("{\n\"proxy_port\": 65536,\n"+servers+"}", ErrValue, "c.json:2: proxy_port:")
	f("{\n\"proxy_host\": \"bad host\",\n"+servers+"}", ErrValue, "c.json:2: proxy_host:")
	f("{\n\"max_connections\": -1,\n"+servers+"}", ErrValue, "c.json:2: max_connections:")
	f("{\n\"request_timeout\": -1,\n"+servers+"}", ErrValue, "c.json:2: request_timeout:")
	f("{\n\"health_check_interval\": 5,\n\"health_check_timeout\": 5,\n"+servers+"}", ErrValue, "c.json:3: health_check_timeout:")
	f("{\n\"algorithm\": \"fastest\",\n"+servers+"}", ErrValue, "c.json:2: algorithm:")

	// Backends.
	f("{\n\"proxy_port\": 8080\n}", ErrMissing, "c.json:1: backend_servers:")
	f("{\n\"backend_servers\": []\n}", ErrMissing, "c.json:2: backend_servers:")
	f("{\"backend_servers\": [\n{\"port\": 1}\n]}", ErrMissing, "c.json:2: backend_servers[0].host:")
	f("{\"backend_servers\": [\n{\"host\": \"a\"}\n]}", ErrMissing, "c.json:2: backend_servers[0].port:")
	f("{\"backend_servers\": [\n{\"host\": \"a\",\n\"port\": 0}\n]}", ErrValue, "c.json:3: backend_servers[0].port:")
	f("{\"backend_servers\": [\n{\"host\": \"a b\", \"port\": 1}\n]}", ErrValue, "c.json:2: backend_servers[0].host:")
	f("{\"backend_servers\": [\n{\"host\": \"a\", \"port\": 1, \"weight\": 1001}\n]}", ErrValue, "c.json:2: backend_servers[0].weight:")
	f("{\"backend_servers\": [\n{\"host\": \"a\", \"port\": 1},\n{\"host\": \"a\", \"port\": 1}\n]}", ErrDuplicate, "c.json:3: backend_servers[1]:")
}

// TestCollectsAllErrors loads files with many problems: -check must list
// them all, in file order.
func TestCollectsAllErrors(t *testing.T) {
	f := func(name string, want ...string) {
		t.Helper()
		path := filepath.Join("testdata", name)
		_, err := Load(path)
		errs := configErrors(t, err)
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		for i := range want {
			want[i] = path + ":" + want[i]
		}
		ok := len(got) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = strings.HasPrefix(got[i], want[i]+" ")
		}
		if !ok {
			t.Fatalf("Load(%s):\n%s\n\nwant prefixes:\n%s", path, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	f("bad.toml",
		"2: server.listen:",
		"3: server.event_loop:",
		"4: server.max_connections:",
		"5: server.shutdown_grace:",
		"8: limits.max_headers:",
		"11: timeouts.client_idle:",
		"12: timeouts.upstream_connect:",
		"16: flow.low_watermark:",
		"20: pool[0].algorithm:",
		"23: pool[0].health.timeout:",
		"27: pool[0].backend[1].address:",
		"28: pool[0].backend[1].weight:",
		"30: pool[0].backend[2].address:",
		"31: pool[0].backend[2].wieght:",
		"33: pool[1].backend:",
		"34: pool[1].name:",
		"39: pool[2].backend[1].address:",
	)
	f("bad.json",
		"2: proxy_port:",
		"5: backend_servers[1].port:",
		"6: backend_servers[2]:",
		"7: backend_servers[3].host:",
		"7: backend_servers[3].weigth:",
		"10: health_check_timeout:",
		"11: max_connections:",
		"12: connection_timeout:",
		"14: enable_logging:",
		"16: enable_metrics:",
		"17: extra:",
	)
}

func TestLoadSampleTOML(t *testing.T) {
	c, err := Load("../../config.toml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	e := c.Engine
	if e.Listen != "0.0.0.0:8080" || len(e.Pools) != 1 || e.Pools[0].Name != "web" || e.Pools[0].Algorithm != "round_robin" {
		t.Fatalf("got %+v", e)
	}
	var addrs []string
	for _, b := range e.Pools[0].Backends {
		addrs = append(addrs, fmt.Sprintf("%s/%d", b.Address, b.WeightOf()))
	}
	if got := strings.Join(addrs, " "); got != "127.0.0.1:8001/1 127.0.0.1:8002/1 127.0.0.1:8003/1" {
		t.Fatalf("backends: %s", got)
	}

	// Every value the sample writes out is the default it documents.
	d, err := parse("minimal.toml", []byte(minimal))
	if err != nil {
		t.Fatalf("parse(minimal): %v", err)
	}
	c.Engine.Pools, d.Engine.Pools = nil, nil
	if !reflect.DeepEqual(c, d) {
		t.Fatalf("sample config.toml differs from the defaults:\n%+v\n%+v", c, d)
	}
}

func TestLoadSampleJSON(t *testing.T) {
	c, err := Load("../../config.json")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	e := c.Engine
	three := func(port int) engine.Backend {
		w := 1
		return engine.Backend{Address: fmt.Sprintf("127.0.0.1:%d", port), Weight: &w}
	}
	want := engine.Pool{Name: "default", Algorithm: "round_robin", MaxIdlePerBackend: engine.DefaultMaxIdle,
		Backends: []engine.Backend{three(8001), three(8002), three(8003)}}
	if e.Listen != "0.0.0.0:8080" || len(e.Pools) != 1 || !reflect.DeepEqual(e.Pools[0], want) {
		t.Fatalf("got listen %q pools %+v", e.Listen, e.Pools)
	}
	if e.MaxConnections != 1000 || e.Timeouts.ClientIdle != 30*time.Second || e.Timeouts.UpstreamResponse != 30*time.Second ||
		e.Timeouts.UpstreamConnect != engine.DefaultTimeouts.UpstreamConnect ||
		c.Health[0] != (Health{Interval: 30 * time.Second, Timeout: 5 * time.Second}) || !c.AccessLog || !c.Metrics {
		t.Fatalf("got %+v", c)
	}
}

func TestLoadDefaultsJSON(t *testing.T) {
	c, err := parse("c.json", []byte(`{"backend_servers": [{"host": "::1", "port": 80}], "health_check_interval": 0.5}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Engine.Listen != "0.0.0.0:8080" || c.Engine.Pools[0].Backends[0].Address != "[::1]:80" ||
		c.Health[0] != (Health{Interval: 500 * time.Millisecond, Timeout: 250 * time.Millisecond}) || c.AccessLog || c.Metrics {
		t.Fatalf("got %+v", c)
	}
}

func TestLoadFileErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: got %v", err)
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || errors.As(err, new(*Error)) {
		t.Fatalf("unknown extension: got %v", err)
	}
	p = filepath.Join(t.TempDir(), "CONFIG.TOML")
	if err := os.WriteFile(p, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("upper-case extension: %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	f := func(a, b string, want int) {
		t.Helper()
		if got := editDistance(a, b); got != want {
			t.Fatalf("editDistance(%q, %q) = %d; want %d", a, b, got, want)
		}
	}
	f("", "", 0)
	f("listen", "listen", 0)
	f("listn", "listen", 1)
	f("wieght", "weight", 2)
	f("", "abc", 3)
	f("kitten", "sitting", 3)
}
