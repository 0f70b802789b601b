// Command harness is the benchmark behind `make perf`: it starts three backends, runs
// loopgate, HAProxy and nginx (each if installed) in front of them with equivalent configs,
// loads each the same way and prints a table of medians and spreads with ratios to HAProxy.
// It also writes DIR/perf-<time>.json, DIR/latest.json, DIR/latest.md and an SVG chart.
//
//	harness -loopgate bin/loopgate -backend bin/backend [-quick] [-policy|-cache|-compress|-ws] [-out perf/results] [-chart FILE]
//
// -cache runs the cache family instead (loopgate, nginx and Varnish caching the backends;
// hits only), -compress the compression family (loopgate's codings and nginx's gzip on
// testdata/corpus), -ws the WebSocket echo benchmark (ws.go).
//
// The engine is perf.Bench; docs/PERFORMANCE.md describes the method and the JSON.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"loopgate/perf"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg     perf.BenchConfig
		conns   string
		sizes   string
		proxies string
		out     string
		chart   string
		verbose bool
		tlsRun  bool
	)
	fs.StringVar(&cfg.Loopgate, "loopgate", "", "loopgate binary (default: go build ./cmd/loopgate into a temp dir)")
	fs.StringVar(&cfg.Backend, "backend", "", "cmd/backend binary, for when nginx is missing (default: go build ./cmd/backend)")
	fs.BoolVar(&cfg.Quick, "quick", false, "smoke run of a few seconds: 1 round of 1s, 50 conns, 100 B, 1000 idle conns")
	fs.IntVar(&cfg.Rounds, "rounds", 0, "rounds per scenario (default 5; quick 1)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "per load run, whole seconds (default 3s; quick 1s)")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "unmeasured load per proxy and scenario (default 1s; quick none)")
	fs.StringVar(&conns, "conns", "", "client connections per scenario, e.g. 50,256 (default 50,256; quick 50)")
	fs.StringVar(&sizes, "sizes", "", "response bytes per scenario, e.g. 100,16384 (default 100,16384; quick 100)")
	fs.IntVar(&cfg.IdleConns, "idle", 0, "idle keep-alive connections for the memory test (default 10000; quick 1000; -1 skips)")
	fs.StringVar(&proxies, "proxies", "", "comma-separated subset of "+strings.Join(perf.AllProxies, ","))
	fs.StringVar(&cfg.Load, "load", "auto", "load tool: auto (wrk if installed), wrk or loadgen")
	fs.StringVar(&cfg.Backends, "backends", "auto", "backends: auto (nginx if installed), nginx or go (cmd/backend)")
	fs.BoolVar(&cfg.Policy, "policy", false, "every proxy runs the traffic-policy configuration: 1,000 routes, header rules, per-client connection and rate limits")
	fs.BoolVar(&cfg.Cache, "cache", false, "the cache family instead: loopgate, nginx (proxy_cache) and Varnish caching the backends, every measured request a hit; 256 conns, 100 B, 16 KiB, 1 MiB")
	fs.BoolVar(&cfg.Compress, "compress", false, "the compression family instead: loopgate's gzip 1/6, zstd and Brotli against nginx's gzip 1/6 on the corpus; 50 conns")
	fs.StringVar(&cfg.Corpus, "corpus", "testdata/corpus", "the compression family's corpus: its .html, .json, .css, .js and .svg files")
	fs.BoolVar(&tlsRun, "tls", false, "run the TLS scenarios instead (perf/tls.go): keep-alive CPU per request, handshakes per core, idle memory, against HAProxy and nginx on the same certificate; and the same proxies over plain HTTP in front of an HTTPS backend (https-backend rows)")
	fs.BoolVar(&cfg.Clients, "clients", false, "also compare wrk with loopgate's load generator on the same targets")
	fs.StringVar(&out, "out", "perf/results", "directory for the JSON, Markdown and SVG results")
	fs.StringVar(&chart, "chart", "", "also write the SVG chart here (e.g. docs/perf.svg)")
	fs.BoolVar(&verbose, "v", true, "print each run as it finishes")
	ws := fs.Bool("ws", false, "run the WebSocket echo benchmark instead (ws.go)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var err error
	if cfg.Conns, err = intList(conns); err != nil {
		fmt.Fprintln(stderr, "harness: -conns:", err)
		return 2
	}
	if cfg.Sizes, err = intList(sizes); err != nil {
		fmt.Fprintln(stderr, "harness: -sizes:", err)
		return 2
	}
	if proxies != "" {
		cfg.Proxies = strings.Split(proxies, ",")
	}
	if verbose {
		cfg.Log = stderr
	}

	tmp, err := os.MkdirTemp("", "loopgate-harness-")
	if err != nil {
		fmt.Fprintln(stderr, "harness:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	for _, b := range []struct {
		path *string
		pkg  string
	}{{&cfg.Loopgate, "./cmd/loopgate"}, {&cfg.Backend, "./cmd/backend"}} {
		if *b.path != "" {
			continue
		}
		*b.path = filepath.Join(tmp, filepath.Base(b.pkg))
		fmt.Fprintf(stderr, "building %s\n", b.pkg)
		if o, err := exec.CommandContext(ctx, "go", "build", "-o", *b.path, b.pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(stderr, "harness: cannot build %s: %v\n%s", b.pkg, err, o)
			return 1
		}
	}

	if *ws {
		return runWS(ctx, cfg, stdout, stderr)
	}
	start := time.Now()
	if tlsRun {
		return runTLS(ctx, cfg, tmp, out, stdout, stderr, start)
	}
	res, err := perf.Bench(ctx, cfg)
	if res != nil && (len(res.Summary) > 0 || len(res.Compression) > 0) {
		fmt.Fprintln(stdout)
		_ = res.WriteTable(stdout)
		if werr := writeResults(res, out, chart, stdout); werr != nil {
			fmt.Fprintln(stderr, "harness:", werr)
			return 1
		}
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "harness: interrupted; the table shows what was measured before")
		return 130
	}
	if err != nil {
		fmt.Fprintln(stderr, "harness:", err)
		return 1
	}
	fmt.Fprintf(stdout, "took %s\n", time.Since(start).Round(100*time.Millisecond))
	return 0
}

// runTLS runs the TLS scenarios with the run's settings and writes their table and JSON.
func runTLS(ctx context.Context, cfg perf.BenchConfig, tmp, out string, stdout, stderr io.Writer, start time.Time) int {
	tc := perf.TLSBenchConfig{Loopgate: cfg.Loopgate, Backend: cfg.Backend, Proxies: cfg.Proxies, Rounds: cfg.Rounds,
		Duration: cfg.Duration, Conns: cfg.Conns, Sizes: cfg.Sizes, IdleConns: cfg.IdleConns, WorkDir: tmp, Log: cfg.Log}
	if cfg.Quick {
		tc.Rounds, tc.Duration, tc.Conns, tc.Sizes = max(tc.Rounds, 1), max(tc.Duration, time.Second), []int{50}, []int{100}
		if tc.IdleConns == 0 {
			tc.IdleConns = 500
		}
	}
	res, err := perf.BenchTLS(ctx, tc)
	if res != nil && len(res.Rows) > 0 {
		fmt.Fprintln(stdout)
		_ = res.WriteTLSTable(stdout)
		js, _ := json.MarshalIndent(res, "", "  ")
		if err := os.MkdirAll(out, 0o755); err == nil {
			f := filepath.Join(out, "tls-latest.json")
			if os.WriteFile(f, js, 0o644) == nil {
				fmt.Fprintf(stdout, "wrote %s\n", f)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "harness:", err)
		return 1
	}
	fmt.Fprintf(stdout, "took %s\n", time.Since(start).Round(100*time.Millisecond))
	return 0
}

// writeResults writes the JSON (timestamped and latest), the Markdown tables and the chart.
func writeResults(res *perf.BenchResult, dir, chart string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot write results: %w", err)
	}
	var js, md, svg bytes.Buffer
	if err := errors.Join(res.WriteJSON(&js), res.WriteMarkdown(&md), res.WriteSVG(&svg)); err != nil {
		return err
	}
	stamp := res.Started.Format("20060102-150405")
	files := []struct {
		path string
		data []byte
	}{
		{filepath.Join(dir, "perf-"+stamp+".json"), js.Bytes()},
		{filepath.Join(dir, "latest.json"), js.Bytes()},
		{filepath.Join(dir, "latest.md"), md.Bytes()},
		{filepath.Join(dir, "latest.svg"), svg.Bytes()},
	}
	if chart != "" {
		files = append(files, struct {
			path string
			data []byte
		}{chart, svg.Bytes()})
	}
	var names []string
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return fmt.Errorf("cannot write results: %w", err)
		}
		names = append(names, f.path)
	}
	fmt.Fprintf(stdout, "wrote %s\n", strings.Join(names, ", "))
	return nil
}

// intList parses "50,256" or "50 256".
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("cannot parse %q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}
