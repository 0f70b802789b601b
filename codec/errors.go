package codec

import "errors"

// ErrNeedMore reports that the buffer does not yet hold a complete head or framing line.
// The caller consumes nothing, reads more bytes and calls again with the longer buffer.
var ErrNeedMore = errors.New("codec: need more data")

// Error is a protocol error together with the status the proxy answers. All values are
// package-level, so errors.Is works and returning one does not allocate.
type Error struct {
	Status int    // HTTP status to answer with (for ErrBadResponse, what the proxy sends the client)
	Reason string // short description for logs; not the HTTP reason phrase
	msg    string
}

func newError(status int, reason string) *Error {
	return &Error{Status: status, Reason: reason, msg: "codec: " + reason}
}

// Error returns "codec: " and the reason. It does not allocate for the package's errors.
func (e *Error) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return "codec: " + e.Reason
}

// Request errors. All of them leave the connection unusable: the proxy answers and closes.
var (
	ErrBadRequestLine      = newError(400, "malformed request line")
	ErrBadMethod           = newError(400, "invalid method token")
	ErrBadTarget           = newError(400, "invalid request target")
	ErrBadVersion          = newError(400, "malformed HTTP version")
	ErrVersion             = newError(505, "HTTP version not supported")
	ErrHTTP2Preface        = newError(400, "HTTP/2 connection preface on an HTTP/1.1 port")
	ErrBareLF              = newError(400, "bare LF line ending")
	ErrObsFold             = newError(400, "obsolete line folding")
	ErrSpaceBeforeColon    = newError(400, "whitespace between field name and colon")
	ErrBadFieldName        = newError(400, "invalid field name")
	ErrBadFieldValue       = newError(400, "invalid field value")
	ErrMissingHost         = newError(400, "missing Host")
	ErrDuplicateHost       = newError(400, "more than one Host")
	ErrBadHost             = newError(400, "invalid Host value")
	ErrBadContentLength    = newError(400, "invalid or conflicting Content-Length")
	ErrCLAndTE             = newError(400, "both Content-Length and Transfer-Encoding")
	ErrBadTransferEncoding = newError(400, "invalid Transfer-Encoding")
	ErrUnknownCoding       = newError(501, "unsupported transfer coding") // any coding but chunked (RFC 9112 §6.1)
	ErrBadChunk            = newError(400, "malformed chunked framing")
	ErrURITooLong          = newError(414, "request line too long")
	ErrHeadTooLarge        = newError(431, "header section too large")
	ErrTooManyHeaders      = newError(431, "too many header fields")
	ErrBodyTooLarge        = newError(413, "Content-Length over the limit")

	// ErrConnect answers CONNECT (RFC 9110 §9.3.6) unless Limits.AllowConnect: the
	// proxy then does not tunnel, so it forwards nothing of such a request and answers 405 with an Allow field, which the
	// caller adds (RFC 9110 §15.5.6). It is returned only for a head that is otherwise
	// valid; a malformed CONNECT gets the 400 its defect calls for.
	ErrConnect = newError(405, "CONNECT is not supported")
)

// ErrBadResponse is every malformed response head: the proxy answers 502.
var ErrBadResponse = newError(502, "malformed response from upstream")
