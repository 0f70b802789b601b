package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"unsafe"

	"loopgate/codec"
	"loopgate/upstream"
)

// keyKind is what a pool hashes requests on (hash_key).
type keyKind uint8

const (
	keyNone   keyKind = iota // the algorithm takes no key
	keyIP                    // the client's address
	keyURI                   // the request target
	keyPath                  // the target up to '?'
	keyHeader                // the value of header NAME
	keyCookie                // the value of cookie NAME
	keyQuery                 // the value of query parameter NAME
)

// keySpec is a parsed hash_key.
type keySpec struct {
	kind keyKind
	name string // for header, cookie and query
}

func parseKeySpec(s string) (keySpec, error) {
	switch s {
	case "ip":
		return keySpec{kind: keyIP}, nil
	case "uri":
		return keySpec{kind: keyURI}, nil
	case "path":
		return keySpec{kind: keyPath}, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	if ok && name != "" {
		switch kind {
		case "header":
			return keySpec{kind: keyHeader, name: name}, nil
		case "cookie":
			return keySpec{kind: keyCookie, name: name}, nil
		case "query":
			return keySpec{kind: keyQuery, name: name}, nil
		}
	}
	return keySpec{}, fmt.Errorf("cannot use hash_key %q: want ip, uri, path, header:NAME, cookie:NAME or query:NAME", s)
}

// requestKey returns the hash of the request's key and whether the request
// has one. b is the buffer r was parsed from. It does not allocate.
func (cc *clientConn) requestKey(k *keySpec, b []byte, r *codec.Request) (uint64, bool) {
	switch k.kind {
	case keyIP:
		return cc.clientIPKey(b, r), true
	case keyURI:
		return upstream.HashKey(r.Target.Bytes(b)), true
	case keyPath:
		t := r.Target.Bytes(b)
		if i := bytes.IndexByte(t, '?'); i >= 0 {
			t = t[:i]
		}
		return upstream.HashKey(t), true
	case keyHeader:
		if v, ok := r.Lookup(b, k.name); ok {
			return upstream.HashKey(v.Bytes(b)), true
		}
	case keyCookie:
		if v, ok := cookieValue(b, r, k.name); ok {
			return upstream.HashKey(v), true
		}
	case keyQuery:
		if v, ok := queryValue(r.Target.Bytes(b), k.name); ok {
			return upstream.HashKey(v), true
		}
	}
	return 0, false
}

// clientIPKey hashes the client's address: the socket's peer, or, when the
// peer is a trusted proxy, the one forwardedClient finds.
func (cc *clientConn) clientIPKey(b []byte, r *codec.Request) uint64 {
	if !cc.trusted {
		return cc.ipKey
	}
	client := cc.forwardedClient(b, r)
	if client == nil {
		return cc.ipKey
	}
	return upstream.HashKey(client)
}

// clientAddr is the client's address as trusted_proxies decide it (see
// clientIPKey); not ok when X-Forwarded-For names something else.
func (cc *clientConn) clientAddr(b []byte, r *codec.Request) (netip.Addr, bool) {
	if cc.trusted {
		if client := cc.forwardedClient(b, r); client != nil {
			return parseAddr(client)
		}
	}
	return cc.peer()
}

// parseAddr parses an address without copying its bytes: ParseAddr does not
// keep its argument.
func parseAddr(text []byte) (netip.Addr, bool) {
	if len(text) == 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(unsafe.String(&text[0], len(text)))
	return a, err == nil
}

// forwardedClient returns, for a request from a trusted proxy, the nearest
// entry in X-Forwarded-For that is not a trusted proxy itself (the rightmost
// one a trusted hop vouches for), the leftmost if all are, or nil without
// the field.
func (cc *clientConn) forwardedClient(b []byte, r *codec.Request) []byte {
	trusted := cc.l.gen.trusted
	var client []byte // the last entry looked at: the leftmost if all are trusted
	found := false
	fields := r.Fields()
	for i := len(fields) - 1; i >= 0 && !found; i-- {
		f := fields[i]
		if !bytes.EqualFold(f.Name.Bytes(b), xffName) {
			continue
		}
		v := f.Value.Bytes(b)
		for len(v) > 0 && !found {
			j := bytes.LastIndexByte(v, ',')
			entry := bytes.TrimSpace(v[j+1:])
			v = v[:max(j, 0)]
			if len(entry) == 0 {
				continue
			}
			client = entry
			a, ok := parseAddr(entry)
			found = !ok || !inPrefixes(trusted, a)
		}
	}
	return client
}

var xffName = []byte("X-Forwarded-For")

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// cookieValue finds cookie name in the request's Cookie fields
// (RFC 6265 §5.4: "name=value" pairs separated by "; ").
func cookieValue(b []byte, r *codec.Request, name string) ([]byte, bool) {
	for _, f := range r.Fields() {
		if !bytes.EqualFold(f.Name.Bytes(b), cookieName) {
			continue
		}
		v := f.Value.Bytes(b)
		for len(v) > 0 {
			var pair []byte
			pair, v, _ = bytes.Cut(v, semicolon)
			pair = bytes.TrimLeft(pair, " \t")
			if len(pair) > len(name) && pair[len(name)] == '=' && string(pair[:len(name)]) == name {
				return bytes.TrimRight(pair[len(name)+1:], " \t"), true
			}
		}
	}
	return nil, false
}

var (
	cookieName = []byte("Cookie")
	semicolon  = []byte(";")
	ampersand  = []byte("&")
)

// queryValue finds parameter name in the target's query, undecoded.
func queryValue(target []byte, name string) ([]byte, bool) {
	i := bytes.IndexByte(target, '?')
	if i < 0 {
		return nil, false
	}
	q := target[i+1:]
	if j := bytes.IndexByte(q, '#'); j >= 0 {
		q = q[:j]
	}
	for len(q) > 0 {
		var kv []byte
		kv, q, _ = bytes.Cut(q, ampersand)
		if len(kv) >= len(name) && string(kv[:len(name)]) == name {
			if len(kv) == len(name) {
				return kv[len(kv):], true
			}
			if kv[len(name)] == '=' {
				return kv[len(name)+1:], true
			}
		}
	}
	return nil, false
}
