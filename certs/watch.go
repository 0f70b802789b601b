package certs

import (
	"context"
	"os"
	"slices"
	"time"
)

// DefaultReloadCheck is how often Watch looks at the certificate files when the
// configuration leaves reload_check unset. A stat of a few files every few
// seconds costs nothing measurable and needs no inotify dependency.
const DefaultReloadCheck = 5 * time.Second

// stamp identifies one version of a file: a rename over it (the usual way to
// replace a certificate atomically) changes the inode, an in-place write the
// size or modification time.
type stamp struct {
	fi  os.FileInfo
	err bool
}

func (a stamp) same(b stamp) bool {
	if a.err || b.err {
		return a.err == b.err
	}
	return os.SameFile(a.fi, b.fi) && a.fi.Size() == b.fi.Size() && a.fi.ModTime().Equal(b.fi.ModTime())
}

func stampOf(path string) stamp {
	fi, err := os.Stat(path)
	return stamp{fi: fi, err: err != nil}
}

func stampsOf(pairs []Pair) []stamp {
	st := make([]stamp, 0, 2*len(pairs))
	for _, p := range pairs {
		st = append(st, stampOf(p.Cert), stampOf(p.Key))
	}
	return st
}

func sameStamps(a, b []stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].same(b[i]) {
			return false
		}
	}
	return true
}

// Watch reloads the current pairs whenever one of their files changes, checking
// every interval (DefaultReloadCheck when 0; a negative interval returns at
// once: reloads then come from SIGHUP only), until ctx ends. Each
// reload attempt is passed to report (warnings, error); a refused reload keeps
// the old certificates and is not retried until a file changes again, so a
// half-written pair (new certificate, old key) is reported once and picked up
// when the second file lands. Run it on its own goroutine.
func (s *Store) Watch(ctx context.Context, interval time.Duration, report func(warn []string, err error)) {
	if interval < 0 {
		return
	}
	if interval == 0 {
		interval = DefaultReloadCheck
	}
	pairs := s.Pairs()
	seen := stampsOf(pairs)
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		cur := s.Pairs()
		if !slices.Equal(cur, pairs) { // reloaded with a new list meanwhile (SIGHUP)
			pairs, seen = cur, stampsOf(cur)
			continue
		}
		now := stampsOf(pairs)
		if sameStamps(now, seen) {
			continue
		}
		seen = now
		warn, err := s.Reload(pairs)
		if report != nil {
			report(warn, err)
		}
	}
}
