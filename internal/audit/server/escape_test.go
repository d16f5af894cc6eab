package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/audit/certtest"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/store"
)

// TestCertificatePageEscapes: certificate text reaches the auditor's page
// with control characters and bidirectional overrides escaped, so a
// U+202E cannot reorder a drive's serial and a newline or ANSI escape
// cannot pose as layout (issue 10, item 8).
func TestCertificatePageEscapes(t *testing.T) {
	st, err := certtest.Statement(certtest.Drive{Serial: "S\u202eN-1", Job: "J1"})
	if err != nil {
		t.Fatal(err)
	}
	st.Predicate.StatusReason = "ok\u202eDESAREE"
	c := &store.Certificate{Statement: st, Receipt: &receipt.Receipt{}}
	c.Status, c.DriveSerial, c.Job, c.DriveModel = string(cert.StatusFailed), st.Predicate.Media.Serial, "J\x1b[31m", "M\u2066odel"
	var fields []field
	flatten("", map[string]any{"predicate": map[string]any{"media": map[string]any{"serial": "S\u202eN-1"}}}, &fields)
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, "certificate", map[string]any{"C": c, "Check": store.Status{}, "Fields": fields}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\u202e\u2066\x1b") {
		t.Fatalf("raw control characters on the page")
	}
	for _, want := range []string{`S\u202eN-1`, `ok\u202eDESAREE`, `M\u2066odel`} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks the escaped %q", want)
		}
	}
}
