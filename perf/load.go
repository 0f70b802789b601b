package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"loopgate/codec"
)

// Config describes one load. The zero value of every field but URL and one of Requests or
// Duration is usable: see each field's default.
type Config struct {
	URL         string        // http://host[:port][/path][?query]; required (no https)
	Path        string        // replaces the URL's path and query when set; must start with "/"
	Method      string        // request method (default GET, or POST when BodySize > 0)
	Headers     []string      // "Name: value" lines added to every request; a Host line replaces the URL's
	BodySize    int           // request body bytes, sent with Content-Length (default 0)
	Concurrency int           // connections, each with at most one request in flight (default 10)
	Requests    int64         // requests to send; 0 = no limit, then Duration is required
	Duration    time.Duration // stop sending new requests after this long; 0 = no limit
	Rate        float64       // requests per second over all connections (open loop); 0 = closed loop
	NoKeepAlive bool          // send "Connection: close" and dial a new connection per request
	Timeout     time.Duration // per request, from dial or write to the end of the body (default 10s)
	ByHeader    string        // count responses by the value of this response field, e.g. X-Backend
	// Progress, when set, is called from Run's goroutine every ProgressEvery while the load runs.
	Progress func(Progress)
}

// ProgressEvery is how often Config.Progress is called.
const ProgressEvery = 200 * time.Millisecond

// Progress is a live snapshot of a running load.
type Progress struct {
	Elapsed  time.Duration
	Done     int64   // requests finished: answered or failed
	Failed   int64   // of Done: transport errors and statuses >= 400
	Fraction float64 // of the planned load done, 0..1
}

// errKind classifies a request that got no complete response.
type errKind uint8

const (
	errNone    errKind = iota
	errConnect         // dial failed: refused, unreachable, or the connect timed out
	errWrite           // writing the request failed (reset, broken pipe)
	errRead            // reading the response failed (reset)
	errClosed          // the server closed the connection before a complete response
	errTimeout         // no complete response within Config.Timeout
	errParse           // the response was not valid HTTP/1.x (codec.ErrBadResponse, bad chunking)
	numErrKinds
)

var errKindNames = [numErrKinds]string{"", "connect", "write", "read", "closed", "timeout", "parse"}

const (
	nShards        = 8                      // stats shards; worker i records into shard i%nShards
	connectBackoff = 10 * time.Millisecond  // closed loop: pause after a failed dial, so a dead target is not spun on
	abortGrace     = 500 * time.Millisecond // after Ctrl-C or a stop with requests still hanging
)

// shard holds the statistics of some workers; its mutex is taken once per request.
type shard struct {
	mu     sync.Mutex
	lat    *Histogram // from intended send to the end of the body
	svc    *Histogram // from actual send; filled only with a Rate
	status [600]int64
	errs   [numErrKinds]int64
	byHdr  map[string]*int64
	_      [64]byte // keep neighbouring shards' locks off one cache line
}

type runner struct {
	cfg      Config
	addr     string // resolved ip:port to dial
	req      []byte // the request, head and body, written as is
	method   codec.Method
	interval time.Duration // Rate: time between two requests of one connection
	start    time.Time
	end      time.Time // Duration: no request is sent after it; zero if none

	budget  atomic.Int64 // Requests: requests left to start
	stopped atomic.Bool  // no new request may start
	aborted atomic.Bool  // requests in flight are cut off and not counted
	stop    chan struct{}
	dialCtx context.Context // cancelled by abort, so that no dial outlives it
	cancel  context.CancelFunc

	done       atomic.Int64
	failed     atomic.Int64
	unfinished atomic.Int64
	shards     [nShards]shard
	workers    []*worker
}

// Run applies the load that cfg describes and returns its report. It returns an error only
// for an invalid cfg or a host that does not resolve: failed requests are counted in the
// report. When ctx is cancelled it stops at once, drops the requests in flight (counted as
// unfinished) and reports what was done. Every connection it opens it closes.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r, err := newRunner(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.cancel()
	var wg sync.WaitGroup
	r.start = time.Now()
	if r.cfg.Duration > 0 {
		r.end = r.start.Add(r.cfg.Duration)
	}
	for i := range r.workers {
		w := r.workers[i]
		wg.Go(w.run)
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()

	var tick <-chan time.Time
	if cfg.Progress != nil {
		t := time.NewTicker(ProgressEvery)
		defer t.Stop()
		tick = t.C
	}
	var durC, graceC <-chan time.Time
	if r.cfg.Duration > 0 {
		t := time.NewTimer(r.cfg.Duration)
		defer t.Stop()
		durC = t.C
	}
	ctxDone := ctx.Done()
	interrupted := false
	stopSending := func(grace time.Duration) {
		if !r.stopped.Swap(true) {
			close(r.stop)
		}
		if graceC == nil {
			graceC = time.After(grace)
		}
	}
loop:
	for {
		select {
		case <-all:
			break loop
		case <-tick:
			cfg.Progress(r.progress())
		case <-durC:
			durC = nil
			// Requests in flight finish within their own timeout; the extra second only
			// covers a worker stuck between two deadlines.
			stopSending(r.cfg.Timeout + time.Second)
		case <-ctxDone:
			ctxDone, interrupted = nil, true
			stopSending(0)
			r.abort()
		case <-graceC:
			graceC = nil
			r.abort()
		}
	}
	elapsed := time.Since(r.start)
	if cfg.Progress != nil {
		cfg.Progress(r.progress())
	}
	rep := r.report(elapsed)
	rep.Interrupted = interrupted
	return rep, nil
}

func newRunner(ctx context.Context, cfg Config) (*runner, error) {
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 10
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Method == "" {
		cfg.Method = "GET"
		if cfg.BodySize > 0 {
			cfg.Method = "POST"
		}
	}
	switch {
	case cfg.Concurrency < 0 || cfg.Concurrency > 1_000_000:
		return nil, fmt.Errorf("cannot use concurrency %d: want 1..1000000", cfg.Concurrency)
	case cfg.Requests < 0:
		return nil, fmt.Errorf("cannot send %d requests: want >= 0", cfg.Requests)
	case cfg.Duration < 0:
		return nil, fmt.Errorf("cannot run for %s: want >= 0", cfg.Duration)
	case cfg.Requests == 0 && cfg.Duration == 0:
		return nil, errors.New("cannot run without a bound: set requests or duration")
	case cfg.Rate < 0 || cfg.Rate > 1e8:
		return nil, fmt.Errorf("cannot use rate %g: want 0 (closed loop) up to 1e8 requests/s", cfg.Rate)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("cannot use timeout %s: want > 0", cfg.Timeout)
	case cfg.BodySize < 0 || cfg.BodySize > 1<<30:
		return nil, fmt.Errorf("cannot use body size %d: want 0..1 GiB", cfg.BodySize)
	}
	if cfg.Requests > 0 && cfg.Requests < int64(cfg.Concurrency) {
		cfg.Concurrency = int(cfg.Requests) // more connections than requests would only idle
	}
	tgt, err := parseTarget(cfg.URL, cfg.Path)
	if err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, tgt.host)
	if err != nil || len(ips) == 0 {
		return nil, fmt.Errorf("cannot resolve %q: %w", tgt.host, err)
	}
	req, err := buildRequest(cfg.Method, tgt.target, tgt.hostHeader, cfg.Headers, cfg.BodySize, !cfg.NoKeepAlive)
	if err != nil {
		return nil, err
	}
	r := &runner{
		cfg:    cfg,
		addr:   net.JoinHostPort(ips[0].IP.String(), tgt.port),
		req:    req,
		method: codec.MethodGet,
		stop:   make(chan struct{}),
	}
	r.dialCtx, r.cancel = context.WithCancel(context.Background())
	switch cfg.Method {
	case "HEAD":
		r.method = codec.MethodHead
	case "CONNECT":
		return nil, errors.New("cannot send CONNECT: tunnels are not load-tested")
	}
	if cfg.Rate > 0 {
		r.interval = time.Duration(float64(cfg.Concurrency) / cfg.Rate * float64(time.Second))
		if r.interval <= 0 {
			r.interval = 1
		}
	}
	r.budget.Store(cfg.Requests)
	for i := range r.shards {
		r.shards[i].lat = NewHistogram()
		if cfg.Rate > 0 {
			r.shards[i].svc = NewHistogram()
		}
		r.shards[i].byHdr = map[string]*int64{}
	}
	bufSize := 64 << 10
	if cfg.Concurrency > 1024 {
		bufSize = 16 << 10
	}
	r.workers = make([]*worker, cfg.Concurrency)
	for i := range r.workers {
		r.workers[i] = &worker{r: r, id: i, sh: &r.shards[i%nShards], buf: make([]byte, bufSize)}
	}
	return r, nil
}

// target is a parsed load URL.
type target struct {
	host, port string // to resolve and dial
	hostHeader string // as in the URL
	target     string // origin-form request target
}

func parseTarget(raw, path string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("cannot parse URL %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return target{}, fmt.Errorf("cannot load %q: only http:// URLs are supported", raw)
	}
	if u.Hostname() == "" {
		return target{}, fmt.Errorf("cannot load %q: no host", raw)
	}
	t := target{host: u.Hostname(), port: u.Port(), hostHeader: u.Host, target: u.RequestURI()}
	if t.port == "" {
		t.port = "80"
	}
	if path != "" {
		if path[0] != '/' || strings.ContainsAny(path, " \r\n\t") {
			return target{}, fmt.Errorf("cannot use path %q: want /something without spaces", path)
		}
		t.target = path
	}
	return t, nil
}

// buildRequest returns the request every worker writes: head and body in one buffer.
func buildRequest(method, tgt, host string, headers []string, bodySize int, keepAlive bool) ([]byte, error) {
	if method == "" || strings.ContainsAny(method, " \t\r\n/:") {
		return nil, fmt.Errorf("cannot use method %q", method)
	}
	hasHost, hasUA := false, false
	var extra []byte
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("cannot use header %q: want \"Name: value\"", h)
		}
		switch strings.ToLower(name) {
		case "host":
			hasHost = true
		case "user-agent":
			hasUA = true
		case "content-length", "transfer-encoding", "connection":
			return nil, fmt.Errorf("cannot use header %q: the load generator sets framing and connection fields itself", h)
		}
		extra = append(extra, name+": "+value+"\r\n"...)
	}
	b := []byte(method + " " + tgt + " HTTP/1.1\r\n")
	if !hasHost {
		b = append(b, "Host: "+host+"\r\n"...)
	}
	if !hasUA {
		b = append(b, "User-Agent: loopgate-loadgen\r\n"...)
	}
	if !keepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, extra...)
	if bodySize > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		b = append(b, "Content-Length: "+strconv.Itoa(bodySize)+"\r\n"...)
	}
	b = append(b, "\r\n"...)
	for i := 0; i < bodySize; i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return b, nil
}

func (r *runner) progress() Progress {
	p := Progress{Elapsed: time.Since(r.start), Done: r.done.Load(), Failed: r.failed.Load()}
	if r.cfg.Requests > 0 {
		p.Fraction = float64(p.Done) / float64(r.cfg.Requests)
	}
	if r.cfg.Duration > 0 {
		p.Fraction = max(p.Fraction, float64(p.Elapsed)/float64(r.cfg.Duration))
	}
	p.Fraction = min(p.Fraction, 1)
	return p
}

// abort cuts off every request in flight: their reads and writes fail at once and the
// workers return without counting them.
func (r *runner) abort() {
	r.aborted.Store(true)
	r.cancel()
	past := time.Unix(1, 0)
	for _, w := range r.workers {
		w.mu.Lock()
		if w.conn != nil {
			_ = w.conn.SetDeadline(past)
		}
		w.mu.Unlock()
	}
}

// noHeader counts the responses without the Config.ByHeader field.
const noHeader = "(none)"

// worker drives one connection: one request at a time.
type worker struct {
	r  *runner
	id int
	sh *shard

	mu   sync.Mutex // guards conn against abort; taken when the conn or its deadline changes
	conn net.Conn

	buf      []byte // read buffer; unparsed bytes are buf[off:end]
	off, end int
	resp     codec.Response
	ch       codec.Chunked
	hdr      []byte // value of Config.ByHeader in the last response, or noHeader
	hasHdr   bool   // Config.ByHeader is set
	bytesIn  int64
	bytesOut int64
}

func (w *worker) run() {
	r := w.r
	defer w.closeConn()
	var next time.Time
	if r.interval > 0 {
		// Spread the connections' schedules evenly over one interval.
		next = r.start.Add(time.Duration(float64(r.interval) * float64(w.id) / float64(len(r.workers))))
	}
	var timer *time.Timer
	for !r.stopped.Load() {
		if r.cfg.Requests > 0 && r.budget.Add(-1) < 0 {
			return
		}
		intended := time.Now()
		if r.interval > 0 {
			if !r.end.IsZero() && !next.Before(r.end) {
				return
			}
			if wait := next.Sub(intended); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case <-r.stop:
					timer.Stop()
					return
				}
				// Ahead of schedule: the slot is met, and the timer's own lateness (up to
				// a millisecond in Go) is the client's, not the server's.
				intended = time.Now()
			} else {
				// Behind schedule because earlier responses were late: count from the
				// slot, so that the wait shows in this request's latency.
				intended = next
			}
			next = next.Add(r.interval)
		}
		if !w.do(intended) {
			return
		}
	}
}

// do sends one request and reads its response. It reports false when the load was aborted.
func (w *worker) do(intended time.Time) bool {
	r := w.r
	sent := time.Now()
	w.mu.Lock()
	if r.aborted.Load() {
		w.mu.Unlock()
		return false
	}
	if w.conn == nil {
		w.mu.Unlock()
		d := net.Dialer{Timeout: r.cfg.Timeout}
		c, err := d.DialContext(r.dialCtx, "tcp", r.addr)
		if err != nil {
			if !r.aborted.Load() {
				w.record(0, 0, 0, errConnect)
				if r.interval == 0 {
					w.sleep(connectBackoff)
				}
			}
			return true
		}
		w.mu.Lock()
		w.conn, w.off, w.end = c, 0, 0
		if r.aborted.Load() {
			w.mu.Unlock()
			return false
		}
	}
	_ = w.conn.SetDeadline(sent.Add(r.cfg.Timeout))
	w.mu.Unlock()

	n, err := w.conn.Write(r.req)
	w.bytesOut += int64(n)
	if err != nil {
		return w.fail(w.ioErr(err, errWrite))
	}
	status, reuse, kind := w.readResponse()
	if kind != errNone {
		return w.fail(kind)
	}
	now := time.Now()
	if !reuse || r.cfg.NoKeepAlive {
		w.closeConn()
	}
	w.record(now.Sub(intended), now.Sub(sent), status, errNone)
	return true
}

// fail drops the connection after a failed request and counts the failure, unless the load
// was aborted under it.
func (w *worker) fail(kind errKind) bool {
	w.closeConn()
	if w.r.aborted.Load() {
		w.r.unfinished.Add(1)
		return false
	}
	w.record(0, 0, 0, kind)
	return true
}

func (w *worker) closeConn() {
	w.mu.Lock()
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
	w.mu.Unlock()
	w.off, w.end = 0, 0
}

func (w *worker) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.r.stop:
	}
}

// record counts one finished request in the worker's shard.
func (w *worker) record(lat, svc time.Duration, status int, kind errKind) {
	sh := w.sh
	sh.mu.Lock()
	if kind != errNone {
		sh.errs[kind]++
	} else {
		sh.lat.Record(lat)
		if sh.svc != nil {
			sh.svc.Record(svc)
		}
		sh.status[status]++
		if w.hasHdr {
			c := sh.byHdr[string(w.hdr)]
			if c == nil {
				c = new(int64)
				sh.byHdr[string(w.hdr)] = c
			}
			*c++
		}
	}
	sh.mu.Unlock()
	w.r.done.Add(1)
	if kind != errNone || status >= 400 {
		w.r.failed.Add(1)
	}
}

// readResponse reads one complete response. It reports the status, whether the connection
// may carry another request, and the error kind if the response was not complete.
func (w *worker) readResponse() (status int, reuse bool, kind errKind) {
	name := w.r.cfg.ByHeader
	for {
		n, err := codec.ParseResponse(w.buf[w.off:w.end], &w.resp, w.r.method, nil)
		if err == codec.ErrNeedMore {
			if k := w.fill(); k != errNone {
				return 0, false, k
			}
			continue
		}
		if err != nil {
			return 0, false, errParse
		}
		status = w.resp.Status
		if status < 200 && status != 101 {
			w.off += n // interim response (100 Continue, 103 Early Hints): the real one follows
			continue
		}
		if w.hasHdr = name != ""; w.hasHdr {
			if s, ok := w.resp.Lookup(w.buf[w.off:w.end], name); ok {
				w.hdr = append(w.hdr[:0], s.Bytes(w.buf[w.off:w.end])...)
			} else {
				w.hdr = append(w.hdr[:0], noHeader...)
			}
		}
		w.off += n
		switch w.resp.Body {
		case codec.BodyLength:
			kind = w.skip(w.resp.BodyLen)
		case codec.BodyChunked:
			kind = w.chunked()
		case codec.BodyClose:
			return status, false, w.drain()
		}
		return status, !w.resp.Close, kind
	}
}

// fill reads more bytes after buf[off:end], compacting the buffer first if it is full.
func (w *worker) fill() errKind {
	if w.off == w.end {
		w.off, w.end = 0, 0
	} else if w.end == len(w.buf) {
		if w.off == 0 {
			return errParse // a head larger than the whole buffer
		}
		w.end = copy(w.buf, w.buf[w.off:w.end])
		w.off = 0
	}
	n, err := w.conn.Read(w.buf[w.end:])
	w.end += n
	w.bytesIn += int64(n)
	if n > 0 {
		return errNone
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return w.ioErr(err, errRead)
}

// skip consumes a body of n bytes.
func (w *worker) skip(n int64) errKind {
	for {
		avail := int64(w.end - w.off)
		if avail >= n {
			w.off += int(n)
			return errNone
		}
		n -= avail
		w.off = w.end
		if k := w.fill(); k != errNone {
			return k
		}
	}
}

// chunked consumes a chunked body up to the end of its trailer section.
func (w *worker) chunked() errKind {
	w.ch.Reset()
	for !w.ch.Done() {
		n, _, err := w.ch.Next(w.buf[w.off:w.end], nil)
		w.off += n
		switch {
		case err == codec.ErrNeedMore:
			if k := w.fill(); k != errNone {
				return k
			}
		case err != nil:
			return errParse
		}
	}
	return errNone
}

// drain consumes a body delimited by the end of the connection.
func (w *worker) drain() errKind {
	for {
		w.off, w.end = 0, 0
		n, err := w.conn.Read(w.buf)
		w.bytesIn += int64(n)
		if err == io.EOF {
			return errNone
		}
		if err != nil {
			return w.ioErr(err, errRead)
		}
	}
}

// ioErr classifies an error from the connection; other is the kind for anything that is
// neither a timeout nor an orderly close.
func (w *worker) ioErr(err error, other errKind) errKind {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errTimeout
	case errors.Is(err, io.EOF):
		return errClosed
	}
	return other
}
