package stats

import (
	"strconv"
	"time"
)

// The two access log formats. Each appends one whole line, newline
// included, to dst and returns the extended slice; neither allocates once
// dst has room (see maxLine) and the timeCache has formatted a time.

const (
	jsonSecond   = "2006-01-02T15:04:05"        // RFC 3339 up to the second; then milliseconds and "Z": UTC
	combinedTime = "02/Jan/2006:15:04:05 -0700" // NCSA common log format
)

// timeCache keeps the text of the second a format last wrote, because lines
// from one loop mostly share their second and time.AppendFormat is about
// a third of a line's cost. It belongs to one LogBuffer; the zero value is
// empty.
type timeCache struct {
	jsonSec, combinedSec int64 // Unix seconds of the texts below
	json, combined       []byte
}

// appendJSONTime appends t in UTC as "2026-12-01T14:00:00.123Z".
func (tc *timeCache) appendJSONTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != tc.jsonSec || len(tc.json) == 0 {
		tc.jsonSec, tc.json = sec, t.AppendFormat(tc.json[:0], jsonSecond)
	}
	ms := t.Nanosecond() / int(time.Millisecond)
	dst = append(dst, tc.json...)
	return append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendCombinedTime appends t in UTC as "01/Dec/2026:14:00:00 +0000".
func (tc *timeCache) appendCombinedTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != tc.combinedSec || len(tc.combined) == 0 {
		tc.combinedSec, tc.combined = sec, t.AppendFormat(tc.combined[:0], combinedTime)
	}
	return append(dst, tc.combined...)
}

// maxLine bounds the length of r's line in either format: the fixed text
// and numbers fit in 512 bytes, and escaping turns one input byte into at
// most six (\u00XX in JSON; \xHH, four, in combined). Append uses it to
// hand a buffer off before a line would make it grow.
func maxLine(r *Record) int {
	n := len(r.ClientIP) + len(r.Method) + len(r.Target) + len(r.RequestID) + len(r.Referer) + len(r.UserAgent)
	if r.Backend != nil {
		n += len(r.Backend.Addr)
	}
	return 512 + 6*n
}

// appendJSONLine appends r as one JSON object on one line, keys in a fixed
// order:
//
//	{"time":"2026-12-01T14:00:00.123Z","client":"127.0.0.1","method":"GET","target":"/x?y","proto":"HTTP/1.1",
//	"status":200,"bytes_in":78,"bytes_out":312,"duration_ms":1.234,"upstream":"127.0.0.1:8001","upstream_ms":1.100,
//	"connect_ms":0.300,"ttfb_ms":0.900,"retries":0,"request_id":"…","reason":""}
//
// Times are UTC; durations are milliseconds with three decimals (truncated
// to the microsecond). upstream is "" when no backend was tried and reason
// is "" for a normal exchange.
func appendJSONLine(dst []byte, r *Record, tc *timeCache) []byte {
	dst = append(dst, `{"time":"`...)
	dst = tc.appendJSONTime(dst, r.Time)
	dst = append(dst, `","client":`...)
	dst = appendJSONString(dst, r.ClientIP)
	dst = append(dst, `,"method":`...)
	dst = appendJSONString(dst, r.Method)
	dst = append(dst, `,"target":`...)
	dst = appendJSONString(dst, r.Target)
	dst = append(dst, `,"proto":"HTTP/1.`...)
	dst = strconv.AppendUint(dst, uint64(r.Minor), 10)
	dst = append(dst, `","status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"bytes_in":`...)
	dst = strconv.AppendInt(dst, r.BytesIn, 10)
	dst = append(dst, `,"bytes_out":`...)
	dst = strconv.AppendInt(dst, r.BytesOut, 10)
	dst = append(dst, `,"duration_ms":`...)
	dst = appendThousandths(dst, int64(r.Total/time.Microsecond))
	dst = append(dst, `,"upstream":`...)
	if r.Backend != nil {
		dst = appendJSONString(dst, r.Backend.Addr)
	} else {
		dst = append(dst, `""`...)
	}
	dst = append(dst, `,"upstream_ms":`...)
	dst = appendThousandths(dst, int64(r.Upstream/time.Microsecond))
	dst = append(dst, `,"connect_ms":`...)
	dst = appendThousandths(dst, int64(r.Connect/time.Microsecond))
	dst = append(dst, `,"ttfb_ms":`...)
	dst = appendThousandths(dst, int64(r.TTFB/time.Microsecond))
	dst = append(dst, `,"retries":`...)
	dst = strconv.AppendInt(dst, int64(r.Retries), 10)
	dst = append(dst, `,"request_id":`...)
	dst = appendJSONString(dst, r.RequestID)
	dst = append(dst, `,"reason":`...)
	dst = appendJSONString(dst, r.Reason.String())
	return append(dst, "}\n"...)
}

// appendCombinedLine appends r in the NCSA combined format that nginx and
// Apache write, followed by nginx-style extras:
//
//	127.0.0.1 - - [01/Dec/2026:14:00:00 +0000] "GET /x HTTP/1.1" 200 312 "-" "curl/8.5.0" rt=0.001 uct=0.000 urt=0.001 upstream=127.0.0.1:8001 rid=ID retries=0 reason=-
//
// The size is BytesOut, head included. rt, uct and urt are Total, Connect
// and Upstream in seconds with three decimals. An empty field is "-". Bytes
// that would break the line apart are written as \xHH, as nginx does: '"',
// '\\', control bytes and bytes >= 0x7f everywhere, and the space too in
// the fields that are not quoted, so every field splits on spaces.
func appendCombinedLine(dst []byte, r *Record, tc *timeCache) []byte {
	dst = appendLogField(dst, r.ClientIP, &bareSafe)
	dst = append(dst, " - - ["...)
	dst = tc.appendCombinedTime(dst, r.Time)
	dst = append(dst, `] "`...)
	dst = appendLogField(dst, r.Method, &bareSafe)
	dst = append(dst, ' ')
	dst = appendLogField(dst, r.Target, &bareSafe)
	dst = append(dst, " HTTP/1."...)
	dst = strconv.AppendUint(dst, uint64(r.Minor), 10)
	dst = append(dst, `" `...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, r.BytesOut, 10)
	dst = append(dst, ` "`...)
	dst = appendLogField(dst, r.Referer, &quotedSafe)
	dst = append(dst, `" "`...)
	dst = appendLogField(dst, r.UserAgent, &quotedSafe)
	dst = append(dst, `" rt=`...)
	dst = appendThousandths(dst, int64(r.Total/time.Millisecond))
	dst = append(dst, " uct="...)
	dst = appendThousandths(dst, int64(r.Connect/time.Millisecond))
	dst = append(dst, " urt="...)
	dst = appendThousandths(dst, int64(r.Upstream/time.Millisecond))
	dst = append(dst, " upstream="...)
	if r.Backend != nil {
		dst = appendLogField(dst, r.Backend.Addr, &bareSafe)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, " rid="...)
	dst = appendLogField(dst, r.RequestID, &bareSafe)
	dst = append(dst, " retries="...)
	dst = strconv.AppendInt(dst, int64(r.Retries), 10)
	dst = append(dst, " reason="...)
	dst = appendLogField(dst, r.Reason.String(), &bareSafe)
	return append(dst, '\n')
}

// appendThousandths appends v/1000 with exactly three decimals: 1234 is
// "1.234", -5 is "-0.005".
func appendThousandths(dst []byte, v int64) []byte {
	u := uint64(v)
	if v < 0 {
		dst = append(dst, '-')
		u = -u
	}
	dst = strconv.AppendUint(dst, u/1000, 10)
	f := u % 1000
	return append(dst, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that stand for themselves inside a JSON
// string (RFC 8259 §7): all but '"', '\\' and the control bytes.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a quoted JSON string. '"' and '\\' get a
// backslash, control bytes become \u00XX, valid UTF-8 passes through and
// each byte that is not part of valid UTF-8 becomes \ufffd, so the line is
// always valid JSON whatever the client sent. It does not allocate.
func appendJSONString[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	done := 0 // s[:done] is in dst
	for i := 0; i < len(s); {
		c := s[i]
		// Fast path: a run of plain ASCII is copied in one append below.
		if jsonSafe[c] {
			i++
			continue
		}
		if c >= 0x80 {
			if n := utf8Len(s[i:]); n > 0 {
				i += n
				continue
			}
		}
		dst = append(dst, s[done:i]...)
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default: // a byte that does not start valid UTF-8
			dst = append(dst, `\ufffd`...)
		}
		i++
		done = i
	}
	dst = append(dst, s[done:]...)
	return append(dst, '"')
}

// utf8Len returns the length of the valid UTF-8 encoding that s starts
// with, or 0 if s does not start with one (a stray continuation byte, an
// overlong form, a surrogate, a code point past U+10FFFF or a cut
// sequence). It does what utf8.DecodeRune does, for strings and byte
// slices alike and without decoding.
func utf8Len[T ~string | ~[]byte](s T) int {
	n := len(s)
	if n == 0 {
		return 0
	}
	cont := func(i int, lo, hi byte) bool { return i < n && s[i] >= lo && s[i] <= hi }
	switch c := s[0]; {
	case c < 0x80:
		return 1
	case c >= 0xc2 && c <= 0xdf:
		if cont(1, 0x80, 0xbf) {
			return 2
		}
	case c >= 0xe0 && c <= 0xef:
		lo, hi := byte(0x80), byte(0xbf)
		switch c {
		case 0xe0:
			lo = 0xa0 // overlong below
		case 0xed:
			hi = 0x9f // surrogates above
		}
		if cont(1, lo, hi) && cont(2, 0x80, 0xbf) {
			return 3
		}
	case c >= 0xf0 && c <= 0xf4:
		lo, hi := byte(0x80), byte(0xbf)
		switch c {
		case 0xf0:
			lo = 0x90 // overlong below
		case 0xf4:
			hi = 0x8f // past U+10FFFF above
		}
		if cont(1, lo, hi) && cont(2, 0x80, 0xbf) && cont(3, 0x80, 0xbf) {
			return 4
		}
	}
	return 0
}

// quotedSafe marks the bytes written as they are inside a quoted field of
// the combined format: printable ASCII but '"' and '\\'. bareSafe, for the
// unquoted fields, leaves out the space too.
var quotedSafe, bareSafe = func() (q, b [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		q[c] = c != '"' && c != '\\'
		b[c] = q[c] && c != ' '
	}
	return q, b
}()

// appendLogField appends s for the combined format: "-" if s is empty, and
// each byte that safe does not mark as \xHH (nginx's escaping). It does not
// allocate.
func appendLogField[T ~string | ~[]byte](dst []byte, s T, safe *[256]bool) []byte {
	if len(s) == 0 {
		return append(dst, '-')
	}
	done := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; !safe[c] {
			dst = append(dst, s[done:i]...)
			dst = append(dst, '\\', 'x', upperHex[c>>4], upperHex[c&15])
			done = i + 1
		}
	}
	return append(dst, s[done:]...)
}

const upperHex = "0123456789ABCDEF"
