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
	"strings"
	"syscall"
	"time"
)

// syscallRun is how long the extra, counted load of each proxy and scenario lasts.
const syscallRun = time.Second

// Counting tools, best first. perf counts the raw_syscalls:sys_enter tracepoint in the
// kernel and leaves the proxy at full speed. strace -c stops the proxy at every call, several
// times slower; that changes what a Go program does: the runtime's sysmon thread takes the P
// back from a thread whose system call lasts over 20 µs and keeps waking every 20 µs while it
// does, so under strace loopgate showed about one nanosleep per request that does not happen
// at full speed (0.01 per request counted with perf, docs/PERFORMANCE.md).
const (
	countByPerf   = "perf stat (raw_syscalls:sys_enter)"
	countByStrace = "strace -c"
)

// syscallCounter returns the tool countSyscalls will use, "" when none works here: perf
// needs the tracepoint to be readable (perf_event_paranoid, tracefs), which one counted run
// of `true` shows.
func syscallCounter() string {
	if installed("perf") && exec.Command("perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true").Run() == nil {
		return countByPerf
	}
	if installed("strace") {
		return countByStrace
	}
	return ""
}

// countSyscalls runs one more load against lp with the counter attached to every thread of
// the proxy and of its child processes (Varnish serves from a child of its manager), and
// returns the system calls they made per request (issue 15: a change that adds a system call
// per request shows up here). It returns 0 when nothing can count. tag names the output file.
func (b *bench) countSyscalls(ctx context.Context, lp *liveProxy, tag string, load loadFunc) (float64, error) {
	var cmd *exec.Cmd
	out := filepath.Join(b.dir, fmt.Sprintf("syscalls-%s-%s.txt", lp.name, tag))
	var pids []string
	for _, pid := range procTree(lp.p.pid()) {
		pids = append(pids, strconv.Itoa(pid))
	}
	switch b.counter {
	case countByPerf:
		cmd = exec.CommandContext(ctx, "perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-o", out, "-p", strings.Join(pids, ","))
	case countByStrace:
		args := []string{"-c", "-f", "-q", "-o", out}
		for _, p := range pids {
			args = append(args, "-p", p)
		}
		cmd = exec.CommandContext(ctx, "strace", args...)
	default:
		return 0, nil
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("cannot start %s on %s: %w", cmd.Path, lp.name, err)
	}
	time.Sleep(200 * time.Millisecond) // attaching to every thread takes a moment
	lr, lerr := load(ctx, syscallRun)
	_ = cmd.Process.Signal(syscall.SIGINT) // both stop counting and write their summary
	werr := cmd.Wait()
	if lerr != nil {
		return 0, lerr
	}
	var calls int64
	var err error
	if b.counter == countByPerf {
		calls, err = perfStatCount(out, "raw_syscalls:sys_enter")
	} else {
		calls, err = straceTotal(out)
	}
	if err != nil {
		return 0, fmt.Errorf("cannot count %s's system calls (%v): %w", lp.name, werr, err)
	}
	if lr.requests == 0 {
		return 0, nil
	}
	return float64(calls) / float64(lr.requests), nil
}

// perfStatCount reads the count of event from perf stat's CSV output (-x,):
//
//	429271,,raw_syscalls:sys_enter,3001234567,100.00,,
func perfStatCount(path, event string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(data) {
		f := bytes.Split(bytes.TrimSpace(line), []byte(","))
		if len(f) >= 3 && string(f[2]) == event {
			n, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %s not counted: %q", path, event, f[0])
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("no %s line in %s", event, path)
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
