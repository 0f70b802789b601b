package certs

import (
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Interoperability with OpenSSL's s_client, a peer that is not Go. The test
// skips without the openssl binary unless LOOPGATE_REQUIRE_OPENSSL is set.

func opensslPath(t *testing.T) string {
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("LOOPGATE_REQUIRE_OPENSSL") != "" {
			t.Fatal("openssl not found and LOOPGATE_REQUIRE_OPENSSL is set")
		}
		t.Skip("openssl not installed")
	}
	return p
}

// serveAndClose answers each connection with "ok" and a close_notify, so
// s_client -ign_eof ends as soon as it has read the data and any tickets.
func serveAndClose(t *testing.T, cfg *tls.Config) string {
	return acceptTLS(t, cfg, func(c *tls.Conn) { c.Write([]byte("ok\n")) })
}

func sClient(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"s_client", "-ign_eof"}, args...)...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %q: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestOpenSSLInterop(t *testing.T) {
	bin := opensslPath(t)
	ca := newTestCA(t)
	dir := t.TempDir()
	rsaPair, _ := ca.writePair(t, dir, "rsa", leafOpts{names: []string{"dual.test"}, rsa: true})
	ecPair, _ := ca.writePair(t, dir, "ec", leafOpts{names: []string{"dual.test"}})
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, ca.pem)
	s := mustStore(t, []Pair{rsaPair, ecPair})
	cfg, err := NewTLSConfig(Profile{}, s)
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := NewTickets(TicketConfig{})
	tk.Attach(cfg)
	addr := serveAndClose(t, cfg)
	base := []string{"-connect", addr, "-servername", "dual.test", "-CAfile", caFile, "-verify_return_error"}

	f := func(extra []string, want ...string) string {
		t.Helper()
		out := sClient(t, bin, append(append([]string{}, base...), extra...)...)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Fatalf("openssl %q: output lacks %q:\n%s", extra, w, out)
			}
		}
		return out
	}
	// Dual certificate by client capability, TLS 1.3 and 1.2.
	f([]string{"-sigalgs", "ECDSA+SHA256"}, "Peer signature type: ECDSA", "Verify return code: 0 (ok)", "TLSv1.3")
	f([]string{"-sigalgs", "RSA-PSS+SHA256:rsa_pss_pss_sha256"}, "Peer signature type: RSA-PSS", "Verify return code: 0 (ok)")
	f([]string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}, "Cipher is ECDHE-RSA-AES128-GCM-SHA256", "Peer signature type: RSA")
	f([]string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"}, "Cipher is ECDHE-ECDSA-AES256-GCM-SHA384", "Peer signature type: ECDSA")
	// ALPN.
	f([]string{"-alpn", "h2,http/1.1"}, "ALPN protocol: http/1.1")
	// Resumption with our ticket keys, TLS 1.3 (PSK) and TLS 1.2.
	for _, v := range []string{"-tls1_3", "-tls1_2"} {
		sess := filepath.Join(dir, "sess"+v)
		f([]string{v, "-sess_out", sess}, "New, TLSv1.")
		f([]string{v, "-sess_in", sess}, "Reused, TLSv1.")
	}
	// Weak suites are not offered: a CBC-only client fails.
	out, err := exec.Command(bin, append([]string{"s_client", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"}, base...)...).CombinedOutput()
	if err == nil {
		t.Fatalf("CBC suite accepted:\n%s", out)
	}
}
