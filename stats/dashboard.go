package stats

import _ "embed"

// dashboardHTML is the whole dashboard: one page, no external assets, so it
// works offline. It polls /api/metrics every second.
//
//go:embed dashboard.html
var dashboardHTML []byte

// NeedsAgent reports whether the log's format writes Referer and
// User-Agent, so the engine copies them only then.
func (a *AccessLog) NeedsAgent() bool { return a.opts.NeedsAgent() }
