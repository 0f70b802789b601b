package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"loopgate/engine"
)

// TestSoak is a randomized integrity soak: many raw-TCP clients, pipelining
// and aborting at random, send requests with random bodies through two
// proxies to four backends, some of which misbehave on request. Each request
// carries a random ID (X-Soak-ID and the path); the backend answers with that
// ID, the path and the SHA-256 of the body it received, and a body generated
// from the ID. The clients read responses with a strict reader of their own
// and check, byte by byte, that every response they accept as complete is
// their own, for exactly the body they sent.
//
// It runs for LOOPGATE_SOAK (a duration such as 30m; 20s when unset, `make
// soak DURATION=30m`); LOOPGATE_SOAK_SEED replays a run's random choices
// (not its timing). Failures it reports:
//   - mismatch: a response carrying another request's ID, or a 2xx with the
//     wrong status, path, request digest or body (a body byte is wrong even in
//     a response that is cut later), or one that ends short or long;
//   - malformed: bytes from the proxy that are not HTTP/1.1 by the strict reader;
//   - desync: a backend read bytes that are not a well-formed request;
//   - honest failure: a request that asked for no misbehaviour failed (error
//     status or cut) on a connection where nothing had failed before;
//   - goroutines still running once the proxies and backends are stopped.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	dur := soakDuration(t)
	seed := soakSeed(t)
	checkSoakGoroutines(t) // first, so that its cleanup runs after the proxies' and backends'

	s := &soakRun{seed: seed, examples: map[string][]string{}, reasons: map[string]int{}}
	var backends []string
	for range soakBackends {
		b := startRawBackend(t, s.serve)
		backends = append(backends, b.addr())
	}
	proxies := []soakProxy{
		// Defaults for the flow: pausing only for big bodies and slow peers.
		{name: "proxy0 (high watermark 1 MiB)", cfg: soakProxyConfig(backends, engine.Flow{}, 0)},
		// A small high watermark and read buffer: pauses and split reads all the time.
		{name: "proxy1 (high watermark 64 KiB)", cfg: soakProxyConfig(backends, engine.Flow{HighWatermark: 64 << 10, LowWatermark: 16 << 10}, 16<<10)},
	}
	for i := range proxies {
		_, proxies[i].addr = startProxy(t, proxies[i].cfg)
	}

	start := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(dur))
	defer cancel()
	hardStop := start.Add(dur + soakGrace)
	var wg sync.WaitGroup
	for n := range soakClients {
		w := &soakWorker{
			n: n, run: s, proxies: proxies, hardStop: hardStop,
			rng:  rand.New(rand.NewPCG(seed, uint64(n))),
			wbuf: make([]byte, 32<<10), rbuf: make([]byte, 32<<10),
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx)
		}()
	}
	wg.Wait()
	s.report(t, time.Since(start))
}

const (
	soakDurationEnv = "LOOPGATE_SOAK"      // how long TestSoak runs, e.g. 30m
	soakSeedEnv     = "LOOPGATE_SOAK_SEED" // the seed of the clients' choices
	soakDefault     = 20 * time.Second     // without LOOPGATE_SOAK (make test)

	soakClients  = 48
	soakBackends = 4
	soakMaxBody  = 8 << 20 // largest request or response body

	// soakStall bounds each read and write of a client or backend: longer
	// than the proxies' timeouts, so that a stall the proxy should end is
	// reported as the proxy's error rather than ours.
	soakStall = 20 * time.Second
	// soakGrace is how long batches in flight at the deadline get to finish.
	soakGrace = time.Minute

	soakMisbehaveRate = 4  // percent of requests that ask their backend to misbehave
	soakAbortRate     = 4  // percent of batches that the client abandons half-way
	soakSlowRate      = 20 // percent of client connections that read slowly
)

// soakProxyConfig is a two-loop proxy in front of backends. Timeouts are
// short enough that a stalled exchange ends well within soakStall:
// body_progress 3s, upstream_response 10s. upstream_idle (5s) is below the
// backends' own idle limit (soakStall), so that the proxy never reuses a
// connection a backend is closing: that race is inherent to HTTP/1.1 and
// would show up as an honest failure. Retries keep their default (2): they
// apply only to requests with no body that got no response byte, and a
// retried request still has to come back with its own ID. Every client has
// left when the proxies shut down, so a short shutdown_grace only cuts
// exchanges that are stuck.
func soakProxyConfig(backends []string, flow engine.Flow, readBuffer int) engine.Config {
	cfg := poolOf(backends...)
	cfg.EventLoops = 2
	cfg.ReadBufferCap = readBuffer
	cfg.Flow = flow
	cfg.ShutdownGrace = 3 * time.Second
	cfg.Timeouts = engine.Timeouts{
		BodyProgress:     3 * time.Second,
		UpstreamResponse: 10 * time.Second,
		UpstreamIdle:     5 * time.Second,
	}
	return cfg
}

type soakProxy struct {
	name, addr string
	cfg        engine.Config
}

func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv(soakDurationEnv)
	if s == "" {
		return soakDefault
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a duration such as 30m", soakDurationEnv, s)
	}
	return d
}

func soakSeed(t *testing.T) uint64 {
	s := os.Getenv(soakSeedEnv)
	if s == "" {
		return uint64(time.Now().UnixNano())
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an unsigned integer", soakSeedEnv, s)
	}
	return n
}

// checkSoakGoroutines fails the test if, once everything started after it
// has been cleaned up (proxies, backends), more goroutines run than before.
// Idle workers of gnet's goroutine pool do not count: the pool is shared by
// the process and retires them after ExpiryDuration (10s).
func checkSoakGoroutines(t *testing.T) {
	const slack = 2
	base, _ := soakGoroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, stacks := soakGoroutines()
			if n <= base+slack {
				t.Logf("goroutines (gnet's pool workers aside): %d before, %d after", base, n)
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines (gnet's pool workers aside): %d before, still %d after the proxies and backends stopped:\n%s", base, n, stacks)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// soakGoroutines counts the goroutines other than gnet's idle pool workers
// and returns their stacks.
func soakGoroutines() (int, string) {
	buf := make([]byte, 4<<20)
	var keep []string
	for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "ants/v2.(*goWorker).run") {
			keep = append(keep, g)
		}
	}
	return len(keep), strings.Join(keep, "\n\n")
}

// Misbehaviours, asked for by a client in X-Misbehave so that it knows what
// to expect; every backend obeys.
const (
	mbResetMidBody  = "reset-mid-body"  // the response body is cut by an RST (SO_LINGER 0)
	mbCloseMidChunk = "close-mid-chunk" // a chunked body is cut by a FIN inside a chunk
	mbExtraAfter    = "extra-after"     // a whole second response follows in the same write
	mbEarly413      = "early-413"       // 413 + Connection: close after the head, while the upload goes on
	mbSplitHead     = "split-head"      // the response head goes out in writes of 1 to 7 bytes
	mbSlowRead      = "slow-read"       // the upload is read in small pieces with pauses, for a second
	mbSlowWrite     = "slow-write"      // the response is written in small pieces with pauses, for a second
)

var soakMisbehaviours = [...]string{mbResetMidBody, mbCloseMidChunk, mbExtraAfter, mbEarly413, mbSplitHead, mbSlowRead, mbSlowWrite}

// soakMayFail reports whether a request asking for mb may fail. The others
// are only slow or fragmented, which a proxy must carry like any exchange.
// None may ever end in a complete 2xx that is not the request's own.
func soakMayFail(mb string) bool {
	switch mb {
	case mbResetMidBody, mbCloseMidChunk, mbExtraAfter, mbEarly413:
		return true
	}
	return false
}

// Client aborts: the client closes its connection (FIN, or RST with
// SO_LINGER 0) in the middle of an upload or of a download.
var soakAborts = [...]string{"upload-close", "upload-rst", "download-close", "download-rst"}

// soakRun is the state a run's clients and backends share: counters, and
// the first examples of each kind of problem.
type soakRun struct {
	seed uint64

	requests, ok, mismatches, malformed atomic.Int64
	failExpected, failCollateral        atomic.Int64 // failures of misbehaving requests; after a failure on the same connection
	failHonest, aborted                 atomic.Int64 // failures with no excuse; requests of batches the client abandoned
	bytesUp, bytesDown                  atomic.Int64 // body bytes written by clients, read by clients
	conns, dialErrors                   atomic.Int64

	misbehaved [len(soakMisbehaviours)]atomic.Int64 // by index in soakMisbehaviours, counted by the backend that did it
	aborts     [len(soakAborts)]atomic.Int64        // by index in soakAborts

	backendRequests, desyncs atomic.Int64
	backendConns             atomic.Uint64

	mu       sync.Mutex
	examples map[string][]string // by kind, the first few
	reasons  map[string]int      // why requests failed
}

// note keeps the first examples of a kind of problem.
func (s *soakRun) note(kind, format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.examples[kind]) < 3 {
		s.examples[kind] = append(s.examples[kind], fmt.Sprintf(format, a...))
	}
}

func (s *soakRun) reason(r string) {
	s.mu.Lock()
	s.reasons[r]++
	s.mu.Unlock()
}

func (s *soakRun) report(t *testing.T, took time.Duration) {
	t.Helper()
	ld := func(v *atomic.Int64) int64 { return v.Load() }
	t.Logf("soak: %v (seed %d; %s=%d replays the choices), %d clients, 2 proxies x 2 event loops, %d backends",
		took.Round(time.Millisecond), s.seed, soakSeedEnv, s.seed, soakClients, soakBackends)
	t.Logf("requests %d: ok %d, mismatches %d, malformed %d; failed: expected %d, collateral %d, honest %d; aborted %d",
		ld(&s.requests), ld(&s.ok), ld(&s.mismatches), ld(&s.malformed),
		ld(&s.failExpected), ld(&s.failCollateral), ld(&s.failHonest), ld(&s.aborted))
	t.Logf("body bytes up %s, down %s; client connections %d, dial errors %d",
		soakBytes(ld(&s.bytesUp)), soakBytes(ld(&s.bytesDown)), ld(&s.conns), ld(&s.dialErrors))
	var mb, ab []string
	for i, name := range soakMisbehaviours {
		mb = append(mb, fmt.Sprintf("%s %d", name, s.misbehaved[i].Load()))
	}
	for i, name := range soakAborts {
		ab = append(ab, fmt.Sprintf("%s %d", name, s.aborts[i].Load()))
	}
	t.Logf("misbehaviours injected: %s", strings.Join(mb, ", "))
	t.Logf("client aborts: %s", strings.Join(ab, ", "))
	t.Logf("backends: %d requests on %d connections, %d desyncs", ld(&s.backendRequests), s.backendConns.Load(), ld(&s.desyncs))

	s.mu.Lock()
	defer s.mu.Unlock()
	reasons := make([]string, 0, len(s.reasons))
	for r, n := range s.reasons {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(reasons)
	t.Logf("outcomes other than ok, by reason: %s", strings.Join(reasons, "; "))
	kinds := make([]string, 0, len(s.examples))
	for k := range s.examples {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		for _, e := range s.examples[k] {
			t.Logf("%s: %s", k, e)
		}
	}

	sum := ld(&s.ok) + ld(&s.mismatches) + ld(&s.malformed) + ld(&s.failExpected) + ld(&s.failCollateral) + ld(&s.failHonest) + ld(&s.aborted)
	switch {
	case sum != ld(&s.requests):
		t.Errorf("test bug: %d requests but %d outcomes", ld(&s.requests), sum)
	case ld(&s.ok) == 0:
		t.Errorf("no request completed")
	}
	if n := ld(&s.mismatches) + ld(&s.malformed) + ld(&s.desyncs); n > 0 {
		t.Errorf("integrity: %d mismatches, %d malformed responses, %d backend desyncs", ld(&s.mismatches), ld(&s.malformed), ld(&s.desyncs))
	}
	if n := ld(&s.failHonest); n > 0 {
		t.Errorf("%d requests that asked for no misbehaviour failed on a connection where nothing else had", n)
	}
}

func soakBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// ---------------------------------------------------------------------------
// Bodies: streams generated from a request ID, checked without being kept.

// soakSeedOf names the body stream of one direction of one request.
func soakSeedOf(dir, id string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, dir)
	io.WriteString(h, id)
	return h.Sum64()
}

// soakFill writes bytes off .. off+len(p) of the stream for seed into p.
// Each 8-byte block is a hash of the seed and the block's index, so a byte
// can be checked at its place, and a byte of another stream or shifted
// within this one is caught.
func soakFill(seed uint64, off int64, p []byte) {
	var blk [8]byte
	for len(p) > 0 {
		binary.LittleEndian.PutUint64(blk[:], soakMix(seed+uint64(off>>3)*0x9e3779b97f4a7c15))
		n := copy(p, blk[off&7:])
		p = p[n:]
		off += int64(n)
	}
}

// soakMix is the splitmix64 finalizer.
func soakMix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// soakMatch is a sink that checks a body against the stream it should be,
// as it arrives.
type soakMatch struct {
	seed    uint64
	want    int64 // the body's length
	n       int64 // bytes seen
	badAt   int64 // offset of the first wrong byte (past want counts), or -1
	scratch []byte
}

func (m *soakMatch) Write(p []byte) (int, error) {
	for i := 0; i < len(p) && m.badAt < 0; {
		off := m.n + int64(i)
		if off >= m.want {
			m.badAt = off
			break
		}
		k := int(min(int64(len(p)-i), int64(len(m.scratch)), m.want-off))
		soakFill(m.seed, off, m.scratch[:k])
		if got := p[i : i+k]; !bytes.Equal(got, m.scratch[:k]) {
			j := 0
			for got[j] == m.scratch[j] {
				j++
			}
			m.badAt = off + int64(j)
		}
		i += k
	}
	m.n += int64(len(p))
	return len(p), nil
}

// soakCapture is a sink that keeps the start of a body, for messages.
type soakCapture struct{ b []byte }

func (c *soakCapture) Write(p []byte) (int, error) {
	c.b = append(c.b, p[:min(len(p), 200-len(c.b))]...)
	return len(p), nil
}

// soakWriteBody writes size bytes of the stream for seed to w, as they are
// or chunked (random chunk sizes of 1 B to 64 KiB, sometimes with leading
// zeros, upper case or extensions, then the given trailer section), and adds
// them to sum when it is not nil. With 0 <= stopAt < size it stops after
// stopAt bytes of payload, in the middle of the body's framing (inside a
// chunk when chunked). buf is scratch space.
func soakWriteBody(w *bufio.Writer, rng *rand.Rand, buf []byte, seed uint64, size int64, chunked bool, stopAt int64, trailer string, sum hash.Hash) error {
	end := size
	if stopAt >= 0 && stopAt < size {
		end = stopAt
	}
	for off := int64(0); off < size; {
		last := size
		if chunked {
			last = off + min(size-off, 1+rng.Int64N(1<<rng.IntN(17)))
			w.WriteString(soakChunkLine(rng, last-off))
		}
		for off < min(last, end) {
			k := int(min(min(last, end)-off, int64(len(buf))))
			soakFill(seed, off, buf[:k])
			if sum != nil {
				sum.Write(buf[:k])
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return err
			}
			off += int64(k)
		}
		if off == end && end < size {
			return nil // cut inside the framing
		}
		if chunked {
			w.WriteString("\r\n")
		}
	}
	if chunked {
		last := []string{"0\r\n", "0\r\n", "000\r\n", "0;end\r\n"}[rng.IntN(4)]
		w.WriteString(last + trailer + "\r\n")
	}
	return nil
}

// soakChunkLine is the size line of an n-byte chunk, in one of the spellings
// RFC 9112 §7.1 allows.
func soakChunkLine(rng *rand.Rand, n int64) string {
	switch rng.IntN(20) {
	case 0:
		return fmt.Sprintf("%08x\r\n", n) // leading zeros
	case 1:
		return fmt.Sprintf("%x;soak=%d\r\n", n, n) // an extension
	case 2:
		return fmt.Sprintf("%X;a;b=\"q s\"\r\n", n) // upper case; a quoted extension value
	}
	return fmt.Sprintf("%x\r\n", n)
}

// ---------------------------------------------------------------------------
// A strict HTTP/1.1 reader, shared by the clients and the backends: anything
// that another reader could take differently is a syntax error.

var errSoakSyntax = errors.New("not HTTP/1.1")

func soakSyntax(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errSoakSyntax, fmt.Sprintf(format, a...))
}

// soakLine reads one line, which must end in CRLF, and returns it without
// the CRLF. A connection that ends inside a line gives io.ErrUnexpectedEOF.
func soakLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", soakSyntax("line longer than %d bytes", br.Size())
	case err == io.EOF && len(b) > 0:
		return "", io.ErrUnexpectedEOF
	case err != nil:
		return "", err
	}
	line := b[:len(b)-1]
	if len(line) == 0 || line[len(line)-1] != '\r' || bytes.IndexByte(line[:len(line)-1], '\r') >= 0 {
		return "", soakSyntax("line %q does not end in CRLF", b)
	}
	return string(line[:len(line)-1]), nil
}

// soakFields are the field lines of a head or trailer section, by lower-case name.
type soakFields map[string][]string

func (f soakFields) get(name string) string {
	if v := f[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// soakReadFields reads field lines up to the empty line that ends them. No
// obs-fold (RFC 9112 §5.2), no whitespace before the colon, no control
// characters in a value.
func soakReadFields(br *bufio.Reader) (soakFields, error) {
	f := soakFields{}
	for n := 0; ; n++ {
		line, err := soakLine(br)
		if err != nil {
			return nil, err
		}
		if line == "" {
			return f, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || n == 100 || !soakToken(name) {
			return nil, soakSyntax("field line %q", line)
		}
		value = strings.Trim(value, " \t")
		if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, soakSyntax("field line %q", line)
		}
		key := strings.ToLower(name)
		f[key] = append(f[key], value)
	}
}

func soakToken(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

func soakHasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// soakFraming returns the body framing fields declare (RFC 9112 §6): a
// Content-Length (-1 for none), or chunked. Several Content-Length fields,
// one that is not all digits, a Transfer-Encoding other than just chunked,
// or both fields, are syntax errors.
func soakFraming(f soakFields) (length int64, chunked bool, err error) {
	cl, te := f["content-length"], f["transfer-encoding"]
	switch {
	case len(cl) > 0 && len(te) > 0:
		return 0, false, soakSyntax("both Content-Length %q and Transfer-Encoding %q", cl, te)
	case len(te) > 1 || len(te) == 1 && !strings.EqualFold(te[0], "chunked"):
		return 0, false, soakSyntax("Transfer-Encoding %q", te)
	case len(te) == 1:
		return -1, true, nil
	case len(cl) > 1:
		return 0, false, soakSyntax("Content-Length %q", cl)
	case len(cl) == 1:
		if len(cl[0]) == 0 || len(cl[0]) > 18 || strings.Trim(cl[0], "0123456789") != "" {
			return 0, false, soakSyntax("Content-Length %q", cl[0])
		}
		n, _ := strconv.ParseInt(cl[0], 10, 64)
		return n, false, nil
	}
	return -1, false, nil
}

// soakCopyN copies n bytes from br to dst; a connection that ends first
// gives io.ErrUnexpectedEOF.
func soakCopyN(dst io.Writer, br *bufio.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return done, err
			}
		}
		b, _ := br.Peek(int(min(int64(br.Buffered()), n-done)))
		dst.Write(b)
		br.Discard(len(b))
		done += int64(len(b))
	}
	return done, nil
}

// soakChunked copies the payload of a chunked body from br to dst and
// returns its trailer fields. Size lines are 1 to 16 hex digits, then
// extensions if any.
func soakChunked(dst io.Writer, br *bufio.Reader) (soakFields, int64, error) {
	var total int64
	for {
		line, err := soakLine(br)
		if err != nil {
			return nil, total, err
		}
		size, ext, _ := strings.Cut(line, ";")
		if len(size) == 0 || len(size) > 16 || strings.Trim(size, "0123456789abcdefABCDEF") != "" ||
			strings.ContainsFunc(ext, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, total, soakSyntax("chunk size line %q", line)
		}
		n, _ := strconv.ParseUint(size, 16, 64)
		if n > soakMaxBody*4 {
			return nil, total, soakSyntax("chunk of %d bytes", n)
		}
		if n == 0 {
			trailers, err := soakReadFields(br)
			return trailers, total, err
		}
		k, err := soakCopyN(dst, br, int64(n))
		total += k
		if err != nil {
			return nil, total, err
		}
		crlf, err := br.Peek(2)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, total, err
		}
		if string(crlf) != "\r\n" {
			return nil, total, soakSyntax("chunk data followed by %q, not CRLF", crlf)
		}
		br.Discard(2)
	}
}

// soakHead is a response head.
type soakHead struct {
	status  int
	fields  soakFields
	length  int64 // Content-Length, or -1
	chunked bool
}

// soakReadHead reads a response head: "HTTP/1.1", a three-digit final
// status (the backends never send 1xx), a reason, fields and framing.
func soakReadHead(br *bufio.Reader) (*soakHead, error) {
	line, err := soakLine(br)
	if err != nil {
		return nil, err
	}
	if len(line) < 13 || line[:9] != "HTTP/1.1 " || line[12] != ' ' || strings.Trim(line[9:12], "0123456789") != "" || line[9] < '2' {
		return nil, soakSyntax("status line %q", line)
	}
	h := &soakHead{}
	h.status, _ = strconv.Atoi(line[9:12])
	if h.fields, err = soakReadFields(br); err != nil {
		return nil, err
	}
	if h.length, h.chunked, err = soakFraming(h.fields); err != nil {
		return nil, err
	}
	return h, nil
}

// soakReadBody reads the body of a response to method into dst (RFC 9112
// §6.3): none for HEAD, 204 and 304, else chunked, Content-Length, or up to
// the close (an RST is an error, not an end). It returns the trailer fields
// and the payload's length.
func soakReadBody(dst io.Writer, br *bufio.Reader, h *soakHead, method string) (soakFields, int64, error) {
	switch {
	case method == "HEAD" || h.status == 204 || h.status == 304:
		return nil, 0, nil
	case h.chunked:
		return soakChunked(dst, br)
	case h.length >= 0:
		n, err := soakCopyN(dst, br, h.length)
		return nil, n, err
	}
	n, err := io.Copy(dst, io.LimitReader(br, soakMaxBody*4+1))
	if err == nil && n > soakMaxBody*4 {
		err = soakSyntax("close-delimited body longer than %d bytes", soakMaxBody*4)
	}
	return nil, n, err
}

// soakIncoming is a request head as a backend read it.
type soakIncoming struct {
	method, target string
	fields         soakFields
	length         int64 // 0 when there is no body
	chunked        bool
}

func soakReadRequest(br *bufio.Reader) (*soakIncoming, error) {
	line, err := soakLine(br)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(line, " ")
	if len(parts) != 3 || !soakToken(parts[0]) || !strings.HasPrefix(parts[1], "/") || parts[2] != "HTTP/1.1" {
		return nil, soakSyntax("request line %q", line)
	}
	in := &soakIncoming{method: parts[0], target: parts[1]}
	if in.fields, err = soakReadFields(br); err != nil {
		return nil, err
	}
	if in.length, in.chunked, err = soakFraming(in.fields); err != nil {
		return nil, err
	}
	in.length = max(in.length, 0)
	return in, nil
}

// ---------------------------------------------------------------------------
// Connections

// soakConn is a connection each read and write of which must end within
// soakStall (and before stop, when set), and that can be slowed down: while
// a pace lasts, reads or writes of at most step bytes, each followed by a
// pause. The reading side and the writing side may be two goroutines.
type soakConn struct {
	net.Conn
	stop                time.Time
	readPace, writePace soakPace
}

type soakPace struct {
	until time.Time
	step  int
	pause time.Duration
}

func (p *soakPace) on() bool { return p.step > 0 && time.Now().Before(p.until) }

func (c *soakConn) deadline() time.Time {
	d := time.Now().Add(soakStall)
	if !c.stop.IsZero() && c.stop.Before(d) {
		d = c.stop
	}
	return d
}

func (c *soakConn) Read(p []byte) (int, error) {
	c.SetReadDeadline(c.deadline())
	if !c.readPace.on() {
		return c.Conn.Read(p)
	}
	n, err := c.Conn.Read(p[:min(len(p), c.readPace.step)])
	time.Sleep(c.readPace.pause)
	return n, err
}

func (c *soakConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		k := len(p) - done
		slow := c.writePace.on()
		if slow {
			k = min(k, c.writePace.step)
		}
		c.SetWriteDeadline(c.deadline())
		n, err := c.Conn.Write(p[done : done+k])
		done += n
		if err != nil {
			return done, err
		}
		if slow {
			time.Sleep(c.writePace.pause)
		}
	}
	return done, nil
}

// abort closes c, with an RST rather than a FIN when rst is set.
func (c *soakConn) abort(rst bool) {
	if tc, ok := c.Conn.(*net.TCPConn); ok && rst {
		tc.SetLinger(0)
	}
	c.Close()
}

// ---------------------------------------------------------------------------
// Backends

// serve is a backend connection: it answers each request as its X-Soak-*
// fields ask, misbehaving when X-Misbehave says so. A request that is not
// well-formed HTTP/1.1 is a desync: the proxy forwarded bytes out of place.
func (s *soakRun) serve(nc net.Conn) {
	c := &soakConn{Conn: nc}
	br := bufio.NewReaderSize(c, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	rng := rand.New(rand.NewPCG(s.seed, 1<<32+s.backendConns.Add(1)))
	buf := make([]byte, 32<<10)
	for s.serveOne(c, br, bw, rng, buf) {
	}
}

// serveOne answers one request and reports whether the connection stays open.
func (s *soakRun) serveOne(c *soakConn, br *bufio.Reader, bw *bufio.Writer, rng *rand.Rand, buf []byte) bool {
	in, err := soakReadRequest(br)
	if err != nil {
		if errors.Is(err, errSoakSyntax) {
			s.desyncs.Add(1)
			s.note("desync", "backend read a request head: %v", err)
		}
		return false
	}
	s.backendRequests.Add(1)
	id, mb := in.fields.get("x-soak-id"), in.fields.get("x-misbehave")
	var status int
	var size int64
	var frame string
	_, err = fmt.Sscanf(in.fields.get("x-soak-resp"), "%d %d %s", &status, &size, &frame)
	mbIndex := slices.Index(soakMisbehaviours[:], mb)
	if id == "" || err != nil || mb != "" && mbIndex < 0 {
		s.desyncs.Add(1)
		s.note("desync", "backend read a request without a valid X-Soak-ID, X-Soak-Resp or X-Misbehave: %s %s %q", in.method, in.target, in.fields)
		return false
	}
	if in.target != "/soak/"+id {
		s.desyncs.Add(1) // answered all the same: the client sees it too
		s.note("desync", "backend read a request for %s with X-Soak-ID %s", in.target, id)
	}
	if mbIndex >= 0 {
		s.misbehaved[mbIndex].Add(1)
	}
	if mb == mbEarly413 {
		s.early413(c, br, bw, id)
		return false
	}

	if mb == mbSlowRead {
		c.readPace = soakPace{until: time.Now().Add(time.Second), step: 1 + rng.IntN(2048), pause: time.Millisecond}
	}
	sum := sha256.New()
	var n int64
	if in.chunked {
		_, n, err = soakChunked(sum, br)
	} else {
		n, err = soakCopyN(sum, br, in.length)
	}
	c.readPace = soakPace{}
	digest, keep := hex.EncodeToString(sum.Sum(nil)), true
	if err != nil {
		if !errors.Is(err, errSoakSyntax) {
			return false // the proxy went away
		}
		s.desyncs.Add(1)
		s.note("desync", "backend read the body of %s: %v", id, err)
		digest, keep = "corrupt-body", false // answered so that the client sees it too
	}

	var head strings.Builder
	fmt.Fprintf(&head, "HTTP/1.1 %d %s\r\nX-Soak-ID: %s\r\nX-Soak-Path: %s\r\nX-Soak-Digest: %s\r\nX-Soak-Len: %d\r\n",
		status, map[int]string{200: "OK", 204: "No Content"}[status], id, in.target, digest, n)
	bodyless := in.method == "HEAD" || status == 204
	switch {
	case status == 204:
	case frame == "length":
		fmt.Fprintf(&head, "Content-Length: %d\r\n", size)
	case frame == "chunked":
		head.WriteString("Transfer-Encoding: chunked\r\n")
	case rng.IntN(2) == 0: // close-delimited: the field is customary, not needed
		head.WriteString("Connection: close\r\n")
	}
	head.WriteString("\r\n")

	if mb == mbSlowWrite {
		c.writePace = soakPace{until: time.Now().Add(time.Second), step: 1 + rng.IntN(2048), pause: time.Millisecond}
		defer func() { c.writePace = soakPace{} }()
	}
	if mb == mbSplitHead {
		for h := head.String(); h != ""; {
			k := min(len(h), 1+rng.IntN(7))
			if _, err := c.Write([]byte(h[:k])); err != nil {
				return false
			}
			h = h[k:]
			time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
		}
	} else {
		bw.WriteString(head.String())
	}
	if !bodyless {
		stopAt := int64(-1)
		if (mb == mbResetMidBody || mb == mbCloseMidChunk) && size > 0 {
			stopAt = rng.Int64N(size)
		}
		trailer := ""
		if rng.IntN(3) == 0 {
			trailer = "X-Soak-Trailer: " + id + "\r\n"
		}
		if err := soakWriteBody(bw, rng, buf, soakSeedOf("resp:", id), size, frame == "chunked", stopAt, trailer, nil); err != nil {
			return false
		}
		if stopAt >= 0 {
			bw.Flush()
			c.abort(mb == mbResetMidBody)
			return false
		}
		keep = keep && frame != "close"
	}
	if mb == mbExtraAfter {
		// A complete response with another ID, in the same write as the
		// end of this one: it must never reach a client.
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nX-Soak-ID: smuggled-%s\r\nContent-Length: 8\r\n\r\nsmuggled", id)
	}
	return bw.Flush() == nil && keep
}

// early413 refuses an upload as soon as its head is read, the way a
// careful server does: the answer, then a half-close, then reading what
// still comes for a while so that no RST destroys the answer.
func (s *soakRun) early413(c *soakConn, br *bufio.Reader, bw *bufio.Writer, id string) {
	fmt.Fprintf(bw, "HTTP/1.1 413 Content Too Large\r\nX-Soak-ID: %s\r\nConnection: close\r\nContent-Length: 9\r\n\r\ntoo large", id)
	if bw.Flush() != nil {
		return
	}
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	c.stop = time.Now().Add(2 * time.Second)
	io.Copy(io.Discard, br)
}

// ---------------------------------------------------------------------------
// Clients

// soakReq is one request and what its client expects back.
type soakReq struct {
	id, method string
	bodyLen    int64
	chunked    bool   // the body is sent chunked, else with Content-Length
	status     int    // asked of the backend: 200 or 204
	respLen    int64  // asked of the backend
	respFrame  string // asked of the backend: "length", "chunked" or "close"
	misbehave  string // "" or one of soakMisbehaviours

	// Set by the writer before it closes sent.
	sent     chan struct{}
	complete bool   // every byte of the request went into the connection's buffer
	digest   string // hex SHA-256 of the body bytes written
}

func (r *soakReq) path() string  { return "/soak/" + r.id }
func (r *soakReq) hasBody() bool { return r.method == "POST" || r.method == "PUT" }

// wantLen is the length of the response body it must get.
func (r *soakReq) wantLen() int64 {
	if r.method == "HEAD" || r.status == 204 {
		return 0
	}
	return r.respLen
}

func (r *soakReq) String() string {
	s := r.method + " " + r.path()
	if r.hasBody() {
		s += fmt.Sprintf(" body %d", r.bodyLen)
		if r.chunked {
			s += " chunked"
		}
	}
	s += fmt.Sprintf(", asks %d %d %s", r.status, r.respLen, r.respFrame)
	if r.misbehave != "" {
		s += ", " + r.misbehave
	}
	return s
}

// soakSize is a random body length: mostly small, sometimes large.
func soakSize(rng *rand.Rand) int64 {
	switch p := rng.IntN(100); {
	case p < 15:
		return 0
	case p < 65:
		return rng.Int64N(1 << 10)
	case p < 88:
		return rng.Int64N(64 << 10)
	case p < 98:
		return rng.Int64N(1 << 20)
	}
	return rng.Int64N(soakMaxBody + 1)
}

// soakWorker is one client: a goroutine that opens connections one after
// the other and sends batches of pipelined requests on them.
type soakWorker struct {
	n        int
	run      *soakRun
	proxies  []soakProxy
	hardStop time.Time
	rng      *rand.Rand
	seq      int
	// Scratch space of the writing goroutine and of the reading one.
	wbuf, rbuf []byte

	// The current connection.
	via     string        // which proxy
	slow    time.Duration // how long each response is read slowly; 0: fast
	tainted bool          // something failed on it, or a request asked for a misbehaviour that may fail
}

func (w *soakWorker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		w.connection(ctx)
	}
}

// connection opens a connection to a random proxy and runs batches on it
// until the client chooses to leave, a batch fails or aborts, or the
// deadline passes.
func (w *soakWorker) connection(ctx context.Context) {
	p := w.proxies[w.rng.IntN(len(w.proxies))]
	d := net.Dialer{Timeout: ioTimeout}
	nc, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		if ctx.Err() == nil {
			w.run.dialErrors.Add(1)
			w.run.note("dial error", "%s: %v", p.name, err)
			time.Sleep(10 * time.Millisecond)
		}
		return
	}
	c := &soakConn{Conn: nc, stop: w.hardStop}
	defer c.Close()
	w.run.conns.Add(1)
	w.via, w.tainted, w.slow = p.name, false, 0
	if w.rng.IntN(100) < soakSlowRate {
		w.slow = time.Duration(50+w.rng.IntN(450)) * time.Millisecond
		c.readPace = soakPace{step: 1 + w.rng.IntN(4096), pause: time.Duration(1+w.rng.IntN(3)) * time.Millisecond}
	}
	br := bufio.NewReaderSize(c, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	for n := 1 + w.rng.IntN(16); n > 0 && ctx.Err() == nil; n-- {
		if !w.batch(c, br, bw) {
			return
		}
	}
}

// soakAbortPlan is where a client abandons a batch: at request at, after
// offset bytes of its body (upload) or of its response (download).
type soakAbortPlan struct {
	kind   int // index in soakAborts, or -1
	at     int
	offset int64
}

func (a soakAbortPlan) upload() bool   { return a.kind == 0 || a.kind == 1 }
func (a soakAbortPlan) download() bool { return a.kind == 2 || a.kind == 3 }
func (a soakAbortPlan) rst() bool      { return a.kind == 1 || a.kind == 3 }

// batch pipelines 1 to 8 requests: one goroutine writes them while this one
// reads the responses in order. It reports whether the connection can take
// another batch.
func (w *soakWorker) batch(c *soakConn, br *bufio.Reader, bw *bufio.Writer) bool {
	reqs := make([]*soakReq, 1+w.rng.IntN(8))
	for i := range reqs {
		reqs[i] = w.newRequest()
	}
	ab := w.planAbort(reqs)
	wrng := rand.New(rand.NewPCG(w.rng.Uint64(), w.rng.Uint64()))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.writeBatch(c, bw, wrng, reqs, ab)
	}()
	keep := w.readBatch(c, br, reqs, ab)
	if !keep {
		c.Close() // ends the writer if it is still at work
	}
	wg.Wait()
	return keep
}

func (w *soakWorker) newRequest() *soakReq {
	rng := w.rng
	w.seq++
	r := &soakReq{
		id:        fmt.Sprintf("c%02d-%06d-%08x", w.n, w.seq, rng.Uint32()),
		sent:      make(chan struct{}),
		status:    200,
		respLen:   soakSize(rng),
		respFrame: []string{"length", "length", "length", "length", "chunked", "chunked", "chunked", "close"}[rng.IntN(8)],
	}
	switch p := rng.IntN(100); {
	case p < 30:
		r.method = "GET"
	case p < 35:
		r.method = "HEAD"
	case p < 90:
		r.method = "POST"
	default:
		r.method = "PUT"
	}
	if r.hasBody() {
		r.bodyLen, r.chunked = soakSize(rng), rng.IntN(5) < 2
	}
	if r.method == "HEAD" && r.respFrame == "close" {
		r.respFrame = "length" // a close-delimited HEAD response would be a close for nothing
	}
	if r.method != "HEAD" && rng.IntN(100) < 3 {
		r.status = 204
	}
	if rng.IntN(100) < soakMisbehaveRate {
		r.misbehave = soakMisbehaviours[rng.IntN(len(soakMisbehaviours))]
		r.fitMisbehaviour(rng)
	}
	w.run.requests.Add(1)
	return r
}

// fitMisbehaviour changes r so that its misbehaviour can happen: a body to
// cut, a chunk to close in, an upload to refuse or read slowly.
func (r *soakReq) fitMisbehaviour(rng *rand.Rand) {
	withBody := func() {
		if r.method == "HEAD" {
			r.method = "GET"
		}
		r.status = 200
		if r.respLen == 0 {
			r.respLen = 1 + rng.Int64N(64<<10)
		}
	}
	switch r.misbehave {
	case mbResetMidBody, mbSlowWrite:
		withBody()
	case mbCloseMidChunk:
		withBody()
		r.respFrame = "chunked"
	case mbExtraAfter: // after a HEAD response, a 204 or a body
		withBody()
		// Small enough for the backend's buffer to hold the whole response
		// and the extra one, so that they go out in one write.
		r.respLen = rng.Int64N(4 << 10)
		switch rng.IntN(3) {
		case 0:
			r.method, r.bodyLen = "HEAD", 0
		case 1:
			r.status = 204
		}
		if r.respFrame == "close" {
			r.respFrame = "length"
		}
	case mbEarly413:
		r.method, r.status = "POST", 200
		r.bodyLen = 64<<10 + rng.Int64N(soakMaxBody-64<<10)
	case mbSlowRead:
		if !r.hasBody() {
			r.method, r.chunked = "POST", rng.IntN(2) == 0
		}
		if r.bodyLen == 0 {
			r.bodyLen = 1 + rng.Int64N(256<<10)
		}
	}
}

func (w *soakWorker) planAbort(reqs []*soakReq) soakAbortPlan {
	if w.rng.IntN(100) >= soakAbortRate {
		return soakAbortPlan{kind: -1}
	}
	a := soakAbortPlan{kind: w.rng.IntN(len(soakAborts)), at: w.rng.IntN(len(reqs))}
	if a.upload() {
		i := slices.IndexFunc(reqs, func(r *soakReq) bool { return r.bodyLen > 0 })
		if i < 0 {
			a.kind += 2 // nothing to upload: abort a download instead
		} else {
			a.at, a.offset = i, w.rng.Int64N(reqs[i].bodyLen)
		}
	}
	if a.download() {
		// Fewer bytes than the response has (its head is longer than 100
		// bytes), so that the client does not wait for bytes that never come.
		a.offset = w.rng.Int64N(100 + min(reqs[a.at].wantLen(), 64<<10))
	}
	w.run.aborts[a.kind].Add(1)
	return a
}

// writeBatch writes the requests, flushing after some and after the last,
// so that several share a write at times. When the batch's abort is an
// upload, it closes the connection in the middle of that body.
func (w *soakWorker) writeBatch(c *soakConn, bw *bufio.Writer, rng *rand.Rand, reqs []*soakReq, ab soakAbortPlan) {
	next := 0 // the first request whose sent is still open
	defer func() {
		for _, r := range reqs[next:] {
			close(r.sent)
		}
	}()
	for i, r := range reqs {
		stopAt := int64(-1)
		if ab.upload() && ab.at == i {
			stopAt = ab.offset
		}
		err := w.writeRequest(bw, rng, r, stopAt)
		r.complete = err == nil && stopAt < 0
		close(r.sent)
		next = i + 1
		if stopAt >= 0 {
			bw.Flush()
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
			c.abort(ab.rst())
			return
		}
		if err == nil && (i == len(reqs)-1 || rng.IntN(10) < 6) {
			err = bw.Flush()
		}
		if err != nil {
			return
		}
	}
}

func (w *soakWorker) writeRequest(bw *bufio.Writer, rng *rand.Rand, r *soakReq, stopAt int64) error {
	fmt.Fprintf(bw, "%s %s HTTP/1.1\r\nHost: soak\r\nX-Soak-ID: %s\r\nX-Soak-Resp: %d %d %s\r\n",
		r.method, r.path(), r.id, r.status, r.respLen, r.respFrame)
	if r.misbehave != "" {
		fmt.Fprintf(bw, "X-Misbehave: %s\r\n", r.misbehave)
	}
	switch {
	case r.hasBody() && r.chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case r.hasBody():
		fmt.Fprintf(bw, "Content-Length: %d\r\n", r.bodyLen)
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		return err
	}
	sum := sha256.New()
	var err error
	if r.hasBody() {
		trailer := ""
		if r.chunked && rng.IntN(4) == 0 {
			trailer = "X-Soak-Req-Trailer: " + r.id + "\r\n"
		}
		err = soakWriteBody(bw, rng, w.wbuf, soakSeedOf("req:", r.id), r.bodyLen, r.chunked, stopAt, trailer, sum)
		sent := r.bodyLen
		if stopAt >= 0 {
			sent = stopAt
		}
		w.run.bytesUp.Add(sent)
	}
	r.digest = hex.EncodeToString(sum.Sum(nil))
	return err
}

// soakOutcome is what became of a request.
type soakOutcome int

const (
	soakOK        soakOutcome = iota // its own complete response, checked
	soakMismatch                     // a response that is not its own, or a wrong 2xx
	soakMalformed                    // the proxy sent bytes that are not HTTP/1.1
	soakFailed                       // an error status, a cut connection or none at all
)

type soakResult struct {
	out    soakOutcome
	detail string // what went wrong
	reason string // a short class of failure, for the report
	close  bool   // the response had Connection: close
}

// soakFailure classifies an error reading the head or the body (part) of
// a response; where says more for the detail.
func soakFailure(err error, part, where string) soakResult {
	if errors.Is(err, errSoakSyntax) {
		return soakResult{out: soakMalformed, detail: where + ": " + err.Error()}
	}
	reason := err.Error()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		reason = "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		reason = "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		reason = "closed"
	case errors.Is(err, net.ErrClosed):
		reason = "closed by the client"
	}
	return soakResult{out: soakFailed, detail: where + ": " + err.Error(), reason: part + " " + reason}
}

// readBatch reads the responses to reqs in order, and settles each request.
// When the batch's abort is a download, it reads part of that response and
// closes the connection. It reports whether the connection can go on.
func (w *soakWorker) readBatch(c *soakConn, br *bufio.Reader, reqs []*soakReq, ab soakAbortPlan) bool {
	for i, r := range reqs {
		if ab.download() && ab.at == i {
			io.CopyN(io.Discard, br, ab.offset)
			c.abort(ab.rst())
			for _, r := range reqs[i:] {
				w.settle(r, soakResult{out: soakFailed}, true, i, len(reqs))
			}
			return false
		}
		if w.slow > 0 {
			c.readPace.until = time.Now().Add(w.slow)
		}
		res := w.readOne(br, r)
		aborted := ab.upload()
		w.settle(r, res, aborted, i, len(reqs))
		if res.out != soakOK || res.close {
			for _, r := range reqs[i+1:] {
				w.settle(r, soakResult{out: soakFailed, detail: "not answered: the connection ended", reason: "not answered"}, aborted, i, len(reqs))
			}
			return false
		}
	}
	return true
}

// readOne reads the response to r and checks it.
func (w *soakWorker) readOne(br *bufio.Reader, r *soakReq) soakResult {
	h, err := soakReadHead(br)
	if err != nil {
		return soakFailure(err, "head", "head")
	}
	if ids := h.fields["x-soak-id"]; len(ids) > 1 || len(ids) == 1 && ids[0] != r.id {
		return soakResult{out: soakMismatch, reason: soakWhose(r.id, ids), detail: fmt.Sprintf("a %d response carries X-Soak-ID %q", h.status, ids)}
	}
	ok := h.status/100 == 2
	var sink io.Writer
	m := &soakMatch{seed: soakSeedOf("resp:", r.id), want: r.wantLen(), badAt: -1, scratch: w.rbuf}
	capture := &soakCapture{}
	if ok {
		sink = m
	} else {
		sink = capture
	}
	trailers, n, err := soakReadBody(sink, br, h, r.method)
	w.run.bytesDown.Add(n)
	if ok && m.badAt >= 0 {
		reason := "wrong body bytes"
		if m.badAt == m.want {
			reason = "a body longer than asked"
		}
		return soakResult{out: soakMismatch, reason: reason, detail: fmt.Sprintf("%d response: body byte %d is not the byte for this ID (want %d bytes, read %d, then %v)", h.status, m.badAt, m.want, n, err)}
	}
	if err != nil {
		return soakFailure(err, "body", fmt.Sprintf("%d body after %d of %d bytes", h.status, n, r.wantLen()))
	}
	res := soakResult{close: soakHasToken(h.fields["connection"], "close")}
	if !ok {
		res.out, res.reason = soakFailed, fmt.Sprintf("status %d", h.status)
		res.detail = fmt.Sprintf("status %d %q", h.status, capture.b)
		return res
	}
	if reason, detail := r.check(h, trailers, m); reason != "" {
		res.out, res.reason, res.detail = soakMismatch, reason, detail
	}
	return res
}

// check returns what is wrong with a complete 2xx response to r, as a
// short reason and a detail, or "" when it is right.
func (r *soakReq) check(h *soakHead, trailers soakFields, m *soakMatch) (reason, detail string) {
	if h.fields.get("x-soak-id") != r.id {
		return "a 2xx without ID", fmt.Sprintf("a %d response without X-Soak-ID", h.status)
	}
	if h.status != r.status {
		return "wrong status", fmt.Sprintf("status %d, asked for %d", h.status, r.status)
	}
	if p := h.fields.get("x-soak-path"); p != r.path() {
		return "wrong path", fmt.Sprintf("the backend saw the path %q", p)
	}
	select {
	case <-r.sent:
	case <-time.After(soakStall):
		return "answered before sent", "a complete response while its request was still being written"
	}
	if d, l := h.fields.get("x-soak-digest"), h.fields.get("x-soak-len"); d != r.digest || l != strconv.FormatInt(r.bodyLen, 10) {
		return "wrong request body at the backend", fmt.Sprintf("the backend received %s body bytes with SHA-256 %.12s, the client sent %d with %.12s (all of it: %v)", l, d, r.bodyLen, r.digest, r.complete)
	}
	if m.n != m.want {
		return "a cut body delivered as complete", fmt.Sprintf("a complete %d response with %d body bytes, want %d", h.status, m.n, m.want)
	}
	if v := trailers.get("x-soak-trailer"); v != "" && v != r.id {
		return "another response's trailer", fmt.Sprintf("trailer X-Soak-Trailer %q", v)
	}
	return "", ""
}

// soakWhose says whose response a client got instead of its own.
func soakWhose(own string, ids []string) string {
	switch got := ids[0]; {
	case len(ids) > 1:
		return "several IDs"
	case strings.HasPrefix(got, "smuggled-"):
		return "a smuggled response (bytes a backend sent past its response)"
	case len(got) < 10 || got[:4] != own[:4]:
		return "another client's response"
	case got[4:10] > own[4:10]:
		return "the response to a later request of the same client"
	}
	return "the response to an earlier request of the same client"
}

// settle counts a request's outcome. A failure is expected for a request
// that asked for a misbehaviour that may fail, collateral after something
// failed on the same connection, and honest otherwise; failures of a batch
// the client abandoned count as aborted.
func (w *soakWorker) settle(r *soakReq, res soakResult, aborted bool, i, n int) {
	s := w.run
	where := fmt.Sprintf("%s, request %d/%d of a batch: %s", w.via, i+1, n, r)
	switch {
	case res.out == soakOK:
		s.ok.Add(1)
	case res.out == soakMismatch:
		s.mismatches.Add(1)
		s.reason("MISMATCH: " + res.reason)
		s.note("mismatch, "+res.reason, "%s: %s", where, res.detail)
	case res.out == soakMalformed:
		s.malformed.Add(1)
		s.reason("MALFORMED")
		s.note("malformed", "%s: %s", where, res.detail)
	case aborted:
		s.aborted.Add(1)
	case soakMayFail(r.misbehave):
		s.failExpected.Add(1)
		s.reason(r.misbehave + ": " + res.reason)
	case w.tainted:
		s.failCollateral.Add(1)
		s.reason("collateral")
	default:
		s.failHonest.Add(1)
		s.reason("honest: " + res.reason)
		s.note("honest failure, "+res.reason, "%s: %s", where, res.detail)
	}
	if res.out != soakOK || res.close || soakMayFail(r.misbehave) {
		w.tainted = true
	}
}
