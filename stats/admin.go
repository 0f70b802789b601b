package stats

import (
	"net/http"

	"loopgate/upstream"
)

// Content types of the admin answers.
const (
	contentPrometheus = "text/plain; version=0.0.4; charset=utf-8"
	contentJSON       = "application/json"
	contentHTML       = "text/html; charset=utf-8"
)

// NewHandler returns the admin listener's routes, for a plain net/http
// server (cold code):
//
//	GET /metrics       Prometheus text (WritePrometheus)
//	GET /api/status    AppendAPIStatus
//	GET /api/metrics   AppendAPIMetrics, polled by the dashboard
//	GET /dashboard     the dashboard page
//	GET /              redirects to /dashboard (only "/" itself)
//
// Each also answers HEAD; other methods get 405 with an Allow header. view
// returns the engine's current pools (nil means none); it is called once
// per request. The caller may register more routes on the returned mux.
func NewHandler(p *Proxy, view func() []upstream.PoolStatus) *http.ServeMux {
	pools := func() []upstream.PoolStatus {
		if view == nil {
			return nil
		}
		return view()
	}
	mux := http.NewServeMux()
	// A "GET" pattern also matches HEAD, and the mux answers other methods
	// with 405 and "Allow: GET, HEAD".
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentPrometheus)
		p.WritePrometheus(w, pools())
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, p.AppendAPIStatus(nil, pools()))
	})
	mux.HandleFunc("GET /api/metrics", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, p.AppendAPIMetrics(nil, pools()))
	})
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentHTML)
		h.Set("Cache-Control", "no-store")
		w.Write(dashboardHTML)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard", http.StatusFound)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentJSON)
	h.Set("Cache-Control", "no-store")
	w.Write(append(body, '\n'))
}
