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
