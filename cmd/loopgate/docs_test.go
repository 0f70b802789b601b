package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
)

// docExamples returns the TOML blocks of a doc that start with
// "# check: NAME", by name.
func docExamples(t *testing.T, file string) map[string]string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	var name string
	var block strings.Builder
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```toml":
			in, name = true, ""
			block.Reset()
		case in && line == "```":
			in = false
			if name != "" {
				out[name] = block.String()
			}
		case in:
			if n, ok := strings.CutPrefix(line, "# check: "); ok && block.Len() == 0 {
				name = n
			}
			block.WriteString(line + "\n")
		}
	}
	return out
}

// runDoc runs a doc example with its listener on a free port and each
// pool's backends replaced by handler(pool); it returns the address.
func runDoc(t *testing.T, name, text string, handler func(pool string, i int) http.Handler, redisAddr string) string {
	t.Helper()
	c, err := parse(name+".toml", []byte(text))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	e := c.Engine
	for i := range e.Pools {
		for j := range e.Pools[i].Backends {
			b := httptest.NewServer(handler(e.Pools[i].Name, j))
			t.Cleanup(b.Close)
			e.Pools[i].Backends[j].Address = strings.TrimPrefix(b.URL, "http://")
		}
	}
	if redisAddr != "" {
		e.Redis.Address = redisAddr
	}
	e.Listen, e.EventLoops = "127.0.0.1:0", 1
	srv, err := engine.New(e, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Run()
	<-srv.Ready()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv.Addr().String()
}

func named(pool string, _ int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "testsrv")
		w.Header().Set("X-Got-Real-IP", r.Header.Get("X-Real-IP"))
		w.Header().Set("X-Got-Debug", r.Header.Get("X-Debug"))
		fmt.Fprintf(w, "%s %s", pool, r.RequestURI)
	})
}

type docClient struct {
	t    *testing.T
	addr string
}

func (d docClient) get(host, path string, hdr ...string) (*http.Response, string) {
	d.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+d.addr+path, nil)
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// Every "# check:" example of docs/ROUTING.md and docs/LIMITS.md loads and
// does what the text under it says.
func TestDocsExamples(t *testing.T) {
	ex := docExamples(t, "../../docs/ROUTING.md")
	for k, v := range docExamples(t, "../../docs/LIMITS.md") {
		ex[k] = v
	}
	want := []string{"hosts", "api", "redirect", "headers", "per_ip", "redis", "queue"}
	for _, n := range want {
		if ex[n] == "" {
			t.Fatalf("no example %q in the docs", n)
		}
	}
	expect := func(d docClient, host, path string, status int, body string) {
		t.Helper()
		resp, got := d.get(host, path)
		if resp.StatusCode != status || body != "" && got != body {
			t.Errorf("%s%s: %d %q; want %d %q", host, path, resp.StatusCode, got, status, body)
		}
	}
	t.Run("hosts", func(t *testing.T) {
		d := docClient{t, runDoc(t, "hosts", ex["hosts"], named, "")}
		expect(d, "shop.example", "/", 200, "shop /")
		expect(d, "WWW.Shop.Example:8080", "/x", 200, "shop /x")
		expect(d, "blog.example", "/", 200, "blog /")
		expect(d, "other.example", "/", 404, "")
	})
	t.Run("api", func(t *testing.T) {
		d := docClient{t, runDoc(t, "api", ex["api"], named, "")}
		expect(d, "h", "/api/users?id=7", 200, "api /users?id=7")
		expect(d, "h", "/x", 200, "web /x")
	})
	t.Run("redirect", func(t *testing.T) {
		d := docClient{t, runDoc(t, "redirect", ex["redirect"], named, "")}
		resp, _ := d.get("h", "/old/page?x=1")
		if resp.StatusCode != 308 || resp.Header.Get("Location") != "/new/page?x=1" {
			t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		expect(d, "h", "/healthz", 200, "ok\n")
		expect(d, "h", "/x", 200, "web /x")
	})
	t.Run("headers", func(t *testing.T) {
		d := docClient{t, runDoc(t, "headers", ex["headers"], named, "")}
		resp, _ := d.get("h", "/", "X-Debug", "1", "X-Real-IP", "6.6.6.6")
		h := resp.Header
		if h.Get("X-Got-Real-IP") != "127.0.0.1" || h.Get("X-Got-Debug") != "" || h.Get("X-Served-By") != "b" || h.Get("Server") != "" {
			t.Errorf("headers: %v", h)
		}
	})
	t.Run("per_ip", func(t *testing.T) {
		d := docClient{t, runDoc(t, "per_ip", ex["per_ip"], named, "")}
		for i := 1; i <= 5; i++ {
			expect(d, "h", "/limited", 200, "")
		}
		expect(d, "h", "/limited", 429, "")
		expect(d, "h", "/other", 200, "")
	})
	t.Run("redis", func(t *testing.T) {
		rd := startDocRedis(t)
		d := docClient{t, runDoc(t, "redis", ex["redis"], named, rd)}
		var ok, limited int
		for range 30 {
			resp, _ := d.get("h", "/")
			switch resp.StatusCode {
			case 200:
				ok++
			case 429:
				limited++
			}
		}
		if ok < 10 || ok > 20 || limited == 0 {
			t.Errorf("30 requests at once: %d admitted, %d limited; want the burst of 10 (plus what 100/s adds) and the rest limited", ok, limited)
		}
	})
	t.Run("queue", func(t *testing.T) {
		var now, most [2]atomic.Int64
		hold := func(pool string, i int) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := now[i].Add(1)
				for m := most[i].Load(); n > m && !most[i].CompareAndSwap(m, n); m = most[i].Load() {
				}
				time.Sleep(20 * time.Millisecond)
				now[i].Add(-1)
			})
		}
		addr := runDoc(t, "queue", ex["queue"], hold, "")
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get("http://" + addr + "/")
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					return
				}
				resp.Body.Close()
			}()
		}
		wg.Wait()
		if failed.Load() != 0 || most[0].Load() > 10 || most[1].Load() > 4 || most[0].Load() < 5 {
			t.Errorf("60 at once: %d failed; backends held at most %d and %d; want 0, <= 10, <= 4", failed.Load(), most[0].Load(), most[1].Load())
		}
	})
}

// startDocRedis starts redis-server on a free loopback port, or skips
// (fails with LOOPGATE_REQUIRE_REDIS set, as .ci/run sets it).
func startDocRedis(t *testing.T) string {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("LOOPGATE_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server not installed and LOOPGATE_REQUIRE_REDIS is set")
		}
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
	}
}

// examples/cache.toml does what its comment says: a second GET of
// /cache?max_age=60 is a hit with an Age and the same body, and
// /text?kb=64 with Accept-Encoding: gzip comes back gzip-encoded with Vary.
func TestCacheExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/cache.toml")
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int64
	origin := func(pool string, i int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/cache":
				w.Header().Set("Cache-Control", "max-age="+r.URL.Query().Get("max_age"))
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"backend": %d, "count": %d}`, i, served.Add(1))
			case "/text":
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(w, strings.Repeat("<p>compressible text</p>\n", 64*1024/25))
			}
		})
	}
	d := docClient{t, runDoc(t, "cache", string(data), origin, "")}
	r1, b1 := d.get("h", "/cache?max_age=60")
	r2, b2 := d.get("h", "/cache?max_age=60")
	if r1.Header.Get("X-Cache") != "MISS" || r2.Header.Get("X-Cache") != "HIT" || b1 != b2 || r2.Header.Get("Age") == "" || served.Load() != 1 {
		t.Errorf("two GETs: %v %q then %v %q (backend served %d)", r1.Header, b1, r2.Header, b2, served.Load())
	}
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/text?kb=64", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decoding
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" || len(body) > 8000 {
		t.Errorf("/text?kb=64 with gzip: %v, %d bytes", resp.Header, len(body))
	}
}
