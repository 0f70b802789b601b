package perf

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The compression family (BenchConfig.Compress, issue 14): loopgate and nginx compress the
// same corpus on the fly as it comes from the backends, one proxy process per coding and
// level, each loaded by wrk cycling through the corpus files with one Accept-Encoding. The
// table gives the proxy's CPU per MiB of corpus, what coding adds to forwarding (the
// identity row of the same proxy), and the ratio reached. Before the rounds every response
// is fetched once and checked (coding, and for gzip and identity the decoded bytes); every
// measured run must receive about the coded size per response, so a proxy that sends
// responses unencoded fails the run instead of being reported.

// corpusPrefix is where the backends serve the corpus.
const corpusPrefix = "/corpus/"

// corpusExts are the corpus files' extensions; nginxBackendConf gives each its media type.
var corpusExts = []string{".html", ".json", ".css", ".js", ".svg"}

// corpusFile is one file of the compression corpus.
type corpusFile struct {
	name string
	data []byte
}

// readCorpus reads the files of dir with a corpusExts extension, in name order.
func readCorpus(dir string) ([]corpusFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the compression corpus: %w (run from the module root, or give its directory)", err)
	}
	var files []corpusFile
	for _, e := range ents {
		if !e.Type().IsRegular() || !slices.Contains(corpusExts, filepath.Ext(e.Name())) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("cannot read the compression corpus: %w", err)
		}
		files = append(files, corpusFile{e.Name(), data})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("cannot read the compression corpus: no %s files in %s", strings.Join(corpusExts, ", "), dir)
	}
	return files, nil
}

// writeCorpus copies the corpus where the nginx backends serve it.
func writeCorpus(www string, files []corpusFile) error {
	if len(files) == 0 {
		return nil
	}
	d := filepath.Join(www, strings.Trim(corpusPrefix, "/"))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("cannot copy the corpus: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(d, f.name), f.data, 0o644); err != nil {
			return fmt.Errorf("cannot copy the corpus: %w", err)
		}
	}
	return nil
}

// corpusScript is wrk's script for the compression family: each request asks for the next
// corpus file, so every file gets the same share of the requests; done prints the report.
func corpusScript(files []corpusFile) string {
	var b strings.Builder
	b.WriteString("local paths = {")
	for i, f := range files {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", corpusPrefix+f.name)
	}
	b.WriteString("}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, paths[(n - 1) % #paths + 1])\nend\n")
	return b.String() + wrkScript
}

// compressRow is one proxy process of the compression family: a proxy with one coding at
// one level.
type compressRow struct {
	proxy  string // proxyLoopgate or proxyNginx
	coding string // "identity" (compression off), "gzip", "zstd" or "br"
	level  int    // 0 for identity
}

func (r compressRow) name() string {
	if r.coding == codingIdentity {
		return r.proxy + "-identity"
	}
	return r.proxy + "-" + r.coding + "-" + strconv.Itoa(r.level)
}

const codingIdentity = "identity"

// compressRows are the family's rows: gzip 1 and 6 for both proxies, loopgate's zstd and
// Brotli at their defaults (zstd 3, Brotli 5: compress.DefaultZstdLevel and
// DefaultBrotliQuality, spelled out so that the label is what ran), and each proxy
// forwarding without compression, which tells what coding adds.
var compressRows = []compressRow{
	{proxyLoopgate, codingIdentity, 0},
	{proxyLoopgate, "gzip", 1},
	{proxyLoopgate, "gzip", 6},
	{proxyLoopgate, "zstd", 3},
	{proxyLoopgate, "br", 5},
	{proxyNginx, codingIdentity, 0},
	{proxyNginx, "gzip", 1},
	{proxyNginx, "gzip", 6},
}

// loopgateCompress is the [compression] keys of a loopgate row: the one coding, its level.
func loopgateCompress(r compressRow) string {
	if r.coding == codingIdentity {
		return ""
	}
	key := map[string]string{"gzip": "gzip_level", "zstd": "zstd_level", "br": "brotli_quality"}[r.coding]
	return fmt.Sprintf("codings = [%q]\n%s = %d\n", r.coding, key, r.level)
}

// nginxGzip is the http-block gzip directives of an nginx row: the corpus types, nothing
// under loopgate's default min_size, and proxied responses too.
func nginxGzip(r compressRow) string {
	if r.coding == codingIdentity {
		return "gzip off;"
	}
	return fmt.Sprintf("gzip on; gzip_comp_level %d; gzip_min_length 1024; gzip_proxied any; gzip_vary on;\n"+
		"  gzip_types text/css application/json application/javascript image/svg+xml;", r.level)
}

// startCompressProxies starts a process for each row whose proxy is among cfg.Proxies.
func (b *bench) startCompressProxies(ctx context.Context) {
	maxConns := 2000
	b.compressRow = map[string]compressRow{}
	for _, r := range compressRows {
		if !slices.Contains(b.cfg.Proxies, r.proxy) {
			continue
		}
		info := ProxyInfo{Name: r.name()}
		port, err := freePort()
		if err != nil {
			info.Skipped = err.Error()
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		var conf, text string
		var argv, env []string
		switch r.proxy {
		case proxyLoopgate:
			info.Setup, info.Version = "1 event loop, GOMAXPROCS=1", b.res.Host.Versions["loopgate"]
			conf = filepath.Join(b.dir, info.Name+".toml")
			text = loopgateConf(addr, b.backends, lgConf{loops: 1, maxConns: maxConns, compress: loopgateCompress(r)})
			argv, env = []string{b.cfg.Loopgate, "-config", conf}, []string{"GOMAXPROCS=1"}
		case proxyNginx:
			if !installed("nginx") {
				info.Skipped = "not installed (apt-get install nginx-light)"
			}
			info.Setup, info.Version = "worker_processes 1", version("nginx", "-v")
			conf = filepath.Join(b.dir, info.Name+".conf")
			text = nginxConf(b.dir, info.Name, addr, b.backends, maxConns, nginxGzip(r), "")
			argv = []string{"nginx", "-p", b.dir, "-c", conf}
		}
		if r.coding != codingIdentity {
			info.Setup += fmt.Sprintf(", %s level %d", r.coding, r.level)
		}
		if lp := b.startProxy(ctx, &info, addr, conf, text, argv, env); lp != nil {
			b.compressRow[lp.name] = r
		}
	}
}

// corpusLoad is the compression family's load: wrk cycling through the corpus, asking for
// the row's coding.
func (b *bench) corpusLoad(lp *liveProxy, conns int) loadFunc {
	var hdr []string
	if r := b.compressRow[lp.name]; r.coding != codingIdentity {
		hdr = []string{"Accept-Encoding: " + r.coding}
	}
	return func(ctx context.Context, d time.Duration) (loadResult, error) {
		return runWrk(ctx, b.corpusScript, "http://"+lp.addr+"/", conns, d, hdr)
	}
}

// corpusIn is the mean size of a corpus file: the input per request of the cycling load.
func (b *bench) corpusIn() float64 {
	n := 0
	for _, f := range b.corpus {
		n += len(f.data)
	}
	return float64(n) / float64(len(b.corpus))
}

// compressRounds runs the compression family: per connection count a warm-up, the check of
// each row's responses, then Rounds rounds in which every row gets the same load.
func (b *bench) compressRounds(ctx context.Context) error {
	cfg := b.cfg
	b.corpusScript = filepath.Join(b.dir, "corpus.lua")
	if err := os.WriteFile(b.corpusScript, []byte(corpusScript(b.corpus)), 0o644); err != nil {
		return fmt.Errorf("cannot write the wrk script: %w", err)
	}
	b.codedOut = map[string]float64{}
	b.ratios = map[string]float64{}
	for _, lp := range b.proxies {
		out, err := b.checkCoded(ctx, lp)
		if err != nil {
			return err
		}
		b.codedOut[lp.name] = out
		b.ratios[lp.name] = b.corpusIn() / out
		b.logf("  %-18s ratio %.2f (%.0f bytes per response, corpus mean %.0f)", lp.name, b.ratios[lp.name], out, b.corpusIn())
	}
	size := int(b.corpusIn())
	for _, conns := range cfg.Conns {
		if cfg.Warmup > 0 {
			for _, lp := range b.proxies {
				if _, err := b.corpusLoad(lp, conns)(ctx, cfg.Warmup); err != nil {
					return err
				}
			}
		}
		for round := 1; round <= cfg.Rounds; round++ {
			for k := range b.proxies {
				lp := b.proxies[(k+round-1)%len(b.proxies)]
				rr, err := b.measure(ctx, lp, conns, size, round, b.corpusLoad(lp, conns))
				if err != nil {
					return err
				}
				if err := checkCodedRun(rr, b.codedOut[lp.name]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkCoded fetches every corpus file through lp once with the row's Accept-Encoding and
// checks the answer: the coding asked for (none for identity), and for gzip and identity
// the corpus bytes once decoded (the standard library has no zstd or Brotli decoder: those
// must be smaller than the file). It returns the mean body size.
func (b *bench) checkCoded(ctx context.Context, lp *liveProxy) (float64, error) {
	r := b.compressRow[lp.name]
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	total := 0
	for _, f := range b.corpus {
		url := "http://" + lp.addr + corpusPrefix + f.name
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return 0, err
		}
		if r.coding != codingIdentity {
			req.Header.Set("Accept-Encoding", r.coding)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("%s does not answer %s: %w", lp.name, url, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			return 0, fmt.Errorf("%s answered %s with %s (%v); want 200", lp.name, url, resp.Status, err)
		}
		ce := resp.Header.Get("Content-Encoding")
		want := r.coding
		if want == codingIdentity {
			want = ""
		}
		if ce != want {
			return 0, fmt.Errorf("%s answered %s with Content-Encoding %q; want %q", lp.name, url, ce, want)
		}
		plain := body
		switch r.coding {
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				plain, err = io.ReadAll(zr)
			}
			if err != nil {
				return 0, fmt.Errorf("%s answered %s with gzip that does not decode: %w", lp.name, url, err)
			}
		case "zstd", "br":
			if len(body) >= len(f.data) {
				return 0, fmt.Errorf("%s answered %s with %d bytes of %s for %d; want fewer", lp.name, url, len(body), r.coding, len(f.data))
			}
			plain = f.data
		}
		if !bytes.Equal(plain, f.data) {
			return 0, fmt.Errorf("%s answered %s with %d bytes that are not the file's %d", lp.name, url, len(plain), len(f.data))
		}
		total += len(body)
	}
	return float64(total) / float64(len(b.corpus)), nil
}

// checkCodedRun fails a measured run whose responses were not about the coded size found by
// checkCoded: a proxy that stops compressing under load (a stream limit, say) sends several
// times more. The slack covers the head, chunk framing and flushes that differ with how the
// backend's bytes arrive.
func checkCodedRun(rr RunResult, out float64) error {
	if rr.Errors > 0 || rr.Non2xx > 0 {
		return fmt.Errorf("%s: %d errors and %d non-2xx responses in a compression run (round %d)", rr.Proxy, rr.Errors, rr.Non2xx, rr.Round)
	}
	if rr.Requests == 0 {
		return fmt.Errorf("%s answered nothing in a compression run (round %d)", rr.Proxy, rr.Round)
	}
	per := float64(rr.Bytes) / float64(rr.Requests)
	if per < 0.85*out || per > 1.15*out+1024 {
		return fmt.Errorf("%s sent %.0f bytes per response in round %d; its coded responses are %.0f: not every response was coded as checked",
			rr.Proxy, per, rr.Round, out)
	}
	return nil
}

// CompressResult is one row of the compression family: a proxy with one coding and level.
// CPU is the proxy process's user + system time per MiB of corpus served (the coder's
// input), in milliseconds.
type CompressResult struct {
	Proxy  string `json:"proxy"`  // "loopgate" or "nginx"
	Coding string `json:"coding"` // "identity" (forwarded as it is), "gzip", "zstd" or "br"
	Level  int    `json:"level"`  // 0 for identity
	Conns  int    `json:"conns"`
	RPS    Stat   `json:"rps"`
	// InMiBps is the corpus MiB per second served, at the median req/s.
	InMiBps float64 `json:"input_mib_per_s"`
	CPU     Stat    `json:"cpu_ms_per_mib"`
	// CPUOut is CPU.Median per MiB sent: CPU.Median × Ratio.
	CPUOut float64 `json:"cpu_ms_per_mib_out"`
	// Coding is CPU.Median less the identity row's of the same proxy: what coding costs on
	// top of forwarding (0 for identity or without that row).
	CodingCPU float64 `json:"coding_cpu_ms_per_mib"`
	// Ratio is the corpus bytes over the coded body bytes, from one request per file.
	Ratio float64 `json:"ratio"`
	// VsNginx is loopgate's CPU per MiB over nginx's at the same coding and level, measured
	// in the same round; the median over the rounds (0: no such nginx row).
	VsNginx float64 `json:"cpu_vs_nginx"`
	Errors  int64   `json:"errors"`
}

// summarizeCompress computes the compression family's table from the runs.
func (b *bench) summarizeCompress() {
	res := b.res
	in := b.corpusIn()
	msPerMiB := func(r RunResult) float64 { return r.CPUus / 1e3 * (1 << 20) / in }
	type key struct {
		name         string
		conns, round int
	}
	byKey := map[key]RunResult{}
	for _, r := range res.Runs {
		byKey[key{r.Proxy, r.Conns, r.Round}] = r
	}
	for _, conns := range b.cfg.Conns {
		var rows []CompressResult
		for _, lp := range b.proxies {
			row := b.compressRow[lp.name]
			var runs []RunResult
			for _, r := range res.Runs {
				if r.Proxy == lp.name && r.Conns == conns {
					runs = append(runs, r)
				}
			}
			if len(runs) == 0 {
				continue
			}
			cr := CompressResult{
				Proxy: row.proxy, Coding: row.coding, Level: row.level, Conns: conns,
				RPS: statOf(runs, func(r RunResult) float64 { return r.RPS }), CPU: statOf(runs, msPerMiB),
				Ratio: b.ratios[lp.name],
			}
			cr.InMiBps = cr.RPS.Median * in / (1 << 20)
			cr.CPUOut = cr.CPU.Median * cr.Ratio
			for _, r := range runs {
				cr.Errors += r.Errors + r.Non2xx
			}
			if row.proxy == proxyLoopgate {
				ng := compressRow{proxyNginx, row.coding, row.level}.name()
				var vs []float64
				for _, r := range runs {
					if o, ok := byKey[key{ng, conns, r.Round}]; ok && o.CPUus > 0 {
						vs = append(vs, r.CPUus/o.CPUus)
					}
				}
				cr.VsNginx = statOf(vs, func(v float64) float64 { return v }).Median
			}
			rows = append(rows, cr)
		}
		for i := range rows {
			for _, id := range rows {
				if id.Proxy == rows[i].Proxy && id.Coding == codingIdentity && rows[i].Coding != codingIdentity {
					rows[i].CodingCPU = rows[i].CPU.Median - id.CPU.Median
				}
			}
		}
		res.Compression = append(res.Compression, rows...)
	}
}
