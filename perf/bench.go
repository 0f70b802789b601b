package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Proxy rows of the harness. loopgateAll is loopgate with one event loop per core; every
// other proxy gets one worker, thread or event loop.
const (
	proxyLoopgate    = "loopgate"
	proxyLoopgateAll = "loopgate-all"
	proxyHAProxy     = "haproxy"
	proxyNginx       = "nginx"
	proxyVarnish     = "varnish" // the cache family only
)

// AllProxies lists the harness's proxies in table order.
var AllProxies = []string{proxyLoopgate, proxyLoopgateAll, proxyHAProxy, proxyNginx}

// BenchConfig describes one harness run. Zero fields take the defaults of a full run
// (documented per field); Quick takes the smoke preset instead: 1 round of 1 s, 50
// connections, 100-byte responses, 1,000 idle connections, no warm-up.
type BenchConfig struct {
	Loopgate  string        // loopgate binary; required
	Backend   string        // cmd/backend binary; required when nginx is missing or Backends is "go"
	Backends  string        // "auto" (nginx if installed, else cmd/backend), "nginx" or "go" (default "auto")
	Load      string        // "auto" (wrk if installed, else the load generator), "wrk" or "loadgen" (default "auto")
	Proxies   []string      // subset of AllProxies (default: all; those not installed are skipped)
	Rounds    int           // rounds per scenario, proxies interleaved in each (default 5)
	Duration  time.Duration // per load run, whole seconds (default 3s)
	Warmup    time.Duration // per proxy and scenario before the rounds, not measured (default 1s)
	Conns     []int         // client connections per scenario (default 50, 256)
	Sizes     []int         // response body bytes per scenario (default 100, 16384)
	IdleConns int           // idle keep-alive connections for the memory test (default 10000; < 0 skips it)
	Clients   bool          // also compare wrk with the load generator (both must be available)
	Quick     bool          // smoke preset; explicit fields still win
	Policy    bool          // every proxy gets the traffic-policy configuration (configs.go; issue 13)
	// Cache runs the cache family instead (cache.go; issue 14): loopgate, nginx and Varnish
	// cache the backends and every measured request is a hit. Its defaults: 256 connections;
	// 100 B, 16 KiB and 1 MiB; Proxies CacheProxies; no idle test.
	Cache bool
	// Compress runs the compression family instead (compress.go; issue 14): loopgate's
	// codings and levels against nginx's gzip on the files of Corpus. Its defaults: 50
	// connections; no idle test. It needs nginx (the backends serve the corpus).
	Compress bool
	Corpus   string    // the compression corpus (default "testdata/corpus", from the module root)
	WorkDir  string    // configs, logs, backend files (default: a temporary directory, removed after)
	Log      io.Writer // progress lines (default: none)
}

func (c BenchConfig) withDefaults() BenchConfig {
	def := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if c.Quick {
				*v = quick
			}
		}
	}
	def(&c.Rounds, 5, 1)
	if (c.Cache || c.Compress) && c.IdleConns == 0 {
		c.IdleConns = -1
	}
	def(&c.IdleConns, 10000, 1000)
	if c.Duration == 0 {
		c.Duration = 3 * time.Second
		if c.Quick {
			c.Duration = time.Second
		}
	}
	c.Duration = max(time.Second, c.Duration.Round(time.Second))
	if c.Warmup == 0 && !c.Quick {
		c.Warmup = time.Second
	}
	if len(c.Conns) == 0 {
		switch {
		case c.Quick || c.Compress:
			c.Conns = []int{50}
		case c.Cache:
			c.Conns = []int{256}
		default:
			c.Conns = []int{50, 256}
		}
	}
	if len(c.Sizes) == 0 {
		switch {
		case c.Quick:
			c.Sizes = []int{100}
		case c.Cache:
			c.Sizes = []int{100, 16 << 10, 1 << 20}
		default:
			c.Sizes = []int{100, 16384}
		}
	}
	if len(c.Proxies) == 0 {
		switch {
		case c.Cache:
			c.Proxies = CacheProxies
		case c.Compress:
			c.Proxies = []string{proxyLoopgate, proxyNginx}
		default:
			c.Proxies = AllProxies
		}
	}
	if c.Corpus == "" {
		c.Corpus = filepath.Join("testdata", "corpus")
	}
	if c.Backends == "" {
		c.Backends = "auto"
	}
	if c.Load == "" {
		c.Load = "auto"
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// BenchSchema is the version of the BenchResult JSON layout.
const BenchSchema = 1

// BenchResult is what a harness run measured. Its JSON form is documented in
// docs/PERFORMANCE.md. Latencies are milliseconds; CPU is the proxy process's user + system
// time from /proc/PID/stat divided by the requests served.
type BenchResult struct {
	Tool          string         `json:"tool"` // "loopgate-perf"
	SchemaVersion int            `json:"schema_version"`
	Started       time.Time      `json:"started"`
	Host          HostInfo       `json:"host"`
	Settings      BenchSettings  `json:"settings"`
	Proxies       []ProxyInfo    `json:"proxies"`
	Runs          []RunResult    `json:"runs"`    // every measured run, in order
	Summary       []Summary      `json:"summary"` // per scenario and proxy: medians and ranges
	Idle          []IdleResult   `json:"idle"`
	Clients       []ClientResult `json:"clients,omitempty"`
	// CacheRatios compares loopgate with nginx and Varnish in the cache family.
	CacheRatios []CacheRatio `json:"cache_ratios,omitempty"`
	// Compression is the compression family's table, one row per proxy and coding.
	Compression []CompressResult `json:"compression,omitempty"`
	Notes       []string         `json:"notes"` // skipped proxies, fallbacks, anomalies
}

// HostInfo describes the machine and tools.
type HostInfo struct {
	CPUs      int               `json:"cpus"`
	Kernel    string            `json:"kernel"`
	GoVersion string            `json:"go"`
	Versions  map[string]string `json:"versions"` // tool → first line of its version output
}

// BenchSettings echoes the effective BenchConfig.
type BenchSettings struct {
	Rounds    int     `json:"rounds"`
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	Conns     []int   `json:"conns"`
	Sizes     []int   `json:"sizes"`
	IdleConns int     `json:"idle_conns"`
	Load      string  `json:"load"`     // "wrk -t1" or "loadgen (GOMAXPROCS=1)"
	Backends  string  `json:"backends"` // "nginx" or "cmd/backend"
	Quick     bool    `json:"quick"`
	Policy    bool    `json:"policy"`             // the traffic-policy configurations (BenchConfig.Policy)
	Cache     bool    `json:"cache,omitempty"`    // the cache family (BenchConfig.Cache)
	Compress  bool    `json:"compress,omitempty"` // the compression family (BenchConfig.Compress)
	// SyscallsBy is the tool behind syscalls_per_req: "perf stat (raw_syscalls:sys_enter)",
	// "strace -c" (slows the proxy; see perf/syscalls.go) or "" (not counted).
	SyscallsBy string `json:"syscalls_counted_by"`
}

// ProxyInfo describes one proxy row.
type ProxyInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Setup   string `json:"setup"`             // workers/threads/loops
	Skipped string `json:"skipped,omitempty"` // why it was not measured
}

// RunResult is one load run against one proxy.
type RunResult struct {
	Proxy    string  `json:"proxy"`
	Conns    int     `json:"conns"`
	Size     int     `json:"size"`
	Round    int     `json:"round"`
	Requests int64   `json:"requests"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	P999     float64 `json:"p99_9_ms"`
	CPUus    float64 `json:"cpu_us_per_req"`
	SysUS    float64 `json:"sys_us_per_req"` // the kernel's part of CPUus
	Bytes    int64   `json:"bytes"`          // response bytes received, heads and framing included
	Errors   int64   `json:"errors"`         // connect, read, write, timeout
	Non2xx   int64   `json:"non_2xx"`        // responses outside 2xx/3xx
}

// Stat is the median and range of one measure over the rounds.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Spread is (max - min) / median, as a percentage.
func (s Stat) Spread() float64 {
	if s.Median == 0 {
		return 0
	}
	return 100 * (s.Max - s.Min) / s.Median
}

// Summary aggregates the rounds of one proxy in one scenario.
type Summary struct {
	Proxy string `json:"proxy"`
	Conns int    `json:"conns"`
	Size  int    `json:"size"`
	RPS   Stat   `json:"rps"`
	P50   Stat   `json:"p50_ms"`
	P99   Stat   `json:"p99_ms"`
	CPUus Stat   `json:"cpu_us_per_req"`
	SysUS Stat   `json:"sys_us_per_req"` // the kernel's part of CPUus
	// Syscalls is the system calls per request in one extra, counted run
	// (Settings.SyscallsBy; 0: nothing could count).
	Syscalls float64 `json:"syscalls_per_req"`
	RPSvsHA  float64 `json:"rps_vs_haproxy"` // median ratio; 0 when HAProxy was not measured
	CPUvsHA  float64 `json:"cpu_vs_haproxy"`
	Errors   int64   `json:"errors"`  // summed over rounds
	Non2xx   int64   `json:"non_2xx"` // summed over rounds
}

// IdleResult is the memory test of one proxy.
type IdleResult struct {
	Proxy        string  `json:"proxy"`
	Conns        int     `json:"conns"`  // idle keep-alive connections held open
	Failed       int     `json:"failed"` // connections that could not be opened or got no response
	RSSBefore    int64   `json:"rss_before_bytes"`
	RSSAfter     int64   `json:"rss_after_bytes"`
	BytesPerConn float64 `json:"bytes_per_conn"` // (after - before) / conns
	VsHA         float64 `json:"vs_haproxy"`
}

// ClientResult compares the load tools on one target.
type ClientResult struct {
	Target string `json:"target"` // "nginx (static)" or a proxy name
	Client string `json:"client"` // "wrk -t1", "loadgen GOMAXPROCS=1", "loadgen GOMAXPROCS=N"
	Conns  int    `json:"conns"`
	RPS    Stat   `json:"rps"`
	CPUus  Stat   `json:"client_cpu_us_per_req"`
	P50    Stat   `json:"p50_ms"`
	P99    Stat   `json:"p99_ms"`
}

// bench is one harness run in progress.
type bench struct {
	cfg      BenchConfig
	dir      string
	ps       *procSet
	res      *BenchResult
	useWrk   bool
	script   string // wrk Lua script path
	backends []string
	paths    map[int]string // response size → request path on the backends (proxyPath: on the proxies)
	proxies  []*liveProxy
	syscalls map[scenario]float64 // per proxy and scenario, from countSyscalls
	counter  string               // what counts system calls: countByPerf, countByStrace or ""
	// cacheDir is nginx's proxy_cache directory in the cache family.
	cacheDir string
	// infoCalls counts the /info requests sent to each cmd/backend (backendRequests).
	infoCalls []int64
	// The compression family's files in request order, wrk script, row of each proxy
	// process, and per process the mean coded response and the ratio (checkCoded).
	corpus       []corpusFile
	corpusScript string
	compressRow  map[string]compressRow
	codedOut     map[string]float64
	ratios       map[string]float64
}

// scenario names one proxy under one load shape.
type scenario struct {
	proxy       string
	conns, size int
}

// liveProxy is a running proxy.
type liveProxy struct {
	name string
	addr string
	p    *proc
}

// Bench runs the harness that cfg describes and returns what it measured. It starts the
// backends and proxies, stops every one of them before it returns (also on error or when ctx
// is cancelled), and sends traffic to 127.0.0.1 only. Proxies that are not installed or do
// not start are skipped with a note; it fails only when nothing can be measured.
func Bench(ctx context.Context, cfg BenchConfig) (*BenchResult, error) {
	if err := supported(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Loopgate == "" {
		return nil, errors.New("cannot benchmark: no loopgate binary given")
	}
	if n := btoi(cfg.Policy) + btoi(cfg.Cache) + btoi(cfg.Compress); n > 1 {
		return nil, errors.New("cannot benchmark: policy, cache and compress are separate scenario families; ask for one at a time")
	}
	b := &bench{cfg: cfg, paths: map[int]string{}, syscalls: map[scenario]float64{}}
	b.res = &BenchResult{
		Tool: "loopgate-perf", SchemaVersion: BenchSchema, Started: time.Now().UTC().Truncate(time.Second),
		Host: HostInfo{CPUs: runtime.NumCPU(), Kernel: kernel(), GoVersion: runtime.Version(), Versions: map[string]string{}},
		Runs: []RunResult{}, Summary: []Summary{}, Idle: []IdleResult{}, Notes: []string{},
	}
	dir := cfg.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "loopgate-perf-")
		if err != nil {
			return nil, fmt.Errorf("cannot make a work directory: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	// nginx workers started as root drop to nobody, who must read the backends' files.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot use work directory: %w", err)
	}
	b.dir = dir
	b.ps = &procSet{dir: dir}
	if cfg.Policy {
		if err := writePolicyFiles(dir); err != nil {
			return nil, err
		}
	}
	if cfg.Cache {
		d, remove, err := cacheDir(dir)
		if err != nil {
			return nil, err
		}
		defer remove() // after the proxies have stopped (defers run last first)
		b.cacheDir = d
	}
	if cfg.Compress {
		var err error
		if b.corpus, err = readCorpus(cfg.Corpus); err != nil {
			return nil, err
		}
	}
	defer b.ps.stopAll()

	if err := b.chooseTools(); err != nil {
		return nil, err
	}
	if err := b.startBackends(ctx); err != nil {
		return nil, err
	}
	b.startProxies(ctx)
	if len(b.proxies) == 0 {
		return b.res, errors.New("cannot benchmark: no proxy started (see notes)")
	}
	if cfg.IdleConns > 0 {
		b.idleTest(ctx)
	}
	var err error
	if cfg.Compress {
		err = b.compressRounds(ctx)
	} else {
		err = b.loadRounds(ctx)
	}
	if err == nil && cfg.Clients {
		err = b.compareClients(ctx)
	}
	b.summarize() // also after a failure or Ctrl-C: what was measured is reported
	if err == nil {
		err = ctx.Err()
	}
	return b.res, err
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.cfg.Log, format+"\n", args...)
}

func (b *bench) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.Notes = append(b.res.Notes, msg)
	b.logf("note: %s", msg)
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

func installed(tool string) bool {
	_, err := exec.LookPath(tool)
	return err == nil
}

// chooseTools settles the load tool and backend kind and records versions.
func (b *bench) chooseTools() error {
	cfg := b.cfg
	switch cfg.Load {
	case "auto":
		b.useWrk = installed("wrk")
		if !b.useWrk {
			b.note("wrk is not installed: the load comes from loopgate's load generator (GOMAXPROCS=1)")
		}
	case "wrk":
		if !installed("wrk") {
			return errors.New("cannot load with wrk: not installed (apt-get install wrk)")
		}
		b.useWrk = true
	case "loadgen":
	default:
		return fmt.Errorf("cannot use load tool %q: want auto, wrk or loadgen", cfg.Load)
	}
	if cfg.Clients && !installed("wrk") {
		return errors.New("cannot compare load tools: wrk is not installed")
	}
	if cfg.Compress && !b.useWrk {
		return errors.New("cannot measure compression: its load is wrk's (apt-get install wrk), which cycles through the corpus")
	}
	if b.useWrk || cfg.Clients {
		b.script = filepath.Join(b.dir, "report.lua")
		if err := os.WriteFile(b.script, []byte(wrkScript), 0o644); err != nil {
			return fmt.Errorf("cannot write the wrk script: %w", err)
		}
		b.res.Host.Versions["wrk"] = version("wrk", "-v")
	}
	b.res.Settings = BenchSettings{
		Rounds: cfg.Rounds, DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(),
		Conns: cfg.Conns, Sizes: cfg.Sizes, IdleConns: max(cfg.IdleConns, 0), Quick: cfg.Quick, Policy: cfg.Policy,
		Cache: cfg.Cache, Compress: cfg.Compress, Load: "loadgen (GOMAXPROCS=1)",
	}
	if b.useWrk {
		b.res.Settings.Load = "wrk -t1"
	}
	b.counter = syscallCounter()
	b.res.Settings.SyscallsBy = b.counter
	b.res.Host.Versions["loopgate"] = version(cfg.Loopgate, "-version")
	return nil
}

// version returns the first line a tool prints about its version.
func version(tool string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, tool, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return runtime.GOOS + " " + strings.TrimSpace(string(b))
}

// freePort returns a port on 127.0.0.1 that nothing listens on right now.
func freePort() (int, error) {
	ln, err := listenLocal()
	if err != nil {
		return 0, fmt.Errorf("cannot find a free port: %w", err)
	}
	defer ln.Close()
	_, p, _ := strings.Cut(ln.Addr().String(), ":")
	return strconv.Atoi(p)
}

func (b *bench) startBackends(ctx context.Context) error {
	useNginx := false
	switch b.cfg.Backends {
	case "auto":
		useNginx = installed("nginx")
		if !useNginx {
			b.note("nginx is not installed: the backends are cmd/backend")
		}
	case "nginx":
		if !installed("nginx") {
			return errors.New("cannot use nginx backends: not installed (apt-get install nginx-light)")
		}
		useNginx = true
	case "go":
	default:
		return fmt.Errorf("cannot use backends %q: want auto, nginx or go", b.cfg.Backends)
	}
	if !useNginx && b.cfg.Backend == "" {
		return errors.New("cannot start backends: nginx is not used and no cmd/backend binary was given")
	}
	if !useNginx && b.cfg.Compress {
		return errors.New("cannot measure compression: its backends are nginx, which serve the corpus (apt-get install nginx-light)")
	}
	sizes := slices.Clone(b.cfg.Sizes)
	if !slices.Contains(sizes, 100) {
		sizes = append(sizes, 100) // the idle test asks for 100 bytes
	}
	if useNginx {
		b.res.Settings.Backends = "nginx"
		b.res.Host.Versions["nginx"] = version("nginx", "-v")
		www := filepath.Join(b.dir, "www")
		if err := os.MkdirAll(www, 0o755); err != nil {
			return fmt.Errorf("cannot make backend files: %w", err)
		}
		for _, n := range sizes {
			body := make([]byte, n)
			for i := range body {
				body[i] = 'a' + byte(i%26)
			}
			if err := os.WriteFile(filepath.Join(www, strconv.Itoa(n)), body, 0o644); err != nil {
				return fmt.Errorf("cannot make backend files: %w", err)
			}
			b.paths[n] = "/" + strconv.Itoa(n)
		}
		if err := writeCorpus(www, b.corpus); err != nil {
			return err
		}
	} else {
		b.res.Settings.Backends = "cmd/backend"
		for _, n := range sizes {
			b.paths[n] = "/bytes?n=" + strconv.Itoa(n)
		}
	}
	if b.cfg.Cache {
		for _, n := range sizes {
			b.paths[n] = b.cachePath(n)
		}
	}
	for i := 1; i <= 3; i++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		name := "backend-" + strconv.Itoa(i)
		var p *proc
		if useNginx {
			conf := filepath.Join(b.dir, name+".conf")
			if err := os.WriteFile(conf, []byte(nginxBackendConf(b.dir, name, addr, b.backendLog(i-1))), 0o644); err != nil {
				return fmt.Errorf("cannot write %s: %w", conf, err)
			}
			p, err = b.ps.start(name, "nginx", "-p", b.dir, "-c", conf)
		} else {
			p, err = b.ps.start(name, b.cfg.Backend, "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-name", name, "-quiet")
		}
		if err != nil {
			return err
		}
		if err := waitReady(ctx, "http://"+addr+b.paths[100], p); err != nil {
			return fmt.Errorf("cannot start %s: %w", name, err)
		}
		b.backends = append(b.backends, addr)
	}
	b.logf("backends (%s): %s", b.res.Settings.Backends, strings.Join(b.backends, " "))
	return nil
}

// proxyPath is the request path, on the proxies, of a response of size bytes. In policy
// mode the load's route strips policyPrefix, so the backends see b.paths[size].
func (b *bench) proxyPath(size int) string {
	if b.cfg.Policy {
		return policyPrefix + b.paths[size]
	}
	return b.paths[size]
}

// waitReady polls url until it answers 2xx, p exits, or 10 seconds pass.
func waitReady(ctx context.Context, url string, p *proc) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		rep, err := Run(ctx, Config{URL: url, Requests: 1, Concurrency: 1, Timeout: time.Second})
		if err != nil {
			return err
		}
		if rep.SuccessfulRequests == 1 {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited:\n%s", p.name, p.tail())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s does not answer %s (statuses %v, errors %v):\n%s",
				p.name, url, rep.StatusCodes, rep.Errors, p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startProxies starts each configured proxy that is installed; failures become notes. The
// compression family starts its own (startCompressProxies).
func (b *bench) startProxies(ctx context.Context) {
	if b.cfg.Compress {
		b.startCompressProxies(ctx)
		return
	}
	maxConns := b.cfg.IdleConns + 2000
	for _, name := range b.cfg.Proxies {
		info := ProxyInfo{Name: name}
		port, err := freePort()
		if err != nil {
			info.Skipped = err.Error()
			b.res.Proxies = append(b.res.Proxies, info)
			continue
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		conf := filepath.Join(b.dir, name+".conf")
		var text string
		var argv, env []string
		switch name {
		case proxyLoopgate, proxyLoopgateAll:
			// One worker against one HAProxy thread and one nginx worker:
			// one loop on one P, so the Go runtime gets no second core
			// either (issue 15). The "all" row runs the default.
			o := lgConf{loops: 1, maxConns: maxConns, policy: b.cfg.Policy, cache: b.cfg.Cache}
			info.Setup = "1 event loop, GOMAXPROCS=1"
			env = []string{"GOMAXPROCS=1"}
			if name == proxyLoopgateAll {
				o.loops, env = 0, nil
				info.Setup = fmt.Sprintf("%d event loops (GOMAXPROCS)", runtime.GOMAXPROCS(0))
			}
			if b.cfg.Cache {
				info.Setup += fmt.Sprintf(", cache %d MiB", cacheMemory>>20)
			}
			info.Version = b.res.Host.Versions["loopgate"]
			text = loopgateConf(addr, b.backends, o)
			conf = filepath.Join(b.dir, name+".toml")
			argv = []string{b.cfg.Loopgate, "-config", conf}
		case proxyHAProxy:
			if !installed("haproxy") {
				info.Skipped = "not installed (apt-get install haproxy)"
				break
			}
			info.Setup, info.Version = "nbthread 1", version("haproxy", "-v")
			text = haproxyConf(b.dir, addr, b.backends, maxConns, b.cfg.Policy)
			argv = []string{"haproxy", "-db", "-f", conf}
		case proxyNginx:
			if !installed("nginx") {
				info.Skipped = "not installed (apt-get install nginx-light)"
				break
			}
			info.Setup, info.Version = "worker_processes 1", version("nginx", "-v")
			text = nginxProxyConf(b.dir, addr, b.backends, maxConns, b.cfg.Policy)
			if b.cfg.Cache {
				where := "tmpfs"
				if !strings.HasPrefix(b.cacheDir, "/dev/shm/") {
					where = "disk"
				}
				info.Setup += ", proxy_cache on " + where + ", sendfile, open_file_cache"
				text = nginxCacheConf(b.dir, b.cacheDir, addr, b.backends, maxConns)
			}
			argv = []string{"nginx", "-p", b.dir, "-c", conf}
		case proxyVarnish:
			switch {
			case !b.cfg.Cache:
				info.Skipped = "a cache: in the cache family only (-cache)"
			case !installed("varnishd"):
				info.Skipped = "not installed (apt-get install varnish)"
			}
			if info.Skipped != "" {
				break
			}
			info.Setup = fmt.Sprintf("malloc %d MiB, default thread pools", cacheMemory>>20)
			info.Version = version("varnishd", "-V")
			conf = filepath.Join(b.dir, name+".vcl")
			text, argv = varnishVCL(b.backends), varnishArgs(b.dir, addr, conf)
		default:
			info.Skipped = "unknown proxy"
		}
		b.startProxy(ctx, &info, addr, conf, text, argv, env)
	}
}

// startProxy writes conf and starts one proxy, or records in info why it did not start.
func (b *bench) startProxy(ctx context.Context, info *ProxyInfo, addr, conf, text string, argv, env []string) *liveProxy {
	var lp *liveProxy
	if info.Skipped == "" {
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			info.Skipped = err.Error()
		}
	}
	if info.Skipped == "" {
		p, err := b.ps.startEnv(info.Name, env, argv...)
		if err == nil {
			err = waitReady(ctx, "http://"+addr+b.proxyPath(100), p)
		}
		if err != nil {
			info.Skipped = err.Error()
			if p != nil {
				p.stop()
			}
		} else {
			lp = &liveProxy{name: info.Name, addr: addr, p: p}
			b.proxies = append(b.proxies, lp)
			b.logf("%-13s on %s, pid %d: %s", info.Name, addr, p.pid(), info.Setup)
		}
	}
	if info.Skipped != "" {
		b.note("%s skipped: %s", info.Name, info.Skipped)
	}
	b.res.Proxies = append(b.res.Proxies, *info)
	return lp
}

// loadRounds runs every scenario: a warm-up per proxy, then Rounds rounds in which every
// proxy gets the same load, in an order that rotates from round to round. In the cache
// family each proxy must answer from its cache before the rounds (checkHit), and every
// measured run must leave the backends alone (checkHitRun).
func (b *bench) loadRounds(ctx context.Context) error {
	cfg := b.cfg
	for _, conns := range cfg.Conns {
		for _, size := range cfg.Sizes {
			if cfg.Warmup > 0 {
				for _, lp := range b.proxies {
					if _, err := b.load(ctx, b.useWrk, lp.addr, b.proxyPath(size), conns, cfg.Warmup); err != nil {
						return err
					}
				}
			}
			if cfg.Cache {
				for _, lp := range b.proxies {
					if err := b.checkHit(ctx, lp, size); err != nil {
						return err
					}
				}
			}
			for round := 1; round <= cfg.Rounds; round++ {
				for k := range b.proxies {
					lp := b.proxies[(k+round-1)%len(b.proxies)]
					if _, err := b.measure(ctx, lp, conns, size, round, b.pathLoad(lp, conns, size)); err != nil {
						return err
					}
				}
			}
			for _, lp := range b.proxies {
				n, err := b.countSyscalls(ctx, lp, fmt.Sprintf("%d-%d", conns, size), b.pathLoad(lp, conns, size))
				if err != nil {
					b.note("%v", err)
					continue
				}
				b.syscalls[scenario{lp.name, conns, size}] = n
			}
		}
	}
	return nil
}

// cpuTime is a process's CPU time so far, split as /proc shows it.
type cpuTime struct{ user, sys time.Duration }

// measure runs one load against lp and records it with the CPU time of the proxy and its
// child processes. size labels the run (the response size, or the compression family's mean
// input). In the cache family it fails a run that reached the backends.
func (b *bench) measure(ctx context.Context, lp *liveProxy, conns, size, round int, load loadFunc) (RunResult, error) {
	if lp.p.exited() {
		return RunResult{}, fmt.Errorf("%s exited during the benchmark:\n%s", lp.name, lp.p.tail())
	}
	var served0 int64
	var err error
	if b.cfg.Cache {
		if served0, err = b.backendRequests(ctx); err != nil {
			return RunResult{}, err
		}
	}
	cpu0, err := treeCPU(lp.p.pid())
	if err != nil {
		return RunResult{}, err
	}
	lr, err := load(ctx, b.cfg.Duration)
	if err != nil {
		return RunResult{}, err
	}
	cpu1, err := treeCPU(lp.p.pid())
	if err != nil {
		return RunResult{}, err
	}
	perReq := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(lr.requests) }
	rr := RunResult{
		Proxy: lp.name, Conns: conns, Size: size, Round: round, Requests: lr.requests, RPS: lr.rps,
		P50: lr.p50, P99: lr.p99, P999: lr.p999, Bytes: lr.bytes, Errors: lr.errors, Non2xx: lr.non2xx,
	}
	if lr.requests > 0 {
		rr.CPUus = perReq(cpu1.user + cpu1.sys - cpu0.user - cpu0.sys)
		rr.SysUS = perReq(cpu1.sys - cpu0.sys)
	}
	b.res.Runs = append(b.res.Runs, rr)
	b.logf("  %4d conns %7s  round %d  %-16s %9.0f req/s  p50 %6.2f ms  p99 %7.2f ms  %7.2f µs CPU/req  errors %d non-2xx %d",
		conns, sizeLabel(size), round, lp.name, rr.RPS, rr.P50, rr.P99, rr.CPUus, rr.Errors, rr.Non2xx)
	if b.cfg.Cache {
		served1, err := b.backendRequests(ctx)
		if err != nil {
			return rr, err
		}
		if err := checkHitRun(rr, served1-served0); err != nil {
			return rr, err
		}
	}
	return rr, nil
}

// compareClients loads the same targets with wrk and the load generator, for the note that
// says whether the load generator can be the bottleneck.
func (b *bench) compareClients(ctx context.Context) error {
	type target struct{ name, addr, path string }
	var targets []target
	if b.res.Settings.Backends == "nginx" {
		targets = append(targets, target{"nginx (static backend)", b.backends[0], b.paths[100]})
	}
	for _, lp := range b.proxies {
		if lp.name == proxyLoopgate {
			targets = append(targets, target{lp.name, lp.addr, b.proxyPath(100)})
		}
	}
	type client struct {
		name  string
		wrk   bool
		procs int
	}
	clients := []client{{"wrk -t1", true, 0}, {"loadgen GOMAXPROCS=1", false, 1}}
	if n := runtime.NumCPU(); n > 1 {
		clients = append(clients, client{"loadgen GOMAXPROCS=" + strconv.Itoa(n), false, n})
	}
	for _, t := range targets {
		for _, conns := range b.cfg.Conns {
			runs := make([][]loadResult, len(clients))
			for round := 1; round <= b.cfg.Rounds; round++ {
				for k := range clients {
					i := (k + round - 1) % len(clients)
					c := clients[i]
					lr, err := b.loadWith(ctx, c.wrk, c.procs, t.addr, t.path, conns, b.cfg.Duration)
					if err != nil {
						return err
					}
					runs[i] = append(runs[i], lr)
					b.logf("  clients %-22s %4d conns  %-22s %9.0f req/s  %6.2f µs client CPU/req", t.name, conns, c.name,
						lr.rps, clientCPUus(lr))
				}
			}
			for i, c := range clients {
				rs := runs[i]
				b.res.Clients = append(b.res.Clients, ClientResult{
					Target: t.name, Client: c.name, Conns: conns,
					RPS:   statOf(rs, func(r loadResult) float64 { return r.rps }),
					CPUus: statOf(rs, clientCPUus),
					P50:   statOf(rs, func(r loadResult) float64 { return r.p50 }),
					P99:   statOf(rs, func(r loadResult) float64 { return r.p99 }),
				})
			}
		}
	}
	return nil
}

func clientCPUus(r loadResult) float64 {
	return float64(r.clientCPU) / float64(time.Microsecond) / float64(max(r.requests, 1))
}

// summarize computes the medians, ranges and ratios to HAProxy (in the cache family, the
// ratios of loopgate to nginx and Varnish; the compression family has its own table).
func (b *bench) summarize() {
	res := b.res
	if b.cfg.Compress {
		b.summarizeCompress()
		return
	}
	for _, conns := range b.cfg.Conns {
		for _, size := range b.cfg.Sizes {
			var rows []Summary
			for _, lp := range b.proxies {
				var runs []RunResult
				for _, r := range res.Runs {
					if r.Proxy == lp.name && r.Conns == conns && r.Size == size {
						runs = append(runs, r)
					}
				}
				if len(runs) == 0 {
					continue
				}
				s := Summary{
					Proxy: lp.name, Conns: conns, Size: size,
					RPS:      statOf(runs, func(r RunResult) float64 { return r.RPS }),
					P50:      statOf(runs, func(r RunResult) float64 { return r.P50 }),
					P99:      statOf(runs, func(r RunResult) float64 { return r.P99 }),
					CPUus:    statOf(runs, func(r RunResult) float64 { return r.CPUus }),
					SysUS:    statOf(runs, func(r RunResult) float64 { return r.SysUS }),
					Syscalls: b.syscalls[scenario{lp.name, conns, size}],
				}
				for _, r := range runs {
					s.Errors += r.Errors
					s.Non2xx += r.Non2xx
				}
				rows = append(rows, s)
			}
			if i := slices.IndexFunc(rows, func(s Summary) bool { return s.Proxy == proxyHAProxy }); i >= 0 {
				ha := rows[i]
				for j := range rows {
					rows[j].RPSvsHA = ratio(rows[j].RPS.Median, ha.RPS.Median)
					rows[j].CPUvsHA = ratio(rows[j].CPUus.Median, ha.CPUus.Median)
				}
			}
			res.Summary = append(res.Summary, rows...)
		}
	}
	if b.cfg.Cache {
		res.CacheRatios = cacheRatios(res.Runs, b.cfg.Conns, b.cfg.Sizes)
	}
	if i := slices.IndexFunc(res.Idle, func(r IdleResult) bool { return r.Proxy == proxyHAProxy }); i >= 0 {
		ha := res.Idle[i].BytesPerConn
		for j := range res.Idle {
			res.Idle[j].VsHA = ratio(res.Idle[j].BytesPerConn, ha)
		}
	}
	for _, s := range res.Summary {
		if s.Errors > 0 || s.Non2xx > 0 {
			b.note("%s at %d conns, %s: %d errors and %d non-2xx responses over the rounds",
				s.Proxy, s.Conns, sizeLabel(s.Size), s.Errors, s.Non2xx)
		}
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// statOf returns the median, min and max of f over xs.
func statOf[T any](xs []T, f func(T) float64) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Stat{Median: m, Min: v[0], Max: v[len(v)-1]}
}

// sizeLabel prints a response size: "100 B", "16 KiB", "1 MiB".
func sizeLabel(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MiB"
	}
	if n >= 1024 && n%1024 == 0 {
		return strconv.Itoa(n/1024) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}
