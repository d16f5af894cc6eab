package agent

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Screen geometry: the agent draws for the smallest console a server has,
// the 80x25 VGA text mode (and a serial console of that size).
const (
	Width  = 80
	Height = 25
)

// View is everything the console screen shows.
type View struct {
	// Header is up to three lines of context: tool and image, host
	// identity, job and policy.
	Header []string
	Drives []DriveView
	// Status lines go under the table: certificates, audit store,
	// network. Loud ones (unsent certificates) start with "!".
	Status []string
	// Final is set once every drive is done: the large PASS/FAIL.
	Final *Final
	// Events are recent log lines, oldest first.
	Events []string
}

// DriveView is one row of the drive table.
type DriveView struct {
	Name   string
	Serial string
	Size   string
	// Method is a short technique name ("overwrite", "nvme-crypto").
	Method string
	// Phase and Done show progress while the drive is being wiped
	// ("write", "verify"; Done in [0,1]).
	Phase string
	Done  float64
	// Result is ERASED, FAILED, ABORTED, PARTIAL, or KEPT, REFUSED,
	// SKIPPED for drives that are not wiped, or "" while running.
	Result string
	// Note explains a drive that is not wiped (it replaces method and
	// progress), or a failure.
	Note string
	// Cert is the certificate's state: "", "signed", "sent", "UNSENT",
	// "REJECT" (rejected by the store), "NONE" (could not be written).
	Cert string
}

// Final is the end-of-run verdict.
type Final struct {
	Pass bool
}

// Render lays the view out in at most w columns and h lines of plain
// ASCII. Long values are cut, never wrapped, so the layout holds on any
// console; when there are more drives than rows, finished and kept drives
// are summarized on one line and running or failed ones stay visible.
func Render(v View, w, h int) []string {
	var out []string
	add := func(s string) { out = append(out, fit(s, w)) }
	rule := strings.Repeat("-", w)
	for i, l := range v.Header {
		if i < 3 {
			add(l)
		}
	}
	add(rule)
	add(fmt.Sprintf("%-8s %-20s %8s %-14s %-11s %-7s %s", "DRIVE", "SERIAL", "SIZE", "METHOD", "PROGRESS", "RESULT", "CERT"))
	var banner []string
	if v.Final != nil {
		banner = Banner(v.Final.Pass, w)
	}
	status := v.Status
	if len(status) > 4 {
		status = status[:4]
	}
	// What stays below the table: a rule, the banner, the status lines and
	// at least one event line.
	below := 1 + len(banner) + len(status) + 1
	rows := h - len(out) - below
	if rows < 1 {
		rows = 1
	}
	for _, l := range driveRows(v.Drives, rows) {
		add(l)
	}
	add(rule)
	for _, l := range banner {
		add(l)
	}
	for _, l := range status {
		add(l)
	}
	ev := h - len(out)
	if ev > len(v.Events) {
		ev = len(v.Events)
	}
	for _, e := range v.Events[len(v.Events)-ev:] {
		add(e)
	}
	if len(out) > h {
		out = out[:h]
	}
	return out
}

func driveRows(ds []DriveView, rows int) []string {
	if len(ds) <= rows {
		out := make([]string, len(ds))
		for i, d := range ds {
			out[i] = driveRow(d)
		}
		return out
	}
	// Keep what needs attention: running drives, failures, unsent
	// certificates; summarize the rest.
	var shown []DriveView
	counts := map[string]int{}
	var order []string
	for _, d := range ds {
		if len(shown) < rows-1 && needsAttention(d) {
			shown = append(shown, d)
			continue
		}
		r := d.Result
		if r == "" {
			r = "RUNNING"
		}
		if counts[r] == 0 {
			order = append(order, r)
		}
		counts[r]++
	}
	out := make([]string, 0, rows)
	for _, d := range shown {
		out = append(out, driveRow(d))
	}
	var parts []string
	for _, r := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[r], r))
	}
	out = append(out, fmt.Sprintf("... %d more drive(s): %s", len(ds)-len(shown), strings.Join(parts, ", ")))
	return out
}

func needsAttention(d DriveView) bool {
	switch d.Result {
	case "", "FAILED", "ABORTED", "PARTIAL", "REFUSED":
		return true
	}
	return d.Cert == "UNSENT" || d.Cert == "REJECT" || d.Cert == "NONE"
}

func driveRow(d DriveView) string {
	cert := d.Cert
	if cert == "" {
		cert = "-"
	}
	result := d.Result
	if d.Note != "" && (d.Result == "KEPT" || d.Result == "REFUSED" || d.Result == "SKIPPED") {
		return fmt.Sprintf("%-8s %-20s %8s %-26s %-7s %s", cut(d.Name, 8), cut(d.Serial, 20), cut(d.Size, 8), cut(d.Note, 26), cut(result, 7), cert)
	}
	progress := ""
	switch {
	case d.Result != "":
		progress = "done"
		if d.Note != "" {
			progress = d.Note
		}
	case d.Phase != "":
		pct := int(d.Done * 100) // 99.9% is not done
		if pct > 100 {
			pct = 100
		}
		progress = fmt.Sprintf("%-6s %3d%%", cut(d.Phase, 6), pct)
	default:
		progress = "waiting"
	}
	return fmt.Sprintf("%-8s %-20s %8s %-14s %-11s %-7s %s", cut(d.Name, 8), cut(d.Serial, 20), cut(d.Size, 8), cut(d.Method, 14), cut(progress, 11), cut(result, 7), cert)
}

// glyphs are 5x5 block letters for the verdict.
var glyphs = map[rune][5]string{
	'P': {"#### ", "#   #", "#### ", "#    ", "#    "},
	'A': {" ### ", "#   #", "#####", "#   #", "#   #"},
	'S': {" ####", "#    ", " ### ", "    #", "#### "},
	'F': {"#####", "#    ", "#### ", "#    ", "#    "},
	'I': {"#####", "  #  ", "  #  ", "  #  ", "#####"},
	'L': {"#    ", "#    ", "#    ", "#    ", "#####"},
}

// Banner is the verdict in letters five lines high and two columns per
// pixel, centered in w columns: readable across a room.
func Banner(pass bool, w int) []string {
	word := "FAIL"
	if pass {
		word = "PASS"
	}
	lines := make([]string, 5)
	for row := range 5 {
		var b strings.Builder
		for i, r := range word {
			if i > 0 {
				b.WriteString("    ")
			}
			for _, c := range glyphs[r][row] {
				if c == '#' {
					b.WriteString("##")
				} else {
					b.WriteString("  ")
				}
			}
		}
		s := strings.TrimRight(b.String(), " ")
		pad := (w - len(word)*10 - (len(word)-1)*4) / 2
		if pad < 0 {
			pad = 0
		}
		lines[row] = strings.Repeat(" ", pad) + s
	}
	return lines
}

// fit makes s plain printable ASCII no wider than w.
func fit(s string, w int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	return cut(strings.TrimRight(s, " "), w)
}

// cut shortens s to n characters, marking the cut with '~'.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:n])
	}
	return string([]rune(s)[:n-1]) + "~"
}
