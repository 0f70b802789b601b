package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startBackend builds cmd/backend and starts it on a free port; it returns its address and
// stops it when the test ends.
func startBackend(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs cmd/backend")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build cmd/backend")
	}
	bin := filepath.Join(t.TempDir(), "backend")
	if out, err := exec.Command(goTool, "build", "-o", bin, "loopgate/cmd/backend").CombinedOutput(); err != nil {
		t.Fatalf("cannot build cmd/backend: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-port", "0", "-name", name, "-quiet")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	addrRE := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case a := <-found:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("backend did not report its address")
	}
	return ""
}

// TestLoadgenAgainstBackend runs the seed's basic load test against cmd/backend and checks
// the JSON report by its documented field names.
func TestLoadgenAgainstBackend(t *testing.T) {
	addr := startBackend(t, "backend-e2e")
	out := filepath.Join(t.TempDir(), "results.json")
	var stdout, stderr bytes.Buffer
	// Flags after the URL must work as before it.
	code := run(context.Background(), []string{"-n", "500", "-c", "8", "http://" + addr + "/", "--output", out},
		&stdout, &stderr, false)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "500 successful") {
		t.Fatalf("summary does not say 500 successful:\n%s", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Tool          string  `json:"tool"`
		SchemaVersion int     `json:"schema_version"`
		Total         int64   `json:"total_requests"`
		Successful    int64   `json:"successful_requests"`
		Failed        int64   `json:"failed_requests"`
		ErrorRate     float64 `json:"error_rate"`
		RPS           float64 `json:"requests_per_second"`
		Duration      float64 `json:"duration_seconds"`
		BytesReceived int64   `json:"bytes_received"`
		Config        struct {
			Concurrency int   `json:"concurrency"`
			Requests    int64 `json:"requests"`
			KeepAlive   bool  `json:"keepalive"`
		} `json:"config"`
		Times    map[string]float64 `json:"response_times"`
		Statuses map[string]int64   `json:"status_codes"`
		Errors   map[string]int64   `json:"errors"`
		ByHeader struct {
			Name   string           `json:"name"`
			Counts map[string]int64 `json:"counts"`
		} `json:"by_header"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("cannot decode report: %v\n%s", err, b)
	}
	if rep.Tool != "loopgate-loadgen" || rep.SchemaVersion != 1 || rep.Total != 500 || rep.Successful != 500 ||
		rep.Failed != 0 || rep.ErrorRate != 0 || rep.RPS <= 0 || rep.Duration <= 0 || rep.BytesReceived <= 0 {
		t.Fatalf("report header wrong:\n%s", b)
	}
	if rep.Config.Concurrency != 8 || rep.Config.Requests != 500 || !rep.Config.KeepAlive {
		t.Fatalf("config echo wrong: %+v", rep.Config)
	}
	if rep.Statuses["200"] != 500 || len(rep.Statuses) != 1 {
		t.Fatalf("status codes %v; want 200: 500", rep.Statuses)
	}
	for _, k := range []string{"connect", "write", "read", "closed", "timeout", "parse"} {
		if v, ok := rep.Errors[k]; !ok || v != 0 {
			t.Fatalf("errors %v; want every kind present and zero", rep.Errors)
		}
	}
	if rep.ByHeader.Name != "X-Backend" || rep.ByHeader.Counts["backend-e2e"] != 500 {
		t.Fatalf("by_header %+v; want X-Backend backend-e2e: 500", rep.ByHeader)
	}
	order := []string{"minimum", "p50", "p90", "p95", "p99", "p99_9", "maximum"}
	for i, k := range order {
		v, ok := rep.Times[k]
		if !ok || v <= 0 {
			t.Fatalf("response_times.%s = %v (present %v); want > 0: %v", k, v, ok, rep.Times)
		}
		if i > 0 && v < rep.Times[order[i-1]] {
			t.Fatalf("response_times.%s %v < %s %v", k, v, order[i-1], rep.Times[order[i-1]])
		}
	}
	if a := rep.Times["average"]; a < rep.Times["minimum"] || a > rep.Times["maximum"] {
		t.Fatalf("average %v outside min..max: %v", a, rep.Times)
	}
}

// TestLoadgenDurationAndRate checks the open-loop flags end to end, with JSON on stdout.
func TestLoadgenDurationAndRate(t *testing.T) {
	addr := startBackend(t, "backend-rate")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-c", "4", "-d", "500ms", "--rate", "400", "--path", "/info", "-o", "-", addr},
		&stdout, &stderr, false)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep struct {
		Total    int64              `json:"total_requests"`
		Service  map[string]float64 `json:"service_times"`
		Statuses map[string]int64   `json:"status_codes"`
		Config   struct {
			Requests int64   `json:"requests"`
			Rate     float64 `json:"rate"`
			Target   string  `json:"target"`
		} `json:"config"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	// 400 req/s for 0.5 s is 200 requests; allow for slow machines.
	if rep.Total < 150 || rep.Total > 201 || rep.Statuses["200"] != rep.Total {
		t.Fatalf("total %d statuses %v; want about 200 × 200", rep.Total, rep.Statuses)
	}
	if rep.Service == nil || rep.Config.Requests != 0 || rep.Config.Rate != 400 || rep.Config.Target != "/info" {
		t.Fatalf("service_times %v config %+v; want service times, no request limit, rate 400, /info", rep.Service, rep.Config)
	}
}

func TestLoadgenUsageErrors(t *testing.T) {
	f := func(args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr, false); code != 2 {
			t.Fatalf("run(%q) = %d; want 2\n%s", args, code, stderr.String())
		}
	}
	f("--no-such-flag")
	f("-n", "x")
	f("http://127.0.0.1:1/", "http://127.0.0.1:2/")
	f("-n", "0")                     // neither requests nor duration
	f("--url", "ftp://127.0.0.1:1/") // not http
	f("-H", "bad header", "-n", "1") // no colon
}
