package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardBrowser builds the loopgate binary, runs it in front of two
// loopback backends with traffic flowing, and opens /dashboard in headless
// Chromium: the page must show live numbers that move and a row per backend,
// fit a laptop's and a phone's width, and say so when loopgate goes away. It
// leaves full-page screenshots (dashboard.png, dashboard-phone.png,
// dashboard-disconnected.png) in $LOOPGATE_SCREENSHOT_DIR (default
// testdata/out). Without a browser it skips, unless LOOPGATE_REQUIRE_BROWSER=1
// (CI sets it when it could install one).
func TestDashboardBrowser(t *testing.T) {
	browser := needBrowser(t)

	dir := t.TempDir()
	bin := buildDashboardBinary(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bctx, bcancel := startDashboardBrowser(t, ctx, browser)
	defer bcancel()

	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/c/") {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		io.WriteString(w, "fast\n")
	}))
	defer fast.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/c/") {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		time.Sleep(2 * time.Millisecond)
		io.WriteString(w, "slow\n")
	}))
	defer slow.Close()
	backends := []string{fast.Listener.Addr().String(), slow.Listener.Addr().String()}

	proxyAddr, adminAddr := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "loopgate.toml")
	toml := fmt.Sprintf(`[server]
listen = %q
access_log = false

[admin]
listen = %q

[[pool]]
name = "web"
algorithm = "round_robin"

  [[pool.backend]]
  address = %q

  [[pool.backend]]
  address = %q

[[route]]
name = "all"
pool = "web"
rate_limit = "rl"

[[route]]
name = "cached"
path_prefix = "/c/"
pool = "web"
cache = true

[[rate_limit]]
name = "rl"
rate = 1000000
`, proxyAddr, adminAddr, backends[0], backends[1])
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}

	stop := runLoopgate(t, ctx, bin, cfg, "http://"+adminAddr+"/api/metrics")

	// Traffic through the proxy from a few goroutines, until the test ends
	// (or 20s have passed).
	tctx, stopTraffic := context.WithTimeout(ctx, 20*time.Second)
	var wg sync.WaitGroup
	defer func() { stopTraffic(); wg.Wait() }()
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 3 { // one client asks for one cacheable path
				sendDashboardTraffic(tctx, "http://"+proxyAddr+"/c/"+strconv.Itoa(i))
				return
			}
			sendDashboardTraffic(tctx, "http://"+proxyAddr+"/")
		}()
	}

	// One action reads everything the test checks, so a read cannot straddle
	// the page's once-a-second update.
	view := chromedp.Evaluate[dashboardView](dashboardViewJS)
	err := chromedp.Do(bctx,
		chromedp.Navigate("http://"+adminAddr+"/dashboard"),
		chromedp.Poll[chromedp.Void](`Number(document.getElementById("total-requests").textContent.replace(/[^0-9.]/g, "")) > 0`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)),
	)
	if err != nil {
		t.Fatalf("the dashboard did not show any requests: %v", err)
	}
	before, err := chromedp.Run(bctx, view)
	if err != nil {
		t.Fatalf("cannot read the dashboard: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Sleep(2500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	after, err := chromedp.Run(bctx, view)
	if err != nil {
		t.Fatalf("cannot read the dashboard: %v", err)
	}
	t.Logf("before: %+v", before)
	t.Logf("after:  %+v", after)

	if after.Banner {
		t.Errorf("the disconnected banner is shown")
	}
	if n0, n1 := dashboardNumber(t, "total-requests", before.Total), dashboardNumber(t, "total-requests", after.Total); n1 <= n0 {
		t.Errorf("#total-requests went from %v to %v; want it to grow", n0, n1)
	}
	if rps := dashboardNumber(t, "rps", after.RPS); rps <= 0 {
		t.Errorf("#rps = %v; want > 0", rps)
	}
	if p95 := dashboardNumber(t, "p95", after.P95); p95 <= 0 {
		t.Errorf("#p95 = %v; want > 0", p95)
	}
	if len(after.Backends) != len(backends) {
		t.Errorf("%d backend rows; want %d", len(after.Backends), len(backends))
	}
	for _, addr := range backends {
		row, ok := after.Backends[addr]
		if !ok {
			t.Errorf("no row with data-backend=%q", addr)
			continue
		}
		if row.State != "up" {
			t.Errorf("backend %s: state %q; want \"up\"", addr, row.State)
		}
		if share, ok := strings.CutSuffix(row.Share, "%"); !ok || dashboardNumber(t, addr+" share", share) <= 0 {
			t.Errorf("backend %s: share %q; want a positive percentage", addr, row.Share)
		}
	}

	// The routes and rate limits tables count the same traffic.
	if v, ok := after.Routes["all"]; !ok || dashboardNumber(t, "route all", v) <= 0 {
		t.Errorf("routes table: %v; want a row \"all\" with requests", after.Routes)
	}
	if v, ok := after.Limits["rl"]; !ok || dashboardNumber(t, "rate limit rl", v) <= 0 {
		t.Errorf("rate limits table: %v; want a row \"rl\" with allowed requests", after.Limits)
	}
	// The cache card: one client asks for one cacheable path over and over,
	// so nearly every lookup is a hit.
	if ratio, ok := strings.CutSuffix(after.CacheRatio, "%"); !ok || dashboardNumber(t, "cache hit ratio", ratio) < 50 ||
		dashboardNumber(t, "cache hits", after.CacheHits) <= 0 || !after.CacheShown {
		t.Errorf("cache card: shown %v, hit ratio %q, hits %q; want a ratio above 50%% and hits", after.CacheShown, after.CacheRatio, after.CacheHits)
	}

	// The page must fit a laptop's and a phone's width (wide tables scroll
	// inside their card). A full-page screenshot of each is kept.
	phone := []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulatePortrait, chromedp.EmulateMobile}
	for _, v := range []struct {
		name          string
		width, height int64
		opts          []chromedp.EmulateViewportOption
	}{
		{"dashboard.png", 1280, 800, nil},
		{"dashboard-phone.png", 390, 844, phone},
	} {
		err := chromedp.Do(bctx,
			chromedp.EmulateViewport(v.width, v.height, v.opts...),
			chromedp.Sleep(300*time.Millisecond), // the charts redraw on resize
		)
		if err != nil {
			t.Fatalf("cannot resize the viewport: %v", err)
		}
		overflow, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
		if err != nil {
			t.Fatalf("cannot measure the page: %v", err)
		}
		if overflow > 0 {
			t.Errorf("at %dx%d the page is %dpx wider than the screen", v.width, v.height, overflow)
		}
		dashboardScreenshot(t, bctx, v.name, v.width, v.opts...)
	}

	// Without loopgate the page says so, and keeps trying.
	stopTraffic()
	wg.Wait()
	stop()
	err = chromedp.Do(bctx, chromedp.Poll[chromedp.Void](`document.getElementById("banner").offsetParent !== null`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		t.Fatalf("no disconnected banner 5s after loopgate stopped: %v", err)
	}
	dashboardScreenshot(t, bctx, "dashboard-disconnected.png", 390, phone...)
}

// dashboardScreenshot saves a screenshot of the whole page at the given
// width. It first makes the viewport as tall as the page: below a short
// viewport, Chromium sometimes leaves a table that scrolls sideways blank.
func dashboardScreenshot(t *testing.T, ctx context.Context, name string, width int64, opts ...chromedp.EmulateViewportOption) {
	t.Helper()
	height, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollHeight`))
	if err != nil {
		t.Fatalf("cannot measure the page: %v", err)
	}
	err = chromedp.Do(ctx, chromedp.EmulateViewport(width, height, opts...), chromedp.Sleep(300*time.Millisecond))
	if err != nil {
		t.Fatalf("cannot resize the viewport: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("cannot take a screenshot: %v", err)
	}
	t.Logf("screenshot: %s", saveDashboardScreenshot(t, name, png))
}

// saveDashboardScreenshot writes png as name into $LOOPGATE_SCREENSHOT_DIR (default
// testdata/out) and returns its path.
func saveDashboardScreenshot(t *testing.T, name string, png []byte) string {
	t.Helper()
	dir := os.Getenv("LOOPGATE_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path
}

// startDashboardBrowser starts headless Chromium with one tab, which lives
// until ctx ends or cancel is called. Chromium sometimes dies while starting
// (in our container about one launch in fifty, more under load, with no
// message but crashpad's), so it makes three attempts.
func startDashboardBrowser(t *testing.T, ctx context.Context, path string) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // CI may run as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
	)
	for attempt := 1; ; attempt++ {
		actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		err := chromedp.Do(bctx) // the first run starts the browser
		if err == nil {
			return bctx, func() { bcancel(); acancel() }
		}
		bcancel()
		acancel()
		if attempt == 3 || ctx.Err() != nil {
			t.Fatalf("cannot start %s: %v", path, err)
		}
		t.Logf("cannot start %s (attempt %d), trying again: %v", path, attempt, err)
	}
}

// dashboardView is what the test reads off the page (dashboardViewJS).
type dashboardView struct {
	RPS, Total, P95 string
	Banner          bool
	Backends        map[string]struct{ State, Share string }
	Routes          map[string]string // route name -> requests cell
	Limits          map[string]string // rule name -> allowed cell
	CacheShown      bool
	CacheRatio      string
	CacheHits       string
}

const dashboardViewJS = `(() => {
	const text = (id) => document.getElementById(id).textContent;
	const backends = {};
	for (const tr of document.querySelectorAll("tr[data-backend]")) {
		backends[tr.dataset.backend] = {State: tr.querySelector(".state").textContent, Share: tr.querySelector(".share").textContent};
	}
	const routes = {}, limits = {};
	for (const tr of document.querySelectorAll("tr[data-route]")) routes[tr.dataset.route] = tr.querySelector(".requests").textContent;
	for (const tr of document.querySelectorAll("tr[data-limit]")) limits[tr.dataset.limit] = tr.querySelector(".allowed").textContent;
	return {RPS: text("rps"), Total: text("total-requests"), P95: text("p95"),
		Banner: document.getElementById("banner").offsetParent !== null, Backends: backends, Routes: routes, Limits: limits,
		CacheShown: !document.getElementById("cache-card").hidden, CacheRatio: text("cache-ratio"), CacheHits: text("cache-hits")};
})()`

// needBrowser returns the browser the browser tests drive, or skips the
// test: with -short (they build the binary), or when there is none and
// LOOPGATE_REQUIRE_BROWSER=1 does not make that a failure.
func needBrowser(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and starts a browser")
	}
	browser := findDashboardBrowser()
	if browser == "" {
		if os.Getenv("LOOPGATE_REQUIRE_BROWSER") == "1" {
			t.Fatal("no chromium, chromium-browser or google-chrome in PATH, and LOOPGATE_REQUIRE_BROWSER=1")
		}
		t.Skip("no chromium, chromium-browser or google-chrome in PATH")
	}
	return browser
}

// findDashboardBrowser returns the path of a Chromium or Chrome, or "".
func findDashboardBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// buildDashboardBinary builds this package into dir and returns the binary's path.
func buildDashboardBinary(t *testing.T, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "loopgate")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("cannot build loopgate: %v\n%s", err, out)
	}
	return bin
}

// runLoopgate runs the loopgate binary bin with the config file cfg and waits
// until its admin API answers at adminURL. stop sends SIGTERM, which starts a
// graceful shutdown, and waits for the exit; it may be called again, and runs
// when the test ends, logging loopgate's output if the test failed.
func runLoopgate(t *testing.T, ctx context.Context, bin, cfg, adminURL string) (stop func()) {
	t.Helper()
	var out lockedBuffer
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start loopgate: %v", err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Errorf("loopgate did not exit within 15s of SIGTERM")
			cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("loopgate output:\n%s", out.String())
		}
	})
	waitDashboardAdmin(t, ctx, adminURL, exited, &exitErr)
	return stop
}

// waitDashboardAdmin waits until url answers 200, or fails the test if loopgate
// exits (closing exited, with *exitErr set) or ctx ends first.
func waitDashboardAdmin(t *testing.T, ctx context.Context, url string, exited <-chan struct{}, exitErr *error) {
	t.Helper()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("loopgate exited before its admin listener answered: %v", *exitErr)
		case <-ctx.Done():
			t.Fatalf("%s did not answer: %v", url, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sendDashboardTraffic sends GET url over one keep-alive connection until ctx ends.
func sendDashboardTraffic(ctx context.Context, url string) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				time.Sleep(10 * time.Millisecond) // do not spin while the proxy is unreachable
			}
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// dashboardNumber parses a number the dashboard shows, such as "1,234.5".
func dashboardNumber(t *testing.T, what, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
	if err != nil {
		t.Errorf("%s: %q is not a number", what, s)
	}
	return f
}

// lockedBuffer collects output written from another goroutine or process
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
