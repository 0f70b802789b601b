package stats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// testRecord is a typical proxied exchange.
func testRecord() Record {
	return Record{
		Time:      time.Date(2026, 12, 1, 14, 0, 0, 123456789, time.UTC),
		ClientIP:  []byte("127.0.0.1"),
		Method:    []byte("GET"),
		Target:    []byte("/x?y"),
		Minor:     1,
		Status:    200,
		BytesIn:   78,
		BytesOut:  312,
		Total:     1234567 * time.Nanosecond,
		Backend:   &BackendStats{Addr: "127.0.0.1:8001"},
		Connect:   300 * time.Microsecond,
		TTFB:      900 * time.Microsecond,
		Upstream:  1100 * time.Microsecond,
		RequestID: []byte("4bf92f3577b34da6"),
		Referer:   []byte("http://example.com/a"),
		UserAgent: []byte("curl/8.5.0"),
	}
}

func TestAccessLogLines(t *testing.T) {
	f := func(r Record, wantJSON, wantCombined string) {
		t.Helper()
		if got := string(appendJSONLine(nil, &r, new(timeCache))); got != wantJSON {
			t.Fatalf("appendJSONLine:\ngot  %q\nwant %q", got, wantJSON)
		}
		if got := string(appendCombinedLine(nil, &r, new(timeCache))); got != wantCombined {
			t.Fatalf("appendCombinedLine:\ngot  %q\nwant %q", got, wantCombined)
		}
	}
	r := testRecord()
	f(r,
		`{"time":"2026-12-01T14:00:00.123Z","client":"127.0.0.1","method":"GET","target":"/x?y","proto":"HTTP/1.1",`+
			`"status":200,"bytes_in":78,"bytes_out":312,"duration_ms":1.234,"upstream":"127.0.0.1:8001","upstream_ms":1.100,`+
			`"connect_ms":0.300,"ttfb_ms":0.900,"retries":0,"request_id":"4bf92f3577b34da6","reason":""}`+"\n",
		`127.0.0.1 - - [01/Dec/2026:14:00:00 +0000] "GET /x?y HTTP/1.1" 200 312 "http://example.com/a" "curl/8.5.0" `+
			`rt=0.001 uct=0.000 urt=0.001 upstream=127.0.0.1:8001 rid=4bf92f3577b34da6 retries=0 reason=-`+"\n")

	// An answer of our own after a cut connection: no backend, status 0,
	// nothing optional known. Times in other zones are written in UTC.
	r = Record{
		Time:     time.Date(2026, 12, 1, 15, 0, 0, 0, time.FixedZone("CET", 3600)),
		ClientIP: []byte("::1"), Status: 0, BytesIn: 17, Total: 30 * time.Second, Retries: 2, Reason: ReasonClientGone,
	}
	f(r,
		`{"time":"2026-12-01T14:00:00.000Z","client":"::1","method":"","target":"","proto":"HTTP/1.0",`+
			`"status":0,"bytes_in":17,"bytes_out":0,"duration_ms":30000.000,"upstream":"","upstream_ms":0.000,`+
			`"connect_ms":0.000,"ttfb_ms":0.000,"retries":2,"request_id":"","reason":"client_gone"}`+"\n",
		`::1 - - [01/Dec/2026:14:00:00 +0000] "- - HTTP/1.0" 0 0 "-" "-" `+
			`rt=30.000 uct=0.000 urt=0.000 upstream=- rid=- retries=2 reason=client_gone`+"\n")
}

func TestAccessLogTimeCache(t *testing.T) {
	// One cache across times in and out of its second must write what a
	// fresh format would.
	var tc timeCache
	f := func(tm time.Time) {
		t.Helper()
		if got, want := string(tc.appendJSONTime(nil, tm)), tm.UTC().Format("2006-01-02T15:04:05.000Z07:00"); got != want {
			t.Fatalf("appendJSONTime(%v) = %q; want %q", tm, got, want)
		}
		if got, want := string(tc.appendCombinedTime(nil, tm)), tm.UTC().Format("02/Jan/2006:15:04:05 -0700"); got != want {
			t.Fatalf("appendCombinedTime(%v) = %q; want %q", tm, got, want)
		}
	}
	base := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	f(base)
	f(base.Add(999 * time.Millisecond))
	f(base.Add(time.Second))
	f(base.Add(1001 * time.Millisecond))
	f(base.Add(-time.Millisecond))
	f(base.In(time.FixedZone("X", -5*3600)).Add(7 * time.Millisecond))
	f(base.AddDate(0, 0, 1))
	f(time.Unix(0, 0))
	f(time.Unix(0, 5e6))
	f(time.Unix(-1, 999e6))
	f(time.Time{})
	f(base)
}

func TestAccessLogThousandths(t *testing.T) {
	f := func(v int64, want string) {
		t.Helper()
		if got := string(appendThousandths(nil, v)); got != want {
			t.Fatalf("appendThousandths(%d) = %q; want %q", v, got, want)
		}
	}
	f(0, "0.000")
	f(1, "0.001")
	f(999, "0.999")
	f(1000, "1.000")
	f(1234, "1.234")
	f(123456789, "123456.789")
	f(-5, "-0.005")
	f(-1_234_000, "-1234.000")
}

// jsonLine is a JSON access log line as encoding/json reads it back.
type jsonLine struct {
	Time       string  `json:"time"`
	Client     string  `json:"client"`
	Method     string  `json:"method"`
	Target     string  `json:"target"`
	Proto      string  `json:"proto"`
	Status     int     `json:"status"`
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int64   `json:"bytes_out"`
	DurationMS float64 `json:"duration_ms"`
	Upstream   string  `json:"upstream"`
	UpstreamMS float64 `json:"upstream_ms"`
	ConnectMS  float64 `json:"connect_ms"`
	TTFBMS     float64 `json:"ttfb_ms"`
	Retries    int     `json:"retries"`
	RequestID  string  `json:"request_id"`
	Reason     string  `json:"reason"`
}

var jsonKeys = []string{"time", "client", "method", "target", "proto", "status", "bytes_in", "bytes_out",
	"duration_ms", "upstream", "upstream_ms", "connect_ms", "ttfb_ms", "retries", "request_id", "reason"}

// parseJSONLine reads one line strictly: valid JSON, one object, exactly
// jsonKeys in that order, one newline at the end.
func parseJSONLine(t *testing.T, line []byte) jsonLine {
	t.Helper()
	body, ok := bytes.CutSuffix(line, []byte("\n"))
	if !ok || bytes.IndexByte(body, '\n') >= 0 || !json.Valid(body) {
		t.Fatalf("not one JSON line: %q", line)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var keys []string
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line does not start an object: %q", line)
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatalf("cannot read key in %q: %s", line, err)
		}
		keys = append(keys, k.(string))
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("cannot read value in %q: %s", line, err)
		}
	}
	if strings.Join(keys, ",") != strings.Join(jsonKeys, ",") {
		t.Fatalf("keys %v; want %v", keys, jsonKeys)
	}
	var l jsonLine
	d = json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		t.Fatalf("cannot decode %q: %s", line, err)
	}
	return l
}

// combinedRE matches a combined line strictly: quoted fields hold printable
// ASCII but '"' and '\\', or \xHH; bare fields hold no space either.
var combinedRE = regexp.MustCompile(`^(` + bare + `) - - \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000)\] ` +
	`"(` + bare + `) (` + bare + `) (HTTP/1\.\d)" (\d+) (\d+) "(` + quoted + `)" "(` + quoted + `)" ` +
	`rt=(\d+\.\d{3}) uct=(\d+\.\d{3}) urt=(\d+\.\d{3}) upstream=(` + bare + `) rid=(` + bare + `) ` +
	`retries=(\d+) reason=(` + bare + `)\n$`)

const (
	bare   = `(?:[!#-\[\]-~]|\\x[0-9A-F]{2})+`
	quoted = `(?:[ !#-\[\]-~]|\\x[0-9A-F]{2})+`
)

// unescapeLog undoes appendLogField: "-" is empty, \xHH is a byte.
func unescapeLog(t *testing.T, s string) string {
	t.Helper()
	if s == "-" {
		return ""
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil || s[i+1] != 'x' {
				t.Fatalf("bad escape in %q", s)
			}
			b = append(b, byte(v))
			i += 3
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

// readBack is what a combined field that held s reads back as: a field
// that is just "-" is empty, as with nginx.
func readBack[T ~string | ~[]byte](s T) string {
	if string(s) == "-" {
		return ""
	}
	return string(s)
}

// jsonDecoded is what encoding/json reads back from a string it marshaled
// itself: the oracle for escaping.
func jsonDecoded(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAccessLogParseBack(t *testing.T) {
	f := func(r Record) {
		t.Helper()
		upstream := ""
		if r.Backend != nil {
			upstream = r.Backend.Addr
		}

		j := parseJSONLine(t, appendJSONLine(nil, &r, new(timeCache)))
		want := jsonLine{
			Time:   r.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			Client: jsonDecoded(t, string(r.ClientIP)), Method: jsonDecoded(t, string(r.Method)),
			Target: jsonDecoded(t, string(r.Target)), Proto: fmt.Sprintf("HTTP/1.%d", r.Minor),
			Status: r.Status, BytesIn: r.BytesIn, BytesOut: r.BytesOut,
			DurationMS: float64(r.Total/time.Microsecond) / 1000, Upstream: jsonDecoded(t, upstream),
			UpstreamMS: float64(r.Upstream/time.Microsecond) / 1000, ConnectMS: float64(r.Connect/time.Microsecond) / 1000,
			TTFBMS: float64(r.TTFB/time.Microsecond) / 1000, Retries: r.Retries,
			RequestID: jsonDecoded(t, string(r.RequestID)), Reason: r.Reason.String(),
		}
		if j != want {
			t.Fatalf("JSON line read back:\ngot  %+v\nwant %+v", j, want)
		}

		line := appendCombinedLine(nil, &r, new(timeCache))
		m := combinedRE.FindSubmatch(line)
		if m == nil {
			t.Fatalf("combined line does not match: %q", line)
		}
		sec := func(d time.Duration) string {
			return fmt.Sprintf("%d.%03d", d/time.Second, d%time.Second/time.Millisecond)
		}
		got := []string{unescapeLog(t, string(m[1])), string(m[2]), unescapeLog(t, string(m[3])), unescapeLog(t, string(m[4])),
			string(m[5]), string(m[6]), string(m[7]), unescapeLog(t, string(m[8])), unescapeLog(t, string(m[9])),
			string(m[10]), string(m[11]), string(m[12]), unescapeLog(t, string(m[13])), unescapeLog(t, string(m[14])),
			string(m[15]), unescapeLog(t, string(m[16]))}
		wantC := []string{readBack(r.ClientIP), r.Time.UTC().Format("02/Jan/2006:15:04:05 -0700"), readBack(r.Method), readBack(r.Target),
			fmt.Sprintf("HTTP/1.%d", r.Minor), strconv.Itoa(r.Status), strconv.FormatInt(r.BytesOut, 10), readBack(r.Referer),
			readBack(r.UserAgent), sec(r.Total), sec(r.Connect), sec(r.Upstream), readBack(upstream), readBack(r.RequestID),
			strconv.Itoa(r.Retries), readBack(r.Reason.String())}
		for i := range got {
			if got[i] != wantC[i] {
				t.Fatalf("combined field %d of %q: got %q; want %q", i+1, line, got[i], wantC[i])
			}
		}
	}
	f(testRecord())

	nasty := "/a\"b\\c\x00\x01\x1f\x7f \t\r\n é\u2028😀\xff\xc3(\xe2\x82\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80\xef\xbf\xbd"
	r := testRecord()
	r.Target = []byte(nasty)
	r.Method = []byte("GE T\"")
	r.UserAgent = []byte(`Mozilla/5.0 "quoted" \ back` + "\x1b[31m\xffé")
	r.Referer = []byte("\"")
	r.RequestID = []byte("id with spaces \"and\" \\")
	r.ClientIP = []byte("1.2.3.4 - -")
	r.Backend = &BackendStats{Addr: "up\"stream:80"}
	r.Reason = ReasonNoBackend
	r.Status, r.Retries, r.Minor = 503, 3, 0
	f(r)

	// Seeded random bytes, short and long, every field at once.
	rng := rand.New(rand.NewPCG(1, 2))
	field := func() []byte {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			switch rng.IntN(4) {
			case 0:
				b[i] = byte(rng.IntN(256))
			case 1:
				b[i] = byte(0x80 + rng.IntN(0x80))
			default:
				b[i] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		return b
	}
	for range 2000 {
		r := testRecord()
		r.ClientIP, r.Method, r.Target, r.RequestID, r.Referer, r.UserAgent = field(), field(), field(), field(), field(), field()
		r.Backend = &BackendStats{Addr: string(field())}
		r.Total = time.Duration(rng.Int64N(int64(time.Hour)))
		r.Status = rng.IntN(600)
		f(r)
	}
}

func TestAccessLogUTF8Len(t *testing.T) {
	// Differential: utf8Len must agree with utf8.DecodeRune on every
	// first and second byte, with interesting bytes after them.
	tails := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff}
	var b [4]byte
	for b0 := range 256 {
		for b1 := range 256 {
			for _, b2 := range tails {
				for _, b3 := range tails {
					b = [4]byte{byte(b0), byte(b1), b2, b3}
					for n := 1; n <= 4; n++ {
						s := b[:n]
						r, size := utf8.DecodeRune(s)
						want := size
						if r == utf8.RuneError && size == 1 {
							want = 0
						}
						if got := utf8Len(s); got != want {
							t.Fatalf("utf8Len(%x) = %d; want %d", s, got, want)
						}
						if got := utf8Len(string(s)); got != want {
							t.Fatalf("utf8Len(%q) = %d; want %d", s, got, want)
						}
					}
				}
			}
		}
	}
	if utf8Len("") != 0 {
		t.Fatal("utf8Len of empty must be 0")
	}
}

func TestAccessLogNeedsAgent(t *testing.T) {
	f := func(format string, want bool) {
		t.Helper()
		if got := (AccessLogOptions{Format: format}).NeedsAgent(); got != want {
			t.Fatalf("NeedsAgent(%q) = %v; want %v", format, got, want)
		}
	}
	f("", false)
	f("json", false)
	f("combined", true)
}

func TestOpenAccessLogErrors(t *testing.T) {
	f := func(o AccessLogOptions, wantErr error) {
		t.Helper()
		a, err := OpenAccessLog(o)
		if err == nil {
			a.Close()
			t.Fatalf("OpenAccessLog(%+v): no error", o)
		}
		if wantErr != nil && !errors.Is(err, wantErr) {
			t.Fatalf("OpenAccessLog(%+v): %v; want %v", o, err, wantErr)
		}
	}
	f(AccessLogOptions{Format: "clf", Stdout: io.Discard}, nil)
	f(AccessLogOptions{Path: filepath.Join(t.TempDir(), "missing", "access.log")}, fs.ErrNotExist)
}

// syncBuffer is a bytes.Buffer safe for the writer, the logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func newTestLogger() (*slog.Logger, *syncBuffer) {
	var w syncBuffer
	return slog.New(slog.NewTextHandler(&w, nil)), &w
}

// seqRecord is line i of loop g; its request ID says which.
func seqRecord(r *Record, g, i int) {
	r.RequestID = strconv.AppendInt(append(strconv.AppendInt(r.RequestID[:0], int64(g), 10), '-'), int64(i), 10)
}

// readSeqs returns the request IDs of the lines in out, per loop, checking
// that every line parses.
func readSeqs(t *testing.T, out []byte, format string) map[int][]int {
	t.Helper()
	seqs := map[int][]int{}
	s := bufio.NewScanner(bytes.NewReader(out))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		line := append(s.Bytes(), '\n')
		var rid string
		if format == "combined" {
			m := combinedRE.FindSubmatch(line)
			if m == nil {
				t.Fatalf("bad combined line %q", line)
			}
			rid = string(m[14])
		} else {
			rid = parseJSONLine(t, line).RequestID
		}
		gs, is, _ := strings.Cut(rid, "-")
		g, err1 := strconv.Atoi(gs)
		i, err2 := strconv.Atoi(is)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad request ID %q", rid)
		}
		seqs[g] = append(seqs[g], i)
	}
	return seqs
}

func TestAccessLogOrder(t *testing.T) {
	for _, format := range []string{"json", "combined"} {
		t.Run(format, func(t *testing.T) {
			const loops, lines = 4, 2000
			var out bytes.Buffer // written by the writer goroutine only; read after Close
			lg, _ := newTestLogger()
			// The queue holds every buffer, so nothing can be dropped.
			a, err := OpenAccessLog(AccessLogOptions{Format: format, Stdout: &out, BufferSize: 2048, Queue: 4096, Log: lg})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := range loops {
				lb := a.NewBuffer()
				wg.Go(func() {
					r := testRecord()
					for i := range lines {
						seqRecord(&r, g, i)
						lb.Append(&r)
						if i%97 == 0 {
							lb.Flush()
						}
					}
					lb.Flush()
				})
			}
			wg.Wait()
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if a.Written() != loops*lines || a.Dropped() != 0 {
				t.Fatalf("written %d, dropped %d; want %d, 0", a.Written(), a.Dropped(), loops*lines)
			}
			seqs := readSeqs(t, out.Bytes(), format)
			for g := range loops {
				if len(seqs[g]) != lines {
					t.Fatalf("loop %d: %d lines; want %d", g, len(seqs[g]), lines)
				}
				for i, v := range seqs[g] {
					if v != i {
						t.Fatalf("loop %d: line %d has sequence %d", g, i, v)
					}
				}
			}
		})
	}
}

// blockingWriter blocks every Write until unblock is closed.
type blockingWriter struct {
	unblock chan struct{}
	syncBuffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.unblock
	return w.syncBuffer.Write(p)
}

func TestAccessLogSlowWriter(t *testing.T) {
	const lines = 5000
	w := &blockingWriter{unblock: make(chan struct{})}
	lg, logged := newTestLogger()
	a, err := OpenAccessLog(AccessLogOptions{Stdout: w, BufferSize: 1024, Queue: 2, Log: lg})
	if err != nil {
		t.Fatal(err)
	}
	lb := a.NewBuffer()
	done := make(chan struct{})
	go func() { // the loop
		defer close(done)
		r := testRecord()
		for i := range lines {
			seqRecord(&r, 0, i)
			lb.Append(&r)
			if i%10 == 0 {
				lb.Flush()
			}
		}
		lb.Flush()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Append or Flush blocked on a blocked writer")
	}
	if a.Written() != 0 || a.Dropped() == 0 {
		t.Fatalf("while blocked: written %d, dropped %d; want 0, > 0", a.Written(), a.Dropped())
	}
	// The drop is reported while the writer is still stuck.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logged.String(), "lines dropped: the writer is behind"); {
		if time.Now().After(deadline) {
			t.Fatalf("no drop report in the log: %q", logged.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	close(w.unblock)
	lb.Flush() // the loop goroutine has ended: the buffer is ours now
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := a.Written() + a.Dropped(); got != lines {
		t.Fatalf("written %d + dropped %d = %d; want %d", a.Written(), a.Dropped(), got, lines)
	}
	seq := readSeqs(t, []byte(w.String()), "json")[0]
	if uint64(len(seq)) != a.Written() {
		t.Fatalf("%d lines in the output; Written says %d", len(seq), a.Written())
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] <= seq[i-1] {
			t.Fatalf("out of order: line %d after line %d", seq[i], seq[i-1])
		}
	}
}

// failingWriter writes its first n bytes, then fails.
type failingWriter struct {
	n   int
	out bytes.Buffer
}

var errDiskFull = errors.New("test: disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	k := min(len(p), w.n)
	w.out.Write(p[:k])
	w.n -= k
	if k < len(p) {
		return k, errDiskFull
	}
	return k, nil
}

func TestAccessLogWriteError(t *testing.T) {
	const lines = 100
	w := &failingWriter{n: 1000}
	lg, logged := newTestLogger()
	a, err := OpenAccessLog(AccessLogOptions{Stdout: w, BufferSize: 512, Log: lg})
	if err != nil {
		t.Fatal(err)
	}
	lb := a.NewBuffer()
	r := testRecord()
	for i := range lines {
		seqRecord(&r, 0, i)
		lb.Append(&r)
	}
	lb.Flush()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	whole := uint64(bytes.Count(w.out.Bytes(), []byte("\n")))
	if a.Written() != whole || a.Written()+a.Dropped() != lines {
		t.Fatalf("written %d, dropped %d; want %d, %d", a.Written(), a.Dropped(), whole, lines-whole)
	}
	if !strings.Contains(logged.String(), "lines lost") || !strings.Contains(logged.String(), errDiskFull.Error()) {
		t.Fatalf("write error not reported: %q", logged.String())
	}
}

// readLines returns the lines of the file at path.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")[:bytes.Count(b, []byte("\n"))]
}

// appendSeq appends lines [from, to) of loop 0 and flushes.
func appendSeq(lb *LogBuffer, from, to int) {
	r := testRecord()
	for i := from; i < to; i++ {
		seqRecord(&r, 0, i)
		lb.Append(&r)
	}
	lb.Flush()
}

func waitWritten(t *testing.T, a *AccessLog, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); a.Written() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("written %d after 5s; want %d", a.Written(), n)
		}
	}
}

func TestAccessLogReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	lg, _ := newTestLogger()
	a, err := OpenAccessLog(AccessLogOptions{Path: path, Format: "combined", Log: lg})
	if err != nil {
		t.Fatal(err)
	}
	lb := a.NewBuffer()
	appendSeq(lb, 0, 10)
	waitWritten(t, a, 10)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	appendSeq(lb, 10, 25)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	f := func(path string, from, to int) {
		t.Helper()
		seq := readSeqs(t, []byte(strings.Join(readLines(t, path), "")), "combined")[0]
		if len(seq) != to-from || seq[0] != from || seq[len(seq)-1] != to-1 {
			t.Fatalf("%s holds lines %v; want %d to %d", path, seq, from, to-1)
		}
	}
	f(path+".1", 0, 10)
	f(path, 10, 25)

	if err := a.Reopen(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Reopen after Close: %v; want %v", err, os.ErrClosed)
	}
}

func TestAccessLogReopenStdout(t *testing.T) {
	var out syncBuffer
	a, err := OpenAccessLog(AccessLogOptions{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	lb := a.NewBuffer()
	appendSeq(lb, 0, 3)
	if err := a.Reopen(); err != nil {
		t.Fatalf("Reopen on stdout: %v", err)
	}
	appendSeq(lb, 3, 5)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if seq := readSeqs(t, []byte(out.String()), "json")[0]; len(seq) != 5 {
		t.Fatalf("stdout holds lines %v; want 0 to 4", seq)
	}
}

func TestAccessLogCloseFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	lg, _ := newTestLogger()
	a, err := OpenAccessLog(AccessLogOptions{Path: path, Log: lg})
	if err != nil {
		t.Fatal(err)
	}
	lb := a.NewBuffer()
	appendSeq(lb, 0, 3) // far below BufferSize: only Flush hands them off
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(readLines(t, path)); got != 3 || a.Written() != 3 {
		t.Fatalf("after Close: %d lines in the file, written %d; want 3", got, a.Written())
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Lines handed off after Close are dropped, not lost without a count.
	appendSeq(lb, 3, 5)
	if a.Written() != 3 || a.Dropped() != 2 {
		t.Fatalf("after Close: written %d, dropped %d; want 3, 2", a.Written(), a.Dropped())
	}
}

func TestAccessLogLongLine(t *testing.T) {
	// A line longer than a buffer's slack grows that buffer and is written
	// whole, after the lines before it.
	var out syncBuffer
	a, err := OpenAccessLog(AccessLogOptions{Stdout: &out, BufferSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	lb := a.NewBuffer()
	r := testRecord()
	appendSeq(lb, 0, 2)
	r.Target = bytes.Repeat([]byte{'\x01'}, 3*chunkSlack)
	seqRecord(&r, 0, 2)
	lb.Append(&r)
	appendSeq(lb, 3, 5)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	seq := readSeqs(t, []byte(out.String()), "json")[0]
	if fmt.Sprint(seq) != "[0 1 2 3 4]" {
		t.Fatalf("lines %v; want [0 1 2 3 4]", seq)
	}
}
