package certs

import (
	"io"
	"strconv"
	"strings"
)

// ExpiryMetric is the gauge WriteMetrics writes: the certificate's notAfter as
// a Unix time in seconds, one series per loaded certificate. A timestamp rather
// than "seconds left" keeps the value constant between reloads, and alerts read
// naturally: loopgate_tls_cert_expiry_seconds - time() < 14*86400.
const ExpiryMetric = "loopgate_tls_cert_expiry_seconds"

// WriteMetrics writes ExpiryMetric in the Prometheus text format, labelled by
// the certificate's first name, source, key type and file. Its signature fits
// metrics.RegisterMetricsWriter. Cold path: called per scrape.
func (s *Store) WriteMetrics(w io.Writer) {
	infos := s.tab.Load().infos
	if len(infos) == 0 {
		return
	}
	b := make([]byte, 0, 256)
	b = append(b, "# TYPE "+ExpiryMetric+" gauge\n"...)
	for _, in := range infos {
		name := ""
		if len(in.Names) > 0 {
			name = in.Names[0]
		}
		b = append(b, ExpiryMetric+`{name="`...)
		b = appendLabel(b, name)
		b = append(b, `",source="`...)
		b = appendLabel(b, string(in.Source))
		b = append(b, `",key="`...)
		b = appendLabel(b, in.KeyType)
		b = append(b, `",file="`...)
		b = appendLabel(b, in.File)
		b = append(b, `"} `...)
		b = strconv.AppendInt(b, in.NotAfter.Unix(), 10)
		b = append(b, '\n')
	}
	w.Write(b)
}

// appendLabel escapes a label value as the text format requires: backslash,
// double quote and newline.
func appendLabel(b []byte, v string) []byte {
	if !strings.ContainsAny(v, "\\\"\n") {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, v[i])
		}
	}
	return b
}
