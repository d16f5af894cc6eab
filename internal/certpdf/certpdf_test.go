package certpdf

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/internal/testutil"
)

func TestRenderToPNG(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_ = key
	st, err := certtest.Statement(certtest.Drive{Serial: "S3RIAL-PDF", WWN: "naa.5000c500a1b2c3d4", HostSerial: "HOST-9", Job: "JOB-42"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, st, Options{URL: "https://audit.example:8443/certificates/" + st.Predicate.CertificateID,
		Signature: "valid (test)", Audit: [][2]string{{"Log entry", "7"}}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", buf.Bytes()[:8])
	}
	pdftoppm := testutil.RequireCommand(t, "pdftoppm")
	dir := t.TempDir()
	in := filepath.Join(dir, "c.pdf")
	os.WriteFile(in, buf.Bytes(), 0o644)
	if out, err := exec.Command(pdftoppm, "-png", "-r", "50", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(pages) == 0 {
		t.Fatal("pdftoppm rendered no page")
	}
	if text, err := exec.Command("pdftotext", in, "-").Output(); err == nil {
		for _, want := range []string{"Certificate of Sanitization", "S3RIAL-PDF", "JOB-42", st.Predicate.CertificateID} {
			if !bytes.Contains(text, []byte(want)) {
				t.Errorf("PDF text lacks %q", want)
			}
		}
	} else if testutil.InCI() {
		t.Fatalf("pdftotext: %v", err)
	}
}
