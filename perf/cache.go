package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The cache family (BenchConfig.Cache, issue 14): loopgate, nginx and Varnish cache the same
// backends, and every measured request is a hit. The backends answer cachePath(size) with
// Cache-Control: max-age=cacheMaxAge (nginx backends: expires; cmd/backend: ?max_age=); the
// proxies start empty, a warm-up fills them, and each measured run must leave the backends'
// request count where it was: a proxy that misses fails the run instead of being reported.
// Each proxy adds X-Cache: HIT to a hit, which checkHit reads before the rounds.
const (
	cacheMaxAge = 3600 // seconds: longer than any run, so nothing expires while measured
	// cacheMemory is what each proxy may hold: the scenarios store three objects, the
	// largest 1 MiB, so none evicts.
	cacheMemory = 256 << 20
	// cacheMaxObject is loopgate's max_object: 1 MiB bodies with their heads fit under it.
	cacheMaxObject = 2 << 20
	cacheHeader    = "X-Cache"
	cacheHit       = "HIT"
	// cachePrefix is where the nginx backends serve their files as cacheable, with an
	// access log that counts what reaches them.
	cachePrefix = "/c/"
)

// CacheProxies lists the cache family's proxies in table order.
var CacheProxies = []string{proxyLoopgate, proxyNginx, proxyVarnish}

// Goals of issue 14: loopgate's CPU per hit at most this many times the other's.
const (
	goalVsNginx   = 0.7
	goalVsVarnish = 1.0
)

// CacheRatio compares loopgate's hits with another cache's in one scenario: per round,
// loopgate's figure divided by the other's measured in the same round; median and range over
// the rounds.
type CacheRatio struct {
	Conns  int     `json:"conns"`
	Size   int     `json:"size"`
	Versus string  `json:"versus"` // "nginx" or "varnish"
	CPU    Stat    `json:"cpu"`    // loopgate's CPU µs per hit ÷ Versus's
	RPS    Stat    `json:"rps"`    // loopgate's hits per second ÷ Versus's
	Goal   float64 `json:"goal"`   // issue 14's bound on CPU: 0.7 against nginx, 1.0 against Varnish
	Met    bool    `json:"met"`    // CPU.Median <= Goal
}

// cacheRatios computes the CacheRatios of res.Runs from the rounds that have loopgate and the
// other proxy both.
func cacheRatios(runs []RunResult, conns, sizes []int) []CacheRatio {
	type key struct {
		proxy              string
		conns, size, round int
	}
	byKey := map[key]RunResult{}
	for _, r := range runs {
		byKey[key{r.Proxy, r.Conns, r.Size, r.Round}] = r
	}
	var out []CacheRatio
	for _, c := range conns {
		for _, s := range sizes {
			for _, vs := range []struct {
				name string
				goal float64
			}{{proxyNginx, goalVsNginx}, {proxyVarnish, goalVsVarnish}} {
				var cpu, rps []float64
				for _, r := range runs {
					if r.Proxy != proxyLoopgate || r.Conns != c || r.Size != s {
						continue
					}
					o, ok := byKey[key{vs.name, c, s, r.Round}]
					if !ok || o.CPUus == 0 || o.RPS == 0 {
						continue
					}
					cpu = append(cpu, r.CPUus/o.CPUus)
					rps = append(rps, r.RPS/o.RPS)
				}
				if len(cpu) == 0 {
					continue
				}
				id := func(v float64) float64 { return v }
				cr := CacheRatio{Conns: c, Size: s, Versus: vs.name, CPU: statOf(cpu, id), RPS: statOf(rps, id), Goal: vs.goal}
				cr.Met = cr.CPU.Median <= cr.Goal
				out = append(out, cr)
			}
		}
	}
	return out
}

// cachePath is the path of a cacheable size-byte response on the backends.
func (b *bench) cachePath(size int) string {
	if b.res.Settings.Backends == "nginx" {
		return cachePrefix + strconv.Itoa(size)
	}
	return "/bytes?n=" + strconv.Itoa(size) + "&max_age=" + strconv.Itoa(cacheMaxAge)
}

// backendRequests returns how many requests the backends have served on their cacheable
// paths: the lines of the nginx backends' access logs for cachePrefix, or the sum of
// cmd/backend's /info request counters less the /info requests themselves.
func (b *bench) backendRequests(ctx context.Context) (int64, error) {
	var n int64
	for i, addr := range b.backends {
		if b.res.Settings.Backends == "nginx" {
			data, err := os.ReadFile(b.backendLog(i))
			if err != nil && !os.IsNotExist(err) {
				return 0, fmt.Errorf("cannot count the backends' requests: %w", err)
			}
			n += int64(bytes.Count(data, []byte("\n")))
			continue
		}
		v, err := backendInfoRequests(ctx, addr)
		if err != nil {
			return 0, err
		}
		if b.infoCalls == nil {
			b.infoCalls = make([]int64, len(b.backends))
		}
		b.infoCalls[i]++
		n += v - b.infoCalls[i] // less this /info request and the earlier ones
	}
	return n, nil
}

// backendLog is the access log of backend i's cacheable location.
func (b *bench) backendLog(i int) string {
	return filepath.Join(b.dir, "backend-"+strconv.Itoa(i+1)+"-cache.log")
}

// backendInfoRequests reads cmd/backend's request counter from /info; the count includes
// this request.
func backendInfoRequests(ctx context.Context, addr string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/info", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot count the requests of backend %s: %w", addr, err)
	}
	defer resp.Body.Close()
	var info struct {
		Requests *int64 `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || info.Requests == nil {
		return 0, fmt.Errorf("cannot count the requests of backend %s: /info answered %s (%v)", addr, resp.Status, err)
	}
	return *info.Requests, nil
}

// checkHit asks lp for the size-byte response until it answers from its cache, a few times
// at most: the first request may fill it. The answer must be the whole body with
// X-Cache: HIT.
func (b *bench) checkHit(ctx context.Context, lp *liveProxy, size int) error {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	url := "http://" + lp.addr + b.proxyPath(size)
	var last string
	for range 5 {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s does not answer %s: %w", lp.name, url, err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n != int64(size) {
			return fmt.Errorf("%s answered %s with %s and %d bytes (%v); want 200 and %d bytes", lp.name, url, resp.Status, n, err, size)
		}
		last = resp.Header.Get(cacheHeader)
		if last == cacheHit {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // nginx and Varnish store after the response is sent
	}
	return fmt.Errorf("%s does not answer %s from its cache: %s %q after 5 requests; want %q", lp.name, url, cacheHeader, last, cacheHit)
}

// checkHitRun fails a measured cache run that reached the backends or whose responses are
// not the size asked for.
func checkHitRun(rr RunResult, served int64) error {
	if served != 0 {
		return fmt.Errorf("%s missed its cache: the backends served %d requests during a measured run of %d conns, %s (round %d)",
			rr.Proxy, served, rr.Conns, sizeLabel(rr.Size), rr.Round)
	}
	if rr.Requests > 0 {
		// A response is the body and a head of a few hundred bytes.
		per := float64(rr.Bytes) / float64(rr.Requests)
		if per < float64(rr.Size) || per > float64(rr.Size)+2048 {
			return fmt.Errorf("%s answered %.0f bytes per response in a run of %d conns, %s (round %d); want the body and a head",
				rr.Proxy, per, rr.Conns, sizeLabel(rr.Size), rr.Round)
		}
	}
	if rr.Errors > 0 || rr.Non2xx > 0 {
		return fmt.Errorf("%s: %d errors and %d non-2xx responses in a cache run of %d conns, %s (round %d)",
			rr.Proxy, rr.Errors, rr.Non2xx, rr.Conns, sizeLabel(rr.Size), rr.Round)
	}
	return nil
}

// cacheDir makes the directory of nginx's proxy_cache: on the tmpfs /dev/shm when there is
// one, as loopgate and Varnish keep their entries in memory, else in the work directory.
// The returned function removes it.
func cacheDir(workDir string) (string, func(), error) {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "loopgate-perf-cache-"); err == nil {
			return d, func() { os.RemoveAll(d) }, nil
		}
	}
	d := filepath.Join(workDir, "nginx-cache")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", nil, fmt.Errorf("cannot make nginx's cache directory: %w", err)
	}
	return d, func() {}, nil
}

// nginxCacheConf is nginx's cache configuration: the plain one with proxy_cache in cacheDir.
// sendfile sends a hit's body from the cache file, and open_file_cache keeps the file open
// between hits (nginx opens cache files through it): the settings an nginx tuned for a hot
// cache uses.
func nginxCacheConf(dir, cacheDir, addr string, backends []string, maxConns int) string {
	http := fmt.Sprintf(`sendfile on; open_file_cache max=1024 inactive=1h; open_file_cache_valid 1h;
  proxy_cache_path %s levels=1:2 keys_zone=bench:16m max_size=%d inactive=1h use_temp_path=off;`, cacheDir, cacheMemory)
	loc := "proxy_cache bench; add_header " + cacheHeader + " $upstream_cache_status;"
	return nginxConf(dir, proxyNginx, addr, backends, maxConns, http, loc)
}

// varnishVCL is Varnish's configuration: round robin over the backends, the built-in
// caching rules, and X-Cache on every answer.
func varnishVCL(backends []string) string {
	var b strings.Builder
	b.WriteString("vcl 4.1;\nimport directors;\n")
	for i, a := range backends {
		host, port, _ := strings.Cut(a, ":")
		fmt.Fprintf(&b, "backend b%d { .host = %q; .port = %q; }\n", i+1, host, port)
	}
	b.WriteString("sub vcl_init {\n  new rr = directors.round_robin();\n")
	for i := range backends {
		fmt.Fprintf(&b, "  rr.add_backend(b%d);\n", i+1)
	}
	fmt.Fprintf(&b, `}
sub vcl_recv { set req.backend_hint = rr.backend(); }
sub vcl_deliver {
  if (obj.hits > 0) { set resp.http.%[1]s = "%[2]s"; } else { set resp.http.%[1]s = "MISS"; }
}
`, cacheHeader, cacheHit)
	return b.String()
}

// varnishArgs runs varnishd in the foreground with its working directory (-n) in dir, no
// management port, and cacheMemory of malloc storage.
func varnishArgs(dir, addr, vcl string) []string {
	return []string{"varnishd", "-F", "-n", filepath.Join(dir, "varnish"), "-a", addr, "-T", "none",
		"-f", vcl, "-s", "malloc," + strconv.Itoa(cacheMemory>>20) + "m"}
}
