package perf

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStraceTotal(t *testing.T) {
	f := func(summary string, want int64, wantErr bool) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "s.txt")
		os.WriteFile(p, []byte(summary), 0o644)
		got, err := straceTotal(p)
		if (err != nil) != wantErr || got != want {
			t.Fatalf("straceTotal(%q) = %d, %v; want %d (error %v)", summary, got, err, want, wantErr)
		}
	}
	const head = "% time     seconds  usecs/call     calls    errors syscall\n------ ----------- ----------- --------- --------- ----------------\n"
	f(head+" 60.00    0.100000          10     10000           write\n------ ----------- ----------- --------- --------- ----------------\n100.00    2.884420          92     31171        75 total\n", 31171, false)
	f(head+"100.00    0.000100           5        20           total\n", 20, false) // no errors column
	f(head, 0, true)
}

func TestPerfStatCount(t *testing.T) {
	f := func(out string, want int64, wantErr bool) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "p.txt")
		os.WriteFile(p, []byte(out), 0o644)
		got, err := perfStatCount(p, "raw_syscalls:sys_enter")
		if (err != nil) != wantErr || got != want {
			t.Fatalf("perfStatCount(%q) = %d, %v; want %d (error %v)", out, got, err, want, wantErr)
		}
	}
	const head = "# started on Mon Dec  7 04:15:00 2026\n\n"
	f(head+"429271,,raw_syscalls:sys_enter,3001234567,100.00,,\n", 429271, false)
	f(head+"<not counted>,,raw_syscalls:sys_enter,0,0.00,,\n", 0, true) // the tracepoint was not readable
	f(head+"12,,syscalls:sys_enter_read,1,100.00,,\n", 0, true)
	f("", 0, true)
}
