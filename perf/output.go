package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes res as indented JSON.
func (res *BenchResult) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode results: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// header says how the figures were taken, in one line.
func (res *BenchResult) header() string {
	s := res.Settings
	h := fmt.Sprintf("%d round(s) × %gs per proxy and scenario, load %s, 3 %s backends, %d CPUs, %s",
		s.Rounds, s.DurationS, s.Load, s.Backends, res.Host.CPUs, res.Host.Kernel)
	if s.SyscallsBy != "" {
		h += ", system calls counted with " + s.SyscallsBy
	}
	if s.Policy {
		h += ", traffic policy on (1,000 routes, header rules, per-client connection and rate limits)"
	}
	return h
}

func fmtRatio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// WriteTable writes the summary for a terminal: medians, spreads ((max-min)/median) and
// ratios to HAProxy, then the idle-connection memory, the load-tool comparison and notes.
func (res *BenchResult) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "loopgate perf: %s\n", res.header())
	b.WriteString("medians over the rounds; ± is the spread (max-min)/median; ÷HA is the ratio to HAProxy's median\n\n")
	fmt.Fprintf(&b, "%5s %7s  %-13s %9s %5s %8s %8s %10s %5s %8s %8s %7s %7s %7s\n",
		"conns", "size", "proxy", "req/s", "±%", "p50 ms", "p99 ms", "CPU µs/req", "±%", "of it sys", "sysc/req", "rps÷HA", "CPU÷HA", "errors")
	for _, s := range res.Summary {
		fmt.Fprintf(&b, "%5d %7s  %-13s %9.0f %5.1f %8.2f %8.2f %10.2f %5.1f %8.2f %8s %7s %7s %7d\n",
			s.Conns, sizeLabel(s.Size), s.Proxy, s.RPS.Median, s.RPS.Spread(), s.P50.Median, s.P99.Median,
			s.CPUus.Median, s.CPUus.Spread(), s.SysUS.Median, fmtRatio(s.Syscalls), fmtRatio(s.RPSvsHA), fmtRatio(s.CPUvsHA), s.Errors+s.Non2xx)
	}
	if len(res.Idle) > 0 {
		fmt.Fprintf(&b, "\nmemory per idle keep-alive client connection (RSS with N open after one request each, minus RSS before, ÷ N)\n")
		fmt.Fprintf(&b, "%-13s %7s %12s %12s %11s %6s\n", "proxy", "N", "RSS before", "RSS after", "bytes/conn", "÷HA")
		for _, r := range res.Idle {
			fmt.Fprintf(&b, "%-13s %7d %9.1f MiB %9.1f MiB %11.0f %6s\n", r.Proxy, r.Conns,
				float64(r.RSSBefore)/(1<<20), float64(r.RSSAfter)/(1<<20), r.BytesPerConn, fmtRatio(r.VsHA))
		}
	}
	if len(res.Clients) > 0 {
		fmt.Fprintf(&b, "\nload tools on the same target (100 B responses)\n")
		fmt.Fprintf(&b, "%-24s %-24s %5s %9s %5s %16s %8s %8s\n", "target", "client", "conns", "req/s", "±%",
			"client CPU µs/req", "p50 ms", "p99 ms")
		for _, c := range res.Clients {
			fmt.Fprintf(&b, "%-24s %-24s %5d %9.0f %5.1f %16.2f %8.2f %8.2f\n", c.Target, c.Client, c.Conns,
				c.RPS.Median, c.RPS.Spread(), c.CPUus.Median, c.P50.Median, c.P99.Median)
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the same tables as Markdown, for docs/PERFORMANCE.md.
func (res *BenchResult) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Taken %s: %s.\n\n", res.Started.Format("2006-01-02"), res.header())
	b.WriteString("| conns | size | proxy | req/s (± spread) | p50 ms | p99 ms | CPU µs/req (± spread) | of it system | syscalls/req | req/s ÷ HAProxy | CPU ÷ HAProxy | errors |\n")
	b.WriteString("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range res.Summary {
		fmt.Fprintf(&b, "| %d | %s | %s | %.0f (±%.0f%%) | %.2f | %.2f | %.2f (±%.0f%%) | %.2f | %s | %s | %s | %d |\n",
			s.Conns, sizeLabel(s.Size), s.Proxy, s.RPS.Median, s.RPS.Spread(), s.P50.Median, s.P99.Median,
			s.CPUus.Median, s.CPUus.Spread(), s.SysUS.Median, fmtRatio(s.Syscalls), fmtRatio(s.RPSvsHA), fmtRatio(s.CPUvsHA), s.Errors+s.Non2xx)
	}
	if len(res.Idle) > 0 {
		b.WriteString("\n| proxy | idle connections | RSS before | RSS after | bytes per connection | ÷ HAProxy |\n")
		b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, r := range res.Idle {
			fmt.Fprintf(&b, "| %s | %d | %.1f MiB | %.1f MiB | %.0f | %s |\n", r.Proxy, r.Conns,
				float64(r.RSSBefore)/(1<<20), float64(r.RSSAfter)/(1<<20), r.BytesPerConn, fmtRatio(r.VsHA))
		}
	}
	if len(res.Clients) > 0 {
		b.WriteString("\n| target | client | conns | req/s (± spread) | client CPU µs/req | p50 ms | p99 ms |\n")
		b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, c := range res.Clients {
			fmt.Fprintf(&b, "| %s | %s | %d | %.0f (±%.0f%%) | %.2f | %.2f | %.2f |\n", c.Target, c.Client, c.Conns,
				c.RPS.Median, c.RPS.Spread(), c.CPUus.Median, c.P50.Median, c.P99.Median)
		}
	}
	if len(res.Notes) > 0 {
		b.WriteByte('\n')
		for _, n := range res.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
