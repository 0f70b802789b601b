package perf

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"loopgate/codec"
)

// loadResult is one load run as any tool measured it.
type loadResult struct {
	requests  int64
	rps       float64
	p50, p99  float64 // ms
	p999      float64
	errors    int64 // connect, read, write, timeout
	non2xx    int64
	bytes     int64 // response bytes received, heads and framing included
	clientCPU time.Duration
}

// loadTimeout is the per-request timeout of every load: a proxy that stalls shows up as
// timeouts instead of holding the run past its duration.
const loadTimeout = 5 * time.Second

func (b *bench) load(ctx context.Context, wrk bool, addr, path string, conns int, d time.Duration) (loadResult, error) {
	return b.loadWith(ctx, wrk, 1, addr, path, conns, d)
}

// loadFunc is one closed-loop load of d on one proxy, as measure and countSyscalls run it.
type loadFunc func(ctx context.Context, d time.Duration) (loadResult, error)

// pathLoad is the load of the plain, policy and cache scenarios: conns connections asking
// for the path of a size-byte response.
func (b *bench) pathLoad(lp *liveProxy, conns, size int) loadFunc {
	return func(ctx context.Context, d time.Duration) (loadResult, error) {
		return b.load(ctx, b.useWrk, lp.addr, b.proxyPath(size), conns, d)
	}
}

// loadWith runs one closed-loop load of d on http://addr+path with conns connections, with
// wrk (one thread) or in this process with the load generator on procs Ps.
func (b *bench) loadWith(ctx context.Context, wrk bool, procs int, addr, path string, conns int, d time.Duration) (loadResult, error) {
	url := "http://" + addr + path
	if wrk {
		return runWrk(ctx, b.script, url, conns, d, nil)
	}
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	cpu0 := selfCPU()
	rep, err := Run(ctx, Config{URL: url, Concurrency: conns, Duration: d, Timeout: loadTimeout})
	if err != nil {
		return loadResult{}, err
	}
	lr := loadResult{
		requests:  rep.TotalRequests - sumErrors(rep),
		rps:       rep.RequestsPerSecond,
		p50:       rep.ResponseTimes.P50,
		p99:       rep.ResponseTimes.P99,
		p999:      rep.ResponseTimes.P999,
		errors:    sumErrors(rep),
		bytes:     rep.BytesReceived,
		clientCPU: selfCPU() - cpu0,
	}
	for code, n := range rep.StatusCodes {
		if c, _ := strconv.Atoi(code); c >= 400 {
			lr.non2xx += n
		}
	}
	return lr, nil
}

func sumErrors(rep *Report) int64 {
	var n int64
	for _, v := range rep.Errors {
		n += v
	}
	return n
}

// runWrk runs wrk -t1 and reads the JSON line its script prints. headers are "Name: value"
// lines added to every request.
func runWrk(ctx context.Context, script, url string, conns int, d time.Duration, headers []string) (loadResult, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	ctx, cancel := context.WithTimeout(ctx, d+loadTimeout+10*time.Second)
	defer cancel()
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(secs) + "s",
		"--timeout", strconv.Itoa(int(loadTimeout/time.Second)) + "s", "-s", script}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cmd := exec.CommandContext(ctx, "wrk", append(args, url)...)
	cmd.SysProcAttr = childAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return loadResult{}, context.Canceled
		}
		return loadResult{}, fmt.Errorf("cannot run wrk on %s: %w\n%s", url, err, out)
	}
	var w struct {
		Requests   int64 `json:"requests"`
		DurationUS int64 `json:"duration_us"`
		Bytes      int64 `json:"bytes"`
		Connect    int64 `json:"connect"`
		Read       int64 `json:"read"`
		Write      int64 `json:"write"`
		Status     int64 `json:"status"`
		Timeout    int64 `json:"timeout"`
		P50        int64 `json:"p50_us"`
		P99        int64 `json:"p99_us"`
		P999       int64 `json:"p999_us"`
	}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if js, ok := strings.CutPrefix(sc.Text(), "WRKJSON "); ok {
			if err := json.Unmarshal([]byte(js), &w); err != nil {
				return loadResult{}, fmt.Errorf("cannot parse wrk's report %q: %w", js, err)
			}
			found = true
		}
	}
	if !found {
		return loadResult{}, fmt.Errorf("cannot find wrk's report in:\n%s", out)
	}
	lr := loadResult{
		requests: w.Requests,
		p50:      float64(w.P50) / 1e3, p99: float64(w.P99) / 1e3, p999: float64(w.P999) / 1e3,
		errors: w.Connect + w.Read + w.Write + w.Timeout,
		non2xx: w.Status,
		bytes:  w.Bytes,
	}
	if w.DurationUS > 0 {
		lr.rps = float64(w.Requests) / (float64(w.DurationUS) / 1e6)
	}
	if st := cmd.ProcessState; st != nil {
		lr.clientCPU = st.UserTime() + st.SystemTime()
	}
	return lr, nil
}

// idleTest measures each proxy's memory per idle keep-alive client connection: RSS with
// IdleConns connections open, each after one complete request, minus RSS before, divided by
// the connections.
func (b *bench) idleTest(ctx context.Context) {
	for _, lp := range b.proxies {
		if ctx.Err() != nil {
			return
		}
		r, err := idleRSS(ctx, lp, b.proxyPath(100), b.cfg.IdleConns, b.settle())
		if err != nil {
			b.note("%s idle test: %v", lp.name, err)
			continue
		}
		b.res.Idle = append(b.res.Idle, r)
		b.logf("  idle %-13s %d conns (%d failed): RSS %.1f → %.1f MiB, %.0f bytes/conn",
			lp.name, r.Conns, r.Failed, float64(r.RSSBefore)/(1<<20), float64(r.RSSAfter)/(1<<20), r.BytesPerConn)
		time.Sleep(b.settle()) // let it close them before the next measurement
	}
}

// settle is how long a proxy gets to finish its work before its RSS is read.
func (b *bench) settle() time.Duration {
	if b.cfg.Quick {
		return 200 * time.Millisecond
	}
	return time.Second
}

func idleRSS(ctx context.Context, lp *liveProxy, path string, n int, settle time.Duration) (IdleResult, error) {
	res := IdleResult{Proxy: lp.name}
	before, err := procRSS(lp.p.pid())
	if err != nil {
		return res, err
	}
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + lp.addr + "\r\nUser-Agent: loopgate-perf\r\n\r\n")
	conns := make([]net.Conn, n)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	const openers = 32
	for g := range openers {
		wg.Go(func() {
			w := &worker{r: &runner{method: codec.MethodGet}, buf: make([]byte, 16<<10)}
			d := net.Dialer{Timeout: 5 * time.Second}
			for i := g; i < n && ctx.Err() == nil; i += openers {
				c, err := d.DialContext(ctx, "tcp", lp.addr)
				if err != nil {
					continue
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				w.conn, w.off, w.end = c, 0, 0
				_, err = c.Write(req)
				var reuse bool
				kind := errNone
				if err == nil {
					_, reuse, kind = w.readResponse()
				}
				if err != nil || kind != errNone || !reuse {
					c.Close()
					continue
				}
				_ = c.SetDeadline(time.Time{})
				conns[i] = c
			}
		})
	}
	wg.Wait()
	for _, c := range conns {
		if c == nil {
			res.Failed++
		}
	}
	res.Conns = n - res.Failed
	if res.Conns == 0 {
		return res, fmt.Errorf("no connection could be opened (%d tried)", n)
	}
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	after, err := procRSS(lp.p.pid())
	if err != nil {
		return res, err
	}
	res.RSSBefore, res.RSSAfter = before, after
	res.BytesPerConn = float64(after-before) / float64(res.Conns)
	return res, nil
}

// listenLocal listens on a free port of 127.0.0.1.
func listenLocal() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
