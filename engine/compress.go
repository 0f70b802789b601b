package engine

import (
	"fmt"

	"loopgate/codec"
	"loopgate/compress"
)

// On-the-fly compression (package compress). A route with compression on
// negotiates a coding from the request's Accept-Encoding when the head
// arrives; when the response head comes, a response that is eligible
// (type, size, not encoded, no no-transform: compress.Pool.Eligible) gets
// the coding's encoder from the loop's pool, and its body, whatever its
// framing upstream, goes to the client chunked: payload into the encoder,
// the encoder's output out as chunks, flushed whenever the upstream input
// is used up so a streamed response still streams. Memory per stream is
// the encoder's window (package compress) plus what flow control allows
// to queue. HTTP/1.0 clients get the identity coding, as nginx's default
// gzip_http_version 1.1 gives them.

// compressOptions converts [compression] into the package's options.
func compressOptions(c *Compression) (compress.Options, error) {
	o := compress.Options{Types: c.Types, MinSize: c.MinSize, GzipLevel: c.GzipLevel,
		BrotliQuality: c.BrotliQuality, ZstdLevel: c.ZstdLevel, MaxStreams: c.MaxStreams}
	for _, name := range c.Codings {
		var k compress.Coding
		if err := k.UnmarshalText([]byte(name)); err != nil || k == compress.Identity {
			return o, fmt.Errorf("compression.codings: cannot use %q; want \"zstd\", \"br\" or \"gzip\"", name)
		}
		o.Offered = append(o.Offered, k)
	}
	if _, err := compress.NewPool(&o); err != nil {
		return o, fmt.Errorf("compression: %w", err)
	}
	return o, nil
}

// negotiate picks the exchange's coding from the request r parsed from b:
// Identity unless the route compresses, the client speaks HTTP/1.1 and
// accepts one of the offered codings. The request's Cache-Control is
// noted too (no-transform).
func (cc *clientConn) negotiate(b []byte, r *codec.Request) {
	x := cc.exchange
	x.zhead.Reset()
	x.coding, x.zon = compress.Identity, false
	l := cc.l
	if !cc.rt.compress || l.zpool == nil || r.Minor == 0 || r.Method == codec.MethodHead {
		return
	}
	x.zon = true
	l.accept = l.accept[:0]
	for _, f := range r.Fields() {
		name := f.Name.Bytes(b)
		switch {
		case equalFold(name, acceptEncoding) && len(name) == len(acceptEncoding):
			l.accept = append(l.accept, f.Value.Bytes(b))
		case len(name) == len(cacheControl) && equalFold(name, cacheControl):
			x.zhead.RequestField(name, f.Value.Bytes(b))
		}
	}
	x.coding = l.zpool.Negotiate(l.accept...)
	clear(l.accept) // keeps no pointer into the input
}

var (
	acceptEncoding  = []byte("Accept-Encoding")
	cacheControl    = []byte("Cache-Control")
	contentEncoding = []byte("Content-Encoding: ")
	etagField       = []byte("ETag")
	varyField       = []byte("Vary")
)

// The fields startCompression rewrites, which the head leaves out: Vary
// for an eligible response, and ETag too when it is encoded.
var (
	dropVary     = []string{"Vary"}
	dropVaryETag = []string{"Vary", "ETag", "Accept-Ranges"} // ranges address the unencoded bytes
)

// startCompression decides, for the response head r parsed from b,
// whether the body is encoded. When the response is eligible it returns
// the extra field lines (Content-Encoding, the weakened ETag and Vary
// with Accept-Encoding: RFC 9110 §8.4, §8.8.3, §12.5.5), the fields to drop,
// and sets u.enc when the client accepted a coding; an eligible response
// sent as it is still gets Vary: Accept-Encoding so that caches keep the
// variants apart.
func (u *upConn) startCompression(b []byte, r *codec.Response) (extra []byte, drop []string, ok bool) {
	cc, l := u.cc, u.l
	x := cc.exchange
	if !x.zon || r.OtherCodings {
		return nil, nil, false
	}
	h := &x.zhead
	h.Method, h.Status, h.ContentLength = methodGET, r.Status, -1
	if r.Body == codec.BodyLength {
		h.ContentLength = r.BodyLen
	}
	fs := r.Headers[:r.NHeaders]
	for i := range fs {
		h.ResponseField(fs[i].Name.Bytes(b), fs[i].Value.Bytes(b))
	}
	eligible := l.zpool.Eligible(h)
	h.Reset() // its slices point into the input
	if !eligible {
		return nil, nil, false
	}
	// One Vary line with Accept-Encoding added, and the ETag weakened when
	// the body is encoded.
	e := l.zfields[:0]
	e = append(e, "Vary: "...)
	vs := len(e)
	for i := range fs {
		if n := fs[i].Name.Bytes(b); len(n) == len(varyField) && equalFold(n, varyField) {
			if len(e) > vs {
				e = append(e, ", "...)
			}
			e = append(e, fs[i].Value.Bytes(b)...)
		}
	}
	// AppendVary copies the joined value onto itself, then appends.
	e = compress.AppendVary(e[:vs], e[vs:])
	e = append(e, "\r\n"...)
	if x.coding != compress.Identity {
		u.enc = l.zpool.Get(x.coding) // nil: the loop's max_streams are open; sent as it is
	}
	if u.enc != nil {
		e = append(e, contentEncoding...)
		e = append(e, x.coding.String()...)
		e = append(e, "\r\n"...)
		for i := range fs {
			if n := fs[i].Name.Bytes(b); len(n) == len(etagField) && equalFold(n, etagField) {
				e = append(e, "ETag: "...)
				e = compress.WeakenETag(e, fs[i].Value.Bytes(b))
				e = append(e, "\r\n"...)
			}
		}
		l.s.st.Compressed(x.coding.String())
	}
	l.zfields = e
	if u.enc == nil {
		return e, dropVary, true
	}
	return e, dropVaryETag, true
}

var methodGET = []byte("GET")

// encode feeds payload p to the response's encoder and sends what it
// produced, as a chunk.
func (u *upConn) encode(p []byte) bool {
	l := u.l
	l.zbuf = u.enc.Compress(l.zbuf[:0], p)
	u.cc.cacheAppend(l.zbuf)
	return u.emitChunk(l.zbuf)
}

// endReframed ends the input at hand of a body we chunk ourselves: the
// encoder is flushed (done false: the body goes on, and what was fed must
// reach the client now) or closed, and the chunked body ended (done true).
func (u *upConn) endReframed(done bool) bool {
	l := u.l
	if u.enc != nil {
		if done {
			l.zbuf = u.enc.Close(l.zbuf[:0])
			u.enc = nil
		} else {
			l.zbuf = u.enc.Flush(l.zbuf[:0])
		}
		u.cc.cacheAppend(l.zbuf)
		if !u.emitChunk(l.zbuf) {
			return false
		}
	}
	if !done {
		return true
	}
	if u.headOut && !u.emit(nil) {
		return false
	}
	return u.cc.write(lastChunk)
}

// emitChunk sends z as one chunk, preceded by the response head while that
// is pending, in one system call; nothing when z is empty.
func (u *upConn) emitChunk(z []byte) bool {
	if len(z) == 0 {
		return true
	}
	l := u.l
	bufs := l.ziov[:0]
	if u.headOut {
		bufs, u.headOut = append(bufs, l.scratch), false
	}
	l.chunkHdr = codec.AppendChunkHeader(l.chunkHdr[:0], len(z))
	bufs = append(bufs, l.chunkHdr, z, crlf)
	ok := u.cc.writev(bufs)
	clear(l.ziov[:])
	return ok
}

// dropEncoder abandons the stream of a response that did not end well.
func (u *upConn) dropEncoder() {
	if u.enc != nil {
		u.enc.Discard()
		u.enc = nil
	}
}
