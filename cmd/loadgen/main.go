// Command loadgen is loopgate's HTTP/1.1 load generator; its engine is package perf. It
// takes the flags of the seed balancer's tests/load_test.py and wrk2's open-loop mode:
//
//	loadgen [flags] [URL]                          URL defaults to http://127.0.0.1:8080/
//	loadgen -n 1000 -c 20 -o results.json http://127.0.0.1:8080/
//	loadgen -c 50 -d 30s --rate 5000 --path /info http://127.0.0.1:8080
//
// It prints a summary (req/s, latency percentiles, status codes, errors by kind), shows a
// progress bar while stderr is a terminal, and writes the JSON report that
// docs/PERFORMANCE.md documents with -o. Ctrl-C stops the load and reports what was done.
// Exit status: 0 when at least one request succeeded, 1 when none did, 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"loopgate/perf"
)

const defaultURL = "http://127.0.0.1:8080/"

const usage = `usage: loadgen [flags] [URL]     URL defaults to ` + defaultURL + `; flags may also follow it

  -n, --requests N       requests to send (default 1000; with --duration and no -n: no limit)
  -c, --concurrency N    connections, each with one request in flight (default 10)
      --path P           request path and query, replacing the URL's, e.g. /info
  -o, --output FILE      also write the JSON report to FILE; "-" prints only the JSON
  -d, --duration D       stop sending after D, e.g. 30s
  -R, --rate N           N requests/s in all, each connection on a fixed schedule (open loop);
                         latency then counts from each request's slot, so a stalled server
                         shows (coordinated omission corrected, as wrk2); 0 = closed loop
  -m, --method M         request method (default GET, or POST with --body-size)
      --body-size N      request body bytes, sent with Content-Length
  -H, --header "K: V"    add a request field; repeatable
      --keepalive=false  a new connection per request (Connection: close); default: reuse
      --timeout D        per request, connect included (default 10s)
      --by-header NAME   count responses by this response field (default X-Backend; "" = off)
      --url URL          the target, instead of the argument
  -q, --quiet            no progress bar (it shows only when stderr is a terminal)

  loadgen -n 1000 -c 20 -o results.json ` + defaultURL + `
  loadgen -c 50 -d 30s --rate 5000 --path /info

Exit status: 0 if any request succeeded, 1 if none did, 2 for bad flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr))
	stop()
	os.Exit(code)
}

// headerList is a repeatable -H flag.
type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// run is main with its inputs passed in; it returns the exit status. tty turns on the
// progress bar on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg       perf.Config
		headers   headerList
		url       string
		output    string
		keepAlive bool
		quiet     bool
	)
	fs.Int64Var(&cfg.Requests, "requests", 1000, "requests to send; 0 = as many as --duration allows")
	fs.Int64Var(&cfg.Requests, "n", 1000, "short for --requests")
	fs.IntVar(&cfg.Concurrency, "concurrency", 10, "connections, each with one request in flight")
	fs.IntVar(&cfg.Concurrency, "c", 10, "short for --concurrency")
	fs.StringVar(&cfg.Path, "path", "", "request path and query, replacing the URL's (e.g. /info)")
	fs.StringVar(&output, "output", "", "write the JSON report to this file (- for stdout)")
	fs.StringVar(&output, "o", "", "short for --output")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop sending after this long, e.g. 30s (without -n: no request limit)")
	fs.DurationVar(&cfg.Duration, "d", 0, "short for --duration")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests per second in all, sent on schedule (open loop; latency from the\n"+
		"scheduled time, correcting coordinated omission); 0 = each connection sends when answered")
	fs.Float64Var(&cfg.Rate, "R", 0, "short for --rate")
	fs.StringVar(&cfg.Method, "method", "", "request method (default GET, or POST with --body-size)")
	fs.StringVar(&cfg.Method, "m", "", "short for --method")
	fs.IntVar(&cfg.BodySize, "body-size", 0, "request body bytes, sent with Content-Length")
	fs.Var(&headers, "header", `request field "Name: value"; repeatable`)
	fs.Var(&headers, "H", "short for --header")
	fs.BoolVar(&keepAlive, "keepalive", true, "reuse connections; --keepalive=false dials one per request")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per request, connect included")
	fs.StringVar(&cfg.ByHeader, "by-header", "X-Backend", `count responses by this response field ("" = off)`)
	fs.StringVar(&url, "url", "", "target URL (or give it as the argument; default "+defaultURL+")")
	fs.BoolVar(&quiet, "quiet", false, "no progress bar")
	fs.BoolVar(&quiet, "q", false, "short for --quiet")
	fs.Usage = func() { fmt.Fprint(stderr, usage) }

	// The standard flag package stops at the first argument; accept flags after the URL too.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(pos) > 1 || (len(pos) == 1 && url != ""):
		fmt.Fprintf(stderr, "loadgen: want one URL, got %q\n", append(pos, url))
		return 2
	case len(pos) == 1:
		url = pos[0]
	case url == "":
		url = defaultURL
	}
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.Duration > 0 && !set["n"] && !set["requests"] {
		cfg.Requests = 0 // --duration alone runs for the whole duration
	}
	cfg.URL, cfg.Headers, cfg.NoKeepAlive = url, headers, !keepAlive

	bar := tty && !quiet && output != "-"
	if bar {
		cfg.Progress = newProgressBar(stderr).update
	}
	rep, err := perf.Run(ctx, cfg)
	if bar {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	if output == "-" {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	} else {
		_ = rep.WriteText(stdout)
		if output != "" {
			if err := writeFile(output, rep); err != nil {
				fmt.Fprintln(stderr, "loadgen:", err)
				return 1
			}
			fmt.Fprintf(stdout, "  report       %s\n", output)
		}
	}
	if rep.SuccessfulRequests == 0 {
		return 1
	}
	return 0
}

func writeFile(path string, rep *perf.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot write report: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("cannot write report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write report %s: %w", path, err)
	}
	return nil
}

// isTerminal reports whether f is a character device (a terminal, not a file or pipe).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
