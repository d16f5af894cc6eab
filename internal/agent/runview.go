package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// The agent's console screen: what it shows, its progress callbacks, and
// the final report.

func (r *agentRun) event(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.log.Info(msg, "event", "agent")
	if r.o.Log != nil {
		r.o.Log.Info(msg, "event", "agent")
	}
	r.con.Event("%s", msg)
	r.draw()
}

func (r *agentRun) draw() {
	if r.quiet.Load() {
		return
	}
	r.mu.Lock()
	v := View{Header: r.headerLines(), Final: r.final, Events: r.con.Events()}
	for _, d := range r.drives {
		v.Drives = append(v.Drives, d.view)
	}
	v.Status = r.statusLines()
	r.mu.Unlock()
	r.con.Draw(Render(v, Width, Height))
}

func (r *agentRun) headerLines() []string {
	img := r.digest
	if img == "" {
		img = "none (not running from a lethe image)"
	} else {
		img = strings.TrimPrefix(img, "sha256:")[:16]
	}
	// Nothing in the frame ticks by itself (no uptime, no countdown): the
	// console redraws only what changed, so a serial log stays quiet
	// while the agent waits.
	lines := []string{fmt.Sprintf("lethe agent %s  image %s  started %s UTC", r.o.Version, img, r.start.UTC().Format("15:04:05"))}
	lines = append(lines, r.header...)
	return lines
}

func (r *agentRun) statusLines() []string {
	if r.status != nil {
		return r.status
	}
	var wiping, done, kept, failed int
	for _, d := range r.drives {
		switch d.view.Result {
		case "":
			if d.disk.Verdict == Wipe {
				wiping++
			}
		case "KEPT", "SKIPPED":
			kept++
		case string(wipe.StatusErased):
			done++
		default:
			failed++
		}
	}
	var out []string
	if len(r.drives) > 0 {
		out = append(out, fmt.Sprintf("drives: %d in progress, %d erased, %d failed or refused, %d kept", wiping, done, failed, kept))
	}
	if line := r.certLine(); line != "" {
		out = append(out, line)
	}
	if r.dlv != nil {
		st := r.dlv.Status()
		s := "audit " + r.cfg.Audit + ": "
		switch {
		case st.EnrollRefused != "":
			s += "ENROLLMENT REFUSED: " + st.EnrollRefused
		case st.LastError != "" && !st.NextTry.IsZero():
			s += fmt.Sprintf("next try %s UTC: %s", st.NextTry.UTC().Format("15:04:05"), st.LastError)
		case st.Enrolled:
			s += "key registered"
		default:
			s += "not reached yet"
		}
		out = append(out, s)
	}
	if r.net != "" {
		out = append(out, "network: "+r.net)
	}
	return out
}

// certLine counts certificates by state.
func (r *agentRun) certLine() string {
	signed, sent, unsent, rejected := 0, 0, 0, 0
	for _, d := range r.drives {
		switch d.view.Cert {
		case "":
		case "sent":
			signed++
			sent++
		case "REJECT":
			signed++
			rejected++
		case "NONE":
		default:
			signed++
			unsent++
		}
	}
	if signed == 0 {
		return ""
	}
	s := fmt.Sprintf("certificates: %d signed, %d received by the audit store", signed, sent)
	if unsent > 0 {
		s += fmt.Sprintf(", %d not yet", unsent)
	}
	if rejected > 0 {
		s += fmt.Sprintf(", %d REJECTED", rejected)
	}
	return s
}

// Progress implements station.Observer: the drive rows follow the wipe.
func (r *agentRun) Progress(device string) func(wipe.Progress) {
	return func(p wipe.Progress) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, d := range r.drives {
			if d.disk.Dev.Path != device {
				continue
			}
			d.view.Phase = "write"
			if p.Phase == wipe.PhaseVerify {
				d.view.Phase = "verify"
			}
			if p.Phase != wipe.PhaseOverwrite && p.Phase != wipe.PhaseVerify && p.Phase != "" {
				d.view.Phase = p.Phase
			}
			if p.OverallTotal > 0 {
				d.view.Done = float64(p.OverallDone) / float64(p.OverallTotal)
			} else if p.Total > 0 {
				d.view.Done = float64(p.Done) / float64(p.Total)
			}
		}
	}
}

func hostLine(h devices.HostIdentity) string {
	return fmt.Sprintf("%s %s serial %s uuid %s asset tag %s", dash(h.SystemVendor), dash(h.SystemProduct), dash(h.SystemSerial), dash(h.SystemUUID), dash(h.ChassisAssetTag))
}

func driveView(d Disk) DriveView {
	v := DriveView{Name: d.Dev.Name, Serial: d.Dev.Serial, Size: strings.ReplaceAll(devices.HumanBytes(d.Dev.SizeBytes), " ", "")}
	if v.Serial == "" {
		v.Serial = d.Dev.WWN
	}
	switch d.Verdict {
	case Boot:
		v.Result, v.Note = "KEPT", "boot medium"
	case Excluded:
		v.Result, v.Note = "KEPT", strings.TrimPrefix(d.Reason, "excluded by ")
	case Refused:
		v.Result, v.Note = "REFUSED", d.Reason
	case Skipped:
		v.Result, v.Note = "SKIPPED", d.Reason
	}
	return v
}

// shortTechnique names a plan's technique for the 14-column screen field.
func shortTechnique(p wipe.Plan) string {
	if p.Technique.ID == wipe.TechOverwrite {
		return "overwrite " + p.Method.Name
	}
	return strings.NewReplacer("sanitize", "san", "overwrite", "ovw", "security", "sec", "enhanced", "enh", "-erase", "").Replace(string(p.Technique.ID))
}

func (r *agentRun) verdictLines(pass bool, why string, unsent []*agentDrive, hopeless bool, end End) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var lines []string
	erased, kept := 0, 0
	for _, d := range r.drives {
		switch {
		case d.view.Result == string(wipe.StatusErased):
			erased++
		case d.view.Result == "KEPT":
			kept++
		}
	}
	spool := filepath.Join(r.o.Work, "spool")
	switch {
	case !pass:
		lines = append(lines, "FAIL: "+why)
	case len(unsent) > 0:
		lines = append(lines, fmt.Sprintf("HOLD: %d drive(s) ERASED and verified, but %d certificate(s) NOT DELIVERED", erased, len(unsent)))
	default:
		lines = append(lines, fmt.Sprintf("PASS: %d drive(s) ERASED and verified, every certificate received by the audit store; %d kept", erased, kept))
	}
	switch {
	case len(unsent) > 0 && end != EndShell:
		// lethe.wait allowed ending without delivery: say where the
		// certificates are, not "do not power off" before powering off.
		why := "no audit store configured (lethe.audit)"
		if r.dlv != nil {
			why = "not delivered within lethe.wait"
		}
		lines = append(lines, fmt.Sprintf("! %d certificate(s) %s: printed above on the console - keep the serial/BMC log, it is their only copy", len(unsent), why))
	case len(unsent) > 0 && r.dlv == nil:
		lines = append(lines, fmt.Sprintf("! no audit store configured (lethe.audit): the %d certificate(s) exist only in RAM and on this console (printed above). DO NOT POWER OFF: copy %s to a USB stick from the shell, or save the console log", len(unsent), r.o.Work))
	case len(unsent) > 0 && hopeless:
		st := r.dlv.Status()
		reason := st.EnrollRefused
		if reason == "" {
			reason = "the store rejected them"
		}
		lines = append(lines, fmt.Sprintf("! delivery cannot succeed (%s). DO NOT POWER OFF: the certificates are in RAM only (%s) and printed above; fix the store or token, then lethe audit flush --spool %s", reason, spool, spool))
	case len(unsent) > 0:
		lines = append(lines, fmt.Sprintf("! the audit store was not reached in time. DO NOT POWER OFF: certificates in RAM only (%s), printed above; lethe audit flush --spool %s delivers them", spool, spool))
	default:
		if l := r.certLine(); l != "" {
			lines = append(lines, l+" (receipts verified)")
		}
	}
	switch end {
	case EndShell:
		lines = append(lines, "staying on: the rescue shell follows (certificates in "+r.o.Work+")")
	default:
		lines = append(lines, "then: "+string(end))
	}
	return lines
}

// report prints the plain-text result for the serial log, and the
// certificates that were not delivered.
func (r *agentRun) report(pass bool, why string, unsent []*agentDrive, end End) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	verdict := Final{Pass: pass, Undelivered: len(unsent) > 0}.Word()
	fmt.Fprintf(&b, "==== lethe agent: %s ====\n", verdict)
	if why != "" {
		fmt.Fprintf(&b, "reason: %s\n", why)
	}
	counts := map[string]int{}
	for _, d := range r.drives {
		counts[d.view.Result]++
		fmt.Fprintf(&b, "%-8s %-20s %-9s %-16s certificate %s", d.view.Name, dash(d.view.Serial), dash(d.view.Result), dash(d.view.Method), dash(d.view.Cert))
		if d.view.Note != "" {
			fmt.Fprintf(&b, "  (%s)", d.view.Note)
		}
		b.WriteString("\n")
	}
	if len(unsent) > 0 {
		fmt.Fprintf(&b, "%d certificate(s) NOT DELIVERED to an audit store: each is printed below; keep this log, it may be their only copy\n", len(unsent))
	}
	for _, d := range unsent {
		data, err := os.ReadFile(d.res.CertPath)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "-----BEGIN LETHE CERTIFICATE %s %s-----\n%s-----END LETHE CERTIFICATE-----\n", d.view.Name, d.view.Serial, data)
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", strings.ToLower(dash(k)), counts[k]))
	}
	fmt.Fprintf(&b, "LETHE-AGENT-RESULT %s drives=%d %s unsent=%d end=%s\n", verdict, len(r.drives), strings.Join(parts, " "), len(unsent), end)
	r.con.Print(b.String())
}

// dash shows an empty value as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
