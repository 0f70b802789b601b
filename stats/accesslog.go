package stats

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// AccessLogOptions configure an access log. The zero value writes JSON
// lines to stdout.
type AccessLogOptions struct {
	// Path is the file lines are appended to; "" or "-" means Stdout
	// (default "-").
	Path string `toml:"path"`
	// Format is "json", one JSON object per line, or "combined", the NCSA
	// combined format with nginx-style extras (default "json").
	Format string `toml:"format"`
	// BufferSize is how many bytes a loop buffers before it hands them to
	// the writer (default 65536).
	BufferSize int `toml:"buffer_size"`
	// Queue is how many full buffers may wait for the writer; past it,
	// lines are dropped and counted (default 64).
	Queue int `toml:"queue"`
	// FlushInterval is how long a line may wait in a quiet loop's buffer:
	// the engine calls Flush from each loop's sweep, every 50ms, so a line
	// reaches the writer within about that, and sooner on a busy loop whose
	// buffer fills first. The access log runs no timer of its own
	// (default 50ms).
	FlushInterval time.Duration `toml:"flush_interval"`
	// Stdout is where Path "-" writes (default os.Stdout).
	Stdout io.Writer `toml:"-"`
	// Log gets the reports of dropped lines and of write errors, at most
	// one of each per second (default slog.Default()).
	Log *slog.Logger `toml:"-"`
}

// Access log defaults; see AccessLogOptions.
const (
	DefaultAccessLogBufferSize    = 64 << 10
	DefaultAccessLogQueue         = 64
	DefaultAccessLogFlushInterval = 50 * time.Millisecond
)

// NeedsAgent reports whether the format writes Referer and User-Agent, so
// the engine copies them into Record only when they are used.
func (o AccessLogOptions) NeedsAgent() bool { return o.Format == "combined" }

// AccessLog writes one line per exchange. Each event loop formats its lines
// into its own LogBuffer (NewBuffer) and hands full buffers to one writer
// goroutine over a bounded queue, so a slow disk never blocks a loop. When
// the writer falls behind, the lines of a buffer that finds no room are
// dropped, counted (Dropped) and reported in the log, never silently lost.
// Memory is bounded: 2*Queue buffers at most besides the one each loop
// holds, each of about BufferSize bytes.
//
// Written, Dropped and Reopen are safe from any goroutine. Create it with
// OpenAccessLog; Close it after the loops have stopped.
type AccessLog struct {
	opts     AccessLogOptions
	combined bool
	isFile   bool

	queue chan *logChunk // full buffers in hand-off order, for the writer
	free  chan *logChunk // empty buffers the writer recycled
	spare atomic.Int64   // buffers that may still be made when free is empty

	written atomic.Uint64
	dropped atomic.Uint64 // lines dropped: no free buffer or no queue slot
	failed  atomic.Uint64 // lines lost to write errors
	closed  atomic.Bool   // Close has begun: later hand-offs are dropped

	out     io.Writer               // owned by the writer goroutine
	file    *os.File                // out when writing a file; owned by the writer goroutine
	pending atomic.Pointer[os.File] // a reopened file the writer switches to before its next write
	wake    chan struct{}           // tells an idle writer that pending is set

	mu        sync.Mutex    // orders Reopen against Close; guards werr and shut
	werr      error         // the latest write or close error, for the reporter
	shut      bool          // the file is closed: Reopen must not open another
	stop      chan struct{} // closed by Close: the writer drains the queue and exits
	wdone     chan struct{} // the writer has written everything and exited
	rdone     chan struct{} // the reporter has made its last report
	closeErr  error
	closeOnce sync.Once
}

// logChunk is one buffer of whole lines.
type logChunk struct {
	b     []byte
	lines int
}

// chunkSlack is room past BufferSize so that a usual line never makes a
// buffer grow (see Append).
const chunkSlack = 8 << 10

// OpenAccessLog opens the log's file (appending; created 0644 if missing)
// and starts its writer goroutine. Close stops it.
func OpenAccessLog(o AccessLogOptions) (*AccessLog, error) {
	a := &AccessLog{
		stop:  make(chan struct{}),
		wdone: make(chan struct{}),
		rdone: make(chan struct{}),
		wake:  make(chan struct{}, 1),
	}
	switch o.Format {
	case "", "json":
		o.Format = "json"
	case "combined":
		a.combined = true
	default:
		return nil, fmt.Errorf("cannot open access log: unknown format %q (want json or combined)", o.Format)
	}
	if o.Path == "" {
		o.Path = "-"
	}
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultAccessLogBufferSize
	}
	if o.Queue <= 0 {
		o.Queue = DefaultAccessLogQueue
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultAccessLogFlushInterval
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	a.opts = o
	if o.Path == "-" {
		a.out = o.Stdout
	} else {
		f, err := openLogFile(o.Path)
		if err != nil {
			return nil, fmt.Errorf("cannot open access log %q: %w", o.Path, err)
		}
		a.out, a.file, a.isFile = f, f, true
	}
	a.queue = make(chan *logChunk, o.Queue)
	a.free = make(chan *logChunk, 2*o.Queue)
	a.spare.Store(int64(2 * o.Queue))
	go a.write()
	go a.report()
	return a, nil
}

func openLogFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

func (a *AccessLog) newChunk() *logChunk {
	return &logChunk{b: make([]byte, 0, a.opts.BufferSize+chunkSlack)}
}

// Written is the number of lines written.
func (a *AccessLog) Written() uint64 { return a.written.Load() }

// Dropped is the number of lines not written: dropped because the writer
// fell behind, or, rarely, lost to a write error (both are reported in the
// log). Once Close returns, every line appended and flushed before it is
// either Written or Dropped.
func (a *AccessLog) Dropped() uint64 { return a.dropped.Load() + a.failed.Load() }

// LogBuffer is one event loop's share of an AccessLog. It is owned by that
// loop: Append and Flush run only there, take no lock and never block.
type LogBuffer struct {
	a  *AccessLog
	c  *logChunk
	tc timeCache
}

// NewBuffer returns a buffer for one event loop. Call it once per loop, at
// startup.
func (a *AccessLog) NewBuffer() *LogBuffer { return &LogBuffer{a: a, c: a.newChunk()} }

// Append formats r as one line into the loop's buffer and hands the buffer
// to the writer once it holds BufferSize bytes. It copies what it keeps of
// r. It never blocks and does not allocate in steady state (a buffer grows
// only for a line longer than its slack). Must run on the owning loop.
func (b *LogBuffer) Append(r *Record) {
	// Slow path: hand off first rather than let a long line grow the buffer.
	if n := len(b.c.b); n > 0 && n+maxLine(r) > cap(b.c.b) {
		b.handOff()
	}
	c := b.c
	if b.a.combined {
		c.b = appendCombinedLine(c.b, r, &b.tc)
	} else {
		c.b = appendJSONLine(c.b, r, &b.tc)
	}
	c.lines++
	if len(c.b) >= b.a.opts.BufferSize {
		b.handOff()
	}
}

// Flush hands what is buffered to the writer. It never blocks. Must run on
// the owning loop; the engine calls it from each sweep.
func (b *LogBuffer) Flush() { b.handOff() }

// handOff queues the current buffer for the writer and takes an empty one.
// With no empty buffer to take, or no room in the queue, the buffer's lines
// are counted as dropped and the buffer is reused.
func (b *LogBuffer) handOff() {
	a, c := b.a, b.c
	if c.lines == 0 {
		return
	}
	if !a.closed.Load() {
		if next := a.takeChunk(); next != nil {
			select {
			case a.queue <- c:
				b.c = next
				return
			default:
				a.recycle(next)
			}
		}
	}
	a.dropped.Add(uint64(c.lines))
	c.b, c.lines = c.b[:0], 0
}

// takeChunk returns an empty buffer from the free list, or a new one while
// the budget allows, or nil. It does not block.
func (a *AccessLog) takeChunk() *logChunk {
	select {
	case c := <-a.free:
		return c
	default:
	}
	if a.spare.Add(-1) >= 0 {
		return a.newChunk()
	}
	a.spare.Add(1)
	return nil
}

// write is the writer goroutine: it writes buffers in hand-off order and
// recycles them. After stop it writes what is queued and exits.
func (a *AccessLog) write() {
	defer close(a.wdone)
	for {
		select {
		case c := <-a.queue:
			a.writeChunk(c)
		case <-a.wake:
			a.switchFile()
		case <-a.stop:
			for {
				select {
				case c := <-a.queue:
					a.writeChunk(c)
				default:
					return
				}
			}
		}
	}
}

func (a *AccessLog) writeChunk(c *logChunk) {
	a.switchFile()
	n, err := a.out.Write(c.b)
	if err != nil {
		// Lines are whole up to the last newline written.
		ok := bytes.Count(c.b[:n], newline)
		a.written.Add(uint64(ok))
		a.failed.Add(uint64(c.lines - ok))
		a.setErr(fmt.Errorf("cannot write access log: %w", err))
	} else {
		a.written.Add(uint64(c.lines))
	}
	c.b, c.lines = c.b[:0], 0
	a.recycle(c)
}

// recycle puts an empty buffer on the free list. The list has room for
// every buffer made from spare, so the default case is only a guard that
// keeps the loop from ever blocking here.
func (a *AccessLog) recycle(c *logChunk) {
	select {
	case a.free <- c:
	default:
		a.spare.Add(1)
	}
}

var newline = []byte{'\n'}

// switchFile makes a file that Reopen opened the one written to. It runs
// on the writer goroutine, which owns the file.
func (a *AccessLog) switchFile() {
	f := a.pending.Swap(nil)
	if f == nil {
		return
	}
	if err := a.file.Close(); err != nil {
		a.setErr(fmt.Errorf("cannot close rotated access log: %w", err))
	}
	a.out, a.file = f, f
}

func (a *AccessLog) setErr(err error) {
	a.mu.Lock()
	a.werr = err
	a.mu.Unlock()
}

// report is the reporter goroutine: once per second at most, it logs lines
// dropped and write errors since its last report, and once more after the
// writer has exited. It runs apart from the writer so that drops are
// reported even while a write hangs.
func (a *AccessLog) report() {
	defer close(a.rdone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var behind, failed uint64
	var werr error
	once := func() {
		if n := a.dropped.Load(); n != behind {
			a.opts.Log.Warn(fmt.Sprintf("access log: %d lines dropped: the writer is behind", n-behind), "dropped_total", n)
			behind = n
		}
		a.mu.Lock()
		err := a.werr
		a.mu.Unlock()
		if n := a.failed.Load(); n != failed {
			a.opts.Log.Error(fmt.Sprintf("access log: %d lines lost", n-failed), "err", err, "lost_total", n)
			failed = n
		} else if err != werr {
			a.opts.Log.Error("access log: write error", "err", err)
		}
		werr = err
	}
	for {
		select {
		case <-t.C:
			once()
		case <-a.wdone:
			once()
			return
		}
	}
}

// Reopen opens the file again by its path and writes to the new file from
// the next buffer on; the writer closes the old one. It is how the log is
// rotated: rename the file, then signal SIGUSR1. Safe from any goroutine;
// a no-op when writing to stdout.
func (a *AccessLog) Reopen() error {
	if !a.isFile {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.shut {
		return fmt.Errorf("cannot reopen access log %q: %w", a.opts.Path, os.ErrClosed)
	}
	f, err := openLogFile(a.opts.Path)
	if err != nil {
		return fmt.Errorf("cannot reopen access log %q: %w", a.opts.Path, err)
	}
	if old := a.pending.Swap(f); old != nil {
		old.Close() // opened by an earlier Reopen and never written to
	}
	select {
	case a.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close writes every buffer already handed off, stops the writer and
// closes the file. Lines still in a LogBuffer are not written: the loops
// call Flush before they stop. Append and Flush must not run during or
// after Close; lines they hand off then are dropped. Close waits for a
// write in progress, so it hangs if the writer does. A second Close
// returns the first one's result.
func (a *AccessLog) Close() error {
	a.closeOnce.Do(func() {
		a.closed.Store(true)
		close(a.stop)
		<-a.wdone
		<-a.rdone
		a.mu.Lock()
		defer a.mu.Unlock()
		a.shut = true
		if f := a.pending.Swap(nil); f != nil {
			f.Close() // Reopen after the last write: nothing was written to it
		}
		if a.file != nil {
			if err := a.file.Close(); err != nil {
				a.closeErr = fmt.Errorf("cannot close access log %q: %w", a.opts.Path, err)
			}
		}
	})
	return a.closeErr
}

// NeedsAgent reports whether the log's format writes Referer and
// User-Agent, so the engine copies them only then.
func (a *AccessLog) NeedsAgent() bool { return a.opts.NeedsAgent() }
