package stats

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loopgate/upstream"
)

func TestNewHandler(t *testing.T) {
	p, _, _ := seedProxy()
	views := 0
	mux := NewHandler(p, func() []upstream.PoolStatus { views++; return statusPools() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	do := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: cannot read body: %v", method, path, err)
		}
		return resp, body
	}
	f := func(method, path string, wantCode int, wantType string) []byte {
		t.Helper()
		resp, body := do(method, path)
		if resp.StatusCode != wantCode {
			t.Fatalf("%s %s: status %d; want %d (%s)", method, path, resp.StatusCode, wantCode, body)
		}
		if got := resp.Header.Get("Content-Type"); wantType != "" && got != wantType {
			t.Fatalf("%s %s: Content-Type %q; want %q", method, path, got, wantType)
		}
		if method == http.MethodHead && len(body) != 0 {
			t.Fatalf("HEAD %s: %d body bytes", path, len(body))
		}
		return body
	}

	body := f("GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8")
	samples, _ := parseProm(t, string(body))
	if findSample(t, samples, "loopgate_requests_total") != 7 {
		t.Fatalf("/metrics: loopgate_requests_total is not 7")
	}
	if findSample(t, samples, "loopgate_backend_up", "pool", "web", "backend", "10.0.0.2:80") != 1 {
		t.Fatal("/metrics does not use the view")
	}
	f("HEAD", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8")

	body = f("GET", "/api/status", 200, "application/json")
	m := wantKeys(t, "/api/status", bytes.TrimSuffix(body, []byte("\n")), "uptime_seconds", "total_requests", "pools", "backends")
	wantRaw(t, "total_requests", m["total_requests"], "7")
	if n := len(array(t, m["backends"])); n != 3 {
		t.Fatalf("/api/status: %d backends; want 3", n)
	}
	if !bytes.Contains(body, []byte(`"transitions"`)) {
		t.Fatal("/api/status is not the API document")
	}

	body = f("GET", "/api/metrics", 200, "application/json")
	wantKeys(t, "/api/metrics", bytes.TrimSuffix(body, []byte("\n")), apiMetricsKeys...)
	f("HEAD", "/api/metrics", 200, "application/json")

	resp, body := do("GET", "/dashboard")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		resp.Header.Get("Cache-Control") != "no-store" || !bytes.Equal(body, dashboardHTML) {
		t.Fatalf("/dashboard: %d %q %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"),
			resp.Header.Get("Cache-Control"), len(body))
	}
	f("HEAD", "/dashboard", 200, "text/html; charset=utf-8")

	for _, method := range []string{"GET", "HEAD"} {
		resp, _ = do(method, "/")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/dashboard" {
			t.Fatalf("%s /: %d Location %q; want 302 to /dashboard", method, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	f("GET", "/dashboard/", 404, "")
	f("GET", "/index.html", 404, "")
	f("GET", "/api", 404, "")

	for _, path := range []string{"/metrics", "/api/status", "/api/metrics", "/dashboard", "/"} {
		for _, method := range []string{"POST", "PUT", "DELETE"} {
			resp, _ := do(method, path)
			allow := resp.Header.Get("Allow")
			if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(allow, "GET") || !strings.Contains(allow, "HEAD") {
				t.Fatalf("%s %s: %d Allow %q; want 405 with GET, HEAD", method, path, resp.StatusCode, allow)
			}
		}
	}
	if views == 0 {
		t.Fatal("the view was never called")
	}

	// More routes can be added; a nil view means no pools.
	mux = NewHandler(New(Options{}), nil)
	mux.HandleFunc("GET /extra", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/extra", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("added route: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/status", nil))
	var st struct{ Pools, Backends []json.RawMessage }
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Pools == nil || len(st.Pools) != 0 || len(st.Backends) != 0 {
		t.Fatalf("nil view: %v %s", err, rec.Body.Bytes())
	}
}
