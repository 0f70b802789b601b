package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"loopgate/certs"
	"loopgate/engine"
	"loopgate/health"
	"loopgate/upstream"
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
	f("[[pool]]\nname = \"web\"\nretries = -2\n[[pool.backend]]\naddress = \"a:1\"\n", ErrValue, "c.toml:3: pool[0].retries:")
	f("[[pool]]\nname = \"web\"\nslow_start = \"-1s\"\n[[pool.backend]]\naddress = \"a:1\"\n", ErrValue, "c.toml:3: pool[0].slow_start:")
	f("[[pool]]\nname = \"web\"\nslow_start = 30\n[[pool.backend]]\naddress = \"a:1\"\n", ErrType, "c.toml:3: pool[0].slow_start:")
	f("[[pool]]\nname = \"web\"\nretry_on_status = [503, 1000]\n[[pool.backend]]\naddress = \"a:1\"\n", ErrValue, "c.toml:3: pool[0].retry_on_status[1]:")
	f("[[pool]]\nname = \"web\"\nretry_on_status = 503\n[[pool.backend]]\naddress = \"a:1\"\n", ErrType, "c.toml:3: pool[0].retry_on_status:")
	f("[[pool]]\nname = \"web\"\nretries = 101\n[[pool.backend]]\naddress = \"a:1\"\n", ErrValue, "c.toml:3: pool[0].retries:")
	f("[[pool]]\nname = \"web\"\nretries = \"2\"\n[[pool.backend]]\naddress = \"a:1\"\n", ErrType, "c.toml:3: pool[0].retries:")
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
	f("{\n\"health_check_interval\": 5,\n\"health_check_timeout\": -5,\n"+servers+"}", ErrValue, "c.json:3: health_check_timeout:")
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
		"6: server.trusted_proxies[1]:",
		"9: limits.max_headers:",
		"12: timeouts.client_idle:",
		"13: timeouts.upstream_connect:",
		"17: flow.low_watermark:",
		"21: pool[0].algorithm:",
		"24: pool[0].health.timeout:",
		"28: pool[0].backend[1].address:",
		"29: pool[0].backend[1].weight:",
		"31: pool[0].backend[2].address:",
		"32: pool[0].backend[2].wieght:",
		"34: pool[1].backend:",
		"35: pool[1].name:",
		"40: pool[2].backend[1].address:",
		"41: pool[2].hash_key:",
		"43: pool[2].sticky_cookie.samesite:",
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
	checkSampleDefaults(t, c, d, "round_robin")

	// The optional keys, commented out as "#key = value", document their
	// defaults too: uncommented in a hash pool, they change nothing.
	t.Run("uncommented", func(t *testing.T) {
		needAlgorithms(t, "hash", "round_robin")
		data, err := os.ReadFile("../../config.toml")
		if err != nil {
			t.Fatal(err)
		}
		in := regexp.MustCompile(`(?m)^(\s*)#([a-z\[])`).ReplaceAllString(string(data), "$1$2")
		in = strings.Replace(in, `algorithm = "round_robin"`, `algorithm = "hash"`, 1)
		if in == string(data) || !strings.Contains(in, "\nhash_key =") || !strings.Contains(in, "\n  [pool.sticky_cookie]\n") || !strings.Contains(in, "\n  [pool.tls]\n") {
			t.Fatalf("uncommenting changed nothing:\n%s", in)
		}
		c, err := parse("config.toml", []byte(in))
		if err != nil {
			t.Fatalf("uncommented config.toml: %v", err)
		}
		d, err := parse("minimal.toml", []byte(pool("hash", "[pool.sticky_cookie]\n[pool.passive]\n[pool.tls]\n")))
		if err != nil {
			t.Fatalf("parse(minimal hash pool): %v", err)
		}
		checkSampleDefaults(t, c, d, "hash")
	})
}

// TestSampleDefaultAlgorithm: the sample's pool names its algorithm for the
// demo, so the default it documents is checked here. The default becomes
// "p2c" when that algorithm lands.
func TestSampleDefaultAlgorithm(t *testing.T) {
	needAlgorithms(t, "p2c")
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := `algorithm = "round_robin"    # balancing algorithm (default "` + engine.DefaultAlgorithm + `")`
	if !strings.Contains(string(data), want) {
		t.Fatalf("config.toml lacks %q", want)
	}
}

// checkSampleDefaults asserts that the sample config c, loaded, equals the
// defaults d except for its pool's name, algorithm (the demo's choice),
// backend addresses and health section, which the demo turns on with a
// short interval and timeout; its other keys are the defaults.
func checkSampleDefaults(t *testing.T, c, d *Config, alg string) {
	t.Helper()
	cp, dp := c.Engine.Pools[0], d.Engine.Pools[0]
	if cp.Algorithm != alg {
		t.Fatalf("sample algorithm %q; want %q", cp.Algorithm, alg)
	}
	wantHealth := health.Config{Interval: 2 * time.Second, Timeout: time.Second}.WithDefaults()
	if cp.Health == nil || !reflect.DeepEqual(*cp.Health, wantHealth) || dp.Health != nil {
		t.Fatalf("sample [pool.health]: got %+v; want %+v (defaults: %+v)", cp.Health, wantHealth, dp.Health)
	}
	cp.Health = nil
	// The sample ramps a recovered backend back in, so the demo shows it.
	if cp.SlowStart != 5*time.Second || dp.SlowStart != 0 {
		t.Fatalf("sample slow_start: got %v; want 5s (default %v)", cp.SlowStart, dp.SlowStart)
	}
	cp.SlowStart = 0
	for _, b := range cp.Backends {
		if b.WeightOf() != 1 || b.Backup {
			t.Fatalf("sample backend %+v is not the default", b)
		}
	}
	cp.Name, cp.Algorithm, cp.Backends = "", "", nil
	dp.Name, dp.Algorithm, dp.Backends = "", "", nil
	if !reflect.DeepEqual(cp, dp) {
		t.Fatalf("sample config.toml's pool differs from the defaults:\n%+v\n%+v", cp, dp)
	}
	c, d = new(*c), new(*d)
	c.Engine.Pools, d.Engine.Pools = nil, nil
	c.maxConnAt, d.maxConnAt = nil, nil // where the key is, not what it says
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
	h := health.Config{Interval: 30 * time.Second, Timeout: 5 * time.Second}.WithDefaults()
	want := withEngineDefaults(engine.Pool{Name: "default", Algorithm: "round_robin",
		Health: &h, Backends: []engine.Backend{three(8001), three(8002), three(8003)}})
	if e.Listen != "0.0.0.0:8080" || len(e.Pools) != 1 || !reflect.DeepEqual(e.Pools[0], want) {
		t.Fatalf("got listen %q pools %+v", e.Listen, e.Pools)
	}
	if e.MaxConnections != 1000 || e.Timeouts.ClientIdle != 30*time.Second || e.Timeouts.UpstreamResponse != 30*time.Second ||
		e.Timeouts.UpstreamConnect != engine.DefaultTimeouts.UpstreamConnect ||
		!c.AccessLog || !c.Metrics {
		t.Fatalf("got %+v", c)
	}
}

func TestLoadDefaultsJSON(t *testing.T) {
	c, err := parse("c.json", []byte(`{"backend_servers": [{"host": "::1", "port": 80}], "health_check_interval": 0.5}`))
	if err != nil {
		t.Fatal(err)
	}
	h := c.Engine.Pools[0].Health
	if c.Engine.Listen != "0.0.0.0:8080" || c.Engine.Pools[0].Backends[0].Address != "[::1]:80" || h == nil ||
		h.Interval != 500*time.Millisecond || h.Timeout != 250*time.Millisecond || h.Path != "/health" || !c.AccessLog || !c.Metrics {
		t.Fatalf("got %+v (health %+v)", c, h)
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

// withEngineDefaults returns p with the defaults that engine.Config.WithDefaults
// fills in, so tests need not track every pool key the engine gains.
func withEngineDefaults(p engine.Pool) engine.Pool {
	if p.Passive == nil {
		p.Passive = defaultPassive() // cmd/loopgate's default, not the engine's
	}
	return engine.Config{Pools: []engine.Pool{p}}.WithDefaults().Pools[0]
}

// needAlgorithms skips the test unless every name is registered: upstream
// gains its algorithms one file at a time.
func needAlgorithms(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if !slices.Contains(upstream.Names(), n) {
			t.Skipf("algorithm %q is not registered yet", n)
		}
	}
}

// pool is a TOML config with one pool of the given algorithm ("" for the
// default) whose extra keys start on line 4.
func pool(alg, keys string) string {
	a := "\n"
	if alg != "" {
		a = "algorithm = \"" + alg + "\"\n"
	}
	return "[[pool]]\nname = \"web\"\n" + a + keys + "  [[pool.backend]]\n  address = \"a:1\"\n"
}

// The seed endpoints answer loopback and private clients under config.toml,
// the file's list replacing that default; a seed config.json answers all.
func TestSeedEndpointsAllow(t *testing.T) {
	load := func(name, data string) *Config {
		t.Helper()
		c, err := parse(name, []byte(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return c
	}
	if got := load("c.toml", minimal).Engine.SeedEndpointsAllow; !slices.Equal(got, defaultSeedEndpointsAllow) {
		t.Errorf("TOML default %q; want %q", got, defaultSeedEndpointsAllow)
	}
	if got := load("c.toml", "[server]\nseed_endpoints_allow = [\"203.0.113.9\", \"0.0.0.0/0\"]\n"+minimal).Engine.SeedEndpointsAllow; !slices.Equal(got, []string{"203.0.113.9/32", "0.0.0.0/0"}) {
		t.Errorf("TOML list %q", got)
	}
	if got := load("c.toml", "[server]\nseed_endpoints_allow = []\n"+minimal).Engine.SeedEndpointsAllow; got == nil || len(got) != 0 {
		t.Errorf("TOML []: %#v; want an empty list (no one), not nil (everyone)", got)
	}
	js := `{"backend_servers": [{"host": "127.0.0.1", "port": 8001}]}`
	if got := load("c.json", js).Engine.SeedEndpointsAllow; got != nil {
		t.Errorf("JSON: %q; want nil (every client, as the seeds)", got)
	}
	checkErrors(t, "c.toml", "[server]\nseed_endpoints_allow = [\"10.0.0.0/8\", \"nope\"]\n"+minimal, ErrValue, "c.toml:2: server.seed_endpoints_allow[1]:")
	checkErrors(t, "c.toml", "[server]\nseed_endpoints_allow = \"10.0.0.0/8\"\n"+minimal, ErrType, "c.toml:2: server.seed_endpoints_allow:")
}

func TestClientFilters(t *testing.T) {
	c, err := parse("c.toml", []byte("[server]\nclient_allow = [\"10.0.0.0/8\", \"192.0.2.7\"]\nclient_deny = [\"10.9.0.0/16\"]\n"+minimal))
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Engine; !slices.Equal(e.ClientAllow, []string{"10.0.0.0/8", "192.0.2.7/32"}) || !slices.Equal(e.ClientDeny, []string{"10.9.0.0/16"}) {
		t.Fatalf("allow %q deny %q", e.ClientAllow, e.ClientDeny)
	}
	checkErrors(t, "c.toml", "[server]\nclient_deny = [\"10.0.0.0/33\"]\n"+minimal, ErrValue, "c.toml:2: server.client_deny[0]:")
	checkErrors(t, "c.toml", "[server]\nclient_allow = \"10.0.0.0/8\"\n"+minimal, ErrType, "c.toml:2: server.client_allow:")
}

func TestMaxConnectionsPerClientKey(t *testing.T) {
	c, err := parse("c.toml", []byte("[server]\nmax_connections_per_client = 64\n"+minimal))
	if err != nil || c.Engine.MaxConnectionsPerClient != 64 {
		t.Fatalf("got %d, %v; want 64", c.Engine.MaxConnectionsPerClient, err)
	}
	checkErrors(t, "c.toml", "[server]\nmax_connections_per_client = -1\n"+minimal, ErrValue, "c.toml:2: server.max_connections_per_client:")
	checkErrors(t, "c.toml", "[server]\nmax_connections_per_client = \"64\"\n"+minimal, ErrType, "c.toml:2: server.max_connections_per_client:")
}

func TestTOMLTrustedProxies(t *testing.T) {
	f := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", "[server]\n"+in+"\n"+minimal, kind, want...)
	}
	f(`trusted_proxies = []`, nil)
	f(`trusted_proxies = ["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "10.1.2.3/8", "0.0.0.0/0"]`, nil)
	f(`trusted_proxies = ["10.0.0.0/8", "10.0.0.300/8"]`, ErrValue, "c.toml:2: server.trusted_proxies[1]:")
	f(`trusted_proxies = ["10.0.0.0/33"]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f(`trusted_proxies = ["::1/129"]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f(`trusted_proxies = ["10.0.0.0/"]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f(`trusted_proxies = ["10.0.0.0/-1"]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f(`trusted_proxies = ["10.0.0"]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f(`trusted_proxies = ["proxy.example"]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f(`trusted_proxies = [""]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f(`trusted_proxies = ["fe80::1%eth0"]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f(`trusted_proxies = ["fe80::1%eth0/64"]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f(`trusted_proxies = [" 10.0.0.1"]`, ErrValue, "c.toml:2: server.trusted_proxies[0]:")
	f("trusted_proxies = [\n  \"10.0.0.0/8\",\n  \"x\",\n  \"y/8\",\n]", ErrValue,
		"c.toml:4: server.trusted_proxies[1]:", "c.toml:5: server.trusted_proxies[2]:")
	f(`trusted_proxies = "10.0.0.0/8"`, ErrType, "c.toml:2: server.trusted_proxies:")
	f(`trusted_proxies = ["10.0.0.0/8", 10]`, ErrType, "c.toml:2: server.trusted_proxies[1]:")
	f(`trusted_proxy = ["10.0.0.0/8"]`, ErrUnknown, "c.toml:2: server.trusted_proxy:")

	// Bare addresses become one-address CIDRs; prefixes stay as written.
	c, err := parse("c.toml", []byte("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.168.1.7\", \"fd00::/8\", \"::1\", \"10.1.2.3/8\"]\n"+minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "::1/128", "10.1.2.3/8"}
	if !slices.Equal(c.Engine.TrustedProxies, want) {
		t.Fatalf("got %q; want %q", c.Engine.TrustedProxies, want)
	}
}

func TestTOMLNewKeyMessages(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := parse("config.toml", []byte(in))
		if err == nil || err.Error() != want {
			t.Fatalf("got %v; want %s", err, want)
		}
	}
	f("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.300/8\"]\n"+minimal,
		`config.toml:2: server.trusted_proxies[1]: cannot parse "10.0.0.300/8": IPv4 field has value >255`)
	f(pool("round_robin", "hash_key = \"uri\"\n"),
		`config.toml:4: pool[0].hash_key: only used with algorithm = "hash" (this pool's algorithm is "round_robin")`)
	f(pool("", "fallback = \"random\"\n"),
		`config.toml:4: pool[0].fallback: only used with algorithm = "hash" or "ip_hash" (this pool's algorithm is the default, "`+engine.DefaultAlgorithm+`")`)
	f(minimal+"  backup = true\n",
		`config.toml:3: pool[0].backend: every backend is a backup; at least one must not be (backups take traffic only when no other backend can)`)
	f(minimal+"[pool.sticky_cookie]\nsamesite = \"None\"\n",
		`config.toml:6: pool[0].sticky_cookie.samesite: "None" requires secure = true`)
}

// TestTOMLHashKeysMisplaced: the hash keys belong to the hash algorithms only.
func TestTOMLHashKeysMisplaced(t *testing.T) {
	f := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", in, kind, want...)
	}
	for _, alg := range []string{"", "round_robin"} {
		f(pool(alg, "hash_key = \"ip\"\n"), ErrValue, "c.toml:4: pool[0].hash_key:")
		f(pool(alg, "hash_method = \"ring\"\n"), ErrValue, "c.toml:4: pool[0].hash_method:")
		f(pool(alg, "hash_balance_factor = 1.25\n"), ErrValue, "c.toml:4: pool[0].hash_balance_factor:")
		f(pool(alg, "fallback = \"round_robin\"\n"), ErrValue, "c.toml:4: pool[0].fallback:")
		f(pool(alg, "hash_key = 5\n"), ErrValue, "c.toml:4: pool[0].hash_key:") // misplaced says more than mistyped
		f(pool(alg, "hash_key = \"ip\"\nfallback = \"random\"\n"), ErrValue, "c.toml:4: pool[0].hash_key:", "c.toml:5: pool[0].fallback:")
	}
	// With an unknown algorithm, only the algorithm is wrong, unless the key's value is too.
	f(pool("fastest", "hash_key = \"ip\"\nhash_method = \"ring\"\n"), ErrValue, "c.toml:3: pool[0].algorithm:")
	f(pool("fastest", "hash_key = \"host\"\nhash_balance_factor = 1\n"), ErrValue,
		"c.toml:3: pool[0].algorithm:", "c.toml:4: pool[0].hash_key:", "c.toml:5: pool[0].hash_balance_factor:")
	f(pool("", "hash_kye = \"ip\"\n"), ErrUnknown, "c.toml:4: pool[0].hash_kye:")
	f(pool("", "fallbak = \"ip\"\n"), ErrUnknown, "c.toml:4: pool[0].fallbak:")
}

func TestTOMLHashKeys(t *testing.T) {
	needAlgorithms(t, "hash", "ip_hash", "round_robin", "random")
	f := func(keys string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", pool("hash", keys), kind, want...)
	}
	f("", nil)
	f("hash_key = \"ip\"\nhash_method = \"ring\"\nhash_balance_factor = 0\nfallback = \"round_robin\"\n", nil)

	// hash_key
	for _, k := range []string{"ip", "uri", "path", "header:X-User", "header:x_user", "cookie:session", "cookie:__Host-id", "query:user", "query:a.b[]"} {
		f("hash_key = \""+k+"\"\n", nil)
	}
	for _, k := range []string{"", "IP", "host", "url", "header", "header:", "header: X", "header:X User", "header:X:Y", "header:a\\u00e9",
		"cookie:", "cookie:a=b", "cookie:a;b", "query:", "query:a&b", "query:a=b", "query:a#b", "Header:X", "ip:x"} {
		f("hash_key = \""+k+"\"\n", ErrValue, "c.toml:4: pool[0].hash_key:")
	}
	f("hash_key = [\"ip\"]\n", ErrType, "c.toml:4: pool[0].hash_key:")

	// hash_method
	f("hash_method = \"ring\"\n", nil)
	f("hash_method = \"maglev\"\n", nil)
	f("hash_method = \"Ring\"\n", ErrValue, "c.toml:4: pool[0].hash_method:")
	f("hash_method = \"\"\n", ErrValue, "c.toml:4: pool[0].hash_method:")
	f("hash_method = true\n", ErrType, "c.toml:4: pool[0].hash_method:")

	// hash_balance_factor
	for _, v := range []string{"0", "0.0", "1.25", "2", "1.0001", "10", "10.0"} {
		f("hash_balance_factor = "+v+"\n", nil)
	}
	for _, v := range []string{"1", "1.0", "0.5", "-1", "-0.5", "10.5", "11", "nan", "inf", "-inf"} {
		f("hash_balance_factor = "+v+"\n", ErrValue, "c.toml:4: pool[0].hash_balance_factor:")
	}
	f("hash_balance_factor = \"1.25\"\n", ErrType, "c.toml:4: pool[0].hash_balance_factor:")

	// fallback
	f("fallback = \"random\"\n", nil)
	f("fallback = \"hash\"\n", ErrValue, "c.toml:4: pool[0].fallback:")
	f("fallback = \"ip_hash\"\n", ErrValue, "c.toml:4: pool[0].fallback:")
	f("fallback = \"fastest\"\n", ErrValue, "c.toml:4: pool[0].fallback:")
	f("fallback = \"\"\n", nil) // empty means the default, as for every key
	f("fallback = 1\n", ErrType, "c.toml:4: pool[0].fallback:")

	// ip_hash takes hash's method, bound and fallback but hashes the client
	// address only.
	g := func(keys string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", pool("ip_hash", keys), kind, want...)
	}
	g("fallback = \"random\"\n", nil)
	g("hash_method = \"maglev\"\nhash_balance_factor = 1.5\n", nil)
	g("fallback = \"ip_hash\"\n", ErrValue, "c.toml:4: pool[0].fallback:")
	g("hash_key = \"ip\"\n", ErrValue, "c.toml:4: pool[0].hash_key:")
	g("hash_method = \"nope\"\n", ErrValue, "c.toml:4: pool[0].hash_method:")
}

func TestTOMLStickyCookie(t *testing.T) {
	f := func(keys string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", minimal+"[pool.sticky_cookie]\n"+keys, kind, want...)
	}
	f("", nil)
	f("name = \"lg_sticky\"\npath = \"/\"\nmax_age = \"0s\"\nsecure = false\nhttponly = true\nsamesite = \"Lax\"\nsecret = \"\"\n", nil)

	// name
	f("name = \"SESSION-id.2\"\n", nil)
	f("name = \"__Host-lg\"\n", nil)
	for _, n := range []string{"", "a b", "a=b", "a;b", "a,b", "a\\\"b", "a\\tb", "é"} {
		f("name = \""+n+"\"\n", ErrValue, "c.toml:6: pool[0].sticky_cookie.name:")
	}
	f("name = 1\n", ErrType, "c.toml:6: pool[0].sticky_cookie.name:")

	// path
	f("path = \"/app/\"\n", nil)
	for _, p := range []string{"", "app", " /", "/a;b", "/a\\nb", "/a\\u007f"} {
		f("path = \""+p+"\"\n", ErrValue, "c.toml:6: pool[0].sticky_cookie.path:")
	}

	// max_age
	f("max_age = \"1h\"\n", nil)
	f("max_age = \"90s\"\n", nil)
	f("max_age = \"-1s\"\n", ErrValue, "c.toml:6: pool[0].sticky_cookie.max_age:")
	f("max_age = \"1500ms\"\n", ErrValue, "c.toml:6: pool[0].sticky_cookie.max_age:")
	f("max_age = \"1d\"\n", ErrValue, "c.toml:6: pool[0].sticky_cookie.max_age:")
	f("max_age = 3600\n", ErrType, "c.toml:6: pool[0].sticky_cookie.max_age:")

	// secure, httponly
	f("secure = true\nhttponly = false\n", nil)
	f("secure = \"yes\"\n", ErrType, "c.toml:6: pool[0].sticky_cookie.secure:")
	f("httponly = 1\n", ErrType, "c.toml:6: pool[0].sticky_cookie.httponly:")

	// samesite
	f("samesite = \"\"\n", nil)
	f("samesite = \"Strict\"\n", nil)
	f("samesite = \"None\"\nsecure = true\n", nil)
	f("secure = true\nsamesite = \"None\"\n", nil)
	f("samesite = \"None\"\n", ErrValue, "c.toml:6: pool[0].sticky_cookie.samesite:")
	f("samesite = \"None\"\nsecure = false\n", ErrValue, "c.toml:6: pool[0].sticky_cookie.samesite:")
	f("samesite = \"lax\"\n", ErrValue, "c.toml:6: pool[0].sticky_cookie.samesite:")
	f("samesite = \"Off\"\n", ErrValue, "c.toml:6: pool[0].sticky_cookie.samesite:")
	f("samesite = false\n", ErrType, "c.toml:6: pool[0].sticky_cookie.samesite:")

	// secret
	f("secret = \"s3cr3t\"\n", nil)
	f("secret = 42\n", ErrType, "c.toml:6: pool[0].sticky_cookie.secret:")

	// The section itself.
	f("htponly = true\n", ErrUnknown, "c.toml:6: pool[0].sticky_cookie.htponly:")
	f("name = \"a b\"\npath = \"x\"\nmax_age = \"1.5s\"\nsamesite = \"None\"\n", ErrValue,
		"c.toml:6: pool[0].sticky_cookie.name:", "c.toml:7: pool[0].sticky_cookie.path:",
		"c.toml:8: pool[0].sticky_cookie.max_age:", "c.toml:9: pool[0].sticky_cookie.samesite:")
	g := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", in, kind, want...)
	}
	g(pool("round_robin", "sticky_cookie = {}\n"), nil)
	g(pool("", "sticky_cookie = { name = \"a b\" }\n"), ErrValue, "c.toml:4: pool[0].sticky_cookie.name:")
	g(pool("", "sticky_cookie = true\n"), ErrType, "c.toml:4: pool[0].sticky_cookie:")
	g(pool("", "sticky_cookie = [{}]\n"), ErrType, "c.toml:4: pool[0].sticky_cookie:")
	g(minimal+"[pool.stickycookie]\n", ErrUnknown, "c.toml:5: pool[0].stickycookie:")
}

func TestTOMLBackup(t *testing.T) {
	f := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", in, kind, want...)
	}
	f(minimal+"  backup = false\n", nil)
	f(minimal+"  [[pool.backend]]\n  address = \"a:2\"\n  backup = true\n", nil)
	f(minimal+"  backup = true\n", ErrValue, "c.toml:3: pool[0].backend:")
	f(minimal+"  backup = true\n  [[pool.backend]]\n  address = \"a:2\"\n  backup = true\n", ErrValue, "c.toml:3: pool[0].backend:")
	f(minimal+"  backup = \"yes\"\n", ErrType, "c.toml:5: pool[0].backend[0].backup:")
	f(minimal+"  backup = 1\n", ErrType, "c.toml:5: pool[0].backend[0].backup:")
	f(minimal+"  bakup = true\n", ErrUnknown, "c.toml:5: pool[0].backend[0].bakup:")
	// Both reasons a pool could take nothing are given.
	f(minimal+"  weight = 0\n  backup = true\n", ErrValue, "c.toml:3: pool[0].backend:", "c.toml:3: pool[0].backend:")

	c, err := parse("c.toml", []byte(minimal+"  [[pool.backend]]\n  address = \"a:2\"\n  backup = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if bs := c.Engine.Pools[0].Backends; len(bs) != 2 || bs[0].Backup || !bs[1].Backup {
		t.Fatalf("got %+v", bs)
	}
}

// TestPoolDefaults: Load fills in the defaults of the keys that apply to a
// pool's algorithm and leaves the others zero.
func TestPoolDefaults(t *testing.T) {
	load := func(in string) engine.Pool {
		t.Helper()
		c, err := parse("c.toml", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		p := c.Engine.Pools[0]
		p.Backends = nil
		return p
	}
	on, off := true, false
	f := func(in string, want engine.Pool) {
		t.Helper()
		if got := load(in); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\ngot  %+v (sticky %+v)\nwant %+v (sticky %+v)", in, got, got.StickyCookie, want, want.StickyCookie)
		}
	}
	base := withEngineDefaults(engine.Pool{Name: "web"})
	f(minimal, base)

	want := base
	want.StickyCookie = &engine.StickyCookie{Name: "lg_sticky", Path: "/", HTTPOnly: &on, SameSite: "Lax"}
	f(minimal+"[pool.sticky_cookie]\n", want)
	f(minimal+"[pool.sticky_cookie]\nsamesite = \"\"\n", want)
	want.StickyCookie = &engine.StickyCookie{Name: "sid", Path: "/app", MaxAge: time.Hour, Secure: true, HTTPOnly: &off,
		SameSite: "None", Secret: "k"}
	f(minimal+"[pool.sticky_cookie]\nname = \"sid\"\npath = \"/app\"\nmax_age = \"1h\"\nsecure = true\nhttponly = false\nsamesite = \"None\"\nsecret = \"k\"\n", want)

	t.Run("hash", func(t *testing.T) {
		needAlgorithms(t, "hash", "ip_hash", "random")
		want := base
		want.Algorithm, want.HashKey, want.HashMethod, want.Fallback = "hash", "ip", "ring", "round_robin"
		f(pool("hash", ""), want)
		want.HashKey, want.HashMethod, want.HashBalanceFactor, want.Fallback = "cookie:sid", "maglev", 2, "random"
		f(pool("hash", "hash_key = \"cookie:sid\"\nhash_method = \"maglev\"\nhash_balance_factor = 2\nfallback = \"random\"\n"), want)
		want = base
		want.Algorithm, want.Fallback = "ip_hash", "round_robin"
		f(pool("ip_hash", ""), want)
	})
}

// TestJSONAlgorithms: the seed configs' algorithm names load as ours.
func TestJSONAlgorithms(t *testing.T) {
	for _, alg := range []string{"round_robin", "least_connections", "ip_hash"} {
		t.Run(alg, func(t *testing.T) {
			needAlgorithms(t, alg)
			c, err := parse("c.json", []byte(`{"algorithm": "`+alg+`", "backend_servers": [{"host": "127.0.0.1", "port": 8001}]}`))
			if err != nil {
				t.Fatal(err)
			}
			if p := c.Engine.Pools[0]; p.Algorithm != alg || alg == "ip_hash" && p.Fallback != "round_robin" {
				t.Fatalf("got %+v", p)
			}
		})
	}
}

func TestTOMLHealth(t *testing.T) {
	f := func(keys string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", minimal+"[pool.health]\n"+keys, kind, want...)
	}
	const k = "c.toml:6: pool[0].health."
	f("", nil)
	f(`disabled = false
type = "http"
method = "HEAD"
path = "/ready?full=1"
host = "api.internal:8080"
headers = ["Authorization: Bearer t", "X-Probe:1"]
expect = "200,204, 301-302"
body_contains = "\"status\":\"ok\""
interval = "5s"
timeout = "1s"
rise = 1
fall = 1000
jitter = 0.5
fast_interval = "1s"
down_interval = "30s"
`, nil)
	f("type = \"tcp\"\n", nil)
	f("interval = \"1s\"\n", nil) // timeout defaults to 500ms
	f("interval = \"150ms\"\n", nil)
	f("jitter = -1\n", nil) // off
	f("jitter = 0\n", nil)
	f("rise = 0\nfall = 0\nfast_interval = \"0s\"\ndown_interval = \"0s\"\n", nil) // the defaults
	f("disabled = true\ntype = \"udp\"\npath = \"x\"\n", nil)                      // a disabled section is not validated

	// Wrong types.
	f("disabled = \"no\"\n", ErrType, k+"disabled:")
	f("type = 1\n", ErrType, k+"type:")
	f("method = true\n", ErrType, k+"method:")
	f("path = 1\n", ErrType, k+"path:")
	f("host = 1\n", ErrType, k+"host:")
	f("headers = \"X: y\"\n", ErrType, k+"headers:")
	f("headers = [\"X: y\", 1]\n", ErrType, k+"headers[1]:")
	f("expect = 200\n", ErrType, k+"expect:")
	f("body_contains = 1\n", ErrType, k+"body_contains:")
	f("interval = 10\n", ErrType, k+"interval:")
	f("timeout = 1\n", ErrType, k+"timeout:")
	f("rise = \"2\"\n", ErrType, k+"rise:")
	f("fall = 1.5\n", ErrType, k+"fall:")
	f("jitter = \"0.1\"\n", ErrType, k+"jitter:")
	f("fast_interval = 1\n", ErrType, k+"fast_interval:")
	f("down_interval = true\n", ErrType, k+"down_interval:")

	// Values the loader checks.
	f("interval = \"-1s\"\n", ErrValue, k+"interval:")
	f("timeout = \"10\"\n", ErrValue, k+"timeout:")
	f("down_interval = \"1d\"\n", ErrValue, k+"down_interval:")
	f("rise = -1\n", ErrValue, k+"rise:")
	f("rise = 1001\n", ErrValue, k+"rise:")
	f("fall = 1001\n", ErrValue, k+"fall:")

	// Values health.Config.Validate checks.
	f("type = \"udp\"\n", ErrValue, k+"type:")
	f("type = \"HTTP\"\n", ErrValue, k+"type:")
	f("method = \"GE T\"\n", ErrValue, k+"method:")
	f("method = \"CONNECT\"\n", ErrValue, k+"method:")
	f("path = \"health\"\n", ErrValue, k+"path:")
	f("path = \"/a b\"\n", ErrValue, k+"path:")
	f("host = \"a b\"\n", ErrValue, k+"host:")
	for _, h := range []string{"NoColon", "X Y: z", "Host: a", "connection: close", "Content-Length: 0", "Transfer-Encoding: chunked", "X: a\\u0001"} {
		f("headers = [\""+h+"\"]\n", ErrValue, k+"headers:")
	}
	for _, e := range []string{"600", "99", "2xx", "300-200", "200,", "200-"} {
		f("expect = \""+e+"\"\n", ErrValue, k+"expect:")
	}
	f("body_contains = \""+strings.Repeat("x", 32<<10+1)+"\"\n", ErrValue, k+"body_contains:")
	f("type = \"tcp\"\nbody_contains = \"ok\"\n", ErrValue, "c.toml:7: pool[0].health.body_contains:")
	f("interval = \"1s\"\ntimeout = \"1s\"\n", ErrValue, "c.toml:7: pool[0].health.timeout:")
	f("timeout = \"10s\"\n", ErrValue, k+"timeout:") // the default interval is 10s
	for _, j := range []string{"0.51", "1", "nan", "inf"} {
		f("jitter = "+j+"\n", ErrValue, k+"jitter:")
	}

	// Every problem is reported, each at its key.
	f("type = \"udp\"\npath = \"x\"\nrise = 2\nexpect = \"1\"\ninterval = \"1s\"\ntimeout = \"2s\"\n", ErrValue,
		k+"type:", "c.toml:7: pool[0].health.path:", "c.toml:9: pool[0].health.expect:", "c.toml:11: pool[0].health.timeout:")
	f("type = 1\npath = \"x\"\n", ErrType, k+"type:", "c.toml:7: pool[0].health.path:")

	// The section itself.
	f("intervall = \"1s\"\n", ErrUnknown, k+"intervall:")
	f("body = \"ok\"\n", ErrUnknown, k+"body:")
	g := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", in, kind, want...)
	}
	g(pool("", "health = {}\n"), nil)
	g(pool("", "health.path = \"/ok\"\n"), nil)
	g(pool("", "health = true\n"), ErrType, "c.toml:4: pool[0].health:")
	g(pool("", "health = [{}]\n"), ErrType, "c.toml:4: pool[0].health:")
	g(pool("", "health = { path = \"x\" }\n"), ErrValue, "c.toml:4: pool[0].health.path:")
	g(pool("", "health = {\n  type = \"tcp\",\n  body_contains = \"ok\" }\n"), ErrValue, "c.toml:6: pool[0].health.body_contains:")
}

// TestTOMLHealthEveryKey: every field of health.Config is a key of
// [pool.health], so a field added there is not silently unknown here.
func TestTOMLHealthEveryKey(t *testing.T) {
	typ := reflect.TypeFor[health.Config]()
	for i := range typ.NumField() {
		key := typ.Field(i).Tag.Get("toml")
		if key == "" {
			t.Fatalf("health.Config.%s has no toml tag", typ.Field(i).Name)
		}
		if key == "-" {
			continue // set by the engine, not configured (TLS: the pool's)
		}
		// A table is the wrong type for every key, and says the key is known.
		checkErrors(t, "c.toml", minimal+"[pool.health]\n"+key+" = {}\n", ErrType, "c.toml:6: pool[0].health."+key+":")
	}
}

func TestTOMLHealthMessages(t *testing.T) {
	f := func(keys, want string) {
		t.Helper()
		_, err := parse("config.toml", []byte(minimal+"[pool.health]\n"+keys))
		if err == nil || err.Error() != want {
			t.Fatalf("got %v; want %s", err, want)
		}
	}
	f("interval = \"1s\"\ntimeout = \"1s\"\n",
		`config.toml:7: pool[0].health.timeout: cannot use health.timeout "1s": invalid health config: must be shorter than the interval 1s: lower the timeout or raise the interval`)
	f("interval = \"1s\"\ntimeout = \"2s\"\n",
		`config.toml:7: pool[0].health.timeout: cannot use health.timeout "2s": invalid health config: must be shorter than the interval 1s: lower the timeout or raise the interval`)
	f("timeout = \"10s\"\n", // the default interval is 10s
		`config.toml:6: pool[0].health.timeout: cannot use health.timeout "10s": invalid health config: must be shorter than the interval 10s: lower the timeout or raise the interval`)
	f("type = \"udp\"\n",
		`config.toml:6: pool[0].health.type: cannot use health.type "udp": invalid health config: want "http" or "tcp"`)
	f("rise = 1001\n", `config.toml:6: pool[0].health.rise: got 1001; want 0..1000`)
	f("interval = 2\n", `config.toml:6: pool[0].health.interval: want a duration string such as "3s", got integer 2`)
}

// TestHealthLoaded: the section's presence turns probes on, with every
// default filled in; without it they are off (nil).
func TestHealthLoaded(t *testing.T) {
	f := func(in string, want *health.Config) {
		t.Helper()
		c, err := parse("c.toml", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Engine.Pools[0].Health; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\ngot  %+v\nwant %+v", in, got, want)
		}
	}
	f(minimal, nil)
	d := health.Config{}.WithDefaults()
	f(minimal+"[pool.health]\n", &d)
	f(pool("", "health = {}\n"), &d)
	h := health.Config{Type: "tcp", Interval: 4 * time.Second, Headers: []string{"A: b"}, Jitter: -1}.WithDefaults()
	f(minimal+"[pool.health]\ntype = \"tcp\"\ninterval = \"4s\"\nheaders = [\"A: b\"]\njitter = -1\n", &h)
	if h.Timeout != 2*time.Second || h.FastInterval != time.Second || h.DownInterval != 4*time.Second || h.Jitter != -1 {
		t.Fatalf("defaults: got %+v", h)
	}
	off := health.Config{Disabled: true}.WithDefaults()
	f(minimal+"[pool.health]\ndisabled = true\n", &off)
}

func TestJSONHealth(t *testing.T) {
	const servers = `"backend_servers": [{"host": "127.0.0.1", "port": 8001}]`
	f := func(keys string, want *health.Config, wantWarning string) {
		t.Helper()
		c, err := parse("c.json", []byte("{\n"+keys+"\n"+servers+"}"))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Engine.Pools[0].Health; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\ngot  %+v\nwant %+v", keys, got, want)
		}
		var got []string
		for _, w := range c.warnings {
			got = append(got, w.Error())
			if !w.Warning || !errors.Is(w, ErrValue) {
				t.Fatalf("%s: %+v is not a warning of kind %v", keys, w, ErrValue)
			}
		}
		if strings.Join(got, "\n") != wantWarning {
			t.Fatalf("%s\ngot warnings %q\nwant %q", keys, got, wantWarning)
		}
	}
	f("", nil, "")
	on := func(h health.Config) *health.Config { h = h.WithDefaults(); return &h }
	f(`"health_check_interval": 5, "health_check_timeout": 1, `, on(health.Config{Interval: 5 * time.Second, Timeout: time.Second}), "")
	f(`"health_check_interval": 0.5, `, on(health.Config{Interval: 500 * time.Millisecond}), "")
	f(`"health_check_timeout": 3, `, on(health.Config{Timeout: 3 * time.Second}), "")
	f(`"health_check_interval": 0, `, on(health.Config{}), "")                                                     // 0 = the default, as everywhere
	f(`"health_check_interval": 5, "health_check_timeout": 0, `, on(health.Config{Interval: 5 * time.Second}), "") // here too

	// A timeout not below the interval is lowered to 90% of it, as the seed
	// balancers accept it.
	f(`"health_check_interval": 1, "health_check_timeout": 1, `, on(health.Config{Interval: time.Second, Timeout: 900 * time.Millisecond}),
		"c.json:2: health_check_timeout: warning: 1s is not below health_check_interval 1s; using 900ms")
	f(`"health_check_interval": 5, "health_check_timeout": 5, `, on(health.Config{Interval: 5 * time.Second, Timeout: 4500 * time.Millisecond}),
		"c.json:2: health_check_timeout: warning: 5s is not below health_check_interval 5s; using 4.5s")
	f(`"health_check_interval": 5,`+"\n"+`"health_check_timeout": 6, `, on(health.Config{Interval: 5 * time.Second, Timeout: 4500 * time.Millisecond}),
		"c.json:3: health_check_timeout: warning: 6s is not below health_check_interval 5s; using 4.5s")
	f(`"health_check_timeout": 10, `, on(health.Config{Timeout: 9 * time.Second}),
		"c.json:2: health_check_timeout: warning: 10s is not below the default health_check_interval 10s; using 9s")
	f(`"health_check_interval": 0, "health_check_timeout": 30, `, on(health.Config{Timeout: 9 * time.Second}),
		"c.json:2: health_check_timeout: warning: 30s is not below the default health_check_interval 10s; using 9s")
	if h := on(health.Config{Interval: 5 * time.Second}); h.Path != "/health" || h.Type != "http" || h.Rise != 2 || h.Fall != 3 {
		t.Fatalf("seed probe defaults: %+v", h)
	}

	g := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.json", in, kind, want...)
	}
	g("{\n\"health_check_interval\": -1,\n"+servers+"}", ErrValue, "c.json:2: health_check_interval:")
	g("{\n\"health_check_interval\": \"5\",\n"+servers+"}", ErrType, "c.json:2: health_check_interval:")
	g("{\n\"health_check_timeout\": -1,\n"+servers+"}", ErrValue, "c.json:2: health_check_timeout:")
	g("{\n\"health_check_timeout\": \"1\",\n"+servers+"}", ErrType, "c.json:2: health_check_timeout:")
	// Too short an interval for any timeout below it is still refused.
	g("{\n\"health_check_interval\": 1e-9,\n\"health_check_timeout\": 1,\n"+servers+"}", ErrValue, "c.json:3: health_check_timeout:")
	// A file with errors is refused without its warnings.
	g("{\n\"health_check_interval\": 1,\n\"health_check_timeout\": 1,\n\"proxy_port\": 0,\n"+servers+"}", ErrValue, "c.json:4: proxy_port:")
}

func TestTOMLPassive(t *testing.T) {
	f := func(section string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", pool("round_robin", "  [pool.passive]\n"+section), kind, want...)
	}
	f("", nil)
	f("consecutive_failures = 3\nstatuses = [502, 503]\nbase_ejection_time = \"10s\"\nmax_ejection_time = \"1m\"\nmax_ejection_percent = 34\n", nil)
	f("consecutive_failures = -1\n", ErrValue, "c.toml:5: pool[0].passive.consecutive_failures:")
	f("statuses = [502, 700]\n", ErrValue, "c.toml:5: pool[0].passive.statuses[1]:")
	f("statuses = 503\n", ErrType, "c.toml:5: pool[0].passive.statuses:")
	f("base_ejection_time = 3\n", ErrType, "c.toml:5: pool[0].passive.base_ejection_time:")
	f("base_ejection_time = \"10s\"\nmax_ejection_time = \"5s\"\n", ErrValue, "c.toml:6: pool[0].passive.max_ejection_time:")
	f("max_ejection_percent = 101\n", ErrValue, "c.toml:5: pool[0].passive.max_ejection_percent:")
	f("typo = 1\n", ErrUnknown, "c.toml:5: pool[0].passive.typo:")
	f("enabled = false\n", nil)
	f("enabled = \"no\"\n", ErrType, "c.toml:5: pool[0].passive.enabled:")
}

func TestPassiveLoaded(t *testing.T) {
	c, err := parse("c.toml", []byte(pool("round_robin", "  [pool.passive]\n  statuses = [503]\n")))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Engine.Pools[0].Passive
	if p == nil || p.ConsecutiveFailures != engine.DefaultConsecutiveFailures || p.BaseEjectionTime != engine.DefaultBaseEjectionTime ||
		p.MaxEjectionPercent != engine.DefaultMaxEjectionPercent || len(p.Statuses) != 1 {
		t.Fatalf("passive = %+v; want the defaults with statuses [503]", p)
	}
	c, err = parse("c.toml", []byte(pool("round_robin", "")))
	if err != nil || c.Engine.Pools[0].Passive == nil || !reflect.DeepEqual(c.Engine.Pools[0].Passive, defaultPassive()) {
		t.Fatalf("without [pool.passive]: %+v, %v; want on with every default", c.Engine.Pools[0].Passive, err)
	}
	c, err = parse("c.toml", []byte(pool("round_robin", "  [pool.passive]\n  enabled = false\n")))
	if err != nil || c.Engine.Pools[0].Passive != nil {
		t.Fatalf("enabled = false: %+v, %v; want nil (off)", c.Engine.Pools[0].Passive, err)
	}
	c, err = parse("c.json", []byte(`{"backend_servers": [{"host": "127.0.0.1", "port": 8001}]}`))
	if err != nil || c.Engine.Pools[0].Passive == nil {
		t.Fatalf("config.json: %+v, %v; want passive ejection on", c.Engine.Pools[0].Passive, err)
	}
}

func TestTOMLPoolTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeNamedCert(t, dir, "client", "client.test", 1)
	_, otherKey := writeNamedCert(t, dir, "other", "other.test", 2)
	missing := filepath.Join(dir, "missing.pem")
	f := func(section string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", pool("round_robin", "  [pool.tls]\n"+section), kind, want...)
	}
	f("", nil)
	f(fmt.Sprintf("server_name = \"api.internal\"\nca = %q\nverify = true\ncert = %q\nkey = %q\nmin_version = \"1.3\"\nsession_reuse = false\n", cert, cert, key), nil)
	f("server_name = \"10.0.0.7\"\nverify = false\nmin_version = \"1.2\"\nsession_reuse = true\n", nil)

	// Files: read at load, each problem at its key.
	f(fmt.Sprintf("ca = %q\n", missing), ErrValue, "c.toml:5: pool[0].tls.ca:")
	f(fmt.Sprintf("ca = %q\n", key), ErrValue, "c.toml:5: pool[0].tls.ca:") // no certificate in it
	f(fmt.Sprintf("cert = %q\n", cert), ErrMissing, "c.toml:5: pool[0].tls.cert:")
	f(fmt.Sprintf("key = %q\n", key), ErrMissing, "c.toml:5: pool[0].tls.key:")
	f(fmt.Sprintf("cert = %q\nkey = %q\n", cert, missing), ErrValue, "c.toml:5: pool[0].tls.cert:")
	f(fmt.Sprintf("cert = %q\nkey = %q\n", cert, otherKey), ErrValue, "c.toml:5: pool[0].tls.cert:") // another certificate's key
	f(fmt.Sprintf("cert = %q\nkey = %q\n", key, key), ErrValue, "c.toml:5: pool[0].tls.cert:")       // no certificate in it

	// Values and combinations.
	f("min_version = \"1.1\"\n", ErrValue, "c.toml:5: pool[0].tls.min_version:")
	f("min_version = \"1.4\"\n", ErrValue, "c.toml:5: pool[0].tls.min_version:")
	f("server_name = \"https://x\"\n", ErrValue, "c.toml:5: pool[0].tls.server_name:")
	f("server_name = \"x:443\"\n", ErrValue, "c.toml:5: pool[0].tls.server_name:")
	f(fmt.Sprintf("ca = %q\nverify = false\n", cert), ErrValue, "c.toml:5: pool[0].tls.ca:")
	f(fmt.Sprintf("verify = false\nca = %q\n", cert), ErrValue, "c.toml:6: pool[0].tls.ca:")

	// Types and names.
	f("verify = \"no\"\n", ErrType, "c.toml:5: pool[0].tls.verify:")
	f("session_reuse = 1\n", ErrType, "c.toml:5: pool[0].tls.session_reuse:")
	f("ca = 1\n", ErrType, "c.toml:5: pool[0].tls.ca:")
	f("min_version = 1.3\n", ErrType, "c.toml:5: pool[0].tls.min_version:")
	f("typo = 1\n", ErrUnknown, "c.toml:5: pool[0].tls.typo:")
	f("sesion_reuse = false\n", ErrUnknown, "c.toml:5: pool[0].tls.sesion_reuse:")
	f("client_ca = \"x\"\n", ErrUnknown, "c.toml:5: pool[0].tls.client_ca:")

	// Every problem, not just the first.
	f(fmt.Sprintf("ca = %q\ncert = %q\nmin_version = \"1.0\"\nserver_name = \"a b\"\n", missing, cert), ErrValue,
		"c.toml:5: pool[0].tls.ca:", "c.toml:6: pool[0].tls.cert:", "c.toml:7: pool[0].tls.min_version:", "c.toml:8: pool[0].tls.server_name:")

	// The other forms of the key.
	g := func(in string, kind error, want ...string) {
		t.Helper()
		checkErrors(t, "c.toml", in, kind, want...)
	}
	g(pool("", "tls = true\n"), nil)
	g(pool("", "tls = false\n"), nil)
	g(pool("", "tls = {}\n"), nil)
	g(pool("", fmt.Sprintf("tls = { ca = %q }\n", missing)), ErrValue, "c.toml:4: pool[0].tls.ca:")
	g(pool("", "tls = \"yes\"\n"), ErrType, "c.toml:4: pool[0].tls:")
	g(pool("", "tls = 1\n"), ErrType, "c.toml:4: pool[0].tls:")
	g(pool("", "tls = [{}]\n"), ErrType, "c.toml:4: pool[0].tls:")
	g(minimal+"[pool.tsl]\n", ErrUnknown, "c.toml:5: pool[0].tsl:")
	g(minimal+strings.Replace(minimal, "web", "api", 1)+"[pool.tls]\nmin_version = \"1.1\"\n", ErrValue, "c.toml:10: pool[1].tls.min_version:")
}

func TestPoolTLSLoaded(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeNamedCert(t, dir, "client", "client.test", 1)
	load := func(keys string) *certs.Client {
		t.Helper()
		c, err := parse("c.toml", []byte(pool("round_robin", keys)))
		if err != nil {
			t.Fatal(err)
		}
		return c.Engine.Pools[0].TLS
	}
	yes, no := true, false
	got := load(fmt.Sprintf("[pool.tls]\nserver_name = \"api.internal\"\nca = %q\nverify = true\ncert = %q\nkey = %q\nmin_version = \"1.3\"\nsession_reuse = false\n", cert, cert, key))
	want := &certs.Client{ServerName: "api.internal", CA: cert, Verify: &yes, Cert: cert, Key: key, MinVersion: "1.3", SessionReuse: &no}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("every key: %+v; want %+v", got, want)
	}

	// On with every default, filled in: what runs is what is logged.
	defaults := &certs.Client{MinVersion: "1.2", Verify: &yes, SessionReuse: &yes}
	for _, keys := range []string{"tls = true\n", "[pool.tls]\n", "tls = {}\n"} {
		if got := load(keys); !reflect.DeepEqual(got, defaults) {
			t.Fatalf("%q: %+v; want %+v", keys, got, defaults)
		}
	}
	got = load("[pool.tls]\nverify = false\n")
	if got == nil || got.Verifies() || !*got.SessionReuse {
		t.Fatalf("verify = false: %+v; want no verification, sessions resumed", got)
	}
	for _, keys := range []string{"", "tls = false\n"} {
		if got := load(keys); got != nil {
			t.Fatalf("%q: %+v; want nil (plain HTTP)", keys, got)
		}
	}
}

func TestLoadObservability(t *testing.T) {
	base := "[[pool]]\nname = \"w\"\n[[pool.backend]]\naddress = \"127.0.0.1:1\"\n"
	c, err := parse("c.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if !c.AccessLog || !c.Metrics || !c.Engine.SeedEndpoints || c.Engine.RequestIDHeader != "X-Request-ID" ||
		c.Log != (LogConfig{Path: "-", Format: "json", Buffer: 65536, Queue: 64}) || c.Admin.Listen != "127.0.0.1:9090" {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = parse("c.toml", []byte("[server]\naccess_log = false\nmetrics = false\nseed_endpoints = false\nrequest_id_header = \"\"\n"+
		"[access_log]\npath = \"/var/log/lg.log\"\nformat = \"combined\"\nbuffer = 4096\nqueue = 8\n"+
		"[admin]\nlisten = \"10.0.0.1:9090\"\ntoken_file = \"/etc/lg.token\"\npublic_read = true\nstate_file = \"/var/lib/lg.json\"\n"+base))
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessLog || c.Metrics || c.Engine.SeedEndpoints || c.Engine.RequestIDHeader != "" ||
		c.Log != (LogConfig{Path: "/var/log/lg.log", Format: "combined", Buffer: 4096, Queue: 8}) ||
		c.Admin != (AdminConfig{Listen: "10.0.0.1:9090", TokenFile: "/etc/lg.token", PublicRead: true, StateFile: "/var/lib/lg.json"}) {
		t.Fatalf("set: %+v", c)
	}
	f := func(section, want string) {
		t.Helper()
		_, err := parse("c.toml", []byte(section+base))
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrValue) {
			t.Fatalf("%q: got %v; want an invalid value mentioning %q", section, err, want)
		}
	}
	f("[access_log]\nformat = \"xml\"\n", `c.toml:2: access_log.format: cannot use "xml"`)
	f("[access_log]\npath = \"\"\n", "access_log.path: cannot use an empty path")
	f("[admin]\nlisten = \"0.0.0.0:9090\"\n", "admin.listen: cannot listen on \"0.0.0.0:9090\" without a token")
	f("[admin]\nlisten = \"127.0.0.1\"\n", "admin.listen: cannot parse")
	f("[admin]\ntoken = \"a\"\ntoken_file = \"b\"\n", "cannot use both token and token_file")
	f("[server]\nrequest_id_header = \"X Id\"\n", "server.request_id_header")
	// Off-loopback with a token is fine.
	if _, err := parse("c.toml", []byte("[admin]\nlisten = \"0.0.0.0:9090\"\ntoken = \"s3cret\"\n"+base)); err != nil {
		t.Fatal(err)
	}
}

func TestConnectPortsKey(t *testing.T) {
	c, err := parse("c.toml", []byte("[server]\nconnect_ports = [443, 8443]\n[timeouts]\ntunnel_idle = \"90m\"\n"+minimal))
	if err != nil || !slices.Equal(c.Engine.ConnectPorts, []int{443, 8443}) || c.Engine.Timeouts.TunnelIdle != 90*time.Minute {
		t.Fatalf("got %v %v, %v; want [443 8443] 1h30m", c.Engine.ConnectPorts, c.Engine.Timeouts.TunnelIdle, err)
	}
	checkErrors(t, "c.toml", "[server]\nconnect_ports = [443, 0]\n"+minimal, ErrValue, "c.toml:2: server.connect_ports[1]:")
	checkErrors(t, "c.toml", "[server]\nconnect_ports = [65536]\n"+minimal, ErrValue, "c.toml:2: server.connect_ports[0]:")
	checkErrors(t, "c.toml", "[server]\nconnect_ports = [443, 443]\n"+minimal, ErrValue, "c.toml:2: server.connect_ports[1]:")
	checkErrors(t, "c.toml", "[server]\nconnect_ports = [\"443\"]\n"+minimal, ErrType, "c.toml:2: server.connect_ports[0]:")
	checkErrors(t, "c.toml", "[server]\nconnect_ports = 443\n"+minimal, ErrType, "c.toml:2: server.connect_ports:")
	checkErrors(t, "c.toml", "[timeouts]\ntunnel_idle = \"soon\"\n"+minimal, ErrValue, "c.toml:2: timeouts.tunnel_idle:")
}
