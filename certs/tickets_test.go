package certs

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ticketServer returns a server address whose config uses t's keys.
func ticketServer(t *testing.T, s *Store, tk *Tickets) string {
	t.Helper()
	cfg, err := NewTLSConfig(Profile{}, s)
	if err != nil {
		t.Fatal(err)
	}
	tk.Attach(cfg)
	return serve(t, cfg)
}

// resumes dials addr twice with one session cache and reports whether the
// second connection resumed.
func resumes(t *testing.T, client *tls.Config, first, second string) bool {
	t.Helper()
	if _, err := dial(t, first, client); err != nil {
		t.Fatal(err)
	}
	st, err := dial(t, second, client)
	if err != nil {
		t.Fatal(err)
	}
	return st.DidResume
}

func ticketFixture(t *testing.T) (*Store, *testCA) {
	ca := newTestCA(t)
	p, _ := ca.writePair(t, t.TempDir(), "t", leafOpts{names: []string{"t.test"}})
	return mustStore(t, []Pair{p}), ca
}

func newClient(ca *testCA, max uint16) *tls.Config {
	return &tls.Config{ServerName: "t.test", RootCAs: ca.pool(), MaxVersion: max, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
}

func TestTicketResumptionAndRotation(t *testing.T) {
	s, ca := ticketFixture(t)
	for _, max := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		tk, err := NewTickets(TicketConfig{Keys: 2})
		if err != nil {
			t.Fatal(err)
		}
		addr := ticketServer(t, s, tk)
		client := newClient(ca, max)
		if !resumes(t, client, addr, addr) {
			t.Fatalf("version %x: no resumption", max)
		}
		// One rotation: the old key still decrypts (Keys: 2).
		client = newClient(ca, max)
		dial(t, addr, client)
		if err := tk.Rotate(); err != nil {
			t.Fatal(err)
		}
		if st, _ := dial(t, addr, client); !st.DidResume {
			t.Fatalf("version %x: ticket from the previous key did not resume", max)
		}
		// Two rotations: the key is gone, a full handshake follows.
		client = newClient(ca, max)
		dial(t, addr, client)
		tk.Rotate()
		tk.Rotate()
		if st, _ := dial(t, addr, client); st.DidResume {
			t.Fatalf("version %x: resumed with a key rotated out", max)
		}
	}
}

func TestTicketsDisabled(t *testing.T) {
	s, ca := ticketFixture(t)
	tk, _ := NewTickets(TicketConfig{Disabled: true})
	addr := ticketServer(t, s, tk)
	if resumes(t, newClient(ca, 0), addr, addr) {
		t.Fatal("resumed with tickets disabled")
	}
}

func TestTicketKeyFileShared(t *testing.T) {
	s, ca := ticketFixture(t)
	file := filepath.Join(t.TempDir(), "tickets.keys")
	if err := RotateTicketKeyFile(file, 3); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	// Two instances sharing the file: a session from one resumes on the other.
	tkA, err := NewTickets(TicketConfig{KeyFile: file})
	if err != nil {
		t.Fatal(err)
	}
	tkB, _ := NewTickets(TicketConfig{KeyFile: file})
	a, b := ticketServer(t, s, tkA), ticketServer(t, s, tkB)
	tkC, _ := NewTickets(TicketConfig{}) // its own random keys
	c := ticketServer(t, s, tkC)
	for _, max := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if !resumes(t, newClient(ca, max), a, b) {
			t.Fatalf("version %x: session from A did not resume on B", max)
		}
		if resumes(t, newClient(ca, max), a, c) {
			t.Fatalf("version %x: session resumed on an instance with other keys", max)
		}
	}

	// Rotating the file: both instances pick the new key up; a ticket made with
	// the previous key still resumes on either.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tkA.Run(ctx, 10*time.Millisecond, func(err error) { t.Error(err) })
	go tkB.Run(ctx, 10*time.Millisecond, func(err error) { t.Error(err) })
	client := newClient(ca, 0)
	dial(t, a, client)
	before, _ := ReadTicketKeys(file)
	if err := RotateTicketKeyFile(file, 3); err != nil {
		t.Fatal(err)
	}
	after, _ := ReadTicketKeys(file)
	if len(after) != 2 || after[1] != before[0] {
		t.Fatalf("rotation: %d keys, previous kept=%v", len(after), after[1] == before[0])
	}
	waitKeys(t, tkA, after[0])
	waitKeys(t, tkB, after[0])
	if st, _ := dial(t, b, client); !st.DidResume {
		t.Fatal("ticket from the previous file key did not resume after rotation")
	}
	// keep bounds the file.
	for range 5 {
		RotateTicketKeyFile(file, 3)
	}
	if k, _ := ReadTicketKeys(file); len(k) != 3 {
		t.Fatalf("keep 3: %d keys", len(k))
	}
}

func waitKeys(t *testing.T, tk *Tickets, first [32]byte) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		tk.mu.Lock()
		ok := tk.keys[0] == first
		tk.mu.Unlock()
		if ok {
			return
		}
	}
	t.Fatal("key file change not picked up")
}

func TestTicketKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	f := func(content string, wantErr error, wantKeys int) {
		t.Helper()
		path := filepath.Join(dir, "k")
		writeFile(t, path, []byte(content))
		keys, err := ReadTicketKeys(path)
		if !errors.Is(err, wantErr) || len(keys) != wantKeys {
			t.Fatalf("ReadTicketKeys(%q): %d keys, err %v; want %d, %v", content, len(keys), err, wantKeys, wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Fatalf("error %q does not name the file", err)
		}
	}
	f(key+"\n", nil, 1)
	f("# comment\n\n  "+key+"  \n"+key+"\n", nil, 2)
	f("", ErrTicketKeyFile, 0)
	f("# only a comment\n", ErrTicketKeyFile, 0)
	f("not base64!\n", ErrTicketKeyFile, 0)
	f(base64.StdEncoding.EncodeToString(make([]byte, 48))+"\n", ErrTicketKeyFile, 0)
	f(strings.Repeat(key+"\n", maxTicketKeys+1), ErrTicketKeyFile, 0)

	if _, err := ReadTicketKeys(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrTicketKeyFile) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := NewTickets(TicketConfig{KeyFile: filepath.Join(dir, "missing")}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("NewTickets with a missing file: %v", err)
	}
	for _, c := range []TicketConfig{{Keys: -1}, {Keys: maxTicketKeys + 1}, {Rotate: -time.Second}} {
		if _, err := NewTickets(c); !errors.Is(err, ErrConfig) {
			t.Fatalf("NewTickets(%+v): %v", c, err)
		}
	}
	if err := RotateTicketKeyFile(filepath.Join(dir, "x"), 0); !errors.Is(err, ErrTicketKeyFile) {
		t.Fatalf("keep 0: %v", err)
	}
	// A broken file on rotation keeps the old keys.
	path := filepath.Join(dir, "live")
	writeFile(t, path, []byte(key+"\n"))
	tk, err := NewTickets(TicketConfig{KeyFile: path})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, []byte("garbage\n"))
	if err := tk.Rotate(); !errors.Is(err, ErrTicketKeyFile) {
		t.Fatalf("Rotate with a broken file: %v", err)
	}
	if len(tk.keys) != 1 || tk.keys[0] != [32]byte{} {
		t.Fatal("old keys not kept")
	}
	// RotateTicketKeyFile refuses to extend a broken file rather than drop its keys.
	if err := RotateTicketKeyFile(path, 3); !errors.Is(err, ErrTicketKeyFile) {
		t.Fatalf("RotateTicketKeyFile over garbage: %v", err)
	}
}

func TestTicketsRunRotatesRandomKeys(t *testing.T) {
	tk, err := NewTickets(TicketConfig{Rotate: 10 * time.Millisecond, Keys: 3})
	if err != nil {
		t.Fatal(err)
	}
	first := tk.keys[0]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tk.Run(ctx, 0, nil); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		tk.mu.Lock()
		n, cur, last := len(tk.keys), tk.keys[0], tk.keys[len(tk.keys)-1]
		tk.mu.Unlock()
		if n == 3 && cur != first && last != first {
			break // rotated at least three times, oldest dropped
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rotation: %d keys", n)
		}
	}
	cancel()
	<-done
}

func TestTicketsRunNegativeCheckWithKeyFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "k")
	RotateTicketKeyFile(file, 1)
	tk, err := NewTickets(TicketConfig{KeyFile: file})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { tk.Run(context.Background(), -1, nil); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run with a negative check and a key file did not return")
	}
}
