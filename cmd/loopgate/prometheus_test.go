package main

import (
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestPrometheusCanScrape parses /metrics with Prometheus's own text parser
// after known traffic, and checks the counts and the histogram.
func TestPrometheusCanScrape(t *testing.T) {
	b1 := startTestBackend(t, "b1", 0)
	r := startApp(t, adminConfig(t, t.TempDir(), freeAddr(t), "round_robin", "", b1.addr))
	for range 7 {
		resp, err := http.Get("http://" + r.proxy + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// An exchange is counted just after its last byte is written, so the
	// client may read the 7th response before it is counted: scrape until
	// the counts are in.
	var fams map[string]*dto.MetricFamily
	byClass := 0.0
	for deadline := time.Now().Add(5 * time.Second); byClass != 7 && time.Now().Before(deadline); {
		fams, byClass = scrape(t, r.admin+"/metrics")
		if byClass != 7 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if byClass != 7 {
		t.Fatalf("loopgate_requests_total{class=\"2xx\"} = %v; want 7", byClass)
	}
	h := fams["loopgate_request_duration_seconds"]
	if h == nil || len(h.GetMetric()) != 1 || h.GetMetric()[0].GetHistogram().GetSampleCount() != 7 {
		t.Fatalf("loopgate_request_duration_seconds: %v; want a histogram of 7", h)
	}
	for _, name := range []string{"loopgate_backend_up", "loopgate_client_connections", "loopgate_upstream_connections",
		"loopgate_backend_in_flight", "loopgate_errors_total", "process_cpu_seconds_total", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// scrape parses /metrics with Prometheus's parser and returns its families
// and loopgate_requests_total{class="2xx"}.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, float64) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("Prometheus cannot parse /metrics: %v", err)
	}
	byClass := 0.0
	for _, m := range fams["loopgate_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "class" && l.GetValue() == "2xx" {
				byClass += m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			}
		}
	}
	return fams, byClass
}
