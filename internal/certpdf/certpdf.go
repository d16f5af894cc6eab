// Package certpdf renders a certificate of sanitization as a PDF for
// people, from the certificate's JSON (never the other way round), with a
// QR code that links back to the certificate's page in the audit store.
package certpdf

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"strings"
	"time"

	"github.com/lethe-project/lethe/cert"

	"github.com/signintech/gopdf"
	"github.com/skip2/go-qrcode"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/lethe-project/lethe/internal/humanize"
)

// Options add what the certificate itself does not say.
type Options struct {
	// URL of the certificate's page; shown as a QR code when set.
	URL string
	// Audit lines (log entry, signature status, validation) from the
	// audit store; empty for a certificate rendered offline.
	Audit [][2]string
	// Signature says whether and how the signature was checked.
	Signature string
}

const (
	pageW, margin = 595.28, 40.0 // A4 in points
	labelW        = 150.0
)

type doc struct {
	pdf *gopdf.GoPdf
	err error
}

func (d *doc) font(family string, size float64) {
	if d.err == nil {
		d.err = d.pdf.SetFont(family, "", size)
	}
}

func (d *doc) newPageIfNeeded(h float64) {
	if d.pdf.GetY()+h > 800 {
		d.pdf.AddPage()
		d.pdf.SetY(margin)
	}
}

func (d *doc) heading(s string) {
	d.newPageIfNeeded(40)
	d.pdf.Br(8)
	d.font("bold", 12)
	d.pdf.SetX(margin)
	d.cell(s)
	d.pdf.Br(16)
	d.pdf.SetStrokeColor(160, 160, 160)
	d.pdf.Line(margin, d.pdf.GetY(), pageW-margin, d.pdf.GetY())
	d.pdf.Br(4)
}

func (d *doc) cell(s string) {
	if d.err == nil {
		d.err = d.pdf.Cell(nil, s)
	}
}

// row prints a label and a value wrapped to the page width.
func (d *doc) row(label, value string) {
	if value == "" {
		return
	}
	d.font("regular", 9)
	lines, err := d.pdf.SplitText(value, pageW-2*margin-labelW)
	if err != nil || len(lines) == 0 {
		lines = []string{value}
	}
	d.newPageIfNeeded(float64(len(lines)) * 12)
	y := d.pdf.GetY()
	d.pdf.SetXY(margin, y)
	d.font("bold", 9)
	d.cell(label)
	d.font("regular", 9)
	for i, l := range lines {
		d.pdf.SetXY(margin+labelW, y+float64(i)*12)
		d.cell(l)
	}
	d.pdf.SetY(y + float64(len(lines))*12 + 1)
}

// Render writes the PDF of a certificate statement.
func Render(w io.Writer, st *cert.Statement, o Options) error {
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4})
	p := st.Predicate
	pdf.SetInfo(gopdf.PdfInfo{Title: "Certificate of Sanitization " + p.CertificateID, Creator: "lethe", Producer: "lethe"})
	d := &doc{pdf: pdf}
	for name, ttf := range map[string][]byte{"regular": goregular.TTF, "bold": gobold.TTF, "mono": gomono.TTF} {
		if err := pdf.AddTTFFontData(name, ttf); err != nil {
			return fmt.Errorf("pdf font: %w", err)
		}
	}
	pdf.AddPage()
	pdf.SetXY(margin, margin)
	d.font("bold", 18)
	d.cell("Certificate of Sanitization")
	pdf.Br(24)
	pdf.SetX(margin)
	d.font("regular", 9)
	d.cell("NIST SP 800-88 Rev. 2 · " + p.CertificateID)
	pdf.Br(20)

	// Status banner: green for ERASED, red otherwise.
	r, g, b := uint8(200), uint8(40), uint8(40)
	if p.Status == "ERASED" {
		r, g, b = 30, 130, 60
	}
	pdf.SetFillColor(r, g, b)
	pdf.RectFromUpperLeftWithStyle(margin, pdf.GetY(), 330, 34, "F")
	pdf.SetTextColor(255, 255, 255)
	pdf.SetXY(margin+10, pdf.GetY()+9)
	d.font("bold", 14)
	d.cell(fmt.Sprintf("%s — %s", p.Status, strings.ToUpper(string(p.Sanitization.Category))))
	pdf.SetTextColor(0, 0, 0)
	top := pdf.GetY() - 9
	if o.URL != "" {
		q, err := qrcode.New(o.URL, qrcode.Medium)
		if err != nil {
			return fmt.Errorf("qr code: %w", err)
		}
		q.DisableBorder = true
		png, err := q.PNG(256)
		if err != nil {
			return err
		}
		img, _, err := image.Decode(bytes.NewReader(png))
		if err != nil {
			return err
		}
		if err := pdf.ImageFrom(img, pageW-margin-110, top-50, &gopdf.Rect{W: 110, H: 110}); err != nil {
			return fmt.Errorf("qr code: %w", err)
		}
	}
	pdf.SetY(top + 70)
	d.row("Status reason", p.StatusReason)
	d.row("Disposition", p.Disposition)

	m := p.Media
	d.heading("Media")
	d.row("Manufacturer / model", strings.TrimSpace(m.Vendor+" "+m.Model))
	d.row("Serial number", m.Serial)
	d.row("WWN", m.WWN)
	d.row("Firmware", m.Firmware)
	d.row("Type / interface", fmt.Sprintf("%s over %s", m.Type, m.Transport))
	d.row("Capacity", fmt.Sprintf("%s (%d bytes, %d-byte sectors)", humanize.Bytes(m.CapacityBytes), m.CapacityBytes, m.LogicalSectorSize))
	d.row("Device path", m.Path)
	d.row("Backing file", m.BackingFile)
	if len(st.Subject) > 0 {
		d.row("Subject digest", "sha256:"+st.Subject[0].Digest["sha256"])
	}

	s := p.Sanitization
	d.heading("Sanitization")
	d.row("Category", strings.ToUpper(string(s.Category)))
	d.row("Technique", fmt.Sprintf("%s (%s)", s.TechniqueName, s.Technique))
	d.row("Reference", s.Reference)
	d.row("Method", fmt.Sprintf("%s: %s", s.Method.Name, s.Method.Description))
	for _, ps := range s.Passes {
		d.row(fmt.Sprintf("Pass %d", ps.Index), fmt.Sprintf("%s, %s written", ps.Pattern.Name, humanize.Bytes(ps.BytesWritten)))
	}
	for i, dec := range s.Decision {
		d.row(fmt.Sprintf("Decision %d", i+1), dec)
	}
	d.row("Hidden areas", p.HiddenAreas.Note)
	if f := p.Firmware; f != nil {
		d.row("Firmware erase", strings.Join(append([]string{f.Operation}, f.Parameters...), ", "))
		d.row("Completion", f.Completion)
		if ev := f.Proof; ev != nil {
			d.row("Proof", fmt.Sprintf("%s: %d canaries planted, %d survived; %d of %d informative sampled blocks changed",
				strings.ToUpper(ev.Result), ev.CanariesPlanted, ev.CanariesSurvived, ev.InformativeSamples-ev.UnchangedBlocks, ev.InformativeSamples))
			d.row("Deallocation", ev.DeallocatedNote)
		}
		d.row("Read-back", f.VerificationNote)
	}

	v := p.Verification
	d.heading("Verification")
	d.row("Result", fmt.Sprintf("%s (%s read-back)", strings.ToUpper(string(v.Result)), v.Scope))
	if v.Scope != "none" && v.Scope != "" {
		d.row("Coverage", fmt.Sprintf("%.2f%% (%s read, page cache bypassed: %v)", v.Coverage, humanize.Bytes(v.Bytes), v.Direct))
		d.row("Expected pattern", v.Expected.Name)
		d.row("Mismatched sectors", fmt.Sprint(v.MismatchedSectors))
		if v.Sample != nil {
			d.row("Sample", fmt.Sprintf("%s seed %s, %d units in %d subsections", v.Sample.Algorithm, v.Sample.Seed, v.Sample.Units, v.Sample.Subsection))
		}
	}
	for _, e := range p.Errors {
		d.row("Error", e)
	}

	d.heading("Performed by")
	d.row("Operator", p.Personnel.Operator)
	d.row("Organization", p.Personnel.Organization)
	d.row("Site", p.Personnel.Site)
	d.row("Job", p.Personnel.Job)
	d.row("Asset tag", p.Personnel.AssetTag)
	h := p.Host
	d.row("Host", strings.TrimSpace(strings.Join([]string{h.Hostname, h.SystemVendor, h.SystemProduct}, " ")))
	d.row("Host serial", h.SystemSerial)
	d.row("Started", p.Started.UTC().Format(time.RFC3339))
	d.row("Ended", p.Ended.UTC().Format(time.RFC3339))
	d.row("Tool", strings.TrimSpace(p.Tool.Name+" "+p.Tool.Version))

	d.heading("Signature and audit log")
	sig := o.Signature
	if sig == "" {
		sig = "not checked"
	}
	d.row("Signature", sig)
	for _, a := range o.Audit {
		d.row(a[0], a[1])
	}
	d.row("Page", o.URL)
	pdf.Br(10)
	pdf.SetX(margin)
	d.font("regular", 7)
	d.cell("Rendered from the signed certificate JSON; the JSON (DSSE envelope) is authoritative.")
	if d.err != nil {
		return fmt.Errorf("render pdf: %w", d.err)
	}
	_, err := pdf.WriteTo(w)
	return err
}
