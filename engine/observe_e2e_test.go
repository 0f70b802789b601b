package engine_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"loopgate/engine"
	"loopgate/stats"
)

// syncBuffer is an access log destination the test can read while the
// writer goroutine appends to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// echoID is a backend that answers with the request ID it received.
func echoID(t *testing.T) string {
	return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids := r.Header.Values("X-Request-ID")
		w.Header().Set("X-Seen-IDs", strings.Join(ids, ","))
		if r.URL.Path == "/own-id" {
			w.Header().Set("X-Request-ID", "backend-set")
		}
		if r.URL.Path == "/fail" {
			w.WriteHeader(503)
		}
		io.WriteString(w, "ok")
	}))
}

func TestRequestIDGeneratedAndKept(t *testing.T) {
	cfg := poolOf(echoID(t))
	cfg.RequestIDHeader = "X-Request-ID"
	_, addr := startProxy(t, cfg)
	c := dial(t, addr)

	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	wantStatus(t, r, 200)
	id := r.Header.Values("X-Request-Id")
	if len(id) != 1 || len(id[0]) != 24 || r.Header.Get("X-Seen-Ids") != id[0] {
		t.Fatalf("generated ID: response %q, backend saw %q; want one 24-hex ID, the same", id, r.Header.Get("X-Seen-Ids"))
	}
	r2 := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if id2 := r2.Header.Get("X-Request-Id"); id2 == id[0] || id2[:12] != id[0][:12] {
		t.Fatalf("second ID %q after %q: want a new one from the same loop prefix", id2, id[0])
	}

	r = c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\nx-request-id: client-7\r\n\r\n")
	if got := r.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != "client-7" || r.Header.Get("X-Seen-Ids") != "client-7" {
		t.Fatalf("client ID: response %q, backend saw %q; want client-7 once each", got, r.Header.Get("X-Seen-Ids"))
	}

	// A backend that answers with an ID of its own is not contradicted.
	r = c.roundTrip("GET", "GET /own-id HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := r.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != "backend-set" {
		t.Fatalf("backend's own ID: got %q; want [backend-set]", got)
	}
}

func TestRequestIDOff(t *testing.T) {
	_, addr := startProxy(t, poolOf(echoID(t)))
	r := dial(t, addr).roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := r.Header.Get("X-Request-Id") + r.Header.Get("X-Seen-Ids"); got != "" {
		t.Fatalf("request IDs off: got %q", got)
	}
}

// TestMetricsCountTraffic sends known traffic and checks every count.
func TestMetricsCountTraffic(t *testing.T) {
	backend := echoID(t)
	cfg := poolOf(backend)
	st := stats.New(stats.Options{})
	cfg.Stats = st
	_, addr := startProxy(t, cfg)

	c := dial(t, addr)
	for range 20 {
		wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	}
	for range 5 {
		wantStatus(t, c.roundTrip("GET", "GET /fail HTTP/1.1\r\nHost: a\r\n\r\n"), 503)
	}
	for range 2 {
		bad := dial(t, addr)
		wantStatus(t, bad.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), 400)
	}
	waitFor(t, func() bool { return st.Requests() == 27 })
	if got := st.Errors(); got != 5 {
		t.Fatalf("errors %d; want 5 (the backend's 503s)", got)
	}
	bs := st.Pool("web").Backend(backend)
	if bs.Requests() != 25 || bs.Errors() != 5 || bs.InFlight.Load() != 0 {
		t.Fatalf("backend: requests %d errors %d in flight %d; want 25, 5, 0", bs.Requests(), bs.Errors(), bs.InFlight.Load())
	}
	if n := bs.Latency().Count; n != 25 {
		t.Fatalf("backend latency samples %d; want 25", n)
	}
	var prom bytes.Buffer
	st.WritePrometheus(&prom, nil)
	for _, want := range []string{
		`loopgate_errors_total{reason="parse"} 2`,
		`loopgate_requests_total{pool="web",backend="` + backend + `",class="2xx"} 20`,
		`loopgate_requests_total{pool="web",backend="` + backend + `",class="5xx"} 5`,
	} {
		if !strings.Contains(prom.String(), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", ioTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSeedEndpoints(t *testing.T) {
	backend := echoID(t)
	cfg := poolOf(backend)
	cfg.SeedEndpoints = true
	st := stats.New(stats.Options{})
	cfg.Stats = st
	_, addr := startProxy(t, cfg)
	c := dial(t, addr)
	for range 10 {
		wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	}

	r := c.roundTrip("GET", "GET /__metrics__ HTTP/1.1\r\nHost: a\r\n\r\n")
	wantStatus(t, r, 200)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var m struct {
		Total       int64            `json:"total_requests"`
		StatusCodes map[string]int64 `json:"status_codes"`
		Times       map[string]float64
	}
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("/__metrics__ body %q: %v", r.body, err)
	}
	if m.Total != 10 || m.StatusCodes["200"] != 10 {
		t.Fatalf("/__metrics__: %+v; want 10 requests, all 200", m)
	}

	r = c.roundTrip("GET", "GET /__status__?pretty HTTP/1.1\r\nHost: a\r\n\r\n")
	wantStatus(t, r, 200)
	if !strings.Contains(r.body, `"address":"`+backend+`"`) && !strings.Contains(r.body, `"address": "`+backend+`"`) {
		t.Fatalf("/__status__ lacks the backend: %s", r.body)
	}
	r = c.roundTrip("HEAD", "HEAD /__health__ HTTP/1.1\r\nHost: a\r\n\r\n")
	wantStatus(t, r, 200)
	if r.body != "" || r.ContentLength <= 0 {
		t.Fatalf("HEAD /__health__: body %q, Content-Length %d", r.body, r.ContentLength)
	}
	r = c.roundTrip("POST", "POST /__metrics__ HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
	wantStatus(t, r, 405)
	if r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("405 Allow %q", r.Header.Get("Allow"))
	}
	// Paths that only look like one are forwarded.
	wantStatus(t, c.roundTrip("GET", "GET /__other__ HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
}

func TestSeedHealthUnavailable(t *testing.T) {
	cfg := poolOf(echoID(t))
	cfg.SeedEndpoints = true
	cfg.Pools[0].Backends[0].Weight = intPtr(0) // takes no traffic
	_, addr := startProxy(t, cfg)
	r := dial(t, addr).roundTrip("GET", "GET /__health__ HTTP/1.1\r\nHost: a\r\n\r\n")
	wantStatus(t, r, 503)
	if !strings.Contains(r.body, `"backends_available":0`) && !strings.Contains(r.body, `"backends_available": 0`) {
		t.Fatalf("/__health__ body %s", r.body)
	}
}

func TestSeedEndpointsOffAreForwarded(t *testing.T) {
	_, addr := startProxy(t, poolOf(echoID(t)))
	r := dial(t, addr).roundTrip("GET", "GET /__metrics__ HTTP/1.1\r\nHost: a\r\n\r\n")
	wantStatus(t, r, 200)
	if r.body != "ok" {
		t.Fatalf("seed endpoints off: body %q; want the backend's", r.body)
	}
}

// The seed endpoints answer only clients in seed_endpoints_allow, the
// client being the socket's peer or, behind a trusted proxy, the address it
// forwards; anyone else's request for those paths goes to the backend.
func TestSeedEndpointsAllowList(t *testing.T) {
	backend := echoID(t) // answers "ok"
	seedAnswered := func(addr, fields string) bool {
		t.Helper()
		r := dial(t, addr).roundTrip("GET", "GET /__status__ HTTP/1.1\r\nHost: a\r\n"+fields+"\r\n")
		wantStatus(t, r, 200)
		return r.body != "ok"
	}
	start := func(allow, trusted []string) string {
		cfg := poolOf(backend)
		cfg.SeedEndpoints = true
		cfg.SeedEndpointsAllow, cfg.TrustedProxies = allow, trusted
		_, addr := startProxy(t, cfg)
		return addr
	}
	if addr := start(nil, nil); !seedAnswered(addr, "") {
		t.Error("no allow list: the status was not answered")
	}
	if addr := start([]string{"127.0.0.0/8"}, nil); !seedAnswered(addr, "") {
		t.Error("loopback allowed: the status was not answered")
	}
	if addr := start([]string{"10.0.0.0/8", "192.168.0.0/16"}, nil); seedAnswered(addr, "") {
		t.Error("a client outside the list got the status")
	}
	if addr := start([]string{}, nil); seedAnswered(addr, "") {
		t.Error("an empty list let a client have the status")
	}
	// Behind a trusted proxy (this test's client), the forwarded address decides.
	addr := start([]string{"10.0.0.0/8"}, []string{"127.0.0.1"})
	if !seedAnswered(addr, "X-Forwarded-For: 10.1.2.3\r\n") {
		t.Error("a forwarded client in the list did not get the status")
	}
	if seedAnswered(addr, "X-Forwarded-For: 10.1.2.3, 203.0.113.7\r\n") {
		t.Error("a forwarded client outside the list got the status")
	}
	if seedAnswered(addr, "X-Forwarded-For: not-an-address\r\n") {
		t.Error("an unparsable forwarded client got the status")
	}
	// Without X-Forwarded-For the trusted peer itself is the client.
	if seedAnswered(addr, "") {
		t.Error("the trusted peer, outside the list, got the status")
	}
}

// TestAccessLogLines checks one JSON line per exchange, own answers and
// rejects included, with the ID the client saw.
func TestAccessLogLines(t *testing.T) {
	backend := echoID(t)
	out := &syncBuffer{}
	alog, err := stats.OpenAccessLog(stats.AccessLogOptions{Stdout: out, Log: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := poolOf(backend)
	cfg.AccessLog = alog
	cfg.RequestIDHeader = "X-Request-ID"
	srv, addr := startProxy(t, cfg)
	c := dial(t, addr)
	var ids []string
	for i := range 5 {
		r := c.roundTrip("GET", fmt.Sprintf("GET /n/%d?q=\"x\" HTTP/1.1\r\nHost: a\r\n\r\n", i))
		wantStatus(t, r, 200)
		ids = append(ids, r.Header.Get("X-Request-Id"))
	}
	bad := dial(t, addr)
	wantStatus(t, bad.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400)
	_ = srv

	type line struct {
		Client    string  `json:"client"`
		Method    string  `json:"method"`
		Target    string  `json:"target"`
		Status    int     `json:"status"`
		BytesIn   int64   `json:"bytes_in"`
		BytesOut  int64   `json:"bytes_out"`
		Duration  float64 `json:"duration_ms"`
		Upstream  string  `json:"upstream"`
		RequestID string  `json:"request_id"`
		Reason    string  `json:"reason"`
	}
	var lines []line
	waitFor(t, func() bool {
		lines = lines[:0]
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("access log line %q: %v", sc.Text(), err)
			}
			lines = append(lines, l)
		}
		return len(lines) == 6
	})
	for i, l := range lines[:5] {
		want := fmt.Sprintf("/n/%d?q=\"x\"", i)
		if l.Client != "127.0.0.1" || l.Method != "GET" || l.Target != want || l.Status != 200 ||
			l.Upstream != backend || l.RequestID != ids[i] || l.BytesIn == 0 || l.BytesOut == 0 || l.Reason != "" {
			t.Fatalf("line %d: %+v; want GET %s 200 via %s with ID %s", i, l, want, backend, ids[i])
		}
	}
	if l := lines[5]; l.Status != 400 || l.Reason != "parse" || l.Upstream != "" {
		t.Fatalf("reject line: %+v; want 400, reason parse, no upstream", l)
	}
}

func TestMaxConnectionsCounted(t *testing.T) {
	cfg := poolOf(echoID(t))
	cfg.MaxConnections = 1
	st := stats.New(stats.Options{})
	cfg.Stats = st
	_, addr := startProxy(t, cfg)
	first := dial(t, addr)
	wantStatus(t, first.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	second := dial(t, addr)
	wantStatus(t, second.read("GET"), 503)
	// The refusal is counted just after its 503 is written: the client may
	// read it first.
	waitFor(t, func() bool {
		var prom bytes.Buffer
		st.WritePrometheus(&prom, nil)
		return strings.Contains(prom.String(), `loopgate_errors_total{reason="limit"} 1`+"\n")
	})
}

var _ = engine.Config{}

// blockedWriter never returns from Write until released: a disk that hangs.
type blockedWriter struct{ release chan struct{} }

func (b blockedWriter) Write(p []byte) (int, error) {
	<-b.release
	return len(p), nil
}

// TestAccessLogBlockedWriterDoesNotStall keeps serving while the log writer
// is stuck, and counts what it could not write.
func TestAccessLogBlockedWriterDoesNotStall(t *testing.T) {
	w := blockedWriter{release: make(chan struct{})}
	alog, err := stats.OpenAccessLog(stats.AccessLogOptions{Stdout: w, BufferSize: 512, Queue: 1, Log: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := poolOf(echoID(t))
	cfg.AccessLog = alog
	_, addr := startProxy(t, cfg)
	c := dial(t, addr)
	const n = 300
	start := time.Now()
	for range n {
		wantStatus(t, c.roundTrip("GET", "GET /a/rather/long/path/so/that/lines/fill/buffers HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("%d requests took %v with a stuck log writer", n, d)
	}
	waitFor(t, func() bool { return alog.Dropped() > 0 })
	close(w.release)
	// Everything appended is written or counted as dropped, once the loops
	// have handed over their last lines (at shutdown, or the next sweep).
	waitFor(t, func() bool { return alog.Written()+alog.Dropped() == n })
	if alog.Written() == 0 {
		t.Fatalf("nothing written after the writer was released (dropped %d)", alog.Dropped())
	}
	alog.Close()
}

// TestLatencyMetrics: a backend that takes 20 ms shows 20 ms and a little,
// in the total and the per-backend histograms, and in /__metrics__.
func TestLatencyMetrics(t *testing.T) {
	backend := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	cfg := poolOf(backend)
	st := stats.New(stats.Options{})
	cfg.Stats, cfg.SeedEndpoints = st, true
	_, addr := startProxy(t, cfg)
	c := dial(t, addr)
	for range 10 {
		wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	}
	within := func(what string, d time.Duration) {
		t.Helper()
		if d < 20*time.Millisecond || d > 150*time.Millisecond {
			t.Errorf("%s %v; want 20ms and a little", what, d)
		}
	}
	tot := st.Total()
	within("total p50", tot.Quantile(0.5))
	within("total min", tot.Min)
	within("total mean", tot.Mean())
	within("backend mean", st.Pool("web").Backend(backend).Latency().Mean())
	var m struct {
		Times struct{ Average, Minimum, Maximum, P95, P99 float64 } `json:"response_times"`
	}
	if err := json.Unmarshal([]byte(c.roundTrip("GET", "GET /__metrics__ HTTP/1.1\r\nHost: a\r\n\r\n").body), &m); err != nil {
		t.Fatal(err)
	}
	for name, ms := range map[string]float64{"average": m.Times.Average, "minimum": m.Times.Minimum, "p95": m.Times.P95, "p99": m.Times.P99} {
		within("/__metrics__ "+name, time.Duration(ms*float64(time.Millisecond)))
	}
}

// TestAccessLogCombined: the combined format, with the agent and referer
// the client sent.
func TestAccessLogCombined(t *testing.T) {
	out := &syncBuffer{}
	alog, err := stats.OpenAccessLog(stats.AccessLogOptions{Stdout: out, Format: "combined", Log: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	backend := echoID(t)
	cfg := poolOf(backend)
	cfg.AccessLog, cfg.RequestIDHeader = alog, "X-Request-ID"
	_, addr := startProxy(t, cfg)
	r := dial(t, addr).roundTrip("GET", "GET /x?y=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: test/1.0 (\"q\")\r\nReferer: http://r/\r\n\r\n")
	wantStatus(t, r, 200)
	id := r.Header.Get("X-Request-Id")
	line := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /x\?y=1 HTTP/1\.1" 200 \d+ "http://r/" "test/1\.0 \(\\x22q\\x22\)" rt=\d+\.\d{3} uct=\d+\.\d{3} urt=\d+\.\d{3} upstream=` +
		regexp.QuoteMeta(backend) + ` rid=` + id + ` retries=0 reason=-\n$`)
	waitFor(t, func() bool { return strings.Contains(out.String(), "\n") })
	if !line.MatchString(out.String()) {
		t.Fatalf("combined line %q does not match %s", out.String(), line)
	}
}
