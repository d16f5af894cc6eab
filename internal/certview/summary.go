// Package certview shows certificates to people: the text summary that
// lethe cert show prints.
package certview

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/humanize"
	"github.com/lethe-project/lethe/internal/safetext"
)

// WriteSummary prints a certificate for people: the status first, then who,
// what, how, and the evidence. Every value is escaped (internal/safetext):
// a newline, tab or escape sequence in a certificate's text is shown as
// \n, \t, \x1b, so it can neither add lines nor drive the terminal.
func WriteSummary(w io.Writer, st *cert.Statement) error {
	p := st.Predicate
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", k, safetext.Escape(fmt.Sprintf(format, args...)))
	}
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
	row("  capacity", "%s (%d bytes, %d-byte logical sectors)", humanize.Bytes(m.CapacityBytes), m.CapacityBytes, m.LogicalSectorSize)
	row("  type", "%s over %s, at %s", m.Type, m.Transport, m.Path)
	if len(st.Subject) > 0 {
		row("  subject", "%s sha256:%s", st.Subject[0].Name, st.Subject[0].Digest["sha256"])
	}
	fmt.Fprintln(tw, "\t")
	s := p.Sanitization
	row("Technique", "%s", s.TechniqueName)
	row("  method", "%s: %s", s.Method.Name, s.Method.Description)
	for _, ps := range s.Passes {
		row(fmt.Sprintf("  pass %d", ps.Index), "%s, %s written in %s, %s", ps.Pattern.Name,
			humanize.Bytes(ps.BytesWritten), ps.Ended.Sub(ps.Started).Round(time.Millisecond), PassState(ps))
		for _, r := range ps.Failed {
			row("", "LBA %d +%d: %s", r.LBA, r.Count, r.Error)
		}
		if v := ps.Verification; v != nil {
			row("", "read-back of pass %d: %s (%s, %.2f%% read, %d sector(s) mismatched, %d unreadable range(s))",
				ps.Index, strings.ToUpper(string(v.Result)), v.Scope, v.Coverage, v.MismatchedSectors, len(v.Unreadable))
			for _, r := range v.Mismatched {
				row("", "  mismatch at LBA %d +%d", r.LBA, r.Count)
			}
			for _, r := range v.Unreadable {
				row("", "  unreadable LBA %d +%d: %s", r.LBA, r.Count, r.Error)
			}
		}
	}
	for _, d := range s.Decision {
		row("  decision", "%s", d)
	}
	if f := p.Firmware; f != nil {
		writeFirmware(row, f)
	}
	row("Hidden areas", "%s", p.HiddenAreas.Note)
	opt("  before", p.HiddenAreas.Before)
	for _, a := range p.HiddenAreas.Actions {
		row("  action", "%s", a)
	}
	if p.HiddenAreas.After != p.HiddenAreas.Before {
		opt("  after", p.HiddenAreas.After)
	}
	for _, c := range p.Capacity {
		state := "matches the OS view"
		if !c.Match {
			state = "MISMATCH: " + c.Note
		}
		row("Capacity", "%s: %d bytes; %s", c.Source, c.DeviceBytes, state)
	}
	fmt.Fprintln(tw, "\t")
	v := p.Verification
	switch v.Scope {
	case "none", "":
		row("Verification", "no read-back (%s)", v.Result)
		if p.Firmware != nil && p.Firmware.VerificationNote != "" {
			row("", "%s", p.Firmware.VerificationNote)
		}
	default:
		of := ""
		if v.Pass > 0 {
			of = fmt.Sprintf(" of pass %d", v.Pass)
		}
		row("Verification", "%s read-back%s against %s: %s", v.Scope, of, v.Expected.Name, strings.ToUpper(string(v.Result)))
		row("  coverage", "%.2f%% (%s read, page cache bypassed: %v)", v.Coverage, humanize.Bytes(v.Bytes), v.Direct)
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
	if w := p.Watch; w != nil {
		writeWatch(row, w)
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
	row("Ended", "%s (%s)", p.Ended.Format(time.RFC3339), roundDuration(p.Ended.Sub(p.Started)))
	row("Tool", "%s %s", p.Tool.Name, p.Tool.Version)
	opt("  boot image", p.Tool.ImageDigest)
	return tw.Flush()
}

// writeFirmware prints the record of a firmware erase: what was sent, what
// the drive reported, how completion was established, and the proof.
func writeFirmware(row func(k, format string, args ...any), f *cert.FirmwareRecord) {
	row("Firmware erase", "%s over %s", f.Operation, f.Interface)
	if len(f.Parameters) > 0 {
		row("  parameters", "%s", strings.Join(f.Parameters, ", "))
	}
	if f.FailureMode != "" {
		row("  failure mode", "%s", f.FailureMode)
	}
	row("  no-deallocate", "%v", f.NoDeallocate)
	timing := fmt.Sprintf("%s to %s (%s)", f.Started.Format(time.RFC3339), f.Ended.Format(time.RFC3339), f.Ended.Sub(f.Started).Round(time.Second))
	if f.EstimateSeconds > 0 {
		timing += fmt.Sprintf("; the drive estimated %s", time.Duration(f.EstimateSeconds*float64(time.Second)).Round(time.Second))
	}
	if f.TimeoutSeconds > 0 {
		timing += fmt.Sprintf("; lethe would have waited %s", time.Duration(f.TimeoutSeconds*float64(time.Second)).Round(time.Second))
	}
	row("  time", "%s", timing)
	for _, r := range f.Resumed {
		row("  resumed", "job %s started %s, stopped in phase %s", r.JobID, r.Started.Format(time.RFC3339), r.Phase)
	}
	if f.Unfreeze != "" {
		row("  unfreeze", "%s", f.Unfreeze)
	}
	for _, c := range f.Commands {
		line := c.Name
		if c.Params != "" {
			line += " [" + c.Params + "]"
		}
		row("  command", "%s %s: %s", c.At.Format("15:04:05.000"), line, c.Result)
	}
	row("  polls", "%d, in progress seen: %v", f.Polls, f.InProgressSeen)
	for _, o := range f.Observations {
		s := o.State
		if o.ProgressPct > 0 {
			s += fmt.Sprintf(" %.1f%%", o.ProgressPct)
		}
		if o.Detail != "" {
			s += " (" + o.Detail + ")"
		}
		row("  observed", "%s %s", o.At.Format("15:04:05.000"), s)
	}
	completion := f.Completion
	if completion == "" {
		completion = "not established"
	}
	row("  completion", "%s", completion)
	if pw := f.Password; pw != nil {
		row("  password", "temporary password set: %v, cleared: %v; %s", pw.Set, pw.Cleared, pw.Note)
	}
	if ev := f.Proof; ev != nil {
		row("  proof", "%s: %d canaries planted, %d survived; %d fingerprints (%d informative), %d unchanged, %d unexpected, %d unreadable; expected %s",
			strings.ToUpper(ev.Result), ev.CanariesPlanted, ev.CanariesSurvived, ev.FingerprintsTaken, ev.InformativeSamples,
			ev.UnchangedBlocks, ev.UnexpectedBlocks, ev.UnreadableBlocks, ev.Expect.Kind)
		row("  proof seed", "%s (%d-byte probes)", ev.Seed, ev.BlockBytes)
		for _, pr := range ev.Problems {
			row("  proof problem", "%s", pr)
		}
		dealloc := "reads came from the medium"
		if ev.Deallocated {
			dealloc = "reads came from deallocated blocks"
		}
		if ev.DeallocatedNote != "" {
			dealloc += ": " + ev.DeallocatedNote
		}
		row("  deallocation", "%s", dealloc)
	} else {
		row("  proof", "none")
	}
	for _, n := range f.Notes {
		row("  note", "%s", n)
	}
}

// writeWatch prints what lethe saw of other writers and of the device
// changing, and what it could not see.
func writeWatch(row func(k, format string, args ...any), w *cert.WatchRecord) {
	row("Device watch", "%s: writes by other programs and changes of the device, %s to %s", strings.ToUpper(w.Result),
		w.Started.Format(time.RFC3339), w.Ended.Format(time.RFC3339))
	row("  lethe wrote", "%d sectors of 512 bytes (%d submitted)", w.OwnSectorsWritten, w.OwnSectorsSubmitted)
	for _, c := range w.Counters {
		row("  counters", "%s (%s): %d sectors written, %d discarded; %d not lethe's", c.Source, c.Role,
			c.SectorsWrittenAfter-c.SectorsWrittenBefore, c.SectorsDiscardedAfter-c.SectorsDiscardedBefore, c.ForeignSectors)
	}
	if ct := w.ChangeTime; ct != nil {
		row("  change time", "%s: %s after the last write, %s after the last read", ct.File,
			ct.AfterLastWrite.Format(time.RFC3339Nano), ct.AfterLastRead.Format(time.RFC3339Nano))
	}
	row("  size", "%d bytes before, %d after", w.SizeBefore, w.SizeAfter)
	for _, pr := range w.Problems {
		row("  problem", "%s", pr)
	}
	for _, l := range w.Limits {
		row("  cannot see", "%s", l)
	}
}

// WriteStamped prints the summary with stamp ("UNVERIFIED", "INVALID") at
// the start of every line, for a certificate whose signature was not
// checked or did not verify: no line of it can be taken for a line of a
// valid certificate (values are escaped, so none spans two lines).
func WriteStamped(w io.Writer, st *cert.Statement, stamp string) error {
	var buf bytes.Buffer
	if err := WriteSummary(&buf, st); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(w, stamp+"  "+line); err != nil {
			return err
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// roundDuration keeps a short run from reading "0s": whole seconds from a
// minute up, hundredths below.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// PassState says in a few words how an overwrite pass ended: "complete",
// "aborted by the operator", "stopped: WHY" or "N failed LBA range(s)".
// The text summary and the PDF say it the same way.
func PassState(ps cert.PassReport) string {
	switch {
	case ps.Aborted:
		return "aborted by the operator"
	case ps.Stopped != "":
		return "stopped: " + ps.Stopped
	case len(ps.Failed) > 0:
		return fmt.Sprintf("%d failed LBA range(s)", len(ps.Failed))
	}
	return "complete"
}
