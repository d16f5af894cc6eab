package certpdf

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/signintech/gopdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/humanize"
)

// ReportDrive is one drive of a host report: a certificate for a drive
// that was sanitized (or attempted), or only an inventory line with the
// reason for a drive that was found but not wiped (refused by a guard,
// kept as the boot medium, excluded).
type ReportDrive struct {
	// Cert is the certificate (nil for a drive that was not wiped).
	Cert *cert.Statement
	// File is the certificate's file name, printed so the PDF leads back
	// to the JSON.
	File string
	// Signature says whether the certificate's signature was checked;
	// Verified is true only when it was checked against a trusted key and
	// verified. A report with any unverified certificate is stamped
	// UNVERIFIED on every page and line, and its verdict is never green.
	Signature string
	Verified  bool
	// Without a certificate: the drive and why it was not wiped.
	Device, Model, Serial string
	SizeBytes             int64
	NotWiped              string
}

// ReportOptions add what the certificates do not say.
type ReportOptions struct {
	// Title defaults to "Host sanitization report".
	Title string
	// Generated is when the report was made (default now).
	Generated time.Time
}

// HostCounts are a report's totals.
type HostCounts struct {
	Found, Erased, NotErased, NotWiped int
}

// Counts tallies drives: found = every drive listed, erased = certificate
// status ERASED, not erased = a certificate with any other status (FAILED,
// ABORTED, PARTIAL), not wiped = no certificate (refused, kept, excluded).
func Counts(ds []ReportDrive) HostCounts {
	var c HostCounts
	for _, d := range ds {
		c.Found++
		switch {
		case d.Cert == nil:
			c.NotWiped++
		case d.Cert.Predicate.Status == "ERASED":
			c.Erased++
		default:
			c.NotErased++
		}
	}
	return c
}

// HostKey is what identifies a server across its certificates: SMBIOS
// system UUID and serial (hostname when neither is known).
func HostKey(h cert.Host) string {
	if h.SystemUUID == "" && h.SystemSerial == "" {
		return "hostname " + h.Hostname
	}
	return "uuid " + h.SystemUUID + " serial " + h.SystemSerial
}

// ErrManyHosts is returned when certificates of several servers are given
// to one host report.
var ErrManyHosts = errors.New("the certificates come from more than one host")

// RenderHostReport writes one PDF for one server: its SMBIOS identity, the
// count of drives found, erased, not erased and not wiped, one line per
// drive, and a page per certificate's key facts. Every certificate must
// come from the same host (SMBIOS system UUID and serial).
func RenderHostReport(w io.Writer, ds []ReportDrive, o ReportOptions) error {
	var host *cert.Host
	var people cert.Personnel
	var started, ended time.Time
	for _, d := range ds {
		if d.Cert == nil {
			continue
		}
		p := d.Cert.Predicate
		if host == nil {
			h := p.Host
			host, people = &h, p.Personnel
		} else if HostKey(*host) != HostKey(p.Host) {
			return fmt.Errorf("%w: %s and %s (%s)", ErrManyHosts, HostKey(*host), HostKey(p.Host), d.File)
		}
		if started.IsZero() || p.Started.Before(started) {
			started = p.Started
		}
		if p.Ended.After(ended) {
			ended = p.Ended
		}
	}
	if host == nil {
		return errors.New("host report: no certificate given")
	}
	if o.Title == "" {
		o.Title = "Host sanitization report"
	}
	if o.Generated.IsZero() {
		o.Generated = time.Now()
	}
	ds = slices.Clone(ds)
	slices.SortStableFunc(ds, func(a, b ReportDrive) int {
		return humanize.NaturalCompare(a.name(), b.name())
	})

	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4})
	pdf.SetInfo(gopdf.PdfInfo{Title: o.Title + " " + HostKey(*host), Creator: "lethe", Producer: "lethe"})
	verified := true
	for _, dr := range ds {
		if dr.Cert != nil && !dr.Verified {
			verified = false
		}
	}
	d := &doc{pdf: pdf, o: Options{Verified: verified}, stamped: map[[2]int]bool{}}
	for name, ttf := range map[string][]byte{"regular": goregular.TTF, "bold": gobold.TTF, "mono": gomono.TTF} {
		if err := pdf.AddTTFFontData(name, ttf); err != nil {
			return fmt.Errorf("pdf font: %w", err)
		}
	}
	pdf.AddPage()
	pdf.SetXY(margin, margin)
	d.font("bold", 18)
	d.cell(o.Title)
	pdf.Br(24)
	pdf.SetX(margin)
	d.font("regular", 9)
	d.cell("NIST SP 800-88 Rev. 2 · generated " + o.Generated.UTC().Format(time.RFC3339) + " from the signed certificates")
	pdf.Br(20)

	c := Counts(ds)
	// Verdict banner: green only when every drive found was erased and
	// every certificate's signature verified.
	r, g, b := uint8(200), uint8(40), uint8(40)
	verdict := fmt.Sprintf("%d of %d drive(s) ERASED", c.Erased, c.Found)
	switch {
	case !verified:
		r, g, b = 110, 110, 110
		verdict = "UNVERIFIED — " + verdict + " claimed; signatures not checked"
	case c.Erased == c.Found:
		r, g, b = 30, 130, 60
	}
	pdf.SetFillColor(r, g, b)
	pdf.RectFromUpperLeftWithStyle(margin, pdf.GetY(), pageW-2*margin, 34, "F")
	pdf.SetTextColor(255, 255, 255)
	pdf.SetXY(margin+10, pdf.GetY()+9)
	d.font("bold", 14)
	d.cell(verdict)
	pdf.SetTextColor(0, 0, 0)
	pdf.SetY(pdf.GetY() + 34)

	d.heading("Host")
	h := *host
	d.row("System", strings.TrimSpace(h.SystemVendor+" "+h.SystemProduct))
	d.row("System serial", h.SystemSerial)
	d.row("System UUID", h.SystemUUID)
	d.row("Board", strings.TrimSpace(h.BoardVendor+" "+h.BoardProduct+" "+h.BoardSerial))
	d.row("Chassis serial", h.ChassisSerial)
	d.row("Asset tag", h.ChassisAssetTag)
	d.row("Hostname", h.Hostname)
	d.row("BIOS", h.BIOSVersion)

	d.heading("Drives")
	d.row("Found", fmt.Sprint(c.Found))
	d.row("Erased", fmt.Sprint(c.Erased))
	d.row("Not erased", fmt.Sprintf("%d (FAILED, ABORTED or PARTIAL: see each certificate)", c.NotErased))
	d.row("Not wiped", fmt.Sprintf("%d (refused, kept or excluded)", c.NotWiped))
	d.row("Sanitization", fmt.Sprintf("%s to %s", started.UTC().Format(time.RFC3339), ended.UTC().Format(time.RFC3339)))
	d.row("Operator", people.Operator)
	d.row("Organization", people.Organization)
	d.row("Site", people.Site)
	d.row("Job", people.Job)

	// The drive table.
	d.heading("Per drive")
	cols := []struct {
		title string
		w     float64
	}{{"Drive", 62}, {"Serial", 118}, {"Model", 110}, {"Size", 52}, {"Technique", 110}, {"Status", 63}}
	tableRow := func(font string, cells ...string) {
		d.newPageIfNeeded(14)
		y := d.pdf.GetY()
		x := margin
		d.font(font, 8)
		for i, col := range cols {
			d.pdf.SetXY(x, y)
			d.cell(d.fitWidth(cells[i], col.w-4))
			x += col.w
		}
		d.pdf.SetY(y + 12)
	}
	var titles []string
	for _, col := range cols {
		titles = append(titles, col.title)
	}
	tableRow("bold", titles...)
	for _, dr := range ds {
		if dr.Cert == nil {
			tableRow("regular", dr.Device, dr.Serial, dr.Model, humanize.Bytes(dr.SizeBytes), "not wiped", "-")
			continue
		}
		p := dr.Cert.Predicate
		tableRow("regular", p.Media.Path, p.Media.Serial, p.Media.Model, humanize.Bytes(p.Media.CapacityBytes),
			fmt.Sprintf("%s (%s)", p.Sanitization.Technique, p.Sanitization.Category), string(p.Status))
	}

	// Then the facts of each drive, so the report stands on its own.
	for _, dr := range ds {
		if dr.Cert == nil {
			d.heading(fmt.Sprintf("%s: not wiped", dr.name()))
			d.row("Serial", dr.Serial)
			d.row("Model", dr.Model)
			d.row("Reason", dr.NotWiped)
			continue
		}
		p := dr.Cert.Predicate
		d.heading(fmt.Sprintf("%s, serial %s: %s", dr.name(), p.Media.Serial, p.Status))
		d.row("Certificate", p.CertificateID)
		d.row("File", dr.File)
		d.row("Signature", dr.Signature)
		d.row("Media", strings.TrimSpace(fmt.Sprintf("%s %s, serial %s, %s", p.Media.Vendor, p.Media.Model, p.Media.Serial, humanize.Bytes(p.Media.CapacityBytes))))
		d.row("Category", strings.ToUpper(string(p.Sanitization.Category)))
		d.row("Technique", fmt.Sprintf("%s (%s)", p.Sanitization.TechniqueName, p.Sanitization.Technique))
		v := p.Verification
		d.row("Verification", fmt.Sprintf("%s (%s read-back, %.2f%% coverage, %d mismatched sectors)", strings.ToUpper(string(v.Result)), v.Scope, v.Coverage, v.MismatchedSectors))
		d.row("Status reason", p.StatusReason)
		d.row("Disposition", p.Disposition)
		d.row("Time", fmt.Sprintf("%s to %s", p.Started.UTC().Format(time.RFC3339), p.Ended.UTC().Format(time.RFC3339)))
	}
	pdf.Br(10)
	pdf.SetX(margin)
	d.font("regular", 7)
	d.cell("Rendered from the signed certificates; each certificate's JSON (DSSE envelope) is authoritative.")
	if d.err != nil {
		return fmt.Errorf("render host report: %w", d.err)
	}
	_, err := pdf.WriteTo(w)
	return err
}

func (dr ReportDrive) name() string {
	if dr.Cert != nil {
		if p := dr.Cert.Predicate.Media.Path; p != "" {
			return p
		}
		return dr.Cert.Predicate.Media.Serial
	}
	return dr.Device
}

// fitWidth shortens s to fit w points in the current font, marking the
// cut with "…" (the full value is in the per-drive section below).
func (d *doc) fitWidth(s string, w float64) string {
	if tw, err := d.pdf.MeasureTextWidth(s); err != nil || tw <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 1 {
		r = r[:len(r)-1]
		if tw, err := d.pdf.MeasureTextWidth(string(r) + "…"); err == nil && tw <= w {
			return string(r) + "…"
		}
	}
	return string(r)
}
