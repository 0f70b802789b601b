// Package codec parses and writes HTTP/1.1 messages for loopgate: request and response heads
// parsed in place into Spans over the caller's buffer, chunked framing tracked across reads,
// and Append-style writers that apply the proxy's rewrite plan (hop-by-hop removal,
// X-Forwarded-*) while copying a head. It follows RFC 9112 strictly and imports only the
// standard library. Nothing here allocates on the request path and nothing is shared: a
// Request, Response or Chunked value belongs to the one connection (and event loop) using it.
//
//	n, err := codec.ParseRequest(buf, &req, &lim) // err == codec.ErrNeedMore: read more, retry
//	out = codec.AppendRequestHead(out[:0], buf, &req, &fw)
package codec
