package attest

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lethe-project/lethe/devices"
)

// WriteSummary prints a certificate for people: the status first, then who,
// what, how, and the evidence.
func WriteSummary(w io.Writer, st *Statement) error {
	p := st.Predicate
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	opt := func(k, v string) {
		if v != "" {
			row(k, "%s", v)
		}
	}
	row("Certificate", "%s (schema %s)", p.CertificateID, p.SchemaVersion)
	row("Status", "%s — %s", p.Status, p.StatusReason)
	row("Disposition", "%s", p.Disposition)
	row("Category", "%s (NIST SP 800-88 Rev. 2)", strings.ToUpper(string(p.Sanitization.Category)))
	fmt.Fprintln(tw, "\t")
	m := p.Media
	name := strings.TrimSpace(m.Vendor + " " + m.Model)
	if name == "" && len(st.Subject) > 0 {
		name = st.Subject[0].Name
	}
	row("Media", "%s", name)
	opt("  serial", m.Serial)
	opt("  WWN", m.WWN)
	opt("  firmware", m.Firmware)
	opt("  backing file", m.BackingFile)
	row("  capacity", "%s (%d bytes, %d-byte logical sectors)", devices.HumanBytes(m.CapacityBytes), m.CapacityBytes, m.LogicalSectorSize)
	row("  type", "%s over %s, at %s", m.Type, m.Transport, m.Path)
	if len(st.Subject) > 0 {
		row("  subject", "%s sha256:%s", st.Subject[0].Name, st.Subject[0].Digest["sha256"])
	}
	fmt.Fprintln(tw, "\t")
	s := p.Sanitization
	row("Technique", "%s", s.TechniqueName)
	row("  method", "%s: %s", s.Method.Name, s.Method.Description)
	for _, ps := range s.Passes {
		state := "complete"
		switch {
		case ps.Aborted:
			state = "aborted"
		case ps.Stopped != "":
			state = "stopped: " + ps.Stopped
		case len(ps.Failed) > 0:
			state = fmt.Sprintf("%d failed range(s)", len(ps.Failed))
		}
		row(fmt.Sprintf("  pass %d", ps.Index), "%s, %s written in %s, %s", ps.Pattern.Name,
			devices.HumanBytes(ps.BytesWritten), ps.Ended.Sub(ps.Started).Round(time.Millisecond), state)
		for _, r := range ps.Failed {
			row("", "LBA %d +%d: %s", r.LBA, r.Count, r.Error)
		}
	}
	for _, d := range s.Decision {
		row("  decision", "%s", d)
	}
	row("Hidden areas", "%s", p.HiddenAreas.Note)
	fmt.Fprintln(tw, "\t")
	v := p.Verification
	switch v.Scope {
	case "none", "":
		row("Verification", "none (%s)", v.Result)
	default:
		row("Verification", "%s read-back of pass %d against %s: %s", v.Scope, v.Pass, v.Expected.Name, strings.ToUpper(string(v.Result)))
		row("  coverage", "%.2f%% (%s read, page cache bypassed: %v)", v.Coverage, devices.HumanBytes(v.Bytes), v.Direct)
		if v.Sample != nil {
			row("  sample", "%s seed %s, %d units of %d bytes in %d subsections", v.Sample.Algorithm, v.Sample.Seed, v.Sample.Units, v.Sample.UnitBytes, v.Sample.Subsection)
		}
		row("  mismatched sectors", "%d", v.MismatchedSectors)
		for _, r := range v.Mismatched {
			row("", "LBA %d +%d", r.LBA, r.Count)
		}
		for _, r := range v.Unreadable {
			row("  unreadable", "LBA %d +%d: %s", r.LBA, r.Count, r.Error)
		}
	}
	for _, e := range p.Errors {
		row("Error", "%s", e)
	}
	fmt.Fprintln(tw, "\t")
	who := p.Personnel
	row("Operator", "%s", orDash(who.Operator))
	opt("Organization", who.Organization)
	opt("Site", who.Site)
	opt("Job", who.Job)
	opt("Asset tag", who.AssetTag)
	h := p.Host
	row("Host", "%s", orDash(strings.TrimSpace(strings.Join([]string{h.Hostname, h.SystemVendor, h.SystemProduct}, " "))))
	opt("  system serial", h.SystemSerial)
	opt("  system UUID", h.SystemUUID)
	opt("  asset tag", h.ChassisAssetTag)
	row("Started", "%s", p.Started.Format(time.RFC3339))
	row("Ended", "%s (%s)", p.Ended.Format(time.RFC3339), p.Ended.Sub(p.Started).Round(time.Second))
	row("Tool", "%s %s", p.Tool.Name, p.Tool.Version)
	opt("  boot image", p.Tool.ImageDigest)
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
