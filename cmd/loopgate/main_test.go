package main

import (
	"bytes"
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

	"loopgate/engine"
	"loopgate/health"
)

func TestRunFlags(t *testing.T) {
	f := func(args string, wantCode int, wantOut, wantErr string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(strings.Fields(args), &stdout, &stderr)
		if code != wantCode || stdout.String() != wantOut || !strings.HasPrefix(stderr.String(), wantErr) {
			t.Fatalf("loopgate %s: got %d, stdout %q, stderr %q; want %d, %q, %q...", args, code, stdout.String(), stderr.String(), wantCode, wantOut, wantErr)
		}
	}
	f("-version", 0, "loopgate dev\n", "")
	f("-check -config ../../config.toml", 0, "config OK: ../../config.toml\n", "")
	f("-check -config ../../config.json", 0, "config OK: ../../config.json\n", "")
	f("-check -config testdata/bad.toml", 1, "", "testdata/bad.toml:2: server.listen: ")
	f("-check -config testdata/missing.toml", 1, "", "cannot read config: ")
	f("-config testdata/bad.json", 1, "", "testdata/bad.json:2: proxy_port: ")
	f("-nope", 2, "", "flag provided but not defined: -nope")
	f("-check extra", 2, "", "loopgate: unexpected arguments")
}

// TestCheckListsEveryError: -check prints one line per problem and no stack
// or log noise.
func TestCheckListsEveryError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-check", "-config", filepath.Join("testdata", "bad.toml")}, &stdout, &stderr); code != 1 {
		t.Fatalf("got exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 20 {
		t.Fatalf("got %d lines; want 20:\n%s", len(lines), stderr.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "testdata/bad.toml:") {
			t.Fatalf("line %q does not start with the file name", l)
		}
	}
}

// TestSeedTimeoutWarning: a seed config.json whose health_check_timeout is
// not below the interval passes -check with a warning line, and start and
// reload log that warning (logWarnings) with where the key is.
func TestSeedTimeoutWarning(t *testing.T) {
	in := "{\n\"health_check_interval\": 1,\n\"health_check_timeout\": 1,\n" +
		`"backend_servers": [{"host": "127.0.0.1", "port": 8001}]}`
	path := writeConfig(t, t.TempDir(), "config.json", in)
	var stdout, stderr bytes.Buffer
	code := run([]string{"-check", "-config", path}, &stdout, &stderr)
	want := path + ":3: health_check_timeout: warning: 1s is not below health_check_interval 1s; using 900ms\n"
	if code != 0 || stdout.String() != "config OK: "+path+"\n" || !strings.HasPrefix(stderr.String(), want) {
		t.Fatalf("-check: exit %d, stdout %q, stderr %q; want 0 and a warning %q", code, stdout.String(), stderr.String(), want)
	}

	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logWarnings(slog.New(slog.NewTextHandler(&logs, nil)), cfg)
	wantLog := `level=WARN msg="config value adjusted" at=` + path + `:3 key=health_check_timeout problem="1s is not below health_check_interval 1s; using 900ms"` + "\n"
	if !strings.HasSuffix(logs.String(), wantLog) || strings.Count(logs.String(), "\n") != 1 {
		t.Fatalf("logs:\n%s\nwant one line ending %s", logs.String(), wantLog)
	}
}

// TestServe runs the engine through main's wiring: one request through the
// proxy, then a shutdown like SIGTERM's.
func TestServe(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	}))
	defer backend.Close()

	// Listen on a port picked here: Load rejects port 0, so the test makes
	// the Config itself.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := &Config{
		Engine: engine.Config{
			Listen:        addr,
			EventLoops:    1,
			ShutdownGrace: 2 * time.Second,
			Pools: []engine.Pool{{Name: "web", Algorithm: "round_robin",
				Backends: []engine.Backend{{Address: strings.TrimPrefix(backend.URL, "http://")}}}},
		}.WithDefaults(),
	}

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	signaled := false
	go func() {
		done <- serve(ctx, cfg, filepath.Join(t.TempDir(), "c.toml"), log, io.Discard, func() { signaled = true })
	}()

	var resp *http.Response
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err = http.Get("http://" + addr + "/x")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET through the proxy: %v\nlogs:\n%s", err, logs.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello from /x" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil || !signaled {
			t.Fatalf("serve: %v (signaled %v)\nlogs:\n%s", err, signaled, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not return after cancel\nlogs:\n%s", logs.String())
	}
	for _, want := range []string{"loopgate starting", "listen=" + addr, "name=web", "algorithm=round_robin", "health_checks=off", "shutting down", "stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// TestServeBindFailure: a listener that cannot be bound is an error, not a hang.
func TestServeBindFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := &Config{Engine: engine.Config{
		Listen: ln.Addr().String(), EventLoops: 1,
		Pools: []engine.Pool{{Name: "web", Algorithm: "round_robin", Backends: []engine.Backend{{Address: "127.0.0.1:1"}}}},
	}.WithDefaults()}
	done := make(chan error, 1)
	go func() {
		done <- serve(context.Background(), cfg, filepath.Join(t.TempDir(), "c.toml"), slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, func() {})
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("serve: got nil; want a bind error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return")
	}
}

// TestLogConfigHealth: the startup log says per pool whether probes are on.
func TestLogConfigHealth(t *testing.T) {
	on := health.Config{Interval: 2 * time.Second, Timeout: time.Second}.WithDefaults()
	tcp := health.Config{Type: "tcp"}.WithDefaults()
	off := health.Config{Disabled: true}.WithDefaults()
	cfg := &Config{Engine: engine.Config{Pools: []engine.Pool{
		{Name: "a"}, {Name: "b", Health: &on}, {Name: "c", Health: &tcp}, {Name: "d", Health: &off},
	}}.WithDefaults()}
	var logs bytes.Buffer
	logConfig(slog.New(slog.NewTextHandler(&logs, nil)), cfg)
	for _, want := range []string{
		"name=a algorithm=" + engine.DefaultAlgorithm + " health_checks=off ",
		`name=b algorithm=` + engine.DefaultAlgorithm + ` health_checks=http health_probe="GET /health" health_interval=2s health_timeout=1s `,
		"name=c algorithm=" + engine.DefaultAlgorithm + " health_checks=tcp health_interval=10s health_timeout=2s ",
		`name=d algorithm=` + engine.DefaultAlgorithm + ` health_checks="off (disabled)" `,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("logs lack %q:\n%s", want, logs.String())
		}
	}
}
