package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
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
	if s.Cache {
		h += ", cache family: every measured request a cache hit (the backends served none of them)"
	}
	if s.Compress {
		h += ", compression family: wrk cycling through the corpus"
	}
	return h
}

// hasHA reports whether any summary row has ratios to HAProxy; without, the tables leave
// those columns out.
func hasHA(rows []Summary) bool {
	for _, s := range rows {
		if s.RPSvsHA != 0 {
			return true
		}
	}
	return false
}

// goalMark says whether a cache ratio meets its goal.
func goalMark(r CacheRatio) string {
	if r.Met {
		return "yes"
	}
	return "no"
}

// fmtRange prints a ratio's median and range: "0.62 [0.55..0.70]".
func fmtRange(s Stat) string {
	return fmt.Sprintf("%.2f [%.2f..%.2f]", s.Median, s.Min, s.Max)
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
	ha := hasHA(res.Summary)
	if len(res.Summary) > 0 {
		b.WriteString("medians over the rounds; ± is the spread (max-min)/median")
		if ha {
			b.WriteString("; ÷HA is the ratio to HAProxy's median")
		}
		b.WriteString("\n\n")
		fmt.Fprintf(&b, "%5s %7s  %-13s %9s %5s %8s %8s %10s %5s %8s %8s", "conns", "size", "proxy", "req/s", "±%",
			"p50 ms", "p99 ms", "CPU µs/req", "±%", "of it sys", "sysc/req")
		if ha {
			fmt.Fprintf(&b, " %7s %7s", "rps÷HA", "CPU÷HA")
		}
		fmt.Fprintf(&b, " %7s\n", "errors")
	}
	for _, s := range res.Summary {
		fmt.Fprintf(&b, "%5d %7s  %-13s %9.0f %5.1f %8.2f %8.2f %10.2f %5.1f %8.2f %8s",
			s.Conns, sizeLabel(s.Size), s.Proxy, s.RPS.Median, s.RPS.Spread(), s.P50.Median, s.P99.Median,
			s.CPUus.Median, s.CPUus.Spread(), s.SysUS.Median, fmtRatio(s.Syscalls))
		if ha {
			fmt.Fprintf(&b, " %7s %7s", fmtRatio(s.RPSvsHA), fmtRatio(s.CPUvsHA))
		}
		fmt.Fprintf(&b, " %7d\n", s.Errors+s.Non2xx)
	}
	if len(res.CacheRatios) > 0 {
		fmt.Fprintf(&b, "\nloopgate ÷ the other cache, per round, median [min..max] over the rounds; goal: CPU per hit ≤ %.1f× nginx's, ≤ %.1f× Varnish's\n",
			goalVsNginx, goalVsVarnish)
		fmt.Fprintf(&b, "%5s %7s  %-8s %22s %22s %5s\n", "conns", "size", "versus", "CPU per hit", "hits/s", "goal")
		for _, r := range res.CacheRatios {
			fmt.Fprintf(&b, "%5d %7s  %-8s %22s %22s %5s\n", r.Conns, sizeLabel(r.Size), r.Versus,
				fmtRange(r.CPU), fmtRange(r.RPS), goalMark(r))
		}
	}
	if len(res.Compression) > 0 {
		b.WriteString("\ncompression: CPU is ms per MiB of corpus served (median, ± spread); per MiB out = × ratio; coding = less the same proxy's identity row\n")
		fmt.Fprintf(&b, "%5s  %-9s %-9s %5s %8s %8s %10s %5s %11s %8s %6s %8s %6s\n", "conns", "proxy", "coding", "level",
			"req/s", "MiB/s in", "CPU ms/MiB", "±%", "per MiB out", "coding", "ratio", "÷nginx", "errors")
		for _, c := range res.Compression {
			fmt.Fprintf(&b, "%5d  %-9s %-9s %5d %8.0f %8.1f %10.2f %5.1f %11.2f %8.2f %6.2f %8s %6d\n", c.Conns, c.Proxy, c.Coding,
				c.Level, c.RPS.Median, c.InMiBps, c.CPU.Median, c.CPU.Spread(), c.CPUOut, c.CodingCPU, c.Ratio, fmtRatio(c.VsNginx), c.Errors)
		}
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
	ha := hasHA(res.Summary)
	if len(res.Summary) > 0 {
		b.WriteString("| conns | size | proxy | req/s (± spread) | p50 ms | p99 ms | CPU µs/req (± spread) | of it system | syscalls/req |")
		if ha {
			b.WriteString(" req/s ÷ HAProxy | CPU ÷ HAProxy |")
		}
		b.WriteString(" errors |\n| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		if ha {
			b.WriteString(" ---: | ---: |")
		}
		b.WriteString(" ---: |\n")
	}
	for _, s := range res.Summary {
		fmt.Fprintf(&b, "| %d | %s | %s | %.0f (±%.0f%%) | %.2f | %.2f | %.2f (±%.0f%%) | %.2f | %s |",
			s.Conns, sizeLabel(s.Size), s.Proxy, s.RPS.Median, s.RPS.Spread(), s.P50.Median, s.P99.Median,
			s.CPUus.Median, s.CPUus.Spread(), s.SysUS.Median, fmtRatio(s.Syscalls))
		if ha {
			fmt.Fprintf(&b, " %s | %s |", fmtRatio(s.RPSvsHA), fmtRatio(s.CPUvsHA))
		}
		fmt.Fprintf(&b, " %d |\n", s.Errors+s.Non2xx)
	}
	if len(res.CacheRatios) > 0 {
		b.WriteString("\n| conns | size | loopgate ÷ | CPU per hit, median [range] | hits/s, median [range] | goal | met |\n")
		b.WriteString("| ---: | ---: | --- | ---: | ---: | ---: | --- |\n")
		for _, r := range res.CacheRatios {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | ≤ %.1f | %s |\n", r.Conns, sizeLabel(r.Size), r.Versus,
				fmtRange(r.CPU), fmtRange(r.RPS), r.Goal, goalMark(r))
		}
	}
	if len(res.Compression) > 0 {
		if len(res.Summary) > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("| conns | proxy | coding | level | req/s (± spread) | corpus MiB/s | CPU ms per MiB in (± spread) | per MiB out | of it coding | ratio | CPU ÷ nginx | errors |\n")
		b.WriteString("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, c := range res.Compression {
			lvl := strconv.Itoa(c.Level)
			if c.Coding == codingIdentity {
				lvl = "-"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %.0f (±%.0f%%) | %.1f | %.2f (±%.0f%%) | %.2f | %.2f | %.2f | %s | %d |\n",
				c.Conns, c.Proxy, c.Coding, lvl, c.RPS.Median, c.RPS.Spread(), c.InMiBps, c.CPU.Median, c.CPU.Spread(),
				c.CPUOut, c.CodingCPU, c.Ratio, fmtRatio(c.VsNginx), c.Errors)
		}
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
