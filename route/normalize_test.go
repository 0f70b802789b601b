package route

import (
	"bytes"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		dst := []byte("keep")
		got, changed := NormalizePath(dst, []byte(in))
		if string(got[:4]) != "keep" {
			t.Fatalf("NormalizePath(%q) overwrote dst: %q", in, got)
		}
		if string(got[4:]) != want || changed != (want != in) {
			t.Fatalf("NormalizePath(%q) = %q, %v; want %q, %v", in, got[4:], changed, want, want != in)
		}
		// Normal forms are fixed points.
		if again, changed := NormalizePath(nil, got[4:]); changed && want != "*" {
			t.Fatalf("NormalizePath(%q) = %q; not a fixed point", want, again)
		}
	}
	f("/", "/")
	f("/a/b", "/a/b")
	f("/a/b/", "/a/b/")
	f("*", "*")
	f("", "/")
	f("a/b", "/a/b")

	// Dot-segments (RFC 3986 §5.2.4).
	f("/a/./b/../c", "/a/c")
	f("/a/b/c/./../../g", "/a/g")
	f("/.", "/")
	f("/..", "/")
	f("/../a", "/a")
	f("/../../a/..", "/")
	f("/a/.", "/a/")
	f("/a/..", "/")
	f("/a/b/..", "/a/")
	f("/a/..b/c", "/a/..b/c")
	f("/a/b.", "/a/b.")
	f("/a/.../b", "/a/.../b")
	f("/.well-known/x", "/.well-known/x")

	// Percent-encoding (RFC 3986 §2.3, §6.2.2.1, §6.2.2.2).
	f("/%61pi/", "/api/")
	f("/%41%5a%30%2D%2e%5F%7e", "/AZ0-._~")
	f("/a%2Fb", "/a%2Fb")
	f("/a%2fb", "/a%2Fb")
	f("/a%2f..%2fb", "/a%2F..%2Fb") // an encoded slash separates nothing
	f("/%e2%82%ac", "/%E2%82%AC")
	f("/%20", "/%20")
	f("/%", "/%")
	f("/%4", "/%4")
	f("/%zz%4g", "/%zz%4g")
	f("/%%41", "/%%41")
	f("/%4%31", "/%4%31")
	f("/%%%41", "/%%%41")
	f("/%.%41", "/%.%41")
	f("/%..%41", "/%..A")
	f("/%%67", "/%g")
	// "%2e" decodes to '.', so "%2e%2e" is a dot-segment: a backend that decodes first
	// would resolve it, and the route must see what the backend will.
	f("/a/%2e%2e/b", "/b")
	f("/a/%2E/b", "/a/b")
	f("/a/.%2e", "/")
	f("/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd")

	// Slashes merged, as nginx's merge_slashes, before dot-segments.
	f("//api//x", "/api/x")
	f("///", "/")
	f("/a//", "/a/")
	f("/a//../b", "/b")
	f("/a/.//./b", "/a/b")
}

func TestNormalizeHost(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got := NormalizeHost([]byte("keep"), []byte(in))
		if string(got) != "keep"+want {
			t.Fatalf("NormalizeHost(%q) = %q; want %q", in, got[4:], want)
		}
	}
	f("a.example", "a.example")
	f("A.Example.COM", "a.example.com")
	f("a.example:8080", "a.example")
	f("a.example.", "a.example")
	f("a.example.:8080", "a.example")
	f("a.example..", "a.example.")
	f("[::1]:8080", "[::1]")
	f("[::1]", "[::1]")
	f("[2001:DB8::1]:443", "[2001:db8::1]")
	f("[::1", "[::1")
	f("127.0.0.1:80", "127.0.0.1")
	f("", "")
	f(":80", "")
	f(".", "")
}

// TestNormalizePathSegments checks NormalizePath against a plain segment-list
// reading of the same rules on random paths.
func TestNormalizePathSegments(t *testing.T) {
	alphabet := []string{"/", "/", ".", "..", "a", "b", "%2e", "%2E", "%2f", "%41", "%", "%4", "%zz", "~", "%31", "%67", "%2541"}
	rnd := newRand(1)
	for n := 0; n < 20000; n++ {
		var in []byte
		if rnd.intn(4) > 0 {
			in = append(in, '/')
		}
		for k := rnd.intn(10); k > 0; k-- {
			in = append(in, alphabet[rnd.intn(len(alphabet))]...)
		}
		got, _ := NormalizePath(nil, in)
		if want := refNormalizePath(in); !bytes.Equal(got, want) {
			t.Fatalf("NormalizePath(%q) = %q; want %q", in, got, want)
		}
		if again, changed := NormalizePath(nil, got); changed {
			t.Fatalf("NormalizePath(%q) = %q, then %q: not a fixed point", in, got, again)
		}
	}
}

// refNormalizePath decodes, splits on '/', drops empty segments, resolves dot-segments.
func refNormalizePath(p []byte) []byte {
	var dec []byte
	stray := map[int]bool{} // indexes in dec of a '%' that starts no escape
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && unhex[p[i+1]] != 0xff && unhex[p[i+2]] != 0xff {
			v := unhex[p[i+1]]<<4 | unhex[p[i+2]]
			isHex := strings.IndexByte("0123456789abcdefABCDEF", v) >= 0
			if unreserved[v] && !(isHex && (stray[len(dec)-1] || stray[len(dec)-2] && dec[len(dec)-1] != '/')) {
				dec = append(dec, v)
			} else {
				dec = append(dec, '%', upperHex[v>>4], upperHex[v&15])
			}
			i += 2
			continue
		}
		if p[i] == '%' {
			stray[len(dec)] = true
		}
		dec = append(dec, p[i])
	}
	var segs [][]byte
	parts := bytes.Split(dec, []byte("/"))
	trailing := false
	for k, s := range parts {
		last := k == len(parts)-1
		switch string(s) {
		case "":
			if last {
				trailing = true
			}
			continue
		case ".":
			trailing = last
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			trailing = last
		default:
			segs = append(segs, s)
			trailing = false
		}
	}
	out := []byte{'/'}
	out = append(out, bytes.Join(segs, []byte("/"))...)
	if trailing && len(segs) > 0 {
		out = append(out, '/')
	}
	return out
}
