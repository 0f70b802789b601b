package main

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// freeAddr returns a 127.0.0.1 address nothing listens on, for a process
// the test starts with a fixed port in its config. The port is taken below
// Linux's ephemeral range (32768-60999), where neither the kernel's choice
// for port 0 nor the source ports of outgoing connections land, so tests
// running beside this one cannot take it between this check and the bind.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 200 {
		addr := "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(12000))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr
	}
	t.Fatal("no free port in 20000-31999")
	return ""
}
