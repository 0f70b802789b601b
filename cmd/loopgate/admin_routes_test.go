package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// The admin API changes routes like pools: POST /api/routes adds one (with
// the keys of a [[route]] table), DELETE removes one; refusals change
// nothing; changes are kept in the state file and survive a restart and a
// SIGHUP-style reload of the unchanged config file, which is never rewritten.
func TestAdminRoutes(t *testing.T) {
	b1 := startTestBackend(t, "b1", 0)
	dir := t.TempDir()
	routes := "\n[[route]]\nname = \"home\"\npath = \"/\"\npool = \"web\"\n\n[[route]]\nname = \"old\"\npath_prefix = \"/old/\"\nredirect = \"/new/$rest\"\n"
	path := adminConfig(t, dir, freeAddr(t), "round_robin", routes, b1.addr)
	r := startApp(t, path)
	get := func(r *runningApp, p string) int {
		t.Helper()
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get("http://" + r.proxy + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if get(r, "/api/x") != 404 {
		t.Fatal("/api/x routed before the route was added")
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/routes", `{"path_prefix": "/api/", "pool": "web"}`, 400},                 // no name
		{"POST", "/api/routes", `{"name": "api", "path_prefix": "/api/", "pool": "nope"}`, 400}, // unknown pool
		{"POST", "/api/routes", `{"name": "api", "path_prefix": "/api/", "pool": "web", "paht": 1}`, 400},
		{"POST", "/api/routes", `{"name": "home", "path": "/x", "pool": "web"}`, 409}, // name taken
		{"POST", "/api/routes", `not json`, 400},
		{"DELETE", "/api/routes/nope", ``, 404},
	} {
		if code, m := r.call(t, c.method, c.path, c.body); code != c.want {
			t.Errorf("%s %s %s: %d %v; want %d", c.method, c.path, c.body, code, m, c.want)
		}
	}
	if _, err := os.Stat(statePath(r.cfg, path)); err == nil {
		t.Fatal("a refused call wrote the state file")
	}
	if code, m := r.call(t, "POST", "/api/routes", `{"name": "api", "path_prefix": "/api/", "pool": "web", "strip_prefix": "/api"}`); code != 201 {
		t.Fatalf("add: %d %v", code, m)
	}
	if code, m := r.call(t, "DELETE", "/api/routes/old", ``); code != 200 {
		t.Fatalf("remove: %d %v", code, m)
	}
	check := func(r *runningApp, when string) {
		t.Helper()
		if get(r, "/api/x") != 200 || get(r, "/old/x") != 404 || get(r, "/") != 200 {
			t.Errorf("%s: /api/x %d, /old/x %d, / %d; want 200, 404, 200", when, get(r, "/api/x"), get(r, "/old/x"), get(r, "/"))
		}
	}
	check(r, "after the changes")
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	check(r, "after a reload")
	r.stop()
	r2 := startApp(t, path)
	check(r2, "after a restart")
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "/api/") {
		t.Fatal("the config file was rewritten")
	}
	// Removing an added route takes it out of the state file; the last
	// route cannot go.
	if code, _ := r2.call(t, "DELETE", "/api/routes/api", ``); code != 200 {
		t.Fatalf("remove api: %d", code)
	}
	if code, _ := r2.call(t, "DELETE", "/api/routes/home", ``); code != 409 {
		t.Fatalf("removing the last route: %d; want 409", code)
	}
	st, err := loadState(statePath(r2.cfg, path))
	if err != nil || st.Routes == nil || len(st.Routes.Added) != 0 || len(st.Routes.Removed) != 1 || st.Routes.Removed[0] != "old" {
		t.Fatalf("state: %+v %v", st.Routes, err)
	}
}

// DELETE /api/cache purges by key, prefix or all; without one it is
// refused, and with the cache off it says so.
func TestAdminCachePurge(t *testing.T) {
	b := startTestBackend(t, "b", 0)
	cached := startTestBackendWith(t, "cached", "max-age=60")
	dir := t.TempDir()
	path := adminConfig(t, dir, freeAddr(t), "round_robin", "\n[[pool]]\nname = \"c\"\ncache = true\n[[pool.backend]]\naddress = \""+cached.addr+"\"\n\n[[route]]\npath_prefix = \"/c/\"\npool = \"c\"\n[[route]]\npool = \"web\"\n", b.addr)
	r := startApp(t, path)
	xcache := func() string {
		resp, err := http.Get("http://" + r.proxy + "/c/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get("X-Cache")
	}
	if a, b := xcache(), xcache(); a != "MISS" || b != "HIT" {
		t.Fatalf("X-Cache %q then %q", a, b)
	}
	host, _, _ := strings.Cut(r.proxy, ":") // keys name the host without its port
	if code, m := r.call(t, "DELETE", "/api/cache", ""); code != 400 {
		t.Errorf("no key: %d %v", code, m)
	}
	if code, m := r.call(t, "DELETE", "/api/cache?key="+host+"/c/x", ""); code != 200 || m["purged"] != float64(1) {
		t.Errorf("purge key: %d %v", code, m)
	}
	if a := xcache(); a != "MISS" {
		t.Errorf("after the purge: %q", a)
	}
	if code, m := r.call(t, "DELETE", "/api/cache?all=1", ""); code != 200 || m["purged"] != float64(1) {
		t.Errorf("flush: %d %v", code, m)
	}
	off := startApp(t, adminConfig(t, t.TempDir(), freeAddr(t), "round_robin", "", b.addr))
	if code, _ := off.call(t, "DELETE", "/api/cache?all=1", ""); code != 409 {
		t.Errorf("with the cache off: %d; want 409", code)
	}
}

// startTestBackendWith is startTestBackend whose answers carry Cache-Control cc.
func startTestBackendWith(t *testing.T, name, cc string) *testBackend {
	b := &testBackend{name: name}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.served.Add(1)
		w.Header().Set("Cache-Control", cc)
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	b.addr = srv.Listener.Addr().String()
	return b
}
