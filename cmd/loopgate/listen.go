package main

import (
	"errors"
	"fmt"

	"github.com/panjf2000/gnet/v2/pkg/socket"
	"golang.org/x/sys/unix"

	"loopgate/engine"
)

// errPortTaken is what ensurePortFree finds when a socket already serves
// the address.
var errPortTaken = errors.New("another process already listens there")

// ensurePortsFree is ensurePortFree for every address e listens on.
func ensurePortsFree(e engine.Config) error {
	if len(e.Listeners) == 0 {
		return ensurePortFree(e.Listen)
	}
	for _, l := range e.Listeners {
		if err := ensurePortFree(l.Address); err != nil {
			return err
		}
	}
	return nil
}

// ensurePortFree refuses an address another process already listens on.
// The engine binds with SO_REUSEPORT (upgrades need it), and Linux lets any
// socket of the same user join a listening group that way: a second
// loopgate started by mistake would log "listening" and silently take a
// share of the new connections. A probe bound with SO_REUSEADDR alone fails
// exactly when a socket is bound there, a wildcard one included, and not
// for connections left in TIME_WAIT. Port 0 picks a free port: nothing to
// check.
func ensurePortFree(listen string) error {
	sa, family, addr, v6only, err := socket.GetTCPSockAddr("tcp", listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", listen, err)
	}
	if addr.Port == 0 {
		return nil
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot check %s: %w", listen, err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("cannot check %s: %w", listen, err)
	}
	if family == unix.AF_INET6 {
		v := 0
		if v6only {
			v = 1
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v)
	}
	switch err := unix.Bind(fd, sa); err {
	case nil:
		return nil
	case unix.EADDRINUSE:
		return fmt.Errorf("cannot listen on %s: %w (to replace a running loopgate without dropping connections, "+
			"run loopgate -upgrade -pidfile FILE; otherwise stop it first)", listen, errPortTaken)
	default:
		return fmt.Errorf("cannot listen on %s: %w", listen, err)
	}
}
