//go:build ignore

// gen writes the compression corpus: an HTML page, a JSON API answer, a CSS
// file, a JS file and an SVG drawing, all made from a fixed seed so that the
// files (and the figures measured on them) never change.
//
//	go run ./testdata/corpus/gen.go   (from the module root)
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

var words = strings.Fields(`proxy loop event buffer request response header body chunk stream backend pool
health probe route limit token bucket window latency median tail queue socket kernel epoll timer
deadline retry budget weight picker hash ring shard replica leader follower cache entry value key
version commit branch merge review change release build test bench profile trace span metric label
counter gauge histogram quantile sample export scrape target config reload signal graceful shutdown
the a of and to in is for on with as by at from that this it be are was not or an will can may`)

var r = rand.New(rand.NewPCG(2024, 11))

func word() string { return words[r.IntN(len(words))] }

func sentence(n int) string {
	var b strings.Builder
	for i := range n {
		w := word()
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	b.WriteByte('.')
	return b.String()
}

func title() string {
	w := word()
	return strings.ToUpper(w[:1]) + w[1:] + " " + word() + " " + word()
}

func html() string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n")
	b.WriteString("  <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("  <title>loopgate: release notes and operator guide</title>\n")
	b.WriteString("  <link rel=\"stylesheet\" href=\"/static/site.css\">\n  <script defer src=\"/static/app.js\"></script>\n</head>\n<body>\n")
	b.WriteString("  <header class=\"site-header\">\n    <nav class=\"nav\">\n      <ul class=\"nav-list\">\n")
	for i := range 12 {
		fmt.Fprintf(&b, "        <li class=\"nav-item\"><a class=\"nav-link\" href=\"/docs/%s-%d\">%s</a></li>\n", word(), i, title())
	}
	b.WriteString("      </ul>\n    </nav>\n  </header>\n  <main class=\"content\">\n")
	for s := range 60 {
		fmt.Fprintf(&b, "    <section class=\"section\" id=\"section-%d\">\n      <h2 class=\"section-title\">%s</h2>\n", s, title())
		for range 2 + r.IntN(3) {
			fmt.Fprintf(&b, "      <p class=\"para\">%s %s <a href=\"/docs/%s#%s\">%s</a> %s</p>\n",
				sentence(8+r.IntN(10)), sentence(6+r.IntN(12)), word(), word(), word(), sentence(5+r.IntN(8)))
		}
		if s%3 == 0 {
			b.WriteString("      <table class=\"table\">\n        <thead><tr><th>Name</th><th>Default</th><th>Description</th></tr></thead>\n        <tbody>\n")
			for range 6 {
				fmt.Fprintf(&b, "          <tr><td><code>%s_%s</code></td><td>%d</td><td>%s</td></tr>\n", word(), word(), r.IntN(1000), sentence(6+r.IntN(6)))
			}
			b.WriteString("        </tbody>\n      </table>\n")
		}
		if s%4 == 1 {
			b.WriteString("      <ul class=\"list\">\n")
			for range 5 {
				fmt.Fprintf(&b, "        <li class=\"list-item\"><span class=\"badge badge-%s\">%s</span> %s</li>\n", word(), word(), sentence(7+r.IntN(5)))
			}
			b.WriteString("      </ul>\n")
		}
		b.WriteString("    </section>\n")
	}
	b.WriteString("  </main>\n  <footer class=\"site-footer\"><p>Generated for the loopgate compression corpus.</p></footer>\n</body>\n</html>\n")
	return b.String()
}

func jsonDoc() string {
	var b strings.Builder
	b.WriteString("{\n  \"page\": 1,\n  \"per_page\": 250,\n  \"total\": 9371,\n  \"items\": [\n")
	for i := range 250 {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `    {
      "id": %d,
      "name": "%s-%s-%d",
      "status": "%s",
      "healthy": %t,
      "weight": %d,
      "address": "10.%d.%d.%d:%d",
      "labels": {"zone": "zone-%c", "tier": "%s", "team": "%s"},
      "latency_ms": {"p50": %.2f, "p99": %.2f, "p999": %.2f},
      "requests": %d,
      "errors": %d,
      "updated_at": "2024-%02d-%02dT%02d:%02d:%02dZ",
      "description": "%s"
    }`, 100000+i, word(), word(), i, []string{"up", "down", "draining"}[r.IntN(3)], r.IntN(5) > 0, 1+r.IntN(10),
			r.IntN(4), r.IntN(256), r.IntN(256), 8000+r.IntN(100), 'a'+rune(r.IntN(3)), word(), word(),
			r.Float64()*10, 10+r.Float64()*90, 100+r.Float64()*900, r.IntN(10000000), r.IntN(5000),
			1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), sentence(6+r.IntN(8)))
	}
	b.WriteString("\n  ]\n}\n")
	return b.String()
}

func css() string {
	var b strings.Builder
	b.WriteString(":root {\n  --fg: #1d2433;\n  --bg: #ffffff;\n  --accent: #0b63ce;\n  --muted: #6b7280;\n}\n\n")
	props := []string{"margin", "padding", "color", "background-color", "border", "font-size", "line-height",
		"display", "flex-direction", "justify-content", "align-items", "gap", "border-radius", "width", "max-width"}
	vals := []string{"0", "1rem", "0.5rem 1rem", "var(--fg)", "var(--accent)", "1px solid #e5e7eb", "14px", "1.5",
		"flex", "column", "space-between", "center", "8px", "100%", "72rem", "inherit", "none", "block"}
	for i := range 450 {
		sel := fmt.Sprintf(".%s-%s", word(), word())
		if i%5 == 0 {
			sel += ":hover"
		} else if i%7 == 0 {
			sel += " > ." + word()
		}
		fmt.Fprintf(&b, "%s {\n", sel)
		for range 2 + r.IntN(5) {
			fmt.Fprintf(&b, "  %s: %s;\n", props[r.IntN(len(props))], vals[r.IntN(len(vals))])
		}
		b.WriteString("}\n\n")
		if i%60 == 59 {
			fmt.Fprintf(&b, "@media (max-width: %dpx) {\n  .%s { display: none; }\n  .%s { padding: 0.25rem; }\n}\n\n", 480+r.IntN(600), word(), word())
		}
	}
	return b.String()
}

func js() string {
	var b strings.Builder
	b.WriteString("'use strict';\n\n(function () {\n  const state = { loaded: false, items: [], errors: 0 };\n\n")
	for i := range 160 {
		name := word() + strings.ToUpper(word()[:1]) + word()[1:] + fmt.Sprint(i)
		fmt.Fprintf(&b, `  function %s(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.%s !== undefined ? opts.%s : %d;
    const list = document.querySelectorAll('.%s-%s');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-%s', i %% %d === 0);
      list[i].setAttribute('data-%s', String(value + i));
    }
    state.items.push({ name: '%s', value: value });
    return el.dataset.%s || '%s';
  }

`, name, word(), word(), r.IntN(100), word(), word(), word(), 2+r.IntN(5), word(), name, word(), word())
	}
	b.WriteString("  document.addEventListener('DOMContentLoaded', function () {\n    state.loaded = true;\n  });\n})();\n")
	return b.String()
}

func svg() string {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"400\" viewBox=\"0 0 800 400\">\n")
	b.WriteString("  <g class=\"grid\" stroke=\"#e5e7eb\" stroke-width=\"1\">\n")
	for x := 0; x <= 800; x += 20 {
		fmt.Fprintf(&b, "    <line x1=\"%d\" y1=\"0\" x2=\"%d\" y2=\"400\"/>\n", x, x)
	}
	for y := 0; y <= 400; y += 20 {
		fmt.Fprintf(&b, "    <line x1=\"0\" y1=\"%d\" x2=\"800\" y2=\"%d\"/>\n", y, y)
	}
	b.WriteString("  </g>\n")
	colors := []string{"#0b63ce", "#d97706", "#059669", "#dc2626"}
	for s, c := range colors {
		fmt.Fprintf(&b, "  <path class=\"series series-%d\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"M0 200", s, c)
		y := 200.0
		for x := 4; x <= 800; x += 4 {
			y += r.Float64()*10 - 5
			y = max(10, min(390, y))
			fmt.Fprintf(&b, " L%d %.1f", x, y)
		}
		b.WriteString("\"/>\n")
		for x := 0; x <= 800; x += 40 {
			fmt.Fprintf(&b, "  <circle cx=\"%d\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s: %.1f ms</title></circle>\n", x, 10+r.Float64()*380, c, word(), r.Float64()*100)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func main() {
	dir := filepath.Join("testdata", "corpus")
	files := []struct{ name, body string }{
		{"page.html", html()}, {"api.json", jsonDoc()}, {"site.css", css()}, {"app.js", js()}, {"chart.svg", svg()},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.body), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
