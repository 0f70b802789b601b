package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildBinary builds a package of this module into dir.
func buildBinary(t *testing.T, dir, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	if b, err := exec.Command(goTool, "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("cannot build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// checkOutputs renders res every way and checks the renderings parse and name every row.
func checkOutputs(t *testing.T, res *BenchResult, proxies []string) {
	t.Helper()
	var table, md, js, svg bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	for _, p := range proxies {
		if !strings.Contains(table.String(), p) || !strings.Contains(md.String(), "| "+p+" |") {
			t.Fatalf("table or markdown lacks %s", p)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	for _, k := range []string{"tool", "schema_version", "host", "settings", "proxies", "runs", "summary", "idle", "notes"} {
		if _, ok := back[k]; !ok {
			t.Fatalf("JSON lacks %q", k)
		}
	}
	dec := xml.NewDecoder(&svg)
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
}

// TestBenchSmoke is `make perf QUICK=1` in short: every proxy, wrk, nginx backends.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts proxies and loads them")
	}
	for _, tool := range []string{"wrk", "nginx", "haproxy"} {
		if !installed(tool) {
			t.Skipf("%s is not installed (apt-get install wrk nginx-light haproxy)", tool)
		}
	}
	dir := t.TempDir()
	lg := buildBinary(t, dir, "loopgate/cmd/loopgate")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Bench(ctx, BenchConfig{Loopgate: lg, Quick: true, IdleConns: 300, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Summary) != len(AllProxies) || len(res.Idle) != len(AllProxies) {
		t.Fatalf("got %d summary rows and %d idle rows; want %d each; notes %q",
			len(res.Summary), len(res.Idle), len(AllProxies), res.Notes)
	}
	for _, s := range res.Summary {
		if s.RPS.Median <= 0 || s.CPUus.Median <= 0 || s.P99.Median <= 0 || s.Errors+s.Non2xx > 0 {
			t.Fatalf("implausible row %+v", s)
		}
		if s.RPSvsHA == 0 || s.CPUvsHA == 0 {
			t.Fatalf("row %s lacks ratios to HAProxy: %+v", s.Proxy, s)
		}
		// A proxy reads a request and writes it on, at the least; with keep-alive and
		// epoll batching no proxy here needs 20 calls per request.
		if res.Settings.SyscallsBy != "" && (s.Syscalls < 2 || s.Syscalls > 20) {
			t.Errorf("row %s: %.2f system calls per request counted with %s", s.Proxy, s.Syscalls, res.Settings.SyscallsBy)
		}
	}
	for _, r := range res.Idle {
		if r.Conns != 300 || r.Failed != 0 || r.RSSAfter <= 0 {
			t.Fatalf("idle row %+v; want 300 connections open", r)
		}
	}
	if res.Settings.Load != "wrk -t1" || res.Settings.Backends != "nginx" {
		t.Fatalf("settings %+v; want wrk and nginx", res.Settings)
	}
	checkOutputs(t, res, AllProxies)
}

// TestBenchWithoutTools is the fallback path: cmd/backend backends and the load generator,
// loopgate only. It needs none of wrk, nginx or HAProxy.
func TestBenchWithoutTools(t *testing.T) {
	if testing.Short() {
		t.Skip("starts loopgate and backends")
	}
	if err := supported(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	lg := buildBinary(t, dir, "loopgate/cmd/loopgate")
	be := buildBinary(t, dir, "loopgate/cmd/backend")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Bench(ctx, BenchConfig{
		Loopgate: lg, Backend: be, Backends: "go", Load: "loadgen", Proxies: []string{proxyLoopgate},
		Quick: true, IdleConns: 100, Sizes: []int{100, 2000}, Log: testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Summary) != 2 || res.Summary[0].RPS.Median <= 0 || res.Summary[1].RPS.Median <= 0 {
		t.Fatalf("summary %+v; want two rows with req/s", res.Summary)
	}
	if res.Summary[0].RPSvsHA != 0 {
		t.Fatalf("ratio to HAProxy %v without HAProxy; want 0", res.Summary[0].RPSvsHA)
	}
	if res.Settings.Load != "loadgen (GOMAXPROCS=1)" || res.Settings.Backends != "cmd/backend" {
		t.Fatalf("settings %+v", res.Settings)
	}
	checkOutputs(t, res, []string{proxyLoopgate})
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func TestStatOf(t *testing.T) {
	f := func(xs []float64, want Stat) {
		t.Helper()
		if got := statOf(xs, func(x float64) float64 { return x }); got != want {
			t.Fatalf("statOf(%v) = %+v; want %+v", xs, got, want)
		}
	}
	f(nil, Stat{})
	f([]float64{3}, Stat{3, 3, 3})
	f([]float64{5, 1, 3}, Stat{3, 1, 5})
	f([]float64{4, 1, 3, 2}, Stat{2.5, 1, 4})
	if s := (Stat{Median: 100, Min: 95, Max: 110}).Spread(); s != 15 {
		t.Fatalf("spread %v; want 15", s)
	}
}

func TestNiceScale(t *testing.T) {
	f := func(v, wantTop, wantStep float64) {
		t.Helper()
		top, step := niceScale(v)
		if top != wantTop || step != wantStep {
			t.Fatalf("niceScale(%v) = %v, %v; want %v, %v", v, top, step, wantTop, wantStep)
		}
	}
	f(0, 1, 0.25)
	f(29324, 30000, 10000)
	f(33.5, 40, 10)
	f(4862, 6000, 2000)
	f(7.79, 8, 2)
	f(100, 100, 25)
}

func TestCompact(t *testing.T) {
	f := func(v float64, want string) {
		t.Helper()
		if got := compact(v); got != want {
			t.Fatalf("compact(%v) = %q; want %q", v, got, want)
		}
	}
	f(0, "0")
	f(0.123, "0.12")
	f(14.23, "14.2")
	f(659, "659")
	f(29324, "29.3k")
	f(1.5e6, "1.5M")
}
