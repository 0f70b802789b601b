package gnet

// loopgate patch: read flow control, half-close mode and drain notification are
// implemented with epoll only; see flow_unix.go.

import errorx "github.com/panjf2000/gnet/v2/pkg/errors"

func (*conn) PauseRead() error  { return errorx.ErrUnsupportedOp }
func (*conn) ResumeRead() error { return errorx.ErrUnsupportedOp }
func (*conn) ReadPaused() bool  { return false }
func (*conn) ReadEOF() bool     { return false }
func (*conn) WriteErr() error   { return nil }
func (*conn) NotifyDrain(int)   {}
