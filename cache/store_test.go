package cache

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var freshResp = respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=600")

func TestStoreBasics(t *testing.T) {
	s := New(Config{})
	if _, st := s.Lookup([]byte("a.example/x"), reqOf(), 0); st != Miss {
		t.Fatalf("empty store: %v", st)
	}
	e := entryOf(reqOf(), freshResp, "hello")
	if !s.Insert([]byte("a.example/x"), e) {
		t.Fatal("Insert refused")
	}
	if got, st := s.Lookup([]byte("a.example/x"), reqOf(), at(time.Second)); got != e || st != Fresh {
		t.Fatalf("Lookup = %p %v; want %p fresh", got, st, e)
	}
	if _, st := s.Lookup([]byte("a.example/y"), reqOf(), 0); st != Miss {
		t.Fatal("other key hit")
	}
	for _, k := range []string{"a.example/y", "b.example/x", "a.example/z?q"} {
		s.Insert([]byte(k), entryOf(reqOf(), freshResp, k))
	}
	if n := s.PurgePrefix("a.example/"); n != 3 {
		t.Fatalf("PurgePrefix = %d; want 3", n)
	}
	if st := s.Stats(); st.Entries != 1 || st.Insertions != 4 {
		t.Fatalf("Stats after PurgePrefix: %+v", st)
	}
	if _, st := s.Lookup([]byte("b.example/x"), reqOf(), 0); st != Fresh {
		t.Fatal("PurgePrefix took another host")
	}
	s.Flush()
	if st := s.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("Stats after Flush: %+v", st)
	}
	if _, st := s.Lookup([]byte("b.example/x"), reqOf(), 0); st != Miss {
		t.Fatal("hit after Flush")
	}
	s.Insert([]byte("b.example/x"), entryOf(reqOf(), freshResp, "again"))
	if _, st := s.Lookup([]byte("b.example/x"), reqOf(), 0); st != Fresh {
		t.Fatal("miss after Flush and Insert")
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("second Insert of one Entry did not panic")
			}
		}()
		s.Insert([]byte("c"), e)
	}()
}

func TestStoreBounded(t *testing.T) {
	c := Config{MaxBytes: 64 << 10, MaxObject: 4 << 10, Shards: 4}
	s := New(c)
	body := make([]byte, 1000)
	for i := range 1000 {
		e := entryOf(reqOf(), freshResp, string(body[:rand.IntN(len(body))]))
		s.Insert([]byte("k"+strconv.Itoa(i)), e)
		if st := s.Stats(); st.Bytes > c.MaxBytes {
			t.Fatalf("after %d inserts: %d bytes > %d", i, st.Bytes, c.MaxBytes)
		}
	}
	st := s.Stats()
	if st.Evictions == 0 || st.Insertions != 1000 || int(st.Insertions-st.Evictions) != st.Entries {
		t.Fatalf("Stats: %+v", st)
	}
	big := NewEntry(freshResp, reqOf(), t0, nil) // default MaxObject: AppendBody would accept
	big.Body = make([]byte, 5<<10)
	if s.Insert([]byte("big"), big) || s.Stats().Rejected != 1 {
		t.Fatal("entry above MaxObject stored")
	}
}

// TestScanResistance: a hot set that is hit keeps its place while a scan of one-hit keys
// ten times the cache size goes through it (S3-FIFO's small queue and ghost).
func TestScanResistance(t *testing.T) {
	s := New(Config{MaxBytes: 1 << 20, Shards: 8})
	const hot = 200
	body := string(make([]byte, 1000))
	for i := range hot {
		s.Insert([]byte("hot"+strconv.Itoa(i)), entryOf(reqOf(), freshResp, body))
	}
	hits := func() int {
		n := 0
		for i := range hot {
			if _, st := s.Lookup([]byte("hot"+strconv.Itoa(i)), reqOf(), at(0)); st == Fresh {
				n++
			}
		}
		return n
	}
	for round := range 100 {
		hits()
		for j := range 100 {
			s.Insert([]byte(fmt.Sprintf("scan%d-%d", round, j)), entryOf(reqOf(), freshResp, body))
		}
	}
	if n := hits(); n < hot*9/10 {
		t.Fatalf("after a scan of %d one-hit keys, %d of %d hot keys left", 100*100, n, hot)
	}
}

// TestStoreConcurrent races hits, inserts, purges, flushes and evictions from 8 goroutines
// for a bounded time and checks the invariants: bytes never above MaxBytes; a Lookup
// never returns an entry of another key or another Vary variant; no entry is found after
// its Purge returned (on keys whose writer is the purging goroutine).
func TestStoreConcurrent(t *testing.T) {
	c := Config{MaxBytes: 256 << 10, MaxObject: 8 << 10, Shards: 8, MaxVariants: 3}
	s := New(c)
	resp := respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=600", "Vary: Accept-Encoding")
	codings := []string{"gzip", "br", "zstd", "identity"}
	// Body encodes key and variant, so every hit can be checked.
	bodyOf := func(key, ae string) string { return key + "|" + ae + "#" }
	var stop atomic.Bool
	var wg sync.WaitGroup
	var failed atomic.Value
	fail := func(format string, args ...any) {
		failed.CompareAndSwap(nil, fmt.Sprintf(format, args...))
		stop.Store(true)
	}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			own := "own" + strconv.Itoa(g) + "/"
			for n := 0; !stop.Load(); n++ {
				var key string
				if r.IntN(4) == 0 {
					key = own + strconv.Itoa(r.IntN(8))
				} else {
					key = "shared/" + strconv.Itoa(r.IntN(300))
				}
				ae := codings[r.IntN(len(codings))]
				req := reqOf("Accept-Encoding: " + ae)
				switch op := r.IntN(100); {
				case op < 60:
					if e, st := s.Lookup([]byte(key), req, at(0)); e != nil && !strings.HasPrefix(string(e.Body), bodyOf(key, ae)) {
						fail("Lookup(%s, %s) = %q (%v)", key, ae, e.Body, st)
					}
				case op < 90:
					e := entryOf(req, resp, bodyOf(key, ae))
					e.AppendBody(make([]byte, r.IntN(4<<10)))
					s.Insert([]byte(key), e)
				case op < 97:
					if key[0] == 'o' {
						s.Purge([]byte(key))
						// This goroutine alone writes its own keys, so nothing may bring it back.
						for _, a := range codings {
							if e, _ := s.Lookup([]byte(key), reqOf("Accept-Encoding: "+a), at(0)); e != nil {
								fail("%s/%s found after its Purge", key, a)
							}
						}
					} else {
						s.Purge([]byte(key))
					}
				case op < 99:
					s.PurgePrefix("shared/1")
				default:
					if r.IntN(20) == 0 {
						s.Flush()
					}
				}
				if n%64 == 0 {
					if st := s.Stats(); st.Bytes > c.MaxBytes || st.Bytes < 0 {
						fail("bytes %d outside [0, %d]", st.Bytes, c.MaxBytes)
					}
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
	st := s.Stats()
	if st.Insertions == 0 {
		t.Fatalf("no work done: %+v", st)
	}
	t.Logf("%+v", st)
}
