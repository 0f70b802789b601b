package stats

import _ "embed"

// dashboardHTML is the whole dashboard: one page, no external assets, so it
// works offline. It polls /api/metrics every second.
//
//go:embed dashboard.html
var dashboardHTML []byte
