package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveUntilUp runs serve for cfg until the test ends and waits until the
// proxy answers on its listen address.
func serveUntilUp(t *testing.T, cfg *Config) (logs *lockedBuffer, done chan error) {
	t.Helper()
	logs = &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, filepath.Join(t.TempDir(), "c.toml"), slog.New(slog.NewTextHandler(logs, nil)), io.Discard, func() {})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not return")
		}
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := net.Dial("tcp", cfg.Engine.Listen); err == nil {
			c.Close()
			return logs, done
		}
		select {
		case err := <-done:
			t.Fatalf("serve: %v\nlogs:\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy is not listening\nlogs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seedConfig(t *testing.T, backend string) *Config {
	t.Helper()
	host, port, _ := net.SplitHostPort(backend)
	listen := freeAddr(t)
	lhost, lport, _ := net.SplitHostPort(listen)
	js := fmt.Sprintf(`{"proxy_host": %q, "proxy_port": %s, "backend_servers": [{"host": %q, "port": %s}]}`, lhost, lport, host, port)
	cfg, err := parse("config.json", []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A second seed-configured loopgate on one machine finds the admin port
// taken: it serves without an admin listener and says why.
func TestSeedConfigStartsWhenAdminPortTaken(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	cfg := seedConfig(t, strings.TrimPrefix(backend.URL, "http://"))
	if cfg.Admin.Listen != defaultAdminListen || !cfg.Admin.Optional {
		t.Fatalf("seed admin %+v; want %s, optional", cfg.Admin, defaultAdminListen)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0") // the first instance's admin port
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg.Admin.Listen = taken.Addr().String()

	logs, _ := serveUntilUp(t, cfg)
	resp, err := http.Get("http://" + cfg.Engine.Listen + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("through the proxy: %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "no admin listener: its address is taken") {
		t.Fatalf("no warning about the admin port:\n%s", logs.String())
	}
}

// -admin places the admin listener; a taken -admin address, or a taken
// address a TOML file asked for, is an error: the user chose it.
func TestAdminFlag(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	cfg := seedConfig(t, strings.TrimPrefix(backend.URL, "http://"))
	admin := freeAddr(t)
	cfg.overrideAdmin(&admin)
	serveUntilUp(t, cfg)
	resp, err := http.Get("http://" + admin + "/api/status")
	if err != nil {
		t.Fatalf("admin on the -admin address: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/status on %s: %d", admin, resp.StatusCode)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()
	cfg2 := seedConfig(t, strings.TrimPrefix(backend.URL, "http://"))
	cfg2.overrideAdmin(&busy)
	err = serve(context.Background(), cfg2, filepath.Join(t.TempDir(), "c.toml"), slog.New(slog.DiscardHandler), io.Discard, func() {})
	if err == nil || !strings.Contains(err.Error(), "cannot listen for admin on "+busy) {
		t.Fatalf("serve with a taken -admin address: %v", err)
	}

	off := ""
	cfg3 := seedConfig(t, strings.TrimPrefix(backend.URL, "http://"))
	cfg3.overrideAdmin(&off)
	if cfg3.Admin.Listen != "" {
		t.Fatalf("-admin '': admin %q", cfg3.Admin.Listen)
	}
}

// A reload reads the file again; -admin still wins, so the reload is not
// taken for an admin move that needs a new process.
func TestAdminFlagSurvivesReload(t *testing.T) {
	b := startTestBackend(t, "b1", 0)
	dir := t.TempDir()
	path := adminConfig(t, dir, freeAddr(t), "round_robin", "", b.addr) // [admin] listen: one address
	flag := freeAddr(t)                                                 // -admin: another
	r := startAppWith(t, path, func(c *Config) { c.overrideAdmin(&flag) })
	if r.admin != "http://"+flag {
		t.Fatalf("admin on %s; want the -admin address %s", r.admin, flag)
	}
	if code, m := r.call(t, "POST", "/api/reload", ""); code != 200 {
		t.Fatalf("reload under -admin: %d %v", code, m)
	}
}
