package perf

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units (pixels).
const (
	chartW      = 900.0
	panelH      = 210.0
	panelGap    = 34.0
	chartTop    = 78.0
	axisW       = 64.0
	chartMargin = 16.0
)

var proxyColors = map[string]string{
	proxyLoopgate:    "#1d4ed8",
	proxyLoopgateAll: "#60a5fa",
	proxyHAProxy:     "#d97706",
	proxyNginx:       "#059669",
	proxyVarnish:     "#7c3aed",
}

func colorOf(proxy string) string {
	if c, ok := proxyColors[proxy]; ok {
		return c
	}
	return "#6b7280"
}

type chartBar struct {
	proxy        string
	v, low, high float64
}

type chartGroup struct {
	label string
	bars  []chartBar
}

// WriteSVG draws the results as a self-contained SVG: one panel each for req/s, proxy CPU per
// request, p99 latency and memory per idle connection. Bars are medians; whiskers span the
// rounds' min..max.
func (res *BenchResult) WriteSVG(w io.Writer) error {
	var proxies []string
	for _, p := range res.Proxies {
		if p.Skipped == "" {
			proxies = append(proxies, p.Name)
		}
	}
	type panel struct {
		title  string
		groups []chartGroup
		format func(float64) string
	}
	var rps, cpu, p99 []chartGroup
	for _, s := range res.Summary {
		label := fmt.Sprintf("%d conns, %s", s.Conns, sizeLabel(s.Size))
		if len(rps) == 0 || rps[len(rps)-1].label != label {
			rps = append(rps, chartGroup{label: label})
			cpu = append(cpu, chartGroup{label: label})
			p99 = append(p99, chartGroup{label: label})
		}
		i := len(rps) - 1
		rps[i].bars = append(rps[i].bars, chartBar{s.Proxy, s.RPS.Median, s.RPS.Min, s.RPS.Max})
		cpu[i].bars = append(cpu[i].bars, chartBar{s.Proxy, s.CPUus.Median, s.CPUus.Min, s.CPUus.Max})
		p99[i].bars = append(p99[i].bars, chartBar{s.Proxy, s.P99.Median, s.P99.Min, s.P99.Max})
	}
	panels := []panel{
		{"Requests per second (higher is better)", rps, compact},
		{"Proxy CPU per request, µs (user + system; lower is better)", cpu, compact},
		{"p99 latency, ms (lower is better)", p99, compact},
	}
	if len(res.Compression) > 0 {
		// One group per coding and level, a bar per proxy; the legend names proxies.
		proxies = nil
		var cpuG, ratioG []chartGroup
		for _, c := range res.Compression {
			if !slices.Contains(proxies, c.Proxy) {
				proxies = append(proxies, c.Proxy)
			}
			label := c.Coding
			if c.Coding != codingIdentity {
				label += " " + strconv.Itoa(c.Level)
			}
			i := slices.IndexFunc(cpuG, func(g chartGroup) bool { return g.label == label })
			if i < 0 {
				cpuG = append(cpuG, chartGroup{label: label})
				ratioG = append(ratioG, chartGroup{label: label})
				i = len(cpuG) - 1
			}
			cpuG[i].bars = append(cpuG[i].bars, chartBar{c.Proxy, c.CPU.Median, c.CPU.Min, c.CPU.Max})
			ratioG[i].bars = append(ratioG[i].bars, chartBar{c.Proxy, c.Ratio, c.Ratio, c.Ratio})
		}
		panels = []panel{
			{"Proxy CPU per MiB of corpus served, ms (user + system; lower is better)", cpuG, compact},
			{"Compression ratio, corpus bytes ÷ coded bytes (higher is better)", ratioG, compact},
		}
	}
	if len(res.Idle) > 0 {
		g := chartGroup{label: fmt.Sprintf("%d idle keep-alive connections", res.Settings.IdleConns)}
		for _, r := range res.Idle {
			g.bars = append(g.bars, chartBar{r.Proxy, r.BytesPerConn, r.BytesPerConn, r.BytesPerConn})
		}
		panels = append(panels, panel{"RSS per idle keep-alive client connection, bytes (lower is better)", []chartGroup{g}, compact})
	}

	height := chartTop + float64(len(panels))*(panelH+panelGap) + chartMargin
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n",
		chartW, height, chartW, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	title := "loopgate, HAProxy and nginx as reverse proxies (make perf)"
	switch {
	case res.Settings.Cache:
		title = "loopgate, nginx and Varnish answering from their caches (make perf PERFFLAGS=-cache)"
	case res.Settings.Compress:
		title = "loopgate and nginx compressing on the fly (make perf PERFFLAGS=-compress)"
	}
	fmt.Fprintf(&b, `<text x="%g" y="24" font-size="17" font-weight="bold">%s</text>`+"\n", chartMargin, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%g" y="42" fill="#374151">%s</text>`+"\n", chartMargin, html.EscapeString(res.Started.Format("2006-01-02")+": "+res.header()))
	// Legend.
	x := chartMargin
	for _, p := range proxies {
		setup := ""
		for _, pi := range res.Proxies {
			if pi.Name == p {
				setup = pi.Setup
			}
		}
		label := p
		if setup != "" {
			label += " (" + setup + ")"
		}
		fmt.Fprintf(&b, `<rect x="%g" y="54" width="12" height="12" fill="%s"/><text x="%g" y="64.5">%s</text>`+"\n",
			x, colorOf(p), x+16, html.EscapeString(label))
		x += 16 + 6.6*float64(len([]rune(label))) + 18
	}
	y := chartTop
	for _, p := range panels {
		drawPanel(&b, y, p.title, p.groups, p.format)
		y += panelH + panelGap
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// drawPanel draws one bar chart with its title at top.
func drawPanel(b *strings.Builder, top float64, title string, groups []chartGroup, format func(float64) string) {
	const titleH, labelH = 20.0, 20.0
	x0, x1 := chartMargin+axisW, chartW-chartMargin
	y0, y1 := top+titleH+14, top+panelH-labelH // plot area: y0 top, y1 baseline
	fmt.Fprintf(b, `<text x="%g" y="%g" font-weight="bold">%s</text>`+"\n", chartMargin, top+14, html.EscapeString(title))
	hi := 0.0
	for _, g := range groups {
		for _, bar := range g.bars {
			hi = max(hi, bar.high, bar.v)
		}
	}
	axisTop, step := niceScale(hi)
	scale := func(v float64) float64 { return y1 - (y1-y0)*v/axisTop }
	for v := 0.0; v <= axisTop+step/2; v += step {
		yy := scale(v)
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e5e7eb"/>`+"\n", x0, yy, x1, yy)
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end" fill="#6b7280">%s</text>`+"\n", x0-6, yy+4, format(v))
	}
	fmt.Fprintf(b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#111827"/>`+"\n", x0, y1, x1, y1)
	if len(groups) == 0 {
		return
	}
	gw := (x1 - x0) / float64(len(groups))
	for gi, g := range groups {
		gx := x0 + gw*float64(gi)
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", gx+gw/2, y1+15, html.EscapeString(g.label))
		if len(g.bars) == 0 {
			continue
		}
		bw := math.Min(gw*0.8/float64(len(g.bars)), 70)
		bx := gx + (gw-bw*float64(len(g.bars)))/2
		for _, bar := range g.bars {
			top := scale(bar.v)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`+"\n",
				bx+1, top, bw-2, y1-top, colorOf(bar.proxy), html.EscapeString(bar.proxy), format(bar.v))
			if bar.high > bar.low {
				cx := bx + bw/2
				fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#111827"/>`+"\n", cx, scale(bar.low), cx, scale(bar.high))
				fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#111827"/>`+"\n", cx-4, scale(bar.high), cx+4, scale(bar.high))
				fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#111827"/>`+"\n", cx-4, scale(bar.low), cx+4, scale(bar.low))
			}
			ly := math.Min(top, scale(bar.high)) - 4
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", bx+bw/2, ly, format(bar.v))
			bx += bw
		}
	}
}

// niceScale returns an axis top at or above v and a round tick step (1, 2, 2.5 or 5 × 10^k)
// that divides it into at most 5 intervals.
func niceScale(v float64) (top, step float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 0.25
	}
	raw := v / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return math.Ceil(v/step-1e-9) * step, step
}

// compact prints a value with three significant digits: 45200 → 45.2k, 14.23 → 14.2.
func compact(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a == 0:
		return "0"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
