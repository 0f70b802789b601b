// Command mkcerts makes throwaway certificates for trying loopgate's TLS
// listeners on this machine (`make certs`), and rotates session ticket key files.
//
//	mkcerts [-dir examples/tls] [-names localhost,127.0.0.1,::1] [-rsa] [-days 825]
//	mkcerts -ticket-keys FILE [-keep 3]
//
// The first form writes into dir: ca.pem and ca-key.pem (an ECDSA P-256 CA,
// kept and reused on later runs so that a trusted ca.pem stays valid),
// localhost.pem and localhost-key.pem (ECDSA P-256, the CA's chain appended),
// with -rsa also localhost-rsa.pem and localhost-rsa-key.pem (RSA 2048, for the
// dual-certificate setup), and client.pem and client-key.pem (a client
// certificate for trying mTLS). Private keys are written with mode 0600.
//
// The second form puts a new random key at the top of a session ticket key
// file (creating it) and keeps at most -keep keys; see docs/TLS.md.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"loopgate/certs"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkcerts:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("mkcerts", flag.ContinueOnError)
	dir := fs.String("dir", "examples/tls", "directory to write the certificates into")
	names := fs.String("names", "localhost,127.0.0.1,::1", "comma-separated DNS names and IP addresses of the server certificate")
	withRSA := fs.Bool("rsa", false, "also write an RSA 2048 pair for the same names (localhost-rsa.pem)")
	days := fs.Int("days", 825, "validity of the server and client certificates, in days")
	ticketKeys := fs.String("ticket-keys", "", "rotate this session ticket key file instead of making certificates")
	keep := fs.Int("keep", certs.DefaultTicketKeys, "with -ticket-keys: how many keys the file keeps")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *ticketKeys != "" {
		if err := certs.RotateTicketKeyFile(*ticketKeys, *keep); err != nil {
			return err
		}
		fmt.Fprintf(out, "rotated %s (keeps %d keys)\n", *ticketKeys, *keep)
		return nil
	}
	if *days < 1 {
		return fmt.Errorf("-days %d: want at least 1", *days)
	}
	var dnsNames []string
	var ips []net.IP
	for _, n := range strings.Split(*names, ",") {
		n = strings.TrimSpace(n)
		switch ip := net.ParseIP(n); {
		case n == "":
		case ip != nil:
			ips = append(ips, ip)
		default:
			dnsNames = append(dnsNames, n)
		}
	}
	if len(dnsNames)+len(ips) == 0 {
		return errors.New("-names: no name given")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	ca, caKey, err := loadOrMakeCA(*dir, out)
	if err != nil {
		return err
	}
	validity := time.Duration(*days) * 24 * time.Hour
	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: firstName(dnsNames, ips)},
		DNSNames:    dnsNames,
		IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if err := issue(*dir, "localhost", server, validity, ca, caKey, false, out); err != nil {
		return err
	}
	if *withRSA {
		if err := issue(*dir, "localhost-rsa", server, validity, ca, caKey, true, out); err != nil {
			return err
		}
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "loopgate example client"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return issue(*dir, "client", client, validity, ca, caKey, false, out)
}

func firstName(dns []string, ips []net.IP) string {
	if len(dns) > 0 {
		return dns[0]
	}
	return ips[0].String()
}

// loadOrMakeCA reuses dir/ca.pem and dir/ca-key.pem when both are there.
func loadOrMakeCA(dir string, out io.Writer) (*x509.Certificate, crypto.Signer, error) {
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	cb, cerr := os.ReadFile(certFile)
	kb, kerr := os.ReadFile(keyFile)
	if cerr == nil && kerr == nil {
		b, _ := pem.Decode(cb)
		if b == nil {
			return nil, nil, fmt.Errorf("%s: no PEM certificate (delete it and ca-key.pem to make a new CA)", certFile)
		}
		ca, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", certFile, err)
		}
		kb2, _ := pem.Decode(kb)
		if kb2 == nil {
			return nil, nil, fmt.Errorf("%s: no PEM key", keyFile)
		}
		k, err := x509.ParsePKCS8PrivateKey(kb2.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok || !ca.IsCA {
			return nil, nil, fmt.Errorf("%s is not a CA of ours (delete it and ca-key.pem to make a new CA)", certFile)
		}
		fmt.Fprintf(out, "reusing CA %s\n", certFile)
		return ca, signer, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "loopgate example CA " + now.UTC().Format("2006-01-02T15:04"), Organization: []string{"loopgate example (throwaway)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // signs leaves only (RFC 5280 §4.2.1.9)
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	ca, _ := x509.ParseCertificate(der)
	if err := writePEM(keyFile, "PRIVATE KEY", mustPKCS8(key), 0o600); err != nil {
		return nil, nil, err
	}
	if err := writePEM(certFile, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "wrote CA %s (key %s)\n", certFile, keyFile)
	return ca, key, nil
}

// issue signs tmpl with a new key and writes dir/base.pem (leaf then CA) and
// dir/base-key.pem.
func issue(dir, base string, tmpl *x509.Certificate, validity time.Duration, ca *x509.Certificate, caKey crypto.Signer, useRSA bool, out io.Writer) error {
	var key crypto.Signer
	var err error
	if useRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return err
	}
	t := *tmpl
	t.SerialNumber = serial()
	t.NotBefore = time.Now().Add(-time.Hour) // tolerate clock skew
	t.NotAfter = time.Now().Add(validity)
	if t.NotAfter.After(ca.NotAfter) {
		t.NotAfter = ca.NotAfter
	}
	if useRSA {
		t.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, &t, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(dir, base+".pem"), filepath.Join(dir, base+"-key.pem")
	if err := writePEM(keyFile, "PRIVATE KEY", mustPKCS8(key), 0o600); err != nil {
		return err
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})...)
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s (key %s)\n", certFile, keyFile)
	return nil
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	// Remove first: WriteFile keeps the mode of an existing file.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func mustPKCS8(k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic("BUG: cannot marshal a generated key: " + err.Error())
	}
	return der
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1)) // positive and non-zero (RFC 5280 §4.1.2.2)
}
