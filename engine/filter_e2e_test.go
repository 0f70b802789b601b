package engine_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/stats"
)

// client_allow and client_deny answer 403 and close to a refused client,
// before anything reaches a backend; the client is the socket's peer or,
// behind a trusted proxy, the address it forwards. Deny wins over allow.
func TestClientAllowDeny(t *testing.T) {
	var reached atomic.Int64
	backend := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	start := func(allow, deny, trusted []string) (string, *stats.Proxy) {
		cfg := poolOf(backend)
		cfg.ClientAllow, cfg.ClientDeny, cfg.TrustedProxies = allow, deny, trusted
		st := stats.New(stats.Options{})
		cfg.Stats = st
		_, addr := startProxy(t, cfg)
		return addr, st
	}
	admitted := func(addr, fields string) bool {
		t.Helper()
		c := dial(t, addr)
		r := c.roundTrip("GET", "GET /f HTTP/1.1\r\nHost: a\r\n"+fields+"\r\n")
		switch r.StatusCode {
		case 200:
			return true
		case 403:
			c.expectClosed(ioTimeout)
			return false
		}
		t.Fatalf("status %d; want 200 or 403", r.StatusCode)
		return false
	}
	cases := []struct {
		name                 string
		allow, deny, trusted []string
		fields               string
		want                 bool
	}{
		{"no lists", nil, nil, nil, "", true},
		{"allowed", []string{"127.0.0.0/8"}, nil, nil, "", true},
		{"outside the allow list", []string{"10.0.0.0/8"}, nil, nil, "", false},
		{"denied", nil, []string{"127.0.0.1"}, nil, "", false},
		{"deny wins over allow", []string{"127.0.0.0/8"}, []string{"127.0.0.1/32"}, nil, "", false},
		{"X-Forwarded-For is not believed from an untrusted peer", []string{"10.0.0.0/8"}, nil, nil, "X-Forwarded-For: 10.1.1.1\r\n", false},
		{"a trusted proxy's client allowed", []string{"10.0.0.0/8"}, nil, []string{"127.0.0.1"}, "X-Forwarded-For: 10.1.1.1\r\n", true},
		{"a trusted proxy's client denied", nil, []string{"203.0.113.0/24"}, []string{"127.0.0.1"}, "X-Forwarded-For: 203.0.113.9\r\n", false},
		{"a garbled forwarded address", nil, []string{"203.0.113.0/24"}, []string{"127.0.0.1"}, "X-Forwarded-For: nonsense\r\n", false},
	}
	// A refused request's body, and a request pipelined behind it, reach
	// nothing: one 403, then the close, whatever the split of the bytes.
	addr, _ := start(nil, []string{"127.0.0.1"}, nil)
	const raw = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n"
	for _, split := range []int{len(raw), 20, 55, 60, 65} {
		before := reached.Load()
		c := dial(t, addr)
		c.send(raw[:split])
		time.Sleep(5 * time.Millisecond)
		if split < len(raw) {
			c.c.Write([]byte(raw[split:])) // may fail once the proxy has closed
		}
		wantStatus(t, c.read("POST"), 403)
		c.expectClosed(ioTimeout)
		if reached.Load() != before {
			t.Fatalf("split at %d: the refused bytes reached the backend", split)
		}
	}

	for _, c := range cases {
		addr, st := start(c.allow, c.deny, c.trusted)
		before := reached.Load()
		if got := admitted(addr, c.fields); got != c.want {
			t.Errorf("%s: admitted %v; want %v", c.name, got, c.want)
			continue
		}
		if !c.want {
			if reached.Load() != before {
				t.Errorf("%s: a refused request reached the backend", c.name)
			}
			waitFor(t, func() bool {
				var prom bytes.Buffer
				st.WritePrometheus(&prom, nil)
				return strings.Contains(prom.String(), `loopgate_errors_total{reason="denied"} 1`+"\n")
			})
		}
	}
}
