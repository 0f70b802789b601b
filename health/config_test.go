package health

import (
	"errors"
	"testing"
	"time"
)

func TestParseExpect(t *testing.T) {
	f := func(in string, pass, fail []int, wantErr bool) {
		t.Helper()
		e, err := parseExpect(in)
		if (err != nil) != wantErr {
			t.Fatalf("parseExpect(%q): err=%v; want error: %v", in, err, wantErr)
		}
		for _, s := range pass {
			if !e.has(s) {
				t.Fatalf("parseExpect(%q).has(%d) = false; want true", in, s)
			}
		}
		for _, s := range fail {
			if e.has(s) {
				t.Fatalf("parseExpect(%q).has(%d) = true; want false", in, s)
			}
		}
	}
	f("200-399", []int{200, 204, 301, 399}, []int{199, 400, 503}, false)
	f("200,204,301-302", []int{200, 204, 301, 302}, []int{201, 300, 303, 404}, false)
	f(" 200 , 204 ", []int{200, 204}, []int{203}, false)
	f("503", []int{503}, []int{200}, false)
	f("", nil, nil, true)
	f("200-", nil, nil, true)
	f("-200", nil, nil, true)
	f("399-200", nil, nil, true)
	f("200,,204", nil, nil, true)
	f("2000", nil, nil, true)
	f("099", nil, nil, true)
	f("600", nil, nil, true)
	f("2xx", nil, nil, true)
	f("+200", nil, nil, true)
	f("200-399-500", nil, nil, true)
}

func TestWithDefaults(t *testing.T) {
	d := Config{}.WithDefaults()
	want := Config{Type: "http", Method: "GET", Path: "/health", Expect: "200-399", Interval: 10 * time.Second,
		Timeout: 2 * time.Second, Rise: 2, Fall: 3, Jitter: 0.1, FastInterval: 2500 * time.Millisecond, DownInterval: 10 * time.Second}
	if d.Type != want.Type || d.Method != want.Method || d.Path != want.Path || d.Expect != want.Expect ||
		d.Interval != want.Interval || d.Timeout != want.Timeout || d.Rise != want.Rise || d.Fall != want.Fall ||
		d.Jitter != want.Jitter || d.FastInterval != want.FastInterval || d.DownInterval != want.DownInterval {
		t.Fatalf("Config{}.WithDefaults() = %+v; want %+v", d, want)
	}
	f := func(interval, wantTimeout, wantFast time.Duration) {
		t.Helper()
		d := Config{Interval: interval}.WithDefaults()
		if d.Timeout != wantTimeout || d.FastInterval != wantFast || d.DownInterval != interval {
			t.Fatalf("interval %s: timeout=%s fast=%s down=%s; want %s %s %s", interval, d.Timeout, d.FastInterval, d.DownInterval, wantTimeout, wantFast, interval)
		}
	}
	f(time.Second, 500*time.Millisecond, 250*time.Millisecond)
	f(200*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond)
	f(50*time.Millisecond, 25*time.Millisecond, 50*time.Millisecond)
	f(time.Minute, 2*time.Second, 15*time.Second)
}

func TestValidate(t *testing.T) {
	f := func(c Config, wantErr bool) {
		t.Helper()
		err := c.Validate()
		if wantErr != errors.Is(err, ErrConfig) || (!wantErr && err != nil) {
			t.Fatalf("Validate(%+v) = %v; want error: %v", c, err, wantErr)
		}
	}
	f(Config{}, false)
	f(Config{Type: "tcp"}, false)
	f(Config{Method: "HEAD", Path: "/ready?x=1", Host: "api.example:8080", Headers: []string{"X-A: 1", "Authorization: Bearer t"}}, false)
	f(Config{Jitter: -1}, false)
	f(Config{Jitter: 0.5}, false)
	f(Config{Disabled: true, Type: "udp"}, false) // disabled: nothing else matters

	f(Config{Type: "udp"}, true)
	f(Config{Method: "G T"}, true)
	f(Config{Method: "CONNECT"}, true)
	f(Config{Path: "health"}, true)
	f(Config{Path: "/a b"}, true)
	f(Config{Host: "a\r\nX: y"}, true)
	f(Config{Headers: []string{"NoColon"}}, true)
	f(Config{Headers: []string{"Bad Name: x"}}, true)
	f(Config{Headers: []string{"X-A: a\r\nInjected: 1"}}, true)
	f(Config{Headers: []string{"host: other"}}, true)
	f(Config{Headers: []string{"Connection: keep-alive"}}, true)
	f(Config{Headers: []string{"Content-Length: 5"}}, true)
	f(Config{Expect: "2xx"}, true)
	f(Config{Type: "tcp", BodyContains: "ok"}, true)
	f(Config{Interval: -time.Second}, true)
	f(Config{Interval: time.Second, Timeout: time.Second}, true)
	f(Config{Timeout: -time.Second}, true)
	f(Config{FastInterval: -1}, true)
	f(Config{DownInterval: -1}, true)
	f(Config{Rise: -1}, true)
	f(Config{Fall: 1001}, true)
	f(Config{Jitter: 0.6}, true)
}
