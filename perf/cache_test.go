package perf

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// requireVarnish skips the test when varnishd is not installed, unless CI installed it and
// set LOOPGATE_REQUIRE_VARNISH=1, when it fails instead.
func requireVarnish(t *testing.T) {
	t.Helper()
	if installed("varnishd") {
		return
	}
	if os.Getenv("LOOPGATE_REQUIRE_VARNISH") == "1" {
		t.Fatal("varnishd is not installed, and LOOPGATE_REQUIRE_VARNISH=1")
	}
	t.Skip("varnishd is not installed (apt-get install varnish)")
}

// sharedTempDir is a temporary directory that other users may enter: Varnish drops root
// and must reach its working directory. t.TempDir's parent is private.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "loopgate-perf-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCacheRatios(t *testing.T) {
	run := func(proxy string, round int, cpu, rps float64) RunResult {
		return RunResult{Proxy: proxy, Conns: 256, Size: 100, Round: round, CPUus: cpu, RPS: rps}
	}
	runs := []RunResult{
		run(proxyLoopgate, 1, 6, 300), run(proxyNginx, 1, 10, 200), run(proxyVarnish, 1, 4, 100),
		run(proxyLoopgate, 2, 8, 300), run(proxyNginx, 2, 10, 300), run(proxyVarnish, 2, 6, 100),
		run(proxyLoopgate, 3, 7, 300), run(proxyNginx, 3, 14, 100),
		// Another scenario, and a round that only loopgate ran: neither counts.
		{Proxy: proxyLoopgate, Conns: 256, Size: 16384, Round: 1, CPUus: 1, RPS: 1},
		run(proxyLoopgate, 4, 1, 1),
	}
	got := cacheRatios(runs, []int{256}, []int{100})
	if len(got) != 2 {
		t.Fatalf("got %d ratios; want nginx and Varnish: %+v", len(got), got)
	}
	ng, va := got[0], got[1]
	if ng.Versus != proxyNginx || ng.CPU != (Stat{0.6, 0.5, 0.8}) || ng.RPS != (Stat{1.5, 1, 3}) || ng.Goal != goalVsNginx || !ng.Met {
		t.Fatalf("versus nginx: %+v; want CPU 0.6 [0.5..0.8], req/s 1.5 [1..3], met", ng)
	}
	// Rounds 1 and 2: 1.5 and 1.33; the median of two is their mean.
	if va.Versus != proxyVarnish || va.CPU.Min != 8.0/6 || va.CPU.Max != 1.5 || va.Goal != goalVsVarnish || va.Met {
		t.Fatalf("versus varnish: %+v; want CPU 1.33..1.5, not met", va)
	}
	if got := cacheRatios(runs[:3], []int{50}, []int{100}); len(got) != 0 {
		t.Fatalf("ratios for a scenario not run: %+v", got)
	}
}

func TestCheckHitRun(t *testing.T) {
	ok := RunResult{Proxy: "p", Conns: 256, Size: 16384, Round: 2, Requests: 1000, Bytes: 1000 * (16384 + 250)}
	f := func(rr RunResult, served int64, want string) {
		t.Helper()
		err := checkHitRun(rr, served)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Fatalf("checkHitRun(%+v, %d) = %v; want %q", rr, served, err, want)
		}
	}
	f(ok, 0, "")
	f(ok, 1, "missed its cache: the backends served 1 requests")
	short := ok
	short.Bytes = 1000 * 16000
	f(short, 0, "bytes per response")
	long := ok
	long.Bytes = 1000 * (16384 + 4096)
	f(long, 0, "bytes per response")
	failed := ok
	failed.Non2xx = 3
	f(failed, 0, "non-2xx")
}

// directBench is a cache-family bench whose "proxy" is backend 1 itself, which caches
// nothing: what measure and checkHit do when a proxy misses.
func directBench(t *testing.T, backends string) (*bench, *liveProxy) {
	t.Helper()
	dir := t.TempDir()
	cfg := BenchConfig{Loopgate: "unused", Cache: true, Quick: true, Backends: backends, Load: "loadgen", Log: testLog{t}}
	if backends == "go" {
		cfg.Backend = buildBinary(t, dir, "loopgate/cmd/backend")
	}
	b := &bench{cfg: cfg.withDefaults(), dir: dir, ps: &procSet{dir: dir}, paths: map[int]string{},
		res: &BenchResult{Host: HostInfo{Versions: map[string]string{}}}}
	t.Cleanup(b.ps.stopAll)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.startBackends(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.paths[100], "max_age=") && !strings.HasPrefix(b.paths[100], cachePrefix) {
		t.Fatalf("cache path %q is not the cacheable one", b.paths[100])
	}
	return b, &liveProxy{name: "no-cache", addr: b.backends[0], p: b.ps.procs[0]}
}

// TestCacheMissFails checks that a "cache" that sends requests on fails the run, with either
// kind of backend, and that checkHit refuses it.
func TestCacheMissFails(t *testing.T) {
	if testing.Short() {
		t.Skip("starts backends")
	}
	if err := supported(); err != nil {
		t.Skip(err)
	}
	for _, kind := range []string{"go", "nginx"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "nginx" && !installed("nginx") {
				t.Skip("nginx is not installed")
			}
			b, lp := directBench(t, kind)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			before, err := b.backendRequests(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.measure(ctx, lp, 4, 100, 1, b.pathLoad(lp, 4, 100))
			if err == nil || !strings.Contains(err.Error(), "missed its cache") {
				t.Fatalf("measure on a proxy that caches nothing: %v; want a miss", err)
			}
			after, err := b.backendRequests(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n := b.res.Runs[0].Requests; after-before < n {
				t.Fatalf("backends counted %d requests; the run sent %d", after-before, n)
			}
			if err := b.checkHit(ctx, lp, 100); err == nil || !strings.Contains(err.Error(), "from its cache") {
				t.Fatalf("checkHit on a proxy that caches nothing: %v", err)
			}
		})
	}
}

// TestBackendRequestsCountsOnlyLoad checks that reading the count does not move it: two
// reads in a row with nothing between them agree.
func TestBackendRequestsCountsOnlyLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts backends")
	}
	if err := supported(); err != nil {
		t.Skip(err)
	}
	b, _ := directBench(t, "go")
	ctx := context.Background()
	n1, err1 := b.backendRequests(ctx)
	n2, err2 := b.backendRequests(ctx)
	if err1 != nil || err2 != nil || n1 != n2 {
		t.Fatalf("two reads: %d (%v), %d (%v); want equal", n1, err1, n2, err2)
	}
}

// cacheBackend is a tiny backend for TestCacheConfs: cacheable bodies, counted.
type cacheBackend struct{ calls atomic.Int64 }

func (cb *cacheBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cb.calls.Add(1)
	w.Header().Set("Cache-Control", "max-age=3600")
	io.WriteString(w, "body of "+r.URL.Path)
}

// TestCacheConfs starts each cache proxy with its configuration in front of one tiny
// backend and checks that the second request is a hit with the X-Cache header and the same
// body, and that the backend saw one request per path.
func TestCacheConfs(t *testing.T) {
	cb := &cacheBackend{}
	backends := []string{startConfBackend(t, cb)}

	for _, name := range CacheProxies {
		t.Run(name, func(t *testing.T) {
			dir := sharedTempDir(t)
			port, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			addr := "127.0.0.1:" + strconv.Itoa(port)
			var conf, text string
			var argv []string
			switch name {
			case proxyLoopgate:
				lg := buildBinary(t, dir, "loopgate/cmd/loopgate")
				conf = filepath.Join(dir, name+".toml")
				text, argv = loopgateConf(addr, backends, lgConf{loops: 1, maxConns: 1000, cache: true}), []string{lg, "-config", conf}
			case proxyNginx:
				if !installed("nginx") {
					t.Skip("nginx is not installed")
				}
				cd, remove, err := cacheDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer remove()
				conf = filepath.Join(dir, name+".conf")
				text, argv = nginxCacheConf(dir, cd, addr, backends, 1000), []string{"nginx", "-p", dir, "-c", conf}
			case proxyVarnish:
				requireVarnish(t)
				conf = filepath.Join(dir, name+".vcl")
				text, argv = varnishVCL(backends), varnishArgs(dir, addr, conf)
			}
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			ps := &procSet{dir: dir}
			defer ps.stopAll()
			p, err := ps.start(name, argv...)
			if err != nil {
				t.Fatal(err)
			}
			path := "/" + name + "/x"
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			before := cb.calls.Load()
			if err := waitReady(ctx, "http://"+addr+path, p); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // nginx and Varnish store after answering
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "body of "+path || resp.Header.Get(cacheHeader) != cacheHit {
				t.Fatalf("second GET %s: %s %q %s %q; want 200, the body, %s %s",
					path, resp.Status, body, cacheHeader, resp.Header.Get(cacheHeader), cacheHeader, cacheHit)
			}
			if n := cb.calls.Load() - before; n != 1 {
				t.Fatalf("the backend served %s %d times; want once", path, n)
			}
		})
	}
}

// TestBenchCacheSmoke is `make perf QUICK=1 PERFFLAGS=-cache` in short: loopgate, nginx and
// Varnish caching nginx backends, loaded with wrk.
func TestBenchCacheSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts proxies and loads them")
	}
	for _, tool := range []string{"wrk", "nginx"} {
		if !installed(tool) {
			t.Skipf("%s is not installed (apt-get install wrk nginx-light)", tool)
		}
	}
	requireVarnish(t)
	dir := t.TempDir()
	lg := buildBinary(t, dir, "loopgate/cmd/loopgate")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := Bench(ctx, BenchConfig{Loopgate: lg, Cache: true, Quick: true, Sizes: []int{100, 1 << 20}, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Summary) != 2*len(CacheProxies) || len(res.Idle) != 0 {
		t.Fatalf("got %d summary rows and %d idle rows; want %d and none; notes %q",
			len(res.Summary), len(res.Idle), 2*len(CacheProxies), res.Notes)
	}
	for _, s := range res.Summary {
		if s.RPS.Median <= 0 || s.CPUus.Median <= 0 || s.Errors+s.Non2xx > 0 || s.RPSvsHA != 0 {
			t.Fatalf("implausible row %+v", s)
		}
	}
	if len(res.CacheRatios) != 4 {
		t.Fatalf("got %d cache ratios; want nginx and Varnish at two sizes: %+v", len(res.CacheRatios), res.CacheRatios)
	}
	for _, r := range res.CacheRatios {
		if r.CPU.Median <= 0 || r.RPS.Median <= 0 || r.Met != (r.CPU.Median <= r.Goal) {
			t.Fatalf("implausible ratio %+v", r)
		}
	}
	if !res.Settings.Cache || res.Settings.Load != "wrk -t1" || res.Settings.Backends != "nginx" {
		t.Fatalf("settings %+v; want the cache family, wrk and nginx", res.Settings)
	}
	checkOutputs(t, res, CacheProxies)
	var md strings.Builder
	if err := res.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| 50 | 1 MiB | varnish |") || strings.Contains(md.String(), "HAProxy |") {
		t.Fatalf("markdown lacks the cache ratio rows or has HAProxy columns:\n%s", md.String())
	}
}

// TestBenchCacheWithoutTools is the cache family on cmd/backend backends with the load
// generator, loopgate only: the backends' /info counters must show no request reaching them.
func TestBenchCacheWithoutTools(t *testing.T) {
	if testing.Short() {
		t.Skip("starts loopgate and backends")
	}
	if err := supported(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	lg := buildBinary(t, dir, "loopgate/cmd/loopgate")
	be := buildBinary(t, dir, "loopgate/cmd/backend")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Bench(ctx, BenchConfig{
		Loopgate: lg, Backend: be, Backends: "go", Load: "loadgen", Proxies: []string{proxyLoopgate},
		Cache: true, Quick: true, Sizes: []int{100, 16384}, Log: testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Summary) != 2 || res.Summary[1].RPS.Median <= 0 || len(res.CacheRatios) != 0 {
		t.Fatalf("summary %+v, ratios %+v; want two loopgate rows and no ratios", res.Summary, res.CacheRatios)
	}
}

func TestBenchFamiliesExclusive(t *testing.T) {
	if err := supported(); err != nil {
		t.Skip(err)
	}
	_, err := Bench(context.Background(), BenchConfig{Loopgate: "x", Cache: true, Compress: true})
	if err == nil || !strings.Contains(err.Error(), "one at a time") {
		t.Fatalf("cache and compress together: %v", err)
	}
}
