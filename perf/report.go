package perf

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReportSchema is the version of the Report JSON layout; docs/PERFORMANCE.md documents it.
const ReportSchema = 1

// Report is the result of Run. Its JSON form (WriteJSON) is what `loadgen -o FILE` writes.
// Durations are milliseconds, rates per second. The top-level names follow the seed
// balancer's /__metrics__ (total_requests, requests_per_second, error_rate, response_times,
// status_codes) so that its users find them where they expect.
type Report struct {
	Tool          string       `json:"tool"`           // "loopgate-loadgen"
	SchemaVersion int          `json:"schema_version"` // ReportSchema
	Started       time.Time    `json:"started"`
	Config        ReportConfig `json:"config"`
	// DurationSeconds runs from the first request to the last response (or error).
	DurationSeconds float64 `json:"duration_seconds"`
	// TotalRequests counts requests that finished: with a complete response or with an error.
	TotalRequests int64 `json:"total_requests"`
	// SuccessfulRequests got a complete response with a status below 400.
	SuccessfulRequests int64 `json:"successful_requests"`
	// FailedRequests = TotalRequests - SuccessfulRequests: statuses >= 400 and errors.
	FailedRequests int64 `json:"failed_requests"`
	// ErrorRate is FailedRequests as a percentage of TotalRequests.
	ErrorRate float64 `json:"error_rate"`
	// UnfinishedRequests were in flight when the load was interrupted; counted nowhere else.
	UnfinishedRequests int64 `json:"unfinished_requests"`
	Interrupted        bool  `json:"interrupted"` // stopped early by a signal
	// RequestsPerSecond counts complete responses (any status) per second of DurationSeconds.
	RequestsPerSecond float64 `json:"requests_per_second"`
	BytesReceived     int64   `json:"bytes_received"` // response heads and bodies
	BytesSent         int64   `json:"bytes_sent"`     // request heads and bodies
	// ResponseTimes covers every complete response, to the end of its body. In closed loop
	// it runs from the write of the request (the connect too without keep-alive). With a
	// rate it runs from the request's slot in the schedule whenever the connection was behind
	// schedule because earlier responses were late (coordinated omission corrected: a stalled
	// server counts for every request it held up), and from the actual write when the
	// connection was on time (so the client's own timer lag is not blamed on the server).
	ResponseTimes Latency `json:"response_times"`
	// ServiceTimes, with a rate only, always runs from the actual write, as in closed loop:
	// the uncorrected view, for comparison.
	ServiceTimes *Latency `json:"service_times,omitempty"`
	// StatusCodes counts complete responses by status ("200": 990).
	StatusCodes map[string]int64 `json:"status_codes"`
	// Errors counts requests without a complete response by kind: connect, write, read,
	// closed (connection closed before the response was complete), timeout, parse (invalid
	// HTTP). Every kind is present, zero or not.
	Errors map[string]int64 `json:"errors"`
	// ByHeader counts complete responses by the value of Config.ByHeader; "(none)" counts
	// responses without it. Absent when no field was asked for.
	ByHeader *HeaderCount `json:"by_header,omitempty"`
}

// ReportConfig echoes the load that was applied.
type ReportConfig struct {
	URL            string   `json:"url"`
	Method         string   `json:"method"`
	Target         string   `json:"target"` // request target sent: path and query
	Concurrency    int      `json:"concurrency"`
	Requests       int64    `json:"requests"`         // 0 = bounded by duration only
	DurationLimit  float64  `json:"duration_limit_s"` // 0 = bounded by requests only
	Rate           float64  `json:"rate"`             // 0 = closed loop
	KeepAlive      bool     `json:"keepalive"`
	BodySize       int      `json:"body_size"`
	Headers        []string `json:"headers"`
	TimeoutSeconds float64  `json:"timeout_s"`
}

// Latency summarises a Histogram in milliseconds. "average", "minimum" and "maximum" are
// exact; percentiles are nearest-rank, within 0.4%.
type Latency struct {
	Average float64 `json:"average"`
	Minimum float64 `json:"minimum"`
	Maximum float64 `json:"maximum"`
	P50     float64 `json:"p50"`
	P90     float64 `json:"p90"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	P999    float64 `json:"p99_9"`
}

// HeaderCount counts responses by the value of one response field.
type HeaderCount struct {
	Name   string           `json:"name"`
	Counts map[string]int64 `json:"counts"`
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// LatencyOf summarises h.
func LatencyOf(h *Histogram) Latency {
	return Latency{
		Average: ms(h.Mean()), Minimum: ms(h.Min()), Maximum: ms(h.Max()),
		P50: ms(h.Percentile(50)), P90: ms(h.Percentile(90)), P95: ms(h.Percentile(95)),
		P99: ms(h.Percentile(99)), P999: ms(h.Percentile(99.9)),
	}
}

// report merges the shards. It runs after every worker has returned.
func (r *runner) report(elapsed time.Duration) *Report {
	lat, svc := NewHistogram(), NewHistogram()
	status := map[string]int64{}
	errs := map[string]int64{}
	for k := errConnect; k < numErrKinds; k++ {
		errs[errKindNames[k]] = 0
	}
	var byHdr map[string]int64
	if r.cfg.ByHeader != "" {
		byHdr = map[string]int64{}
	}
	var ok, failed int64
	for i := range r.shards {
		sh := &r.shards[i]
		lat.Merge(sh.lat)
		if sh.svc != nil {
			svc.Merge(sh.svc)
		}
		for code, n := range sh.status {
			if n > 0 {
				status[strconv.Itoa(code)] += n
				if code < 400 {
					ok += n
				} else {
					failed += n
				}
			}
		}
		for k := errConnect; k < numErrKinds; k++ {
			errs[errKindNames[k]] += sh.errs[k]
			failed += sh.errs[k]
		}
		for v, n := range sh.byHdr {
			byHdr[v] += *n
		}
	}
	rep := &Report{
		Tool:          "loopgate-loadgen",
		SchemaVersion: ReportSchema,
		Started:       r.start.UTC().Truncate(time.Millisecond),
		Config: ReportConfig{
			URL: r.cfg.URL, Method: r.cfg.Method, Target: r.targetOf(), Concurrency: r.cfg.Concurrency,
			Requests: r.cfg.Requests, DurationLimit: r.cfg.Duration.Seconds(), Rate: r.cfg.Rate,
			KeepAlive: !r.cfg.NoKeepAlive, BodySize: r.cfg.BodySize, Headers: r.cfg.Headers,
			TimeoutSeconds: r.cfg.Timeout.Seconds(),
		},
		DurationSeconds:    elapsed.Seconds(),
		TotalRequests:      ok + failed,
		SuccessfulRequests: ok,
		FailedRequests:     failed,
		UnfinishedRequests: r.unfinished.Load(),
		ResponseTimes:      LatencyOf(lat),
		StatusCodes:        status,
		Errors:             errs,
	}
	if rep.Config.Headers == nil {
		rep.Config.Headers = []string{}
	}
	if rep.TotalRequests > 0 {
		rep.ErrorRate = 100 * float64(failed) / float64(rep.TotalRequests)
	}
	if elapsed > 0 {
		rep.RequestsPerSecond = float64(lat.Count()) / elapsed.Seconds()
	}
	if r.cfg.Rate > 0 {
		s := LatencyOf(svc)
		rep.ServiceTimes = &s
	}
	if byHdr != nil {
		rep.ByHeader = &HeaderCount{Name: r.cfg.ByHeader, Counts: byHdr}
	}
	for _, w := range r.workers {
		rep.BytesReceived += w.bytesIn
		rep.BytesSent += w.bytesOut
	}
	return rep
}

// targetOf returns the request target from the prebuilt request line.
func (r *runner) targetOf() string {
	line, _, _ := strings.Cut(string(r.req[:min(len(r.req), 8192)]), "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// WriteJSON writes rep as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes rep for a person: a few aligned lines.
func (rep *Report) WriteText(w io.Writer) error {
	c := rep.Config
	mode := "closed loop"
	if c.Rate > 0 {
		mode = fmt.Sprintf("open loop at %g req/s", c.Rate)
	}
	ka := "keep-alive"
	if !c.KeepAlive {
		ka = "a connection per request"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s  (target %s)\n", c.Method, c.URL, c.Target)
	fmt.Fprintf(&b, "  %d connections, %s, %s\n", c.Concurrency, ka, mode)
	fmt.Fprintf(&b, "  requests     %d in %.2fs: %d successful, %d failed (%.2f%%)",
		rep.TotalRequests, rep.DurationSeconds, rep.SuccessfulRequests, rep.FailedRequests, rep.ErrorRate)
	if rep.Interrupted {
		fmt.Fprintf(&b, "; interrupted, %d unfinished", rep.UnfinishedRequests)
	}
	b.WriteByte('\n')
	mb := func(n int64) float64 { return float64(n) / 1e6 / max(rep.DurationSeconds, 1e-9) }
	fmt.Fprintf(&b, "  throughput   %.1f req/s, %.2f MB/s in, %.2f MB/s out\n",
		rep.RequestsPerSecond, mb(rep.BytesReceived), mb(rep.BytesSent))
	writeLatency(&b, "latency ms", rep.ResponseTimes)
	if rep.ServiceTimes != nil {
		writeLatency(&b, "service ms", *rep.ServiceTimes)
		b.WriteString("               (latency counts from the scheduled send time, service from the actual one)\n")
	}
	b.WriteString("  status      ")
	writeCounts(&b, rep.StatusCodes, 0, func(a, b string) int { return strings.Compare(a, b) })
	b.WriteString("  errors      ")
	nonzero := map[string]int64{}
	for k, v := range rep.Errors {
		if v > 0 {
			nonzero[k] = v
		}
	}
	writeCounts(&b, nonzero, 0, nil)
	if h := rep.ByHeader; h != nil {
		var total int64
		for _, v := range h.Counts {
			total += v
		}
		fmt.Fprintf(&b, "  %-12s", h.Name)
		writeCounts(&b, h.Counts, total, nil)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeLatency(b *strings.Builder, name string, l Latency) {
	fmt.Fprintf(b, "  %-12s min %s  avg %s  p50 %s  p90 %s  p95 %s  p99 %s  p99.9 %s  max %s\n", name,
		fmtMS(l.Minimum), fmtMS(l.Average), fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P95), fmtMS(l.P99),
		fmtMS(l.P999), fmtMS(l.Maximum))
}

// fmtMS prints milliseconds with three significant digits or more.
func fmtMS(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// writeCounts writes "k: v" pairs on one line, largest first unless order is given, with
// percentages of total when total > 0.
func writeCounts(b *strings.Builder, m map[string]int64, total int64, order func(a, b string) int) {
	if len(m) == 0 {
		b.WriteString(" none\n")
		return
	}
	keys := slices.Collect(maps.Keys(m))
	if order == nil {
		order = func(x, y string) int { return cmp.Or(cmp.Compare(m[y], m[x]), strings.Compare(x, y)) }
	}
	slices.SortFunc(keys, order)
	for _, k := range keys {
		if total > 0 {
			fmt.Fprintf(b, " %s: %d (%.1f%%)", k, m[k], 100*float64(m[k])/float64(total))
		} else {
			fmt.Fprintf(b, " %s: %d", k, m[k])
		}
	}
	b.WriteByte('\n')
}
