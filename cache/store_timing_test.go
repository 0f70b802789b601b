package cache

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

var sink int

// BenchmarkLookupHit: hits on a store of 100k entries with Vary: Accept-Encoding, from
// GOMAXPROCS goroutines, with the request fields as the engine presents them.
func BenchmarkLookupHit(b *testing.B) {
	const n = 100_000
	s := New(Config{MaxBytes: 1 << 30})
	resp := respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=600", `ETag: "v1"`, "Vary: Accept-Encoding")
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = []byte("a.example/static/asset-" + strconv.Itoa(i) + ".js")
		s.Insert(keys[i], entryOf(reqOf("Accept-Encoding: gzip, br"), resp, "body"))
	}
	if st := s.Stats(); st.Entries != n {
		b.Fatalf("stored %d of %d", st.Entries, n)
	}
	req := newSpanFields(reqOf("User-Agent: bench", "Accept: */*", "Accept-Encoding: gzip, deflate, br", "Accept-Language: en"))
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1) * 7919)
		now := at(time.Second)
		for pb.Next() {
			i = (i + 1) % n
			if _, st := s.Lookup(keys[i], req, now); st != Fresh {
				panic("miss")
			}
		}
	})
}

// BenchmarkInsertEvict: inserts of 2 KiB entries into a full store, each evicting.
func BenchmarkInsertEvict(b *testing.B) {
	s := New(Config{MaxBytes: 16 << 20})
	body := make([]byte, 2048)
	keys := make([][]byte, 1<<16)
	for i := range keys {
		keys[i] = []byte("a.example/obj/" + strconv.Itoa(i))
	}
	entries := make([]*Entry, 0, 1<<16)
	mk := func() *Entry {
		e := NewEntry(freshResp, reqOf(), t0, nil)
		e.Body = body
		return e
	}
	for i := range keys {
		s.Insert(keys[i], mk())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if len(entries) == 0 {
			b.StopTimer()
			for range cap(entries) {
				entries = append(entries, mk())
			}
			b.StartTimer()
		}
		e := entries[len(entries)-1]
		entries = entries[:len(entries)-1]
		s.Insert(keys[(i*40503)&(len(keys)-1)], e)
	}
	sink = int(s.Stats().Evictions)
}

func BenchmarkParseCacheControl(b *testing.B) {
	var req Fields = newSpanFields(reqOf("Cache-Control: max-age=0, no-cache, stale-if-error=60", "Pragma: no-cache"))
	b.ReportAllocs()
	for b.Loop() {
		sink += int(ParseCacheControl(req).MaxAge)
	}
}
