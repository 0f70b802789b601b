package cache

import (
	"strings"
	"time"
)

// dateStr is the Date of test responses; wall0 is the same instant in Unix seconds.
const (
	dateStr = "Sun, 06 Nov 1994 08:49:37 GMT"
	wall0   = 784111777
)

// t0 are the times of a test exchange: no delay, received at wall0, monotonic clock 1s.
var t0 = Times{Sent: int64(time.Second), Received: int64(time.Second), Wall: wall0}

func reqOf(lines ...string) RawFields {
	return RawFields("GET /x HTTP/1.1\r\nHost: a.example\r\n" + joinLines(lines))
}

func respOf(status string, lines ...string) RawFields {
	return RawFields("HTTP/1.1 " + status + "\r\n" + joinLines(lines))
}

func joinLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}
