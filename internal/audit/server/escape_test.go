package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/internal/safetext"
)

// TestCertificatePageEscapes: certificate text reaches the auditor's page
// with control characters and bidirectional overrides escaped, so a
// U+202E cannot reorder a drive's serial and a newline or ANSI escape
// cannot pose as layout (issue 10, item 8); the receipt's checkpoint stays
// as signed.
func TestCertificatePageEscapes(t *testing.T) {
	st, err := certtest.Statement(certtest.Drive{Serial: "S\u202eN-1", Job: "J1"})
	if err != nil {
		t.Fatal(err)
	}
	st.Predicate.StatusReason = "ok\u202eDESAREE"
	st.Predicate.Host.Hostname = "h\x1b[31m"
	c := &store.Certificate{Statement: st, Receipt: &receipt.Receipt{Checkpoint: "origin\n7\nroot\n"}}
	c.Status, c.DriveSerial, c.HostSerial = string(cert.StatusFailed), st.Predicate.Media.Serial, "H\u2066S"
	v := &certView{C: c, P: &st.Predicate, Drive: "M\u2066odel", Serial: st.Predicate.Media.Serial}
	flatten("", map[string]any{"predicate": map[string]any{"media": map[string]any{"serial": "S\u202eN-1"}}}, &v.Fields)
	escapeView(v)
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, "certificate", map[string]any{"V": v}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\u202e\u2066\x1b") {
		t.Fatalf("raw control characters on the page")
	}
	for _, want := range []string{`S\u202eN-1`, `ok\u202eDESAREE`, `M\u2066odel`, `h\x1b[31m`, `H\u2066S`, "origin\n7\nroot\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	rows := []store.Row{{DriveModel: "D\x1b[2J", Hostname: "x\u202ey"}}
	safetext.EscapeAll(rows) // as searchPage does
	if rows[0].DriveModel != `D\x1b[2J` || rows[0].Hostname != `x\u202ey` {
		t.Fatalf("search rows %+v", rows[0])
	}
}
