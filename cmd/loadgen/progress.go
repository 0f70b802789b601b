package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"loopgate/perf"
)

const barWidth = 30

// progressBar redraws one terminal line: a bar, the count, the current rate and failures.
type progressBar struct {
	w        io.Writer
	lastDone int64
	lastAt   time.Duration
	rate     float64
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w} }

// update is a perf.Config.Progress callback.
func (p *progressBar) update(s perf.Progress) {
	if dt := s.Elapsed - p.lastAt; dt >= perf.ProgressEvery/2 {
		p.rate = float64(s.Done-p.lastDone) / dt.Seconds()
		p.lastDone, p.lastAt = s.Done, s.Elapsed
	}
	fill := int(s.Fraction * barWidth)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", barWidth-fill)
	if fill > 0 && fill < barWidth {
		bar = bar[:fill-1] + ">" + bar[fill:]
	}
	fmt.Fprintf(p.w, "\r\033[K[%s] %3.0f%%  %d done  %.0f req/s  %d failed  %.1fs",
		bar, 100*s.Fraction, s.Done, p.rate, s.Failed, s.Elapsed.Seconds())
}
