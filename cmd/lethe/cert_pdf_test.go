//go:build linux

package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/testutil"
	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/sign"
)

func pdfText(t *testing.T, path string) string {
	t.Helper()
	bin := testutil.RequireCommand(t, "pdftotext")
	out, err := exec.Command(bin, "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext %s: %v", path, err)
	}
	return string(out)
}

func TestCertPDFMany(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	var certs []string
	for i, d := range []certtest.Drive{
		{Serial: "SER-A1", HostSerial: "HOST-1"},
		{Serial: "SER-A2", HostSerial: "HOST-1", Status: wipe.StatusFailed},
		{Serial: "SER-B1", HostSerial: "HOST-2"},
	} {
		p := filepath.Join(dir, d.Serial+"-20261206T000000Z-"+string(rune('a'+i))+".cert.json")
		if err := os.WriteFile(p, certtest.MustSign(key, d), 0o644); err != nil {
			t.Fatal(err)
		}
		certs = append(certs, p)
	}
	pub := filepath.Join(dir, "station.pub")
	if err := os.WriteFile(pub, sign.MarshalPublicKey(key.Public().(ed25519.PublicKey)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Without a key a PDF would look valid: refused unless --unverified.
	if _, err := runCLI(t, append([]string{"cert", "pdf"}, certs...)...); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "--unverified") {
		t.Fatalf("cert pdf without --key: %v", err)
	}
	// Beside each certificate, same base name.
	out, err := runCLI(t, append([]string{"cert", "pdf", "--key", pub}, certs...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs {
		pdf := strings.TrimSuffix(c, ".cert.json") + ".pdf"
		if _, err := os.Stat(pdf); err != nil || !strings.Contains(out, pdf) {
			t.Errorf("%s: no %s (%v)\n%s", c, pdf, err, out)
		}
	}
	// -o with several certificates is a usage error.
	if _, err := runCLI(t, "cert", "pdf", "--key", pub, "-o", filepath.Join(dir, "x.pdf"), certs[0], certs[1]); exitCode(err) != exitUsage {
		t.Errorf("-o with two certificates: %v", err)
	}
	// --out-dir.
	od := filepath.Join(dir, "pdfs")
	if _, err := runCLI(t, "cert", "pdf", "--key", pub, "--out-dir", od, certs[0], certs[2]); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(od, "*.pdf")); len(m) != 2 {
		t.Errorf("--out-dir holds %v", m)
	}
	// A host report refuses certificates of two hosts.
	_, err = runCLI(t, "cert", "pdf", "--key", pub, "--host-report", filepath.Join(dir, "r.pdf"), certs[0], certs[2])
	if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "more than one host") {
		t.Errorf("mixed hosts: %v", err)
	}
	// One host, with an inventory that has a refused drive and the two wiped ones.
	inv := []deviceView{
		{Device: &devices.Device{Path: "/dev/sdz", Serial: "SER-A1"}}, // fixture: the path is never opened
		{Device: &devices.Device{Path: "/dev/sdy", Serial: "SER-A2"}}, // fixture: the path is never opened
		{Device: &devices.Device{Path: "/dev/sdx", Serial: "SYS-DISK", Model: "BOOT SSD", SizeBytes: 1 << 30}, // fixture: the path is never opened
			Refusals: []refusalView{{Reason: "system", Detail: "holds the running system's / filesystem"}}},
	}
	invPath := filepath.Join(dir, "inv.json")
	b, _ := json.Marshal(inv)
	os.WriteFile(invPath, b, 0o644)
	report := filepath.Join(dir, "host.pdf")
	out, err = runCLI(t, "cert", "pdf", "--key", pub, "--host-report", report, "--inventory", invPath, certs[0], certs[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "3 drive(s) found, 1 erased, 1 not erased, 1 not wiped") {
		t.Errorf("summary: %s", out)
	}
	text := pdfText(t, report)
	for _, want := range []string{"Host sanitization report", "1 of 3 drive(s) ERASED", "HOST-1", "SER-A1", "SER-A2", "SYS-DISK", "FAILED", "holds the running system", certs[0]} {
		if !strings.Contains(text, want) {
			t.Errorf("host report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "UNVERIFIED") {
		t.Errorf("a host report of verified certificates says UNVERIFIED:\n%s", text)
	}
	// --unverified: every page says so, and the verdict is not a claim.
	unv := filepath.Join(dir, "host-unverified.pdf")
	if _, err := runCLI(t, "cert", "pdf", "--unverified", "--host-report", unv, certs[0]); err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, unv); !strings.Contains(text, "UNVERIFIED") || strings.Count(text, "UNVERIFIED") < 5 {
		t.Errorf("unverified host report:\n%s", text)
	}
}

// Without --key, a certificate needs its receipt beside it (the key a
// certificate names proves nothing alone), and a certificate that names
// no key (not made by the boot agent) is a failure, not a pass.
func TestCertVerifyWithoutKey(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	p := filepath.Join(dir, "S1.cert.json")
	os.WriteFile(p, certtest.MustSign(key, certtest.Drive{Serial: "S1", HostSerial: "H"}), 0o644)
	_, err := runCLI(t, "cert", "verify", p)
	if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "no receipt beside it") {
		t.Errorf("no key, no receipt: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "S1.receipt.json"), []byte("{}"), 0o644)
	out, err := runCLI(t, "cert", "verify", p)
	if exitCode(err) != exitFailed || !strings.Contains(out, "names no signing key") {
		t.Errorf("no key, no host.bootKey: %v\n%s", err, out)
	}
}
