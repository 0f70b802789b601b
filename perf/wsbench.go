package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// WSConfig describes a WebSocket echo benchmark (the harness's -ws, PERFFLAGS=-ws): one
// cmd/backend (its /ws echo) behind each proxy, Conns WebSocket connections through the
// proxy, each sending a message of Size bytes and waiting for its echo, over and over, for
// Duration; Rounds rounds with the proxies interleaved. Zero fields take the defaults.
type WSConfig struct {
	Loopgate string        // loopgate binary; required
	Backend  string        // cmd/backend binary; required
	Proxies  []string      // subset of loopgate, haproxy, nginx (default: all three; missing ones are skipped)
	Conns    int           // WebSocket connections (default 64)
	Size     int           // message bytes (default 128)
	Duration time.Duration // per run (default 3s)
	Rounds   int           // rounds (default 3)
	WorkDir  string        // configs and logs (default: a temporary directory, removed after)
	Log      io.Writer     // progress lines (default: none)
}

// WSRow is one proxy's result over the rounds.
type WSRow struct {
	Proxy   string  `json:"proxy"`
	Setup   string  `json:"setup"`
	MsgsSec Stat    `json:"messages_per_second"`
	P50     Stat    `json:"p50_ms"`
	P99     Stat    `json:"p99_ms"`
	CPUus   Stat    `json:"cpu_us_per_message"` // the proxy's CPU (user + system) per echoed message
	VsHA    float64 `json:"cpu_vs_haproxy"`     // median CPU per message over HAProxy's; 0 without HAProxy
	Errors  int     `json:"errors"`
	Skipped string  `json:"skipped,omitempty"`
}

// WSResult is a WebSocket benchmark's outcome.
type WSResult struct {
	Conns, Size int
	Duration    time.Duration
	Rows        []WSRow
}

type wsRun struct {
	msgs     int64
	elapsed  time.Duration
	cpu      time.Duration
	p50, p99 time.Duration
	errs     int
}

// WSBench runs the WebSocket echo benchmark. Everything it starts, it stops.
func WSBench(ctx context.Context, cfg WSConfig) (*WSResult, error) {
	if cfg.Loopgate == "" || cfg.Backend == "" {
		return nil, errors.New("cannot run the WebSocket benchmark: the loopgate and cmd/backend binaries are required")
	}
	if len(cfg.Proxies) == 0 {
		cfg.Proxies = []string{proxyLoopgate, proxyHAProxy, proxyNginx}
	}
	cfg.Conns = cmpOr(cfg.Conns, 64)
	cfg.Size = cmpOr(cfg.Size, 128)
	cfg.Rounds = cmpOr(cfg.Rounds, 3)
	if cfg.Duration <= 0 {
		cfg.Duration = 3 * time.Second
	}
	logf := func(format string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", a...)
		}
	}
	dir := cfg.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "loopgate-ws-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	ps := &procSet{dir: dir}
	defer ps.stopAll()

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	backend := "127.0.0.1:" + strconv.Itoa(port)
	bp, err := ps.start("ws-backend", cfg.Backend, "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-name", "ws", "-quiet")
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, "http://"+backend+"/health", bp); err != nil {
		return nil, err
	}
	res := &WSResult{Conns: cfg.Conns, Size: cfg.Size, Duration: cfg.Duration}
	type live struct {
		row  int
		addr string
		p    *proc
	}
	var proxies []live
	maxConns := cfg.Conns + 1000
	for _, name := range cfg.Proxies {
		row := WSRow{Proxy: name}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		conf := filepath.Join(dir, "ws-"+name+".conf")
		var text string
		var argv, env []string
		switch name {
		case proxyLoopgate:
			row.Setup, env = "1 event loop, GOMAXPROCS=1", []string{"GOMAXPROCS=1"}
			text = loopgateConf(addr, []string{backend}, lgConf{loops: 1, maxConns: maxConns})
			conf = filepath.Join(dir, "ws-loopgate.toml")
			argv = []string{cfg.Loopgate, "-config", conf}
		case proxyHAProxy:
			if !installed("haproxy") {
				row.Skipped = "not installed (apt-get install haproxy)"
				break
			}
			// HAProxy tunnels WebSocket in HTTP mode by itself; timeout tunnel
			// replaces the client and server timeouts once it has switched.
			row.Setup = "nbthread 1"
			text = strings.Replace(haproxyConf(dir, addr, []string{backend}, maxConns, false),
				"  timeout server 60s\n", "  timeout server 60s\n  timeout tunnel 1h\n", 1)
			argv = []string{"haproxy", "-db", "-f", conf}
		case proxyNginx:
			if !installed("nginx") {
				row.Skipped = "not installed (apt-get install nginx-light)"
				break
			}
			row.Setup = "worker_processes 1"
			text = nginxWSConf(dir, addr, backend, maxConns)
			argv = []string{"nginx", "-p", dir, "-c", conf}
		default:
			row.Skipped = "unknown proxy"
		}
		if row.Skipped == "" {
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				return nil, fmt.Errorf("cannot write %s: %w", conf, err)
			}
			p, err := ps.startEnv("ws-"+name, env, argv...)
			if err == nil {
				err = waitReady(ctx, "http://"+addr+"/health", p)
			}
			if err != nil {
				row.Skipped = err.Error()
			} else {
				proxies = append(proxies, live{len(res.Rows), addr, p})
				logf("%-9s on %s, pid %d: %s", name, addr, p.pid(), row.Setup)
			}
		}
		if row.Skipped != "" {
			logf("%s skipped: %s", name, row.Skipped)
		}
		res.Rows = append(res.Rows, row)
	}

	runs := make([][]wsRun, len(res.Rows))
	payload := make([]byte, cfg.Size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	for round := range cfg.Rounds {
		for k := range proxies {
			lp := proxies[(k+round)%len(proxies)] // rotate the order from round to round
			if lp.p.exited() {
				return res, fmt.Errorf("%s exited during the benchmark:\n%s", res.Rows[lp.row].Proxy, lp.p.tail())
			}
			r, err := wsLoad(ctx, lp.addr, lp.p.pid(), payload, cfg.Conns, cfg.Duration)
			if err != nil {
				return res, fmt.Errorf("%s: %w", res.Rows[lp.row].Proxy, err)
			}
			runs[lp.row] = append(runs[lp.row], r)
			logf("round %d %-9s %8.0f msg/s  p50 %.3f ms  p99 %.3f ms  %.2f µs CPU/msg  errors %d", round+1, res.Rows[lp.row].Proxy,
				float64(r.msgs)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99), float64(r.cpu.Microseconds())/float64(max(r.msgs, 1)), r.errs)
		}
	}
	var haCPU float64
	for i := range res.Rows {
		rs := runs[i]
		if len(rs) == 0 {
			continue
		}
		row := &res.Rows[i]
		row.MsgsSec = statOf(rs, func(r wsRun) float64 { return float64(r.msgs) / r.elapsed.Seconds() })
		row.P50 = statOf(rs, func(r wsRun) float64 { return ms(r.p50) })
		row.P99 = statOf(rs, func(r wsRun) float64 { return ms(r.p99) })
		row.CPUus = statOf(rs, func(r wsRun) float64 { return float64(r.cpu.Nanoseconds()) / 1e3 / float64(max(r.msgs, 1)) })
		for _, r := range rs {
			row.Errors += r.errs
		}
		if row.Proxy == proxyHAProxy {
			haCPU = row.CPUus.Median
		}
	}
	for i := range res.Rows {
		res.Rows[i].VsHA = ratio(res.Rows[i].CPUus.Median, haCPU)
	}
	return res, nil
}

// wsLoad opens conns WebSockets to addr's /ws and echoes payload on each for d, measuring
// messages, latency and the CPU time of the proxy's process pid.
func wsLoad(ctx context.Context, addr string, pid int, payload []byte, conns int, d time.Duration) (wsRun, error) {
	cs := make([]*wsConn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.close()
		}
	}()
	for range conns {
		c, err := dialWS(addr, "/ws", payload, 5*time.Second)
		if err != nil {
			return wsRun{}, err
		}
		cs = append(cs, c)
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return wsRun{}, err
	}
	start := time.Now()
	end := start.Add(d)
	var mu sync.Mutex
	var run wsRun
	all := NewHistogram()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := NewHistogram()
			var n int64
			errs := 0
			c.c.SetDeadline(end.Add(5 * time.Second))
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				if err := c.echo(len(payload)); err != nil {
					errs++
					break
				}
				h.Record(time.Since(t0))
				n++
			}
			mu.Lock()
			all.Merge(h)
			run.msgs += n
			run.errs += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	run.elapsed = time.Since(start)
	cpu1, err := procCPU(pid)
	if err != nil {
		return wsRun{}, err
	}
	run.cpu = cpu1.user + cpu1.sys - cpu0.user - cpu0.sys
	run.p50, run.p99 = all.Percentile(50), all.Percentile(99)
	return run, ctx.Err()
}

// nginxWSConf proxies WebSocket upgrades: nginx forwards Upgrade only when told to.
func nginxWSConf(dir, addr, backend string, maxConns int) string {
	return fmt.Sprintf(`worker_processes 1; daemon off; master_process off;
pid %[1]s; error_log %[2]s crit; worker_rlimit_nofile %[3]d;
events { worker_connections %[3]d; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  server {
    listen %[4]s;
    location / {
      proxy_pass http://%[5]s;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 1h; proxy_send_timeout 1h;
    }
  }
}
`, filepath.Join(dir, "nginx-ws.pid"), filepath.Join(dir, "nginx-ws.err"), 2*maxConns, addr, backend)
}

// WriteTable prints the result as an aligned table.
func (r *WSResult) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "WebSocket echo: %d connections, %d-byte messages, %s per run; medians (min-max)\n",
		r.Conns, r.Size, r.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "proxy\tsetup\tmsg/s\tp50 ms\tp99 ms\tCPU µs/msg\tvs HAProxy\terrors\t")
	for _, row := range r.Rows {
		if row.Skipped != "" {
			fmt.Fprintf(tw, "%s\tskipped: %s\t\t\t\t\t\t\t\n", row.Proxy, firstLine(row.Skipped))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f (%.0f-%.0f)\t%.3f\t%.3f\t%.2f (%.2f-%.2f)\t%s\t%d\t\n", row.Proxy, row.Setup,
			row.MsgsSec.Median, row.MsgsSec.Min, row.MsgsSec.Max, row.P50.Median, row.P99.Median,
			row.CPUus.Median, row.CPUus.Min, row.CPUus.Max, fmtRatio(row.VsHA), row.Errors)
	}
	return tw.Flush()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
