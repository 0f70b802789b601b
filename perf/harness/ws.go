package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"loopgate/perf"
)

// runWS runs the WebSocket echo benchmark (-ws) with the harness's binaries, proxies and
// durations: -quick is one round of 1 s with 16 connections, the default three rounds of
// 3 s with 64; -conns and -sizes take their first value for the connections and the
// message size.
func runWS(ctx context.Context, cfg perf.BenchConfig, stdout, stderr io.Writer) int {
	wc := perf.WSConfig{Loopgate: cfg.Loopgate, Backend: cfg.Backend, Duration: cfg.Duration, Rounds: cfg.Rounds, Log: cfg.Log}
	for _, p := range cfg.Proxies {
		if p != "loopgate-all" {
			wc.Proxies = append(wc.Proxies, p)
		}
	}
	if cfg.Quick {
		wc.Conns, wc.Rounds = 16, max(wc.Rounds, 1)
		if wc.Duration == 0 {
			wc.Duration = time.Second
		}
	}
	if len(cfg.Conns) > 0 {
		wc.Conns = cfg.Conns[0]
	}
	if len(cfg.Sizes) > 0 {
		wc.Size = cfg.Sizes[0]
	}
	start := time.Now()
	res, err := perf.WSBench(ctx, wc)
	if res != nil {
		fmt.Fprintln(stdout)
		_ = res.WriteTable(stdout)
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "harness: interrupted")
		return 130
	}
	if err != nil {
		fmt.Fprintln(stderr, "harness:", err)
		return 1
	}
	fmt.Fprintf(stdout, "took %s\n", time.Since(start).Round(100*time.Millisecond))
	return 0
}
