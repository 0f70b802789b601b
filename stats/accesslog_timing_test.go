package stats

import (
	"io"
	"log/slog"
	"testing"
)

func BenchmarkAccessLogAppend(b *testing.B) {
	for _, format := range []string{"json", "combined"} {
		b.Run(format, func(b *testing.B) {
			a, err := OpenAccessLog(AccessLogOptions{Format: format, Stdout: io.Discard, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			lb := a.NewBuffer()
			r := testRecord()
			if format == "combined" {
				r.UserAgent = []byte("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
			}
			b.SetBytes(int64(len(appendJSONLine(nil, &r, new(timeCache)))))
			if format == "combined" {
				b.SetBytes(int64(len(appendCombinedLine(nil, &r, new(timeCache)))))
			}
			b.ReportAllocs()
			for b.Loop() {
				lb.Append(&r)
			}
			lb.Flush()
			b.ReportMetric(float64(a.Dropped()), "dropped")
		})
	}
}
