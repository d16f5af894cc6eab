// Package certpdf renders a certificate of sanitization as a PDF for
// people, from the certificate's JSON (never the other way round), with a
// QR code that links back to the certificate's page in the audit store.
//
// The PDF states what the JSON states: every pass with its own read-back,
// every failed, mismatched or unreadable LBA range, the parameters needed
// to recompute the evidence (pattern key and IV, sample seed, percent and
// unit, proof seed), the device watch, the SHA-256 of the certificate file
// it was rendered from, and lines for the technician's and the validator's
// signatures. Text from the certificate is shown with control characters
// escaped (internal/safetext), so it cannot pose as layout. A PDF rendered
// without a checked signature is stamped UNVERIFIED on every page and
// every line, and its status banner is never green.
package certpdf

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/signintech/gopdf"
	"github.com/skip2/go-qrcode"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/certview"
	"github.com/lethe-project/lethe/internal/humanize"
	"github.com/lethe-project/lethe/internal/safetext"
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
	// Verified is true only when the caller checked the certificate's
	// signature against a trusted key and it verified. Otherwise every
	// page and line is stamped UNVERIFIED and the status is never shown
	// in green.
	Verified bool
	// EnvelopeSHA256 is the hex SHA-256 of the certificate file (the
	// DSSE envelope) the PDF was rendered from, printed so that the
	// paper ties to exactly one JSON file (`sha256sum FILE`).
	EnvelopeSHA256 string
}

const (
	pageW, pageH = 595.28, 841.89 // A4 in points
	margin       = 40.0
	labelW       = 150.0
	lineH        = 12.0
	bottom       = pageH - 60 // leave room for the footer
	valueW       = pageW - 2*margin - labelW
	unverified   = "UNVERIFIED"
)

type doc struct {
	pdf *gopdf.GoPdf
	o   Options
	err error
	// The current font, page, and the lines of each page that carry the
	// UNVERIFIED stamp already.
	family  string
	size    float64
	page    int
	stamped map[[2]int]bool
}

func (d *doc) font(family string, size float64) {
	d.family, d.size = family, size
	if d.err == nil {
		d.err = d.pdf.SetFont(family, "", size)
	}
}

// cell writes s at the current position. On an unverified certificate
// every line with text gets the stamp in the left margin first.
func (d *doc) cell(s string) {
	if !d.o.Verified {
		d.stampLine()
	}
	if d.err == nil {
		d.err = d.pdf.Cell(nil, s)
	}
}

func (d *doc) stampLine() {
	x, y := d.pdf.GetX(), d.pdf.GetY()
	key := [2]int{d.page, int(y)}
	if d.stamped[key] {
		return
	}
	d.stamped[key] = true
	family, size := d.family, d.size
	d.pdf.SetTextColor(200, 0, 0)
	d.font("bold", 5)
	// On the baseline of the line's own font, so readers group them.
	d.pdf.SetXY(4, y+(size-5)*0.78)
	if d.err == nil {
		d.err = d.pdf.Cell(nil, unverified)
	}
	d.pdf.SetTextColor(0, 0, 0)
	d.font(family, size)
	d.pdf.SetXY(x, y)
}

// addPage starts a page; an unverified certificate gets its stamp at the
// top of every page.
func (d *doc) addPage() {
	d.pdf.AddPage()
	d.page++
	d.pdf.SetXY(margin, margin)
	if !d.o.Verified {
		d.font("bold", 11)
		d.cell("")
		d.pdf.SetTextColor(200, 0, 0)
		d.pdf.SetXY(margin, margin)
		d.cell("UNVERIFIED — the signature was not checked: this is not a valid certificate")
		d.pdf.SetTextColor(0, 0, 0)
		d.pdf.SetXY(margin, margin+20)
	}
}

func (d *doc) newPageIfNeeded(h float64) {
	if d.pdf.GetY()+h > bottom {
		d.addPage()
	}
}

func (d *doc) heading(s string) {
	d.newPageIfNeeded(48)
	d.pdf.Br(8)
	d.font("bold", 12)
	d.pdf.SetX(margin)
	d.cell(s)
	d.pdf.Br(16)
	d.pdf.SetStrokeColor(160, 160, 160)
	d.pdf.Line(margin, d.pdf.GetY(), pageW-margin, d.pdf.GetY())
	d.pdf.Br(4)
}

// numberRE matches a word that must never be split: a number, a size, a
// hex key or digest (with or without "sha256:").
var numberRE = regexp.MustCompile(`^([-+]?[0-9][0-9a-fA-F.,:%+x-]*[),;.]?|(sha256:)?[0-9a-fA-F]{8,}[),;.]?)$`)

// wrap breaks text into lines of at most width at spaces. A word longer
// than a line is broken only if it is not a number (a path, a key, a
// digest); a number always stays whole on one line.
func (d *doc) wrap(text string, width float64) []string {
	measure := func(s string) float64 {
		w, err := d.pdf.MeasureTextWidth(s)
		if err != nil {
			return float64(len(s)) * 5
		}
		return w
	}
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		cur := ""
		for _, word := range strings.Fields(para) {
			next := word
			if cur != "" {
				next = cur + " " + word
			}
			if measure(next) <= width {
				cur = next
				continue
			}
			if cur != "" {
				lines = append(lines, cur)
				cur = ""
			}
			for measure(word) > width && !numberRE.MatchString(word) {
				n := len(word)
				for n > 1 && measure(word[:n]) > width {
					n--
				}
				lines = append(lines, word[:n])
				word = word[n:]
			}
			cur = word
		}
		lines = append(lines, cur)
	}
	return lines
}

// row prints a label and a value (escaped: certificate text cannot pose
// as layout) wrapped to the page width. An unverified certificate's every
// line carries the stamp in the margin.
func (d *doc) row(label, value string) {
	if value == "" {
		return
	}
	d.rowFont(label, safetext.Escape(value), "regular")
}

// mono prints a row whose value is a digest, key or seed.
func (d *doc) mono(label, value string) {
	if value == "" {
		return
	}
	d.rowFont(label, safetext.Escape(value), "mono")
}

// monoSize keeps a 64-digit hex digest on one line of the value column.
const monoSize = 8

func (d *doc) rowFont(label, value, family string) {
	size := 9.0
	if family == "mono" {
		size = monoSize
	}
	d.font(family, size)
	lines := d.wrap(value, valueW)
	page := d.page
	for i, l := range lines {
		d.newPageIfNeeded(lineH)
		y := d.pdf.GetY()
		// The label on the first line, and again where the value
		// continues on a new page.
		if i == 0 || d.page != page {
			page = d.page
			d.pdf.SetXY(margin, y)
			d.font("bold", 9)
			d.cell(label)
		}
		d.font(family, size)
		d.pdf.SetXY(margin+labelW, y)
		d.cell(l)
		d.pdf.SetY(y + lineH)
	}
	d.pdf.SetY(d.pdf.GetY() + 1)
}

// Render writes the PDF of a certificate statement.
func Render(w io.Writer, st *cert.Statement, o Options) error {
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4})
	p := st.Predicate
	title := "Certificate of Sanitization " + p.CertificateID
	if !o.Verified {
		title = "UNVERIFIED " + title
	}
	pdf.SetInfo(gopdf.PdfInfo{Title: safetext.Escape(title), Creator: "lethe", Producer: "lethe"})
	d := &doc{pdf: pdf, o: o, stamped: map[[2]int]bool{}}
	for name, ttf := range map[string][]byte{"regular": goregular.TTF, "bold": gobold.TTF, "mono": gomono.TTF} {
		if err := pdf.AddTTFFontData(name, ttf); err != nil {
			return fmt.Errorf("pdf font: %w", err)
		}
	}
	d.addPage()
	d.pdf.SetX(margin)
	d.font("bold", 18)
	d.cell("Certificate of Sanitization")
	pdf.Br(24)
	pdf.SetX(margin)
	d.font("regular", 9)
	d.cell(safetext.Escape(fmt.Sprintf("NIST SP 800-88 Rev. 2 · %s · schema %s", p.CertificateID, p.SchemaVersion)))
	pdf.Br(20)
	d.banner(p)
	top := pdf.GetY() - 9
	if o.URL != "" {
		if err := d.qr(o.URL, top); err != nil {
			return err
		}
	}
	pdf.SetY(top + 70)
	d.row("Status reason", p.StatusReason)
	d.row("Disposition", p.Disposition)

	d.media(st)
	d.sanitization(p)
	d.verification("Verification", &p.Verification)
	if f := p.Firmware; f != nil {
		d.firmware(f)
	}
	d.hidden(p)
	if w := p.Watch; w != nil {
		d.watch(w)
	}
	if len(p.Errors) > 0 {
		d.heading("Errors")
		for _, e := range p.Errors {
			d.row("Error", e)
		}
	}
	d.people(p)
	d.signatures(o)
	if d.err != nil {
		return fmt.Errorf("render pdf: %w", d.err)
	}
	d.footers(p)
	if d.err != nil {
		return fmt.Errorf("render pdf: %w", d.err)
	}
	_, err := pdf.WriteTo(w)
	return err
}

// banner shows the status: green only for a verified ERASED certificate,
// grey for any unverified one, red otherwise.
func (d *doc) banner(p cert.Predicate) {
	pdf := d.pdf
	text := fmt.Sprintf("%s — %s", p.Status, strings.ToUpper(string(p.Sanitization.Category)))
	r, g, b := uint8(200), uint8(40), uint8(40)
	switch {
	case !d.o.Verified:
		r, g, b = 110, 110, 110
		text = fmt.Sprintf("UNVERIFIED — claims %s", p.Status)
	case p.Status == cert.StatusErased:
		r, g, b = 30, 130, 60
	}
	pdf.SetFillColor(r, g, b)
	pdf.RectFromUpperLeftWithStyle(margin, pdf.GetY(), 330, 34, "F")
	pdf.SetTextColor(255, 255, 255)
	pdf.SetXY(margin+10, pdf.GetY()+9)
	d.font("bold", 14)
	d.cell(safetext.Escape(text))
	pdf.SetTextColor(0, 0, 0)
}

func (d *doc) qr(url string, top float64) error {
	q, err := qrcode.New(url, qrcode.Medium)
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
	if err := d.pdf.ImageFrom(img, pageW-margin-110, top-50, &gopdf.Rect{W: 110, H: 110}); err != nil {
		return fmt.Errorf("qr code: %w", err)
	}
	return nil
}

func (d *doc) media(st *cert.Statement) {
	p := st.Predicate
	m := p.Media
	d.heading("Media")
	d.row("Manufacturer / model", strings.TrimSpace(m.Vendor+" "+m.Model))
	d.row("Serial number", m.Serial)
	d.row("WWN", m.WWN)
	d.row("Firmware", m.Firmware)
	d.row("Type / interface", fmt.Sprintf("%s over %s, rotational %v, removable %v", m.Type, m.Transport, m.Rotational, m.Removable))
	d.row("Capacity", fmt.Sprintf("%s (%d bytes), %d-byte logical and %d-byte physical sectors", humanize.Bytes(m.CapacityBytes), m.CapacityBytes, m.LogicalSectorSize, m.PhysicalSectorSize))
	d.row("Device path", m.Path)
	d.row("Backing file", m.BackingFile)
	if m.BackingFile != "" && (m.LoopOffset != 0 || m.LoopSizeLimit != 0 || m.BackingFileBytes != 0) {
		d.row("Loop window", fmt.Sprintf("bytes %d to %d of a %d-byte file (offset %d, size limit %d)",
			m.LoopOffset, m.LoopOffset+m.CapacityBytes-1, m.BackingFileBytes, m.LoopOffset, m.LoopSizeLimit))
	}
	if len(st.Subject) > 0 {
		d.row("Subject", st.Subject[0].Name)
		d.mono("Subject digest", "sha256:"+st.Subject[0].Digest["sha256"])
	}
}

func (d *doc) sanitization(p cert.Predicate) {
	s := p.Sanitization
	d.heading("Sanitization")
	d.row("Category", strings.ToUpper(string(s.Category)))
	d.row("Technique", fmt.Sprintf("%s (%s)", s.TechniqueName, s.Technique))
	d.row("Reference", s.Reference)
	d.row("Method", fmt.Sprintf("%s: %s", s.Method.Name, s.Method.Description))
	d.row("I/O", fmt.Sprintf("page cache bypassed (direct): %v; %d-byte chunks, %d workers", s.IO.Direct, s.IO.ChunkBytes, s.IO.Workers))
	for i, dec := range s.Decision {
		d.row(fmt.Sprintf("Decision %d", i+1), dec)
	}
	for _, ps := range s.Passes {
		d.row(fmt.Sprintf("Pass %d", ps.Index), fmt.Sprintf("%s, %d bytes (%s) written, %s to %s, %s", ps.Pattern.Name, ps.BytesWritten,
			humanize.Bytes(ps.BytesWritten), ps.Started.UTC().Format(time.RFC3339), ps.Ended.UTC().Format(time.RFC3339), certview.PassState(ps)))
		d.pattern("  pattern", ps.Pattern)
		for _, r := range ps.Failed {
			d.row("  failed", rangeText(r))
		}
		if v := ps.Verification; v != nil {
			d.verificationRows(fmt.Sprintf("  read-back of pass %d", ps.Index), v)
		}
	}
}

// pattern prints what is needed to regenerate a pass.
func (d *doc) pattern(label string, ps cert.PatternSpec) {
	switch ps.Kind {
	case cert.PatternBytes:
		d.mono(label, fmt.Sprintf("bytes %s repeated from offset 0", ps.Bytes))
	case cert.PatternAES128CTR:
		d.row(label, "AES-128-CTR keystream: openssl enc -aes-128-ctr -K KEY -iv IV < /dev/zero")
		d.mono("    key", ps.Key)
		d.mono("    iv", ps.IV)
	}
}

func rangeText(r cert.Range) string {
	s := fmt.Sprintf("LBA %d +%d", r.LBA, r.Count)
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}

func (d *doc) verification(title string, v *cert.VerifyReport) {
	d.heading(title)
	d.verificationRows("Result", v)
}

// verificationRows prints one read-back in full.
func (d *doc) verificationRows(label string, v *cert.VerifyReport) {
	of := ""
	if v.Pass > 0 {
		of = fmt.Sprintf(" of pass %d", v.Pass)
	}
	d.row(label, fmt.Sprintf("%s (%s read-back%s)", strings.ToUpper(string(v.Result)), v.Scope, of))
	if v.Scope == cert.ScopeNone || v.Scope == "" {
		return
	}
	d.row("  coverage", fmt.Sprintf("%.2f%%: %d bytes read, page cache bypassed: %v, %s to %s", v.Coverage, v.Bytes, v.Direct,
		v.Started.UTC().Format(time.RFC3339), v.Ended.UTC().Format(time.RFC3339)))
	d.row("  expected", v.Expected.Name)
	d.pattern("  expected pattern", v.Expected)
	if s := v.Sample; s != nil {
		d.row("  sample", fmt.Sprintf("%s, %g%% of %d bytes in %d-byte units, %d subsections: %d units, %d bytes, %.4f%%",
			s.Algorithm, s.Percent, s.SizeBytes, s.UnitBytes, s.Subsection, s.Units, s.Bytes, s.Coverage))
		d.mono("  sample seed", s.Seed)
	}
	d.row("  mismatched sectors", fmt.Sprint(v.MismatchedSectors))
	for _, r := range v.Mismatched {
		d.row("  mismatched", rangeText(r))
	}
	for _, r := range v.Unreadable {
		d.row("  unreadable", rangeText(r))
	}
	d.row("  stopped", v.Stopped)
}

func (d *doc) firmware(f *cert.FirmwareRecord) {
	d.heading("Firmware erase")
	d.row("Operation", fmt.Sprintf("%s over %s", f.Operation, f.Interface))
	d.row("Parameters", strings.Join(f.Parameters, ", "))
	d.row("Failure mode", f.FailureMode)
	d.row("No-deallocate", fmt.Sprint(f.NoDeallocate))
	d.row("Time", fmt.Sprintf("%s to %s; drive estimate %.0f s; lethe would wait %.0f s", f.Started.UTC().Format(time.RFC3339),
		f.Ended.UTC().Format(time.RFC3339), f.EstimateSeconds, f.TimeoutSeconds))
	for _, r := range f.Resumed {
		d.row("Resumed", fmt.Sprintf("job %s started %s, stopped in phase %s", r.JobID, r.Started.UTC().Format(time.RFC3339), r.Phase))
	}
	d.row("Unfreeze", f.Unfreeze)
	for _, c := range f.Commands {
		line := c.Name
		if c.Params != "" {
			line += " [" + c.Params + "]"
		}
		d.row("Command", fmt.Sprintf("%s %s: %s", c.At.UTC().Format("15:04:05.000"), line, c.Result))
	}
	d.row("Polls", fmt.Sprintf("%d, in progress seen: %v", f.Polls, f.InProgressSeen))
	for _, o := range f.Observations {
		s := o.State
		if o.ProgressPct > 0 {
			s += fmt.Sprintf(" %.1f%%", o.ProgressPct)
		}
		if o.Detail != "" {
			s += " (" + o.Detail + ")"
		}
		d.row("Observed", o.At.UTC().Format("15:04:05.000")+" "+s)
	}
	completion := f.Completion
	if completion == "" {
		completion = "not established"
	}
	d.row("Completion", completion)
	if pw := f.Password; pw != nil {
		d.row("Password", fmt.Sprintf("temporary password set: %v, cleared: %v; %s", pw.Set, pw.Cleared, pw.Note))
	}
	if ev := f.Proof; ev != nil {
		d.row("Proof", fmt.Sprintf("%s: %d canaries planted, %d survived (%d sectors); %d fingerprints, %d informative, %d unchanged (%d sectors), %d unexpected, %d unreadable; expected %s",
			strings.ToUpper(ev.Result), ev.CanariesPlanted, ev.CanariesSurvived, ev.CanarySectorsSurvived, ev.FingerprintsTaken, ev.InformativeSamples,
			ev.UnchangedBlocks, ev.UnchangedSectors, ev.UnexpectedBlocks, ev.UnreadableBlocks, ev.Expect.Kind))
		d.mono("Proof seed", ev.Seed)
		d.row("Probe size", fmt.Sprintf("%d-byte blocks judged in %d-byte sectors", ev.BlockBytes, ev.SectorBytes))
		d.mono("Before digest", ev.BeforeDigest)
		d.mono("After digest", ev.AfterDigest)
		for _, pr := range ev.Problems {
			d.row("Proof problem", pr)
		}
		for _, fl := range ev.Failures {
			d.row("Probe", fmt.Sprintf("offset %d: %s (%d unchanged, %d canary sectors)", fl.Offset, fl.Outcome, fl.UnchangedSectors, fl.CanarySectors))
		}
		d.row("Deallocation", fmt.Sprintf("reads from deallocated blocks: %v. %s", ev.Deallocated, ev.DeallocatedNote))
	}
	d.row("Read-back", f.VerificationNote)
	for _, n := range f.Notes {
		d.row("Note", n)
	}
}

func (d *doc) hidden(p cert.Predicate) {
	h := p.HiddenAreas
	d.heading("Hidden areas and capacity")
	d.row("Hidden areas", fmt.Sprintf("inspected: %v. %s", h.Inspected, h.Note))
	d.row("Before", h.Before)
	for _, a := range h.Actions {
		d.row("Action", a)
	}
	d.row("After", h.After)
	for _, c := range p.Capacity {
		state := "matches the OS view"
		if !c.Match {
			state = "MISMATCH: " + c.Note
		}
		d.row("Capacity", fmt.Sprintf("%s: %d bytes, the OS sees %d bytes; %s", c.Source, c.DeviceBytes, c.OSBytes, state))
	}
}

func (d *doc) watch(w *cert.WatchRecord) {
	d.heading("Device watch (other writers, size and identity)")
	d.row("Result", fmt.Sprintf("%s, %s to %s", strings.ToUpper(w.Result), w.Started.UTC().Format(time.RFC3339), w.Ended.UTC().Format(time.RFC3339)))
	d.row("lethe wrote", fmt.Sprintf("%d sectors of 512 bytes (%d submitted)", w.OwnSectorsWritten, w.OwnSectorsSubmitted))
	for _, c := range w.Counters {
		d.row("Counters", fmt.Sprintf("%s (%s): written %d to %d, discarded %d to %d; %d sectors not lethe's", c.Source, c.Role,
			c.SectorsWrittenBefore, c.SectorsWrittenAfter, c.SectorsDiscardedBefore, c.SectorsDiscardedAfter, c.ForeignSectors))
	}
	if ct := w.ChangeTime; ct != nil {
		d.row("Change time", fmt.Sprintf("%s: %s after the last write, %s after the last read", ct.File,
			ct.AfterLastWrite.UTC().Format(time.RFC3339Nano), ct.AfterLastRead.UTC().Format(time.RFC3339Nano)))
	}
	d.row("Size", fmt.Sprintf("%d bytes before, %d after", w.SizeBefore, w.SizeAfter))
	for _, c := range w.Changes {
		d.row("Change", c)
	}
	for _, pr := range w.Problems {
		d.row("Problem", pr)
	}
	for _, l := range w.Limits {
		d.row("Cannot see", l)
	}
}

func (d *doc) people(p cert.Predicate) {
	d.heading("Performed by")
	d.row("Operator", p.Personnel.Operator)
	d.row("Organization", p.Personnel.Organization)
	d.row("Site", p.Personnel.Site)
	d.row("Job", p.Personnel.Job)
	d.row("Asset tag", p.Personnel.AssetTag)
	h := p.Host
	d.row("Host", strings.TrimSpace(strings.Join([]string{h.Hostname, h.SystemVendor, h.SystemProduct}, " ")))
	d.row("Host serial", h.SystemSerial)
	d.row("Host UUID", h.SystemUUID)
	d.row("Machine ID", h.MachineID)
	d.row("Board", strings.TrimSpace(strings.Join([]string{h.BoardVendor, h.BoardProduct, h.BoardSerial}, " ")))
	d.row("Chassis", strings.TrimSpace(strings.Join([]string{h.ChassisSerial, h.ChassisAssetTag}, " ")))
	d.row("BIOS", h.BIOSVersion)
	d.row("Kernel", h.Kernel)
	if h.TPMKey != "" {
		d.row("TPM key", "present (PKIX PEM in the certificate; co-signs it)")
	}
	d.row("Started", p.Started.UTC().Format(time.RFC3339Nano))
	d.row("Ended", p.Ended.UTC().Format(time.RFC3339Nano))
	d.row("Tool", strings.TrimSpace(fmt.Sprintf("%s %s %s", p.Tool.Name, p.Tool.Version, p.Tool.GoVersion)))
	d.mono("Boot image", p.Tool.ImageDigest)
}

func (d *doc) signatures(o Options) {
	d.heading("Signature, audit log and validation")
	sig := o.Signature
	if sig == "" || !o.Verified {
		sig = "NOT CHECKED: " + sig
	}
	d.row("Signature", sig)
	if o.EnvelopeSHA256 != "" {
		d.mono("Certificate file", "sha256:"+o.EnvelopeSHA256)
	} else {
		d.row("Certificate file", "not given: this printout is not tied to a file")
	}
	for _, a := range o.Audit {
		d.row(a[0], a[1])
	}
	d.row("Page", o.URL)
	// NIST SP 800-88 Rev. 2: verification by the tool, validation by an
	// accountable person. Room for both people to sign the paper.
	for _, who := range []string{"Technician (performed)", "Validator (accepted the evidence)"} {
		d.newPageIfNeeded(60)
		d.pdf.Br(18)
		y := d.pdf.GetY()
		d.pdf.SetXY(margin, y)
		d.font("bold", 9)
		d.cell(who)
		d.pdf.SetStrokeColor(0, 0, 0)
		d.font("regular", 7)
		for i, f := range []string{"name", "signature", "date"} {
			x := margin + labelW + float64(i)*(valueW/3)
			d.pdf.Line(x, y+22, x+valueW/3-10, y+22)
			d.pdf.SetXY(x, y+24)
			d.cell(f)
		}
		d.pdf.SetY(y + 36)
	}
}

// footers number every page and tie it to the certificate; an unverified
// certificate's pages carry the stamp at the bottom too.
func (d *doc) footers(p cert.Predicate) {
	n := d.pdf.GetNumberOfPages()
	for i := 1; i <= n; i++ {
		if err := d.pdf.SetPage(i); err != nil {
			d.err = err
			return
		}
		d.page = i
		d.pdf.SetXY(margin, pageH-40)
		d.font("regular", 7)
		d.cell(safetext.Escape(fmt.Sprintf("Certificate %s · page %d of %d · rendered from the signed JSON (DSSE envelope), which is authoritative", p.CertificateID, i, n)))
		if !d.o.Verified {
			d.pdf.SetTextColor(200, 0, 0)
			d.font("bold", 11)
			d.pdf.SetXY(margin, pageH-28)
			d.cell("UNVERIFIED — signature not checked")
			d.pdf.SetTextColor(0, 0, 0)
		}
	}
}
