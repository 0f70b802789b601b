package cache

import "time"

// ParseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) into Unix seconds. The preferred
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is parsed by hand without allocating; the
// two obsolete forms (rfc850-date, asctime-date), which recipients must accept, go through
// time.Parse.
func ParseHTTPDate(b []byte) (int64, bool) {
	if t, ok := parseFixdate(b); ok {
		return t, true
	}
	// Slow path: obsolete formats only; nothing modern sends them.
	if len(b) < 20 || len(b) > 40 {
		return 0, false
	}
	for _, layout := range [...]string{time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, string(b)); err == nil {
			return t.Unix(), true
		}
	}
	return 0, false
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT". The day name is not checked
// against the date (nobody acts on it).
func parseFixdate(b []byte) (int64, bool) {
	if len(b) != 29 || b[3] != ',' || b[4] != ' ' || b[7] != ' ' || b[11] != ' ' ||
		b[16] != ' ' || b[19] != ':' || b[22] != ':' || b[25] != ' ' || string(b[26:]) != "GMT" {
		return 0, false
	}
	mon := -1
	for i, m := range months {
		if string(b[8:11]) == m {
			mon = i + 1
		}
	}
	day, ok1 := digits(b[5:7])
	year, ok2 := digits(b[12:16])
	hh, ok3 := digits(b[17:19])
	mm, ok4 := digits(b[20:22])
	ss, ok5 := digits(b[23:25])
	if mon < 0 || !(ok1 && ok2 && ok3 && ok4 && ok5) || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return 0, false
	}
	return daysFromCivil(year, mon, day)*86400 + hh*3600 + mm*60 + ss, true
}

func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date
// (H. Hinnant's algorithm).
func daysFromCivil(y int64, m int, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// appendHTTPDate appends t (Unix seconds) as an IMF-fixdate.
func appendHTTPDate(dst []byte, t int64) []byte {
	return time.Unix(t, 0).UTC().AppendFormat(dst, "Mon, 02 Jan 2006 15:04:05 GMT")
}
