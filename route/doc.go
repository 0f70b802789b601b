// Package route picks the route of a request: Compile turns the configured Specs into
// an immutable Table, shared by every event loop without locks, and Table.Match
// returns the index of the winning Spec (or -1) without allocating, at a cost that
// does not grow with the number of routes (path_regex routes excepted: they are
// scanned in order, and RE2 makes no allocation promise).
//
// Matching order, "most specific wins", path first:
//  1. Path: an exact path beats any prefix; a longer path_prefix beats a shorter
//     one; a route without path condition matches every path and ranks below
//     every prefix, "/" included. path_regex routes are tried only when no exact,
//     prefix or path-less route matched, in file order (Compile refuses one that
//     a path-less or "/" route would always take first).
//  2. Among routes of the same path rank: exact host beats wildcard, a longer
//     wildcard suffix beats a shorter one, any wildcard beats "any host".
//  3. Then more conditions beat fewer (methods count as one, each header and
//     query condition as one); then earlier in the file.
//
// When a candidate's host or conditions do not hold, the next one in this order is
// tried: a GET-only "/api/" route that sees a POST falls back to a "/" route.
// Requests are matched after NormalizeHost and NormalizePath; methods compare
// case-sensitively; query values are percent-decoded, '+' is not a space.
//
//	t, err := route.Compile(specs)                     // on config load; publish t atomically
//	host = route.NormalizeHost(host[:0], rawHost)      // per request, into loop-owned buffers
//	path, _ = route.NormalizePath(path[:0], rawPath)
//	i := t.Match(host, path, query, method, &hdr)      // -1: no route
package route
