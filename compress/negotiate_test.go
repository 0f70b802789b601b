package compress

import "testing"

func TestNegotiate(t *testing.T) {
	all := []Coding{Zstd, Brotli, Gzip}
	f := func(offered []Coding, want Coding, accept ...string) {
		t.Helper()
		var fields [][]byte
		for _, a := range accept {
			fields = append(fields, []byte(a))
		}
		if got := Negotiate(offered, fields...); got != want {
			t.Fatalf("Negotiate(%v, %q) = %v; want %v", offered, accept, got, want)
		}
	}
	// No field: identity. An empty field: only identity is acceptable (RFC 9110 §12.5.3).
	f(all, Identity)
	f(all, Identity, "")
	// RFC 9110 §12.5.3 examples.
	f(all, Zstd, "compress, gzip, zstd")       // equal q: the server's order
	f(all, Identity, "")                       //
	f(all, Zstd, "*")                          // anything
	f(all, Gzip, "compress;q=0.5, gzip;q=1.0") // compress is not offered
	f(all, Gzip, "gzip;q=1.0, identity; q=0.5, *;q=0")
	// q-values decide before the server's order.
	f(all, Brotli, "gzip;q=0.5, br;q=0.8, zstd;q=0.7")
	f(all, Gzip, "gzip, br;q=0.999")
	f(all, Brotli, "gzip;q=0.001, br;q=0.002")
	// q=0 refuses; all forms of zero.
	f(all, Brotli, "zstd;q=0, br, gzip")
	f(all, Gzip, "zstd;q=0.0, br;q=0.00, gzip")
	f(all, Identity, "zstd;q=0.000, br;q=0, gzip;q=0")
	// "*" covers what is not listed, and only that.
	f(all, Brotli, "zstd;q=0, *")
	f(all, Gzip, "*;q=0, gzip")
	f(all, Identity, "*;q=0")
	f(all, Zstd, "gzip;q=0.5, *;q=0.6")
	f(all, Gzip, "gzip, *;q=0.6")
	// identity competes only when ranked: explicitly, or through "*".
	f(all, Identity, "gzip;q=0.5, identity")
	f([]Coding{Gzip}, Identity, "gzip;q=0.5, *")
	f(all, Gzip, "gzip;q=0.5")         // identity unranked: acceptable, not preferred
	f(all, Gzip, "gzip, identity;q=0") // identity refused
	f(all, Gzip, "gzip;q=0.5, identity;q=0.5")
	f(all, Identity, "identity;q=0, *;q=0") // nothing acceptable: send it anyway
	// The server's offer and order.
	f([]Coding{Gzip, Brotli}, Gzip, "br, gzip, zstd")
	f([]Coding{Gzip}, Identity, "br, zstd")
	f(nil, Identity, "gzip")
	f([]Coding{Identity, Gzip}, Gzip, "gzip")
	// Case, whitespace, aliases, several field lines.
	f(all, Gzip, "GZIP")
	f(all, Brotli, "Br;Q=0.5, gzip;q=0.4")
	f(all, Gzip, "  gzip \t ;\t q=0.9 , ,, br;q=0.1 ")
	f(all, Gzip, "x-gzip")
	f(all, Brotli, "gzip;q=0.5", "br")
	f(all, Gzip, "gzip", "")
	f(all, Gzip, "gzip;q=0.9, gzip;q=1") // listed twice: the lower q stands, still > 0
	f(all, Brotli, "gzip, gzip;q=0, br")
	// Other parameters are ignored, quoted ones included.
	f(all, Gzip, `gzip;level=9;q=1, br;x="a;q=1, b";q=0`)
	// Garbage elements are ignored, the rest still counts.
	f(all, Gzip, "gz ip, gzip")
	f(all, Gzip, "br;q=2, gzip")
	f(all, Gzip, "br;q=1.001, gzip")
	f(all, Gzip, "br;q=0.1234, gzip")
	f(all, Gzip, "br;q=, gzip")
	f(all, Gzip, "br;q=.5, gzip")
	f(all, Gzip, "br;q=-1, gzip")
	f(all, Gzip, "br;q = 0.5, gzip")
	f(all, Gzip, "br;q=0.5x, gzip")
	f(all, Gzip, "br q=0.5, gzip")
	f(all, Gzip, ";q=1, gzip")
	f(all, Gzip, "\x00\xff, gzip")
	f(all, Identity, "deflate, compress, sdch")
	f(all, Zstd, "br;q=0.5, zstd;q=1.000")
	f(all, Zstd, "br;q=0.5, zstd;q=1.")
}

func TestEligible(t *testing.T) {
	p := newPool(t, Options{Types: []string{"text/*", "Application/JSON", "image/svg+xml"}, MinSize: 100})
	type field struct{ name, value string }
	f := func(method string, status int, length int64, req []field, resp []field, want bool) {
		t.Helper()
		var h Head
		h.Reset()
		h.Method, h.Status, h.ContentLength = []byte(method), status, length
		for _, fl := range req {
			h.RequestField([]byte(fl.name), []byte(fl.value))
		}
		for _, fl := range resp {
			h.ResponseField([]byte(fl.name), []byte(fl.value))
		}
		if got := p.Eligible(&h); got != want {
			t.Fatalf("Eligible(%s %d len=%d req=%v resp=%v) = %v; want %v", method, status, length, req, resp, got, want)
		}
	}
	html := []field{{"Content-Type", "text/html; charset=utf-8"}}
	with := func(more ...field) []field { return append(append([]field{}, html...), more...) }

	// Types: exact, wildcard, case, parameters, whitespace.
	f("GET", 200, 1000, nil, html, true)
	f("GET", 200, 1000, nil, []field{{"content-type", "TEXT/CSS"}}, true)
	f("GET", 200, 1000, nil, []field{{"Content-Type", "application/json"}}, true)
	f("GET", 200, 1000, nil, []field{{"Content-Type", "application/JSON ; charset=utf-8"}}, true)
	f("GET", 200, 1000, nil, []field{{"Content-Type", "image/svg+xml"}}, true)
	f("GET", 200, 1000, nil, []field{{"Content-Type", "image/png"}}, false)
	f("GET", 200, 1000, nil, []field{{"Content-Type", "application/jsonx"}}, false)
	f("GET", 200, 1000, nil, []field{{"Content-Type", "application/json-seq"}}, false)
	f("GET", 200, 1000, nil, []field{{"Content-Type", "textual/html"}}, false)
	f("GET", 200, 1000, nil, []field{{"Content-Type", "text"}}, false)
	f("GET", 200, 1000, nil, []field{{"Content-Type", "text/"}}, false)
	f("GET", 200, 1000, nil, []field{{"Content-Type", ""}}, false)
	f("GET", 200, 1000, nil, nil, false) // no Content-Type: unknown content
	// Size: known and small, known and big enough, unknown.
	f("GET", 200, 99, nil, html, false)
	f("GET", 200, 0, nil, html, false)
	f("GET", 200, 100, nil, html, true)
	f("GET", 200, -1, nil, html, true)
	// Statuses and methods without a body, ranges.
	f("HEAD", 200, 1000, nil, html, false)
	f("head", 200, 1000, nil, html, false)
	f("POST", 200, 1000, nil, html, true)
	f("GET", 101, -1, nil, html, false)
	f("GET", 103, -1, nil, html, false)
	f("GET", 204, -1, nil, html, false)
	f("GET", 304, -1, nil, html, false)
	f("GET", 206, 1000, nil, html, false)
	f("GET", 200, 1000, nil, with(field{"Content-Range", "bytes 0-999/5000"}), false)
	f("GET", 404, 1000, nil, html, true)
	f("GET", 500, 1000, nil, html, true)
	// Already encoded.
	f("GET", 200, 1000, nil, with(field{"Content-Encoding", "gzip"}), false)
	f("GET", 200, 1000, nil, with(field{"Content-Encoding", "identity"}), true)
	f("GET", 200, 1000, nil, with(field{"Content-Encoding", " IDENTITY "}), true)
	f("GET", 200, 1000, nil, with(field{"Content-Encoding", ""}), true)
	f("GET", 200, 1000, nil, with(field{"Content-Encoding", "identity, br"}), false)
	// no-transform, either side, among other directives, any case; not inside a quoted value.
	f("GET", 200, 1000, nil, with(field{"Cache-Control", "no-transform"}), false)
	f("GET", 200, 1000, nil, with(field{"Cache-Control", "public, max-age=60, No-Transform"}), false)
	f("GET", 200, 1000, nil, with(field{"Cache-Control", `private="no-transform", max-age=5`}), true)
	f("GET", 200, 1000, nil, with(field{"Cache-Control", "no-transformer"}), true)
	f("GET", 200, 1000, []field{{"Cache-Control", "no-transform"}}, html, false)
	f("GET", 200, 1000, []field{{"cache-control", "max-age=0"}}, html, true)
	f("GET", 200, 1000, []field{{"Content-Type", "image/png"}}, html, true) // request fields other than Cache-Control are ignored
	// Other response fields change nothing.
	f("GET", 200, 1000, nil, with(field{"Vary", "Accept-Encoding"}, field{"ETag", `"x"`}), true)
}

func TestDefaultTypes(t *testing.T) {
	p := newPool(t, Options{})
	f := func(ct string, want bool) {
		t.Helper()
		h := Head{Method: []byte("GET"), Status: 200, ContentLength: -1}
		h.ResponseField([]byte("Content-Type"), []byte(ct))
		if got := p.Eligible(&h); got != want {
			t.Fatalf("%q: got %v; want %v", ct, got, want)
		}
	}
	f("text/html; charset=utf-8", true)
	f("text/event-stream", true)
	f("application/javascript", true)
	f("application/json", true)
	f("image/svg+xml", true)
	f("image/jpeg", false)
	f("application/octet-stream", false)
	f("application/zip", false)
	f("video/mp4", false)
}

func TestWeakenETag(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := string(WeakenETag([]byte("x:"), []byte(in))); got != "x:"+want {
			t.Fatalf("WeakenETag(%q) = %q; want %q", in, got, "x:"+want)
		}
	}
	f(`"abc"`, `W/"abc"`)
	f(`""`, `W/""`)
	f(` "abc" `, `W/"abc"`)
	f(`W/"abc"`, `W/"abc"`)
	f(`abc`, `abc`) // not an entity tag: left alone
	f(`"`, `"`)
	f(``, ``)
}

func TestAppendVary(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := string(AppendVary([]byte("v:"), []byte(in))); got != "v:"+want {
			t.Fatalf("AppendVary(%q) = %q; want %q", in, got, "v:"+want)
		}
	}
	f("", "Accept-Encoding")
	f("  ", "Accept-Encoding")
	f("Accept-Encoding", "Accept-Encoding")
	f("accept-encoding", "accept-encoding")
	f("Origin, Accept-Encoding", "Origin, Accept-Encoding")
	f("Origin,accept-encoding ", "Origin,accept-encoding")
	f("Origin", "Origin, Accept-Encoding")
	f("Origin, Accept-Language", "Origin, Accept-Language, Accept-Encoding")
	f("Accept-Encodings", "Accept-Encodings, Accept-Encoding")
	f("*", "*")
	f("Origin, *", "Origin, *")
}
