package engine_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
)

// versionedOrigin serves /obj/kN: its body names the key and its current
// version, its ETag is "kN-version", and each key has its own caching rules.
// A ticker changes versions while the test runs.
type versionedOrigin struct {
	addr     string
	versions [8]atomic.Int64
	served   atomic.Int64
}

var soakRules = [8]string{
	"max-age=1", "max-age=0, must-revalidate", "no-cache", "max-age=1, stale-while-revalidate=5",
	"max-age=60", "max-age=1, stale-if-error=60", "s-maxage=1, max-age=0", "max-age=2",
}

func soakBody(key string, v int64) []byte {
	head := fmt.Sprintf("key %s version %d\n", key, v)
	return []byte(head + strings.Repeat("<p>"+head+"</p>", 2048/len(head)))
}

func soakETag(key string, v int64) string { return fmt.Sprintf(`"%s-%d"`, key, v) }

// weakMatch compares entity tags weakly (RFC 9110 §8.8.3.2).
func weakMatch(list, tag string) bool {
	tag = strings.TrimPrefix(tag, "W/")
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}

func startVersionedOrigin(t *testing.T) *versionedOrigin {
	o := &versionedOrigin{}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	o.addr = startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/obj/k%d", &i); err != nil || i < 0 || i >= len(o.versions) {
			http.NotFound(w, r)
			return
		}
		key := fmt.Sprintf("k%d", i)
		v := o.versions[i].Load()
		h := w.Header()
		h.Set("Cache-Control", soakRules[i])
		h.Set("ETag", soakETag(key, v))
		h.Set("Last-Modified", base.Add(time.Duration(v)*time.Second).UTC().Format(http.TimeFormat))
		h.Set("Content-Type", "text/html")
		if inm := r.Header.Get("If-None-Match"); inm != "" && weakMatch(inm, soakETag(key, v)) {
			w.WriteHeader(304)
			return
		}
		o.served.Add(1)
		w.Write(soakBody(key, v))
	}))
	return o
}

// The correctness soak of issue 14: while the backend changes content and
// ETags, clients ask with random codings and random conditions, and purges
// and evictions race the hits (a 64 KiB cache). No client may receive a
// body that does not match the ETag and Content-Encoding it is labelled
// with, nor a 304 its conditions did not ask for.
func TestCacheSoakLabelsMatchBodies(t *testing.T) {
	d := 3 * time.Second
	if s := os.Getenv("LOOPGATE_CACHE_SOAK"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	o := startVersionedOrigin(t)
	cfg := engine.Config{EventLoops: 2, Cache: engine.CacheConfig{Header: "X-Cache"},
		Compression: engine.Compression{Enabled: true},
		Pools:       []engine.Pool{{Name: "p", Cache: true, Backends: []engine.Backend{{Address: o.addr}}}}}
	cfg.Cache.MaxBytes = 64 << 10
	srv, px := startProxy(t, cfg)

	end := time.Now().Add(d)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // new versions
		defer wg.Done()
		for time.Now().Before(end) {
			o.versions[rand.IntN(len(o.versions))].Add(1)
			time.Sleep(15 * time.Millisecond)
		}
	}()
	go func() { // purges
		defer wg.Done()
		for time.Now().Before(end) {
			switch rand.IntN(10) {
			case 0:
				srv.PurgeCache("", "", true)
			case 1, 2:
				srv.PurgeCache("", fmt.Sprintf("h/obj/k%d", rand.IntN(8)), false)
			default:
				srv.PurgeCache(fmt.Sprintf("h/obj/k%d", rand.IntN(8)), "", false)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	var checked, notModified, hits atomic.Int64
	var failed atomic.Bool
	codings := []string{"", "gzip", "br", "zstd", "gzip, br", "zstd;q=0.5, gzip", "identity"}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: ioTimeout}
			seen := map[string]string{} // key: last ETag this client saw
			for time.Now().Before(end) && !failed.Load() {
				i := rand.IntN(8)
				key := fmt.Sprintf("k%d", i)
				req, _ := http.NewRequest("GET", "http://"+px+"/obj/"+key, nil)
				req.Host = "h"
				ae := codings[rand.IntN(len(codings))]
				if ae != "" {
					req.Header.Set("Accept-Encoding", ae)
				}
				var inm, ims string
				switch rand.IntN(5) {
				case 0:
					inm = seen[key]
				case 1:
					inm = soakETag(key, o.versions[i].Load())
				case 2:
					inm = `"garbage", ` + seen[key]
				case 3:
					ims = time.Now().UTC().Format(http.TimeFormat)
				}
				if inm = strings.Trim(inm, ", "); inm != "" {
					req.Header.Set("If-None-Match", inm)
				}
				if ims != "" {
					req.Header.Set("If-Modified-Since", ims)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Errorf("client %d: %v", w, err)
					failed.Store(true)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err := checkLabelled(key, ae, inm, ims, resp, body, err); err != nil {
					t.Errorf("client %d, %s (Accept-Encoding %q, If-None-Match %q, If-Modified-Since %q): %v\nhead: %v",
						w, key, ae, inm, ims, err, resp.Header)
					failed.Store(true)
					return
				}
				checked.Add(1)
				if resp.StatusCode == 304 {
					notModified.Add(1)
				}
				if resp.Header.Get("X-Cache") == "HIT" {
					hits.Add(1)
				}
				seen[key] = resp.Header.Get("ETag")
			}
		}()
	}
	wg.Wait()
	t.Logf("%d responses checked (%d not modified, %d hits), %d served by the backend", checked.Load(), notModified.Load(), hits.Load(), o.served.Load())
	if hits.Load() == 0 || notModified.Load() == 0 || checked.Load() < 200 {
		t.Errorf("the soak did not exercise the cache: %d checked, %d hits, %d not modified", checked.Load(), hits.Load(), notModified.Load())
	}
}

// checkLabelled checks one response against what labels it.
func checkLabelled(key, acceptEncoding, inm, ims string, resp *http.Response, body []byte, readErr error) error {
	if readErr != nil {
		return fmt.Errorf("reading the body: %v", readErr)
	}
	etag := resp.Header.Get("ETag")
	var v int64
	if _, err := fmt.Sscanf(strings.TrimPrefix(etag, "W/"), `"`+key+`-%d"`, &v); err != nil {
		return fmt.Errorf("ETag %q does not name %s", etag, key)
	}
	switch resp.StatusCode {
	case 304:
		if len(body) != 0 {
			return fmt.Errorf("304 with a body")
		}
		if inm != "" && !weakMatch(inm, etag) {
			return fmt.Errorf("304 for ETag %s, which If-None-Match does not list", etag)
		}
		if inm == "" && ims == "" {
			return fmt.Errorf("304 to an unconditional request")
		}
		return nil
	case 200:
	default:
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	coding := resp.Header.Get("Content-Encoding")
	if coding != "" {
		if !strings.Contains(acceptEncoding, coding) {
			return fmt.Errorf("Content-Encoding %s not accepted", coding)
		}
		if !strings.HasPrefix(etag, "W/") {
			return fmt.Errorf("strong ETag %s on a %s-encoded body", etag, coding)
		}
	}
	plain, err := decode(coding, body)
	if err != nil {
		return err
	}
	if want := soakBody(key, v); !bytes.Equal(plain, want) {
		first, _, _ := strings.Cut(string(plain), "\n")
		return fmt.Errorf("labelled %s but the body says %q", etag, first)
	}
	return nil
}
