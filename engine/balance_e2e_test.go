package engine_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"loopgate/engine"
)

// named returns a backend that answers its name, after delay.
func named(t *testing.T, name string, delay time.Duration) string {
	return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		io.WriteString(w, name)
	}))
}

// getFrom sends a GET through the proxy from a given local address (nil: any)
// and returns the body and the response's Set-Cookie.
func getFrom(t *testing.T, px string, local net.Addr, header string) (string, string) {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 2 * time.Second}
	nc, err := d.Dial("tcp", px)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, c: nc, br: bufio.NewReader(nc)}
	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n"+header+"\r\n")
	wantStatus(t, r, 200)
	return r.body, r.Header.Get("Set-Cookie")
}

func TestStickyCookieE2E(t *testing.T) {
	cfg := poolOf(named(t, "a", 0), named(t, "b", 0), named(t, "c", 0))
	cfg.Pools[0].Algorithm = "round_robin"
	cfg.Pools[0].StickyCookie = &engine.StickyCookie{Name: "lb", MaxAge: time.Hour, Secret: "s3cret"}
	_, px := startProxy(t, cfg)

	first, set := getFrom(t, px, nil, "")
	if !strings.HasPrefix(set, "lb=") || !strings.Contains(set, "Max-Age=3600") || !strings.Contains(set, "HttpOnly") ||
		!strings.Contains(set, "SameSite=Lax") || !strings.Contains(set, "Path=/") {
		t.Fatalf("Set-Cookie %q", set)
	}
	cookie := strings.SplitN(set, ";", 2)[0]
	if strings.Contains(cookie, "127.0.0.1") {
		t.Fatalf("cookie %q reveals the backend address", cookie)
	}
	for range 9 {
		got, again := getFrom(t, px, nil, "Cookie: x=1; "+cookie+"\r\n")
		if got != first || again != "" {
			t.Fatalf("with %q: got %q (Set-Cookie %q); want %q and no new cookie", cookie, got, again, first)
		}
	}
	// A cookie that names no backend is replaced.
	if _, set := getFrom(t, px, nil, "Cookie: lb=forged\r\n"); !strings.HasPrefix(set, "lb=") {
		t.Fatalf("a forged cookie was not replaced: Set-Cookie %q", set)
	}
	// Without the cookie, round robin goes on over all three.
	seen := map[string]bool{}
	for range 6 {
		b, _ := getFrom(t, px, nil, "")
		seen[b] = true
	}
	if len(seen) != 3 {
		t.Fatalf("without cookies the requests reached %v", seen)
	}
}

func TestIPHashE2E(t *testing.T) {
	cfg := poolOf(named(t, "a", 0), named(t, "b", 0), named(t, "c", 0))
	cfg.Pools[0].Algorithm = "ip_hash"
	cfg.EventLoops = 2
	_, px := startProxy(t, cfg)
	used := map[string]bool{}
	for i := 2; i <= 12; i++ {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i))}
		first, _ := getFrom(t, px, src, "")
		for range 4 {
			if got, _ := getFrom(t, px, src, ""); got != first {
				t.Fatalf("client %v went to %q, then %q", src.IP, first, got)
			}
		}
		used[first] = true
	}
	if len(used) < 2 {
		t.Fatalf("11 client addresses all hashed to %v", used)
	}
	t.Logf("11 client addresses over backends %v", used)
}

func TestHashHeaderE2E(t *testing.T) {
	cfg := poolOf(named(t, "a", 0), named(t, "b", 0), named(t, "c", 0))
	cfg.Pools[0].Algorithm = "hash"
	cfg.Pools[0].HashKey = "header:X-User"
	cfg.Pools[0].HashMethod = "maglev"
	_, px := startProxy(t, cfg)
	used := map[string]bool{}
	for u := range 20 {
		h := fmt.Sprintf("X-User: user-%d\r\n", u)
		first, _ := getFrom(t, px, nil, h)
		for range 3 {
			if got, _ := getFrom(t, px, nil, h); got != first {
				t.Fatalf("user-%d went to %q, then %q", u, first, got)
			}
		}
		used[first] = true
	}
	if len(used) != 3 {
		t.Fatalf("20 users hashed to %v; want all three backends", used)
	}
	// Without the header the fallback (round robin) spreads requests.
	seen := map[string]bool{}
	for range 6 {
		b, _ := getFrom(t, px, nil, "")
		seen[b] = true
	}
	if len(seen) != 3 {
		t.Fatalf("keyless requests reached %v; want the round robin fallback over all three", seen)
	}
}

func TestBackupE2E(t *testing.T) {
	zero := 0
	cfg := poolOf(named(t, "primary", 0), named(t, "backup", 0))
	cfg.Pools[0].Backends[1].Backup = true
	_, px := startProxy(t, cfg)
	for range 10 {
		if b, _ := getFrom(t, px, nil, ""); b != "primary" {
			t.Fatalf("a backup took traffic while the primary could: %q", b)
		}
	}
	cfg = poolOf(named(t, "primary", 0), named(t, "backup", 0))
	cfg.Pools[0].Backends[0].Weight = &zero
	cfg.Pools[0].Backends[1].Backup = true
	_, px = startProxy(t, cfg)
	for range 5 {
		if b, _ := getFrom(t, px, nil, ""); b != "backup" {
			t.Fatalf("no primary can take traffic, but %q answered", b)
		}
	}
}

// Three backends of different speeds under the same bounded concurrent load:
// every algorithm's distribution is reported; load-aware ones must send the
// slow backend less than the fast one, the others about the same.
func TestAlgorithmDistributionE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("bounded load run")
	}
	backends := []string{named(t, "fast", 0), named(t, "medium", 5*time.Millisecond), named(t, "slow", 25*time.Millisecond)}
	for _, alg := range []string{"round_robin", "random", "least_connections", "p2c", "least_time"} {
		t.Run(alg, func(t *testing.T) {
			cfg := poolOf(backends...)
			cfg.Pools[0].Algorithm = alg
			_, px := startProxy(t, cfg)
			var mu sync.Mutex
			count := map[string]int{}
			var wg sync.WaitGroup
			stop := time.Now().Add(1500 * time.Millisecond)
			for range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tr := &http.Transport{MaxIdleConnsPerHost: 1}
					defer tr.CloseIdleConnections()
					hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
					for time.Now().Before(stop) {
						resp, err := hc.Get("http://" + px + "/")
						if err != nil {
							t.Error(err)
							return
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						mu.Lock()
						count[string(b)]++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			total := count["fast"] + count["medium"] + count["slow"]
			t.Logf("%-17s fast %4d  medium %4d  slow %4d  (of %d)", alg, count["fast"], count["medium"], count["slow"], total)
			switch alg {
			case "round_robin", "random":
				if count["slow"] < total/6 {
					t.Errorf("%s starved the slow backend: %v", alg, count)
				}
			default:
				if count["slow"] >= count["fast"] || count["slow"] == 0 {
					t.Errorf("%s: slow got %d, fast %d; want slow < fast and slow > 0", alg, count["slow"], count["fast"])
				}
			}
		})
	}
}
