package perf

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// syscallRun is how long the extra, traced load of each proxy and scenario lasts.
const syscallRun = time.Second

// countSyscalls runs one more load against lp with strace -c attached to every thread of
// the proxy and returns the system calls it made per request (issue 15: a change that adds a
// system call per request shows up here). strace slows the proxy several times over, so only
// the count is kept, not the time. It returns 0 without strace.
func (b *bench) countSyscalls(ctx context.Context, lp *liveProxy, conns, size int) (float64, error) {
	if !installed("strace") {
		return 0, nil
	}
	out := filepath.Join(b.dir, fmt.Sprintf("strace-%s-%d-%d.txt", lp.name, conns, size))
	cmd := exec.CommandContext(ctx, "strace", "-c", "-f", "-q", "-o", out, "-p", strconv.Itoa(lp.p.pid()))
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("cannot start strace on %s: %w", lp.name, err)
	}
	time.Sleep(200 * time.Millisecond) // attaching to every thread takes a moment
	lr, lerr := b.load(ctx, b.useWrk, lp.addr, b.paths[size], conns, syscallRun)
	_ = cmd.Process.Signal(syscall.SIGINT) // strace detaches and writes its summary
	werr := cmd.Wait()
	if lerr != nil {
		return 0, lerr
	}
	calls, err := straceTotal(out)
	if err != nil {
		return 0, fmt.Errorf("cannot count %s's system calls (%v): %w", lp.name, werr, err)
	}
	if lr.requests == 0 {
		return 0, nil
	}
	return float64(calls) / float64(lr.requests), nil
}

// straceTotal reads the calls column of the "total" line of an strace -c summary:
//
//	100.00    2.884420          92     31171        75 total
func straceTotal(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 5 && string(f[len(f)-1]) == "total" {
			return strconv.ParseInt(string(f[3]), 10, 64)
		}
	}
	return 0, fmt.Errorf("no total line in %s", path)
}
