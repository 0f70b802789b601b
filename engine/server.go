package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"loopgate/cache"
	"loopgate/ratelimit"
	"loopgate/stats"
)

// Server is one running proxy. Its exported methods are safe to call from any
// goroutine; everything else runs on gnet's event loops.
type Server struct {
	gnet.BuiltinEventEngine

	cfg     Config
	log     *slog.Logger
	pools   []*pool                    // the current generation's, for the control plane (guarded by ctl)
	gen     atomic.Pointer[generation] // what the loops run; replaced by Reload
	ctl     sync.Mutex                 // serializes reloads and runtime changes
	running atomic.Bool                // Run has started the checkers and not stopped them (under ctl)

	eng      gnet.Engine
	lns      []*listener                 // cfg.Listeners, or one plain listener on cfg.Listen
	addr     atomic.Pointer[net.TCPAddr] // the first listener's
	ready    chan struct{}
	stopped  chan struct{}
	draining atomic.Bool
	cutting  atomic.Bool // the grace period is over: in-flight exchanges are cut, not answered
	ho       handoff     // zero-downtime upgrade: listeners, steering, retiring (handoff.go)

	loopsMu sync.Mutex
	loops   []*loop // appended when a loop sees its first connection
	loopOf  map[gnet.EventLoop]*loop

	st        *stats.Proxy // cfg.Stats
	reqIDName []byte       // cfg.RequestIDHeader
	logAgent  bool         // the access log format wants User-Agent and Referer

	clients      atomic.Int64     // open client connections
	perClient    clientCounts     // open connections per peer address, for max_connections_per_client
	inflight     *ratelimit.Gauge // requests in flight per client, for max_requests_per_client; made on first use (under ctl)
	acceptLogged atomic.Int64     // monoNow of the last accept failure logged
	fast         atomic.Int32     // loops with retries waiting out a backoff (the ticker then runs fast)
	handshakes   atomic.Int64     // TLS handshakes in progress, for max_tls_handshakes
	tlsStats     *stats.TLSStats
	flights      *cache.Flights // cache misses being fetched, for collapsing (cache.go)
}

// New checks cfg, fills in defaults and returns a Server ready to Run.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg = cfg.WithDefaults()
	if len(cfg.Pools) == 0 {
		return nil, errors.New("cannot start: no pool configured")
	}
	if cfg.Stats == nil {
		cfg.Stats = stats.New(stats.Options{})
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		ready:   make(chan struct{}),
		stopped: make(chan struct{}),
		loopOf:  map[gnet.EventLoop]*loop{},
		st:      cfg.Stats,
		flights: cache.NewFlights(),
	}
	s.reqIDName = []byte(cfg.RequestIDHeader)
	lns, err := newListeners(&cfg)
	if err != nil {
		return nil, err
	}
	s.lns = lns
	s.tlsStats = stats.NewTLSStats(s.st)
	if cfg.AccessLog != nil {
		s.logAgent = cfg.AccessLog.NeedsAgent()
	}
	s.st.SetRoutes(s.routeViews)
	s.st.SetCacheStore(s.cacheStats)
	s.st.SetGauges(stats.Gauges{
		Clients:        s.clients.Load,
		UpstreamActive: func() int64 { up, idle := s.upstreamConns(); return up - idle },
		UpstreamIdle:   func() int64 { _, idle := s.upstreamConns(); return idle },
		Tunnels:        s.Tunnels,
	})
	g, err := s.newGeneration(cfg, nil)
	if err != nil {
		return nil, err
	}
	s.pools = g.pools
	s.gen.Store(g)
	return s, nil
}

// Run serves until Shutdown; it returns the error that stopped gnet, if any.
func (s *Server) Run() error {
	defer close(s.stopped)
	clock.Store(monoNow())
	go s.tick()
	s.ctl.Lock()
	s.running.Store(true)
	for _, p := range s.pools {
		if p.checker != nil {
			p.checker.Start()
		}
	}
	s.ctl.Unlock()
	defer func() {
		s.ctl.Lock()
		defer s.ctl.Unlock()
		s.running.Store(false)
		for _, p := range s.pools { // the pools of the last reload
			if p.checker != nil {
				p.checker.Stop()
			}
		}
		closeLimits(s.gen.Load().limits, nil) // Redis clients
	}()
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.Loops()),
		gnet.WithReusePort(s.cfg.ReusePort),
		gnet.WithReuseAddr(true), // restart while old connections sit in TIME_WAIT
		gnet.WithReadBufferCap(s.cfg.ReadBufferCap),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.log}),
		// loopgate's gnet patch (third_party/gnet): a peer's FIN ends its
		// input without closing the connection, a failed write ends only
		// the output, and accept errors such as EMFILE back off instead of
		// stopping the engine.
		gnet.WithHalfClose(true),
		gnet.WithAcceptErrorHook(s.acceptFailed),
	}
	var err error
	if addrs := s.gnetAddrs(); len(addrs) == 1 {
		err = gnet.Run(s, addrs[0], opts...)
	} else {
		err = gnet.Rotate(s, addrs, opts...)
	}
	// The loops have stopped: hand their last access log lines to the
	// writer, which the caller closes.
	s.forEachLoop(func(l *loop) {
		if l.alog != nil {
			l.alog.Flush()
		}
	})
	if err != nil {
		select {
		case <-s.ready:
		default:
			close(s.ready) // let Ready callers see the failure
		}
	}
	return err
}

// Ready is closed once the listener is bound (or Run failed).
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the bound listen address, valid after Ready.
func (s *Server) Addr() net.Addr {
	if a := s.addr.Load(); a != nil {
		return a
	}
	return nil
}

// Shutdown stops taking new connections, lets in-flight exchanges finish and
// closes idle connections. When ctx ends first the remaining connections are
// cut. It returns when the event loops have stopped.
func (s *Server) Shutdown(ctx context.Context) error {
	<-s.ready
	if !s.draining.CompareAndSwap(false, true) {
		<-s.stopped
		return nil
	}
	s.handOver(ctx) // after Retire: serve what still arrives, then leave the port to the successor
	s.forEachLoop(func(l *loop) { l.execute(l.drainIdle) })
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var cut error
wait:
	for s.clients.Load() > 0 {
		select {
		case <-ctx.Done():
			cut = fmt.Errorf("cannot drain: %d connections cut at the end of the grace period", s.clients.Load())
			break wait
		case <-t.C:
			s.forEachLoop(func(l *loop) { l.execute(l.drainIdle) })
		}
	}
	s.closeTunnels()
	s.cutting.Store(true)
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.eng.Stop(stopCtx)
	<-s.stopped
	return errors.Join(cut, err)
}

// OnBoot records the engine and the address actually bound.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	s.bindAddrs()
	close(s.ready)
	return gnet.None
}

func sockaddrToTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

// loopFor returns the engine state of el, creating it on first use. It is
// called once per accepted connection, not per request.
func (s *Server) loopFor(el gnet.EventLoop) *loop {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	l := s.loopOf[el]
	if l == nil {
		l = newLoop(s, el, uint64(len(s.loops)))
		s.loopOf[el] = l
		s.loops = append(s.loops, l)
	}
	return l
}

func (s *Server) forEachLoop(f func(*loop)) {
	s.loopsMu.Lock()
	loops := append([]*loop(nil), s.loops...)
	s.loopsMu.Unlock()
	for _, l := range loops {
		f(l)
	}
}

// Tick periods: timeouts need a coarse clock; a retry waiting out its
// backoff needs a finer one.
const (
	slowTick = 50 * time.Millisecond
	fastTick = 2 * time.Millisecond
)

// tick advances the coarse clock and asks every loop to sweep its timers and
// its retries in backoff. It is the engine's only goroutine that runs for the
// life of the server.
func (s *Server) tick() {
	var lastSweep time.Time
	for {
		d := slowTick
		if s.fast.Load() > 0 {
			d = fastTick
		}
		select {
		case <-s.stopped:
			return
		case <-time.After(d):
		}
		clock.Store(monoNow())
		full := time.Since(lastSweep) >= slowTick
		if full {
			lastSweep = time.Now()
		}
		s.forEachLoop(func(l *loop) {
			if full {
				l.run(l.sweepFn)
			} else if l.waiting.Load() {
				l.run(l.waitersFn)
			}
		})
	}
}

// OnOpen binds a new connection to its state. An accepted client has no
// context yet; an upstream connection carries the state the engine gave it
// when enrolling.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	switch x := c.Context().(type) {
	case *upConn:
		x.onOpen(c)
		return nil, gnet.None
	case *tunnel:
		x.onOpen(c) // a CONNECT target
		return nil, gnet.None
	}
	l := s.loopFor(c.EventLoop())
	if s.draining.Load() && !s.ho.retiring.Load() { // a retiring server serves what was queued for it
		return nil, gnet.Close
	}
	l.sync()
	over := s.clients.Add(1) > int64(l.cfg.MaxConnections)
	cc := newClient(l, c, s.listenerOf(c.LocalAddr()))
	if over {
		cc.refuse(503) // over max_connections
		return nil, gnet.None
	}
	if limit := l.cfg.MaxConnectionsPerClient; limit > 0 {
		if a, ok := cc.peer(); ok {
			cc.perClient = true
			if s.perClient.add(a) > limit {
				s.perClient.remove(a) // not counted for a while it lingers
				cc.perClient = false
				cc.refuse(429) // RFC 6585 §4
			}
		}
	}
	if cc.ln.tls != nil && !cc.refused {
		if !cc.startTLS(cc.ln.tls) {
			cc.refuse(503) // max_tls_handshakes
			return nil, gnet.None
		}
		l.arm(&cc.timer, timerTLSHandshake)
	}
	return nil, gnet.None
}

// refuse answers a connection over a connection limit with status and a
// lingering close, so the client reads the answer rather than a reset
// caused by its unread request. It is not counted as a client while it
// lingers.
func (cc *clientConn) refuse(status int) {
	cc.l.s.clients.Add(-1)
	cc.refused = true
	cc.hold()
	cc.beginBare()
	cc.log.reason = stats.ReasonLimit
	if status == 429 && cc.l.cfg.OverLimitClose || cc.ln.tls != nil {
		// over_limit = "close", or a TLS client, which cannot be answered
		// before a handshake the proxy will not spend on it: no answer.
		cc.record()
		cc.closeNow()
		return
	}
	cc.answer(status, true)
}

// acceptFailed is gnet's report of a failed accept (EMFILE, ENFILE,
// ENOBUFS, ENOMEM): the listener backs off for a moment and existing
// connections are served meanwhile. Counted always, logged at most once a
// second. Runs on a loop.
func (s *Server) acceptFailed(err error) {
	s.st.AcceptErrors.Inc()
	t := monoNow()
	if last := s.acceptLogged.Load(); t-last >= int64(time.Second) && s.acceptLogged.CompareAndSwap(last, t) {
		s.log.Warn("cannot accept connections; backing off", "err", err,
			"hint", "raise the descriptor limit (ulimit -n) or lower max_connections")
	}
}

// upstreamConns sums the loops' upstream connection gauges.
func (s *Server) upstreamConns() (all, idle int64) {
	s.forEachLoop(func(l *loop) {
		all += l.upConns.Load()
		idle += l.idleConns.Load()
	})
	return all, idle
}

// OnTraffic runs the state machine of the connection that has bytes.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	switch x := c.Context().(type) {
	case *clientConn:
		return x.onTraffic()
	case *upConn:
		return x.onTraffic()
	case *tunnel:
		return x.onTraffic()
	}
	return gnet.Close
}

// OnClose tells the connection's state machine that gnet has closed it.
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	switch x := c.Context().(type) {
	case *clientConn:
		x.onClose(err)
	case *upConn:
		x.onClose(err)
	case *tunnel:
		x.onClose()
	}
	return gnet.None
}

// gnetLogger routes gnet's own logs to slog at debug level: they describe
// gnet internals, and the engine logs what matters to operators itself.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Warn(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }
