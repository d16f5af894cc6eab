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

// Final is the end-of-run verdict: PASS only when every drive is erased
// AND its certificate delivered; HOLD when the drives are erased but
// certificates are not delivered (they exist only in RAM: do not power
// off, see the status lines); FAIL otherwise.
type Final struct {
	Pass bool
	// Undelivered marks a passing wipe whose certificates did not reach
	// the audit store: the banner says HOLD, not PASS.
	Undelivered bool
}

// Word is the banner's word.
func (f Final) Word() string {
	switch {
	case !f.Pass:
		return "FAIL"
	case f.Undelivered:
		return "HOLD"
	}
	return "PASS"
}

// Render lays the view out in at most w columns and h lines of plain
// ASCII. A value too long for its column is never cut where it matters:
// the drive's row marks it with '~' and a continuation line below the row
// gives the whole value; status and event lines wrap onto indented lines.
// When there are more drives than lines, finished and kept drives are
// summarized on one line and running or failed ones stay visible; the
// oldest events give way first.
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
		banner = BannerWord(v.Final.Word(), w)
	}
	var status []string
	for i, l := range v.Status {
		if i < 4 {
			status = append(status, wrap(l, w, "  ")...)
		}
	}
	if len(status) > 8 {
		status = status[:8]
	}
	// What stays below the table: a rule, the banner, the status lines and
	// at least one event line.
	below := 1 + len(banner) + len(status) + 1
	rows := h - len(out) - below
	if rows < 1 {
		rows = 1
	}
	for _, l := range driveRows(v.Drives, rows, w) {
		add(l)
	}
	add(rule)
	for _, l := range banner {
		add(l)
	}
	for _, l := range status {
		add(l)
	}
	// Events, newest last, each whole: fill the rest from the newest back.
	var ev []string
	for i := len(v.Events) - 1; i >= 0; i-- {
		lines := wrap(v.Events[i], w, "         ")
		if len(out)+len(ev)+len(lines) > h {
			break
		}
		ev = append(lines, ev...)
	}
	for _, l := range ev {
		add(l)
	}
	if len(out) > h {
		out = out[:h]
	}
	return out
}

// driveRows lays out the drives in at most rows lines.
func driveRows(ds []DriveView, rows, w int) []string {
	var all []string
	for _, d := range ds {
		all = append(all, driveLines(d, w)...)
	}
	if len(all) <= rows {
		return all
	}
	// Keep what needs attention: running drives, failures, unsent
	// certificates; summarize the rest.
	var out []string
	counts := map[string]int{}
	var order []string
	shown := 0
	for _, d := range ds {
		if lines := driveLines(d, w); needsAttention(d) && len(out)+len(lines) <= rows-1 {
			out = append(out, lines...)
			shown++
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
	var parts []string
	for _, r := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[r], r))
	}
	return append(out, fmt.Sprintf("... %d more drive(s): %s", len(ds)-shown, strings.Join(parts, ", ")))
}

func needsAttention(d DriveView) bool {
	switch d.Result {
	case "", "FAILED", "ABORTED", "PARTIAL", "REFUSED":
		return true
	}
	return d.Cert == "UNSENT" || d.Cert == "REJECT" || d.Cert == "NONE"
}

// driveLines is a drive's row, and continuation lines with every value the
// row had to shorten.
func driveLines(d DriveView, w int) []string {
	cert := d.Cert
	if cert == "" {
		cert = "-"
	}
	var full []string // values the row cut, in full
	c := func(s string, n int, label string) string {
		if utf8.RuneCountInString(s) > n {
			if label != "" {
				full = append(full, label+" "+s)
			} else {
				full = append(full, s)
			}
		}
		return cut(s, n)
	}
	result := d.Result
	var row string
	if d.Note != "" && (d.Result == "KEPT" || d.Result == "REFUSED" || d.Result == "SKIPPED") {
		row = fmt.Sprintf("%-8s %-20s %8s %-26s %-7s %s", c(d.Name, 8, "drive"), c(d.Serial, 20, "serial"), c(d.Size, 8, ""), c(d.Note, 26, ""), cut(result, 7), cert)
	} else {
		progress := ""
		switch {
		case d.Result != "":
			progress = "done"
			if d.Note != "" {
				progress = c(d.Note, 11, "")
			}
		case d.Phase != "":
			pct := int(d.Done * 100) // 99.9% is not done
			if pct > 100 {
				pct = 100
			}
			progress = fmt.Sprintf("%-6s %3d%%", c(d.Phase, 6, "phase"), pct)
		default:
			progress = "waiting"
		}
		row = fmt.Sprintf("%-8s %-20s %8s %-14s %-11s %-7s %s", c(d.Name, 8, "drive"), c(d.Serial, 20, "serial"), c(d.Size, 8, ""), c(d.Method, 14, "method"), progress, cut(result, 7), cert)
	}
	lines := []string{row}
	if len(full) > 0 {
		lines = append(lines, wrap(strings.Join(full, "; "), w, "         ")...)
		lines[1] = "         " + strings.TrimLeft(lines[1], " ")
	}
	return lines
}

// wrap breaks s into lines of at most w columns at spaces; lines after the
// first start with indent. A word longer than a line is broken.
func wrap(s string, w int, indent string) []string {
	s = strings.TrimRight(printable(s), " ")
	var out []string
	for len(s) > w {
		cutAt := strings.LastIndexByte(s[:w+1], ' ')
		if cutAt <= len(indent) || (len(out) > 0 && cutAt <= len(indent)) {
			cutAt = w
		}
		out = append(out, strings.TrimRight(s[:cutAt], " "))
		s = indent + strings.TrimLeft(s[cutAt:], " ")
	}
	return append(out, s)
}

// glyphs are 5x5 block letters for the verdict.
var glyphs = map[rune][5]string{
	'P': {"#### ", "#   #", "#### ", "#    ", "#    "},
	'A': {" ### ", "#   #", "#####", "#   #", "#   #"},
	'S': {" ####", "#    ", " ### ", "    #", "#### "},
	'F': {"#####", "#    ", "#### ", "#    ", "#    "},
	'I': {"#####", "  #  ", "  #  ", "  #  ", "#####"},
	'L': {"#    ", "#    ", "#    ", "#    ", "#####"},
	'H': {"#   #", "#   #", "#####", "#   #", "#   #"},
	'O': {" ### ", "#   #", "#   #", "#   #", " ### "},
	'D': {"#### ", "#   #", "#   #", "#   #", "#### "},
}

// Banner is the verdict in letters five lines high and two columns per
// pixel, centered in w columns: readable across a room.
func Banner(pass bool, w int) []string {
	word := "FAIL"
	if pass {
		word = "PASS"
	}
	return BannerWord(word, w)
}

// BannerWord is a four-letter word (PASS, FAIL, HOLD) in block letters.
func BannerWord(word string, w int) []string {
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
	return cut(strings.TrimRight(printable(s), " "), w)
}

// printable replaces everything but printable ASCII (a serial console
// and the VGA text mode show nothing else reliably; an escape sequence in
// a drive's model string must not move the cursor).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
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
