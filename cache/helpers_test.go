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

// spanFields is a Fields the way the engine implements it: name and value spans into the
// buffer a head was parsed from.
type spanFields struct {
	buf    []byte
	fields [][4]uint32 // name off, len, value off, len
}

func newSpanFields(h RawFields) *spanFields {
	f := &spanFields{buf: h}
	for p := skipLine(h, 0); p < len(h); {
		name, v, next := fieldAt(h, p)
		if name == nil {
			break
		}
		no := uint32(len(h[:p]))
		vo := uint32(cap(h) - cap(v))
		f.fields = append(f.fields, [4]uint32{no, uint32(len(name)), vo, uint32(len(v))})
		p = next
	}
	return f
}

func (f *spanFields) Field(name string, i int) ([]byte, bool) {
	for _, s := range f.fields {
		if eqFold(f.buf[s[0]:s[0]+s[1]], name) {
			if i == 0 {
				return f.buf[s[2] : s[2]+s[3]], true
			}
			i--
		}
	}
	return nil, false
}
