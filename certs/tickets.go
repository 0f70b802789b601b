package certs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Defaults of TicketConfig.
const (
	DefaultTicketRotate = 12 * time.Hour
	DefaultTicketKeys   = 3
	maxTicketKeys       = 64
)

// ErrTicketKeyFile is wrapped by every error about a session ticket key file.
var ErrTicketKeyFile = errors.New("certs: bad session ticket key file")

// TicketConfig controls session resumption (RFC 8446 §2.2 and §4.6.1 for TLS
// 1.3 PSK tickets, RFC 5077 for TLS 1.2): both are Go's session tickets,
// encrypted with keys this package rotates. A ticket decrypts while its key is
// among the kept ones, so a stolen key exposes at most Keys × Rotate of
// recorded sessions; that window is the forward-secrecy price of resumption.
type TicketConfig struct {
	// Disabled turns session tickets off (full handshake every time).
	Disabled bool `toml:"session_tickets_disabled"`
	// Rotate is how often a new random key replaces the current one (default
	// 12h, as Caddy; Go's own default is 24h). Ignored with KeyFile.
	Rotate time.Duration `toml:"session_ticket_rotate"`
	// Keys is how many keys are kept, the current one included: the previous
	// Keys-1 still decrypt tickets (default 3, so a ticket resumes for up to
	// 36h). Ignored with KeyFile.
	Keys int `toml:"session_ticket_keys"`
	// KeyFile shares keys between instances behind one address: one key per
	// line, base64 of 32 random bytes, newest first; the first encrypts new
	// tickets, all decrypt. The file is re-read when it changes. Keep it
	// secret (mode 0600): whoever reads it can decrypt resumed sessions.
	// `mkcerts -ticket-keys FILE` creates or rotates one.
	KeyFile string `toml:"session_ticket_key_file"`
}

// Tickets owns the session ticket keys of one or more tls.Configs. It calls
// tls.Config.SetSessionTicketKeys on each attached config; the handshake path
// only reads what that call stored, so rotation costs the request path nothing.
type Tickets struct {
	cfg TicketConfig

	mu   sync.Mutex
	keys [][32]byte
	cfgs []*tls.Config
	seen stamp // of KeyFile
}

// NewTickets checks c and makes the first keys: a random one, or those of
// c.KeyFile (an unreadable or malformed file is an error).
func NewTickets(c TicketConfig) (*Tickets, error) {
	if c.Rotate < 0 {
		return nil, fmt.Errorf("%w: session_ticket_rotate %s is negative", ErrConfig, c.Rotate)
	}
	if c.Rotate == 0 {
		c.Rotate = DefaultTicketRotate
	}
	switch {
	case c.Keys == 0:
		c.Keys = DefaultTicketKeys
	case c.Keys < 1 || c.Keys > maxTicketKeys:
		return nil, fmt.Errorf("%w: session_ticket_keys %d: want 1 to %d", ErrConfig, c.Keys, maxTicketKeys)
	}
	t := &Tickets{cfg: c}
	if c.KeyFile != "" {
		st := stampOf(c.KeyFile)
		keys, err := ReadTicketKeys(c.KeyFile)
		if err != nil {
			return nil, err
		}
		t.keys, t.seen = keys, st
		return t, nil
	}
	t.keys = [][32]byte{randomKey()}
	return t, nil
}

// Attach makes cfg use these keys from now on, and at every rotation. Attach
// the final config: a tls.Config cloned before Attach keeps Go's own keys.
func (t *Tickets) Attach(cfg *tls.Config) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg.Disabled {
		cfg.SessionTicketsDisabled = true
		return
	}
	cfg.SetSessionTicketKeys(t.keys)
	t.cfgs = append(t.cfgs, cfg)
}

// Rotate installs new keys: a fresh random key in front of the kept ones, or
// the current contents of the key file. A broken key file keeps the old keys
// and returns the error.
func (t *Tickets) Rotate() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg.KeyFile != "" {
		st := stampOf(t.cfg.KeyFile)
		keys, err := ReadTicketKeys(t.cfg.KeyFile)
		t.seen = st
		if err != nil {
			return err
		}
		t.keys = keys
	} else {
		keys := make([][32]byte, 0, t.cfg.Keys)
		keys = append(keys, randomKey())
		keys = append(keys, t.keys[:min(len(t.keys), t.cfg.Keys-1)]...)
		t.keys = keys
	}
	for _, c := range t.cfgs {
		c.SetSessionTicketKeys(t.keys)
	}
	return nil
}

// Run rotates until ctx ends: every Rotate for random keys; with a key file,
// whenever the file changes (checked every check interval, DefaultReloadCheck
// when 0, never when negative). Errors go to report. Run it on its own goroutine.
func (t *Tickets) Run(ctx context.Context, check time.Duration, report func(error)) {
	if t.cfg.Disabled {
		return
	}
	every := t.cfg.Rotate
	if t.cfg.KeyFile != "" {
		switch every = check; {
		case check < 0:
			return // the key file is re-read by Rotate, on SIGHUP
		case check == 0:
			every = DefaultReloadCheck
		}
	}
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		if t.cfg.KeyFile != "" {
			t.mu.Lock()
			st := stampOf(t.cfg.KeyFile)
			same := st.same(t.seen)
			t.mu.Unlock()
			if same {
				continue
			}
		}
		if err := t.Rotate(); err != nil && report != nil {
			report(err)
		}
	}
}

func randomKey() [32]byte {
	var k [32]byte
	rand.Read(k[:]) // never fails (crypto/rand, Go 1.24+)
	return k
}

// ReadTicketKeys parses a key file: one base64 (standard encoding) 32-byte key
// per line, newest first; blank lines and lines starting with '#' are ignored.
func ReadTicketKeys(path string) ([][32]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: session_ticket_key_file: %w", ErrTicketKeyFile, err)
	}
	var keys [][32]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("%w: session_ticket_key_file %q line %d: want the base64 of 32 bytes", ErrTicketKeyFile, path, n)
		}
		if len(keys) == maxTicketKeys {
			return nil, fmt.Errorf("%w: session_ticket_key_file %q: more than %d keys", ErrTicketKeyFile, path, maxTicketKeys)
		}
		keys = append(keys, [32]byte(raw))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: session_ticket_key_file %q: no key", ErrTicketKeyFile, path)
	}
	return keys, nil
}

// RotateTicketKeyFile puts a new random key at the top of the key file at path
// (creating it), keeps at most keep keys, and replaces the file atomically with
// mode 0600. Running it on one host and copying the file to the others, or on a
// shared volume, rotates every instance.
func RotateTicketKeyFile(path string, keep int) error {
	if keep < 1 || keep > maxTicketKeys {
		return fmt.Errorf("%w: keep %d: want 1 to %d", ErrTicketKeyFile, keep, maxTicketKeys)
	}
	var old [][32]byte
	if _, err := os.Stat(path); err == nil {
		if old, err = ReadTicketKeys(path); err != nil {
			return err
		}
	}
	keys := append([][32]byte{randomKey()}, old...)
	keys = keys[:min(len(keys), keep)]
	var b bytes.Buffer
	b.WriteString("# loopgate session ticket keys, newest first (the first encrypts). Keep secret.\n")
	for _, k := range keys {
		b.WriteString(base64.StdEncoding.EncodeToString(k[:]))
		b.WriteByte('\n')
	}
	return writeFileAtomic(path, b.Bytes(), 0o600)
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// over path, so readers see the old or the new contents, never a mix.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	return nil
}
