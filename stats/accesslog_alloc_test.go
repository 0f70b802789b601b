//go:build !race

package stats

import (
	"io"
	"log/slog"
	"testing"
)

func TestAccessLogAppendAllocs(t *testing.T) {
	for _, format := range []string{"json", "combined"} {
		// A small queue bounds the buffers that may still be made while
		// measuring: fewer than one allocation per 1000 runs.
		a, err := OpenAccessLog(AccessLogOptions{Format: format, Stdout: io.Discard, BufferSize: 4096, Queue: 2,
			Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		lb := a.NewBuffer()
		r := testRecord()
		for range 1000 {
			lb.Append(&r)
		}
		if n := testing.AllocsPerRun(10000, func() { lb.Append(&r) }); n != 0 {
			t.Fatalf("%s: Append allocates %v times; want 0", format, n)
		}
		if n := testing.AllocsPerRun(1000, func() { lb.Append(&r); lb.Flush() }); n != 0 {
			t.Fatalf("%s: Append+Flush allocates %v times; want 0", format, n)
		}
		lb.Flush()
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
