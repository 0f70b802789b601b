package perf

import (
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var testCorpus = filepath.Join("..", "testdata", "corpus")

func TestReadCorpus(t *testing.T) {
	files, err := readCorpus(testCorpus)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		if len(f.data) < 1024 {
			t.Fatalf("%s: %d bytes; the corpus files are tens of KiB", f.name, len(f.data))
		}
		names = append(names, f.name)
	}
	// README.md and gen.go are not corpus files.
	if want := []string{"api.json", "app.js", "chart.svg", "page.html", "site.css"}; !slices.Equal(names, want) {
		t.Fatalf("corpus %v; want %v", names, want)
	}
	if _, err := readCorpus(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no .html") {
		t.Fatalf("empty directory: %v", err)
	}
	if _, err := readCorpus(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "module root") {
		t.Fatalf("missing directory: %v", err)
	}
}

func TestCorpusScript(t *testing.T) {
	s := corpusScript([]corpusFile{{"a.html", nil}, {"b.json", nil}})
	for _, want := range []string{`local paths = {"/corpus/a.html", "/corpus/b.json"}`, "request = function()", "WRKJSON"} {
		if !strings.Contains(s, want) {
			t.Fatalf("script lacks %q:\n%s", want, s)
		}
	}
}

func TestCompressConfs(t *testing.T) {
	f := func(r compressRow, name, lg, ng string) {
		t.Helper()
		if got := r.name(); got != name {
			t.Fatalf("name %q; want %q", got, name)
		}
		if r.proxy == proxyLoopgate {
			if got := loopgateCompress(r); got != lg {
				t.Fatalf("%s: loopgate keys %q; want %q", name, got, lg)
			}
			conf := loopgateConf("127.0.0.1:9", []string{"127.0.0.1:1"}, lgConf{loops: 1, maxConns: 10, compress: lg})
			if strings.Contains(conf, "[compression]") != (lg != "") {
				t.Fatalf("%s: [compression] in\n%s", name, conf)
			}
		} else if got := nginxGzip(r); !strings.Contains(got, ng) {
			t.Fatalf("%s: nginx %q; want %q in it", name, got, ng)
		}
	}
	f(compressRow{proxyLoopgate, codingIdentity, 0}, "loopgate-identity", "", "")
	f(compressRow{proxyLoopgate, "gzip", 6}, "loopgate-gzip-6", "codings = [\"gzip\"]\ngzip_level = 6\n", "")
	f(compressRow{proxyLoopgate, "zstd", 3}, "loopgate-zstd-3", "codings = [\"zstd\"]\nzstd_level = 3\n", "")
	f(compressRow{proxyLoopgate, "br", 5}, "loopgate-br-5", "codings = [\"br\"]\nbrotli_quality = 5\n", "")
	f(compressRow{proxyNginx, codingIdentity, 0}, "nginx-identity", "", "gzip off;")
	f(compressRow{proxyNginx, "gzip", 1}, "nginx-gzip-1", "", "gzip on; gzip_comp_level 1;")
}

func TestCheckCodedRun(t *testing.T) {
	ok := RunResult{Proxy: "p", Round: 1, Requests: 100, Bytes: 100 * 15300}
	f := func(rr RunResult, want string) {
		t.Helper()
		err := checkCodedRun(rr, 15000)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Fatalf("checkCodedRun(%+v) = %v; want %q", rr, err, want)
		}
	}
	f(ok, "")
	plain := ok
	plain.Bytes = 100 * 69000 // sent as it is
	f(plain, "not every response was coded")
	small := ok
	small.Bytes = 100 * 10000
	f(small, "not every response was coded")
	none := ok
	none.Requests, none.Bytes = 0, 0
	f(none, "answered nothing")
	failed := ok
	failed.Errors = 1
	f(failed, "errors")
}

// TestCheckCodedRefuses checks that checkCoded fails a proxy that does not code as asked or
// whose coded bytes are not the file's.
func TestCheckCodedRefuses(t *testing.T) {
	files, err := readCorpus(testCorpus)
	if err != nil {
		t.Fatal(err)
	}
	mode := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, corpusPrefix)
		i := slices.IndexFunc(files, func(f corpusFile) bool { return f.name == name })
		if i < 0 {
			http.NotFound(w, r)
			return
		}
		data := files[i].data
		switch mode {
		case "plain":
			w.Write(data)
		case "wrong", "right":
			if mode == "wrong" {
				data = data[1:]
			}
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write(data)
			zw.Close()
		}
	}))
	defer srv.Close()
	lp := &liveProxy{name: "x", addr: strings.TrimPrefix(srv.URL, "http://")}
	b := &bench{corpus: files, compressRow: map[string]compressRow{"x": {proxyLoopgate, "gzip", 1}}}
	f := func(m, want string) {
		t.Helper()
		mode = m
		out, err := b.checkCoded(context.Background(), lp)
		if want == "" && (err != nil || out <= 0 || out >= b.corpusIn()) || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Fatalf("%s: %.0f, %v; want %q", m, out, err, want)
		}
	}
	f("right", "")
	f("plain", `Content-Encoding ""; want "gzip"`)
	f("wrong", "not the file's")
}

// TestBenchCompressSmoke is `make perf QUICK=1 PERFFLAGS=-compress` in short.
func TestBenchCompressSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts proxies and loads them")
	}
	for _, tool := range []string{"wrk", "nginx"} {
		if !installed(tool) {
			t.Skipf("%s is not installed (apt-get install wrk nginx-light)", tool)
		}
	}
	dir := t.TempDir()
	lg := buildBinary(t, dir, "loopgate/cmd/loopgate")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := Bench(ctx, BenchConfig{Loopgate: lg, Compress: true, Quick: true, Corpus: testCorpus, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Compression) != len(compressRows) || len(res.Summary) != 0 {
		t.Fatalf("got %d compression rows and %d summary rows; want %d and none; notes %q",
			len(res.Compression), len(res.Summary), len(compressRows), res.Notes)
	}
	for i, c := range res.Compression {
		r := compressRows[i]
		if c.Proxy != r.proxy || c.Coding != r.coding || c.Level != r.level {
			t.Fatalf("row %d is %s %s %d; want %+v", i, c.Proxy, c.Coding, c.Level, r)
		}
		if c.RPS.Median <= 0 || c.CPU.Median <= 0 || c.Errors > 0 {
			t.Fatalf("implausible row %+v", c)
		}
		// The corpus codes 4.5 to 6 times smaller at these levels (testdata/corpus/README.md).
		coded := c.Coding != codingIdentity
		if coded && (c.Ratio < 4 || c.Ratio > 7) || !coded && c.Ratio != 1 {
			t.Fatalf("%s %s: ratio %.2f", c.Proxy, c.Coding, c.Ratio)
		}
		if hasNginx := c.Proxy == proxyLoopgate && (c.Coding == "gzip" || c.Coding == codingIdentity); hasNginx != (c.VsNginx > 0) {
			t.Fatalf("%s %s %d: CPU ÷ nginx %.2f", c.Proxy, c.Coding, c.Level, c.VsNginx)
		}
	}
	checkOutputs(t, res, []string{proxyLoopgate, proxyNginx})
	var md strings.Builder
	if err := res.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| 50 | loopgate | zstd | 3 |") {
		t.Fatalf("markdown lacks the zstd row:\n%s", md.String())
	}
}
