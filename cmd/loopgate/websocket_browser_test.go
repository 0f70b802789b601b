package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// wsPage is served through loopgate; its script opens a WebSocket to the
// same origin (so through loopgate too), sends a text and a binary message,
// and closes; window.wsResult says what came back.
const wsPage = `<!doctype html><title>ws</title><script>
window.wsResult = null;
const got = [];
const ws = new WebSocket("ws://" + location.host + "/ws");
ws.binaryType = "arraybuffer";
ws.onopen = () => { ws.send("hello from the browser"); ws.send(new Uint8Array([0, 1, 2, 255]).buffer); };
ws.onmessage = (e) => {
	got.push(typeof e.data === "string" ? e.data : Array.from(new Uint8Array(e.data)).join(","));
	if (got.length === 2) ws.close(1000, "done");
};
ws.onerror = () => { window.wsResult = {error: "error event", got}; };
ws.onclose = (e) => { window.wsResult = window.wsResult || {got, code: e.code, clean: e.wasClean}; };
</script>`

// TestWebSocketBrowser runs the loopgate binary in front of a backend that
// serves a page and a WebSocket echo, and has headless Chromium load the
// page through loopgate: the page's WebSocket, opened through loopgate, must
// echo both messages and close cleanly, and loopgate's /metrics must count
// the tunnel. Without a browser it skips, unless LOOPGATE_REQUIRE_BROWSER=1.
func TestWebSocketBrowser(t *testing.T) {
	browser := needBrowser(t)
	dir := t.TempDir()
	bin := buildDashboardBinary(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bctx, bcancel := startDashboardBrowser(t, ctx, browser)
	defer bcancel()

	up := websocket.Upgrader{} // same origin: the default Origin check passes
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, wsPage)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil || c.WriteMessage(typ, msg) != nil {
				return
			}
		}
	}))
	defer backend.Close()

	proxyAddr, adminAddr := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "loopgate.toml")
	toml := fmt.Sprintf("[server]\nlisten = %q\naccess_log = false\n\n[admin]\nlisten = %q\n\n[[pool]]\nname = \"web\"\n\n  [[pool.backend]]\n  address = %q\n",
		proxyAddr, adminAddr, backend.Listener.Addr().String())
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	runLoopgate(t, ctx, bin, cfg, "http://"+adminAddr+"/api/metrics")

	type result struct {
		Got   []string
		Code  int
		Clean bool
		Error string
	}
	var res result
	err := chromedp.Do(bctx,
		chromedp.Navigate("http://"+proxyAddr+"/page"),
		chromedp.Poll[chromedp.Void](`window.wsResult !== null`,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)),
	)
	if err != nil {
		t.Fatalf("the page's WebSocket did not finish: %v", err)
	}
	if res, err = chromedp.Run(bctx, chromedp.Evaluate[result](`window.wsResult`)); err != nil {
		t.Fatal(err)
	}
	t.Logf("browser: %+v", res)
	if res.Error != "" || strings.Join(res.Got, "|") != "hello from the browser|0,1,2,255" || res.Code != 1000 || !res.Clean {
		t.Fatalf("browser saw %+v; want both messages echoed and a clean close (1000)", res)
	}
	// The tunnel is counted once it has closed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + adminAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `loopgate_tunnels_total{kind="upgrade"} 1`) &&
			strings.Contains(string(body), "loopgate_tunnels_open 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics do not count the closed tunnel:\n%s", grepLines(string(body), "tunnel"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
