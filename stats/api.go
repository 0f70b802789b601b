package stats

import "time"

// Reason says why the proxy answered a request itself, or why an exchange
// failed. It indexes the errors_total counters; ReasonNone is a normal
// exchange.
type Reason uint8

const (
	ReasonNone       Reason = iota
	ReasonParse             // malformed request or smuggling attempt: 400, 501, 505
	ReasonLimit             // a size or connection limit: 413, 414, 431, 503 at max_connections
	ReasonTimeout           // client or upstream too slow: 408, 504
	ReasonConnect           // cannot connect to a backend: 502
	ReasonReset             // a backend closed, reset or broke framing: 502, or a cut response
	ReasonNoBackend         // no backend may take traffic: 503
	ReasonClientGone        // the client closed before its response was complete
	ReasonDenied            // the client's address is refused (client_allow, client_deny): 403
	ReasonNoRoute           // no [[route]] takes the request: 404
	ReasonRateLimit         // a rate limit or an in-flight limit refused the request: 429
	ReasonQueue             // every backend was at max_connections and the queue was full or timed out: 503
	numReasons
)

// String is the label value used in metrics and the access log.
func (r Reason) String() string { return reasonNames[r] }

var reasonNames = [numReasons]string{
	ReasonNone:       "",
	ReasonParse:      "parse",
	ReasonLimit:      "limit",
	ReasonTimeout:    "timeout",
	ReasonConnect:    "connect",
	ReasonReset:      "reset",
	ReasonNoBackend:  "no_backend",
	ReasonClientGone: "client_gone",
	ReasonDenied:     "denied",
	ReasonNoRoute:    "no_route",
	ReasonRateLimit:  "rate_limit",
	ReasonQueue:      "queue",
}

// Record describes one finished exchange. The engine fills one per loop and
// passes it to Proxy.Done and LogBuffer.Append, which copy what they keep:
// the byte slices only need to be valid during those calls.
type Record struct {
	Time      time.Time // when the request head arrived (wall clock)
	ClientIP  []byte
	Method    []byte
	Target    []byte
	Minor     uint8 // HTTP/1.<Minor>
	Status    int   // sent to the client; 0 if none was (the connection was cut)
	BytesIn   int64 // request bytes read: head and body
	BytesOut  int64 // response bytes written: head and body
	Total     time.Duration
	Route     *RouteStats   // nil when no [[route]] took the request
	Pool      *PoolStats    // nil when the request never reached a pool (e.g. a parse error)
	Backend   *BackendStats // the backend of the last attempt; nil if none was tried
	Connect   time.Duration // connect time of a freshly dialed upstream connection; 0 if pooled
	TTFB      time.Duration // request sent to response head received, last attempt; 0 if none
	Upstream  time.Duration // request sent to response complete, last attempt; 0 if none
	Retries   int
	RequestID []byte
	Reason    Reason // why the proxy answered itself or the exchange failed; ReasonNone otherwise
	Referer   []byte // filled only when AccessLogOptions.NeedsAgent
	UserAgent []byte // filled only when AccessLogOptions.NeedsAgent
	// Tunnel is set when the exchange became a tunnel (a 101 to an upgrade, a 2xx
	// to CONNECT); the record is made when the tunnel closes, Total is its whole
	// life, and TunnelIn and TunnelOut are the bytes it carried from the client
	// and to it (BytesIn and BytesOut include them, and the heads).
	Tunnel              TunnelKind
	TunnelIn, TunnelOut int64
}
