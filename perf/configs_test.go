package perf

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPolicyConfsCount checks that each policy configuration holds every host route and
// that the plain ones hold none of the policy.
func TestPolicyConfsCount(t *testing.T) {
	be := []string{"127.0.0.1:1", "127.0.0.1:2"}
	f := func(name, conf, routeLine string, want int) {
		t.Helper()
		if got := strings.Count(conf, routeLine); got != want {
			t.Fatalf("%s: %d lines with %q; want %d", name, got, routeLine, want)
		}
	}
	f("loopgate policy", loopgateConf("127.0.0.1:9", be, lgConf{loops: 1, maxConns: 100, policy: true}), "[[route]]", policyRoutes)
	f("loopgate plain", loopgateConf("127.0.0.1:9", be, lgConf{loops: 1, maxConns: 100}), "[[route]]", 0)
	f("haproxy map", haproxyRoutes(), ".example.com/svc", policyRoutes-1)
	f("haproxy plain", haproxyConf("/d", "127.0.0.1:9", be, 100, false), "stick-table", 0)
	f("nginx policy", nginxProxyConf("/d", "127.0.0.1:9", be, 100, true), "server_name svc", policyRoutes-1)
	f("nginx plain", nginxProxyConf("/d", "127.0.0.1:9", be, 100, false), "limit_req", 0)
}

// policyBackend is a tiny backend for TestPolicyConfs: it answers "body of PATH" with a
// Server header of its own and remembers what it was sent.
type policyBackend struct {
	mu    sync.Mutex
	path  string
	xEnv  string
	calls int
}

const policyBackendServer = "policy-test-backend"

func (pb *policyBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pb.mu.Lock()
	pb.path, pb.xEnv = r.URL.RequestURI(), r.Header.Get("X-Env")
	pb.calls++
	pb.mu.Unlock()
	w.Header().Set("Server", policyBackendServer)
	io.WriteString(w, "body of "+r.URL.RequestURI())
}

func (pb *policyBackend) last() (path, xEnv string, calls int) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.path, pb.xEnv, pb.calls
}

// TestPolicyConfs starts each proxy with its policy configuration in front of one tiny
// backend and checks that they do the same: the load's route strips its prefix and applies
// the header rules, a host route forwards, anything else gets 404. Proxies that are not
// installed are skipped.
func TestPolicyConfs(t *testing.T) {
	pb := &policyBackend{}
	backends := []string{startConfBackend(t, pb)}

	for _, name := range []string{proxyLoopgate, proxyHAProxy, proxyNginx} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var argv []string
			conf := filepath.Join(dir, name+".conf")
			port, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			addr := "127.0.0.1:" + strconv.Itoa(port)
			var text string
			switch name {
			case proxyLoopgate:
				lg := buildBinary(t, dir, "loopgate/cmd/loopgate")
				conf = filepath.Join(dir, name+".toml")
				text, argv = loopgateConf(addr, backends, lgConf{loops: 1, maxConns: 1000, policy: true}), []string{lg, "-config", conf}
			case proxyHAProxy:
				if !installed("haproxy") {
					t.Skip("haproxy is not installed")
				}
				text, argv = haproxyConf(dir, addr, backends, 1000, true), []string{"haproxy", "-db", "-f", conf}
			case proxyNginx:
				if !installed("nginx") {
					t.Skip("nginx is not installed")
				}
				text, argv = nginxProxyConf(dir, addr, backends, 1000, true), []string{"nginx", "-p", dir, "-c", conf}
			}
			if err := writePolicyFiles(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			ps := &procSet{dir: dir}
			defer ps.stopAll()
			p, err := ps.start(name, argv...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := waitReady(ctx, "http://"+addr+policyPrefix+"/100", p); err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			get := func(host, path string) (*http.Response, string) {
				t.Helper()
				req, err := http.NewRequest("GET", "http://"+addr+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if host != "" {
					req.Host = host
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("GET %s (Host %q): %v\n%s", path, host, err, p.tail())
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp, string(body)
			}

			host, prefix := policyHost(policyRoutes / 2)
			// The load's route takes any host, a host route's host too.
			for _, h := range []string{"", host} {
				resp, body := get(h, policyPrefix+"/100")
				path, xEnv, _ := pb.last()
				if resp.StatusCode != 200 || body != "body of /100" {
					t.Fatalf("GET %s/100 (Host %q): %d %q; want 200 %q", policyPrefix, h, resp.StatusCode, body, "body of /100")
				}
				if path != "/100" || xEnv != "bench" {
					t.Fatalf("Host %q: backend saw path %q X-Env %q; want /100 and bench", h, path, xEnv)
				}
				if got := resp.Header.Get("X-Served-By"); got != "bench" {
					t.Fatalf("Host %q: X-Served-By %q; want bench", h, got)
				}
				if got := resp.Header.Get("Server"); got == policyBackendServer {
					t.Fatalf("Host %q: the backend's Server header %q came through", h, got)
				}
			}

			resp, body := get(host, prefix+"x")
			path, xEnv, _ := pb.last()
			if resp.StatusCode != 200 || path != prefix+"x" || xEnv != "" || resp.Header.Get("X-Served-By") != "" {
				t.Fatalf("GET %sx on %s: %d %q, backend saw %q X-Env %q; want 200 through, unchanged, no rules",
					prefix, host, resp.StatusCode, body, path, xEnv)
			}

			_, _, calls := pb.last()
			for _, c := range []struct{ host, path string }{{"", "/nope"}, {"", prefix + "x"}, {host, "/nope"}} {
				if resp, body := get(c.host, c.path); resp.StatusCode != 404 {
					t.Fatalf("GET %s (Host %q): %d %q; want 404", c.path, c.host, resp.StatusCode, body)
				}
			}
			if _, _, n := pb.last(); n != calls {
				t.Fatalf("unrouted requests reached the backend: %d calls; want %d", n, calls)
			}
		})
	}
}

// startConfBackend skips a test that starts proxies when they cannot run
// (-short, an unsupported system), and otherwise serves h on loopback
// until the test ends; it returns its address.
func startConfBackend(t *testing.T, h http.Handler) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts proxies")
	}
	if err := supported(); err != nil {
		t.Skip(err)
	}
	ln, err := listenLocal()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
