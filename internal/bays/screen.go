package bays

import (
	"fmt"
	"strings"
	"time"

	"github.com/lethe-project/lethe/internal/progress"
	"github.com/lethe-project/lethe/internal/wipe"
)

// State is a slot's state column: what a technician walking past needs.
func State(s Slot, now time.Time) string {
	switch s.Phase {
	case Waiting:
		if s.Last != "" {
			return "empty - insert a drive (last: " + s.Last + ")"
		}
		return "empty - insert a drive"
	case Identifying:
		return "identifying..."
	case Kept:
		return "NOT TOUCHED: " + s.Note
	case Wiping:
		if s.Note != "" {
			return "PULLED, ending the wipe: " + s.Note
		}
		p := s.Progress
		el := now.Sub(s.Started)
		if p.Total <= 0 {
			return fmt.Sprintf("wiping: %s, %s elapsed", dash(s.Technique), progress.Clock(el))
		}
		phase := p.Phase
		if p.Phase == wipe.PhaseOverwrite {
			phase = fmt.Sprintf("overwrite %d/%d", p.Pass, p.Passes)
		}
		pct := 100 * float64(p.Done) / float64(p.Total)
		d := progress.Drive{Started: s.Started, OverallDone: p.OverallDone, OverallTotal: p.OverallTotal}
		if d.OverallTotal == 0 {
			d.OverallDone, d.OverallTotal = p.Done, p.Total
		}
		left := "--:--"
		if l, ok := d.Remaining(now); ok {
			left = progress.Clock(l)
		}
		speed := progress.Rate(p.Rate())
		if p.Phase != wipe.PhaseOverwrite && p.Phase != wipe.PhaseVerify {
			speed = "in drive"
		}
		return fmt.Sprintf("%s %.0f%% %s %s left", phase, min(pct, 99), speed, left)
	case Done:
		cert := "no certificate"
		if s.Cert != "" {
			cert = "certificate written"
			if s.Delivery != "" {
				cert = "certificate " + s.Delivery
			}
		}
		st := fmt.Sprintf("%s - REMOVE DRIVE (%s, %s)", s.Result, cert, progress.Clock(s.Ended.Sub(s.Started)))
		if s.Result != "ERASED" && s.Note != "" {
			st += ": " + s.Note
		}
		return st
	}
	return string(s.Phase)
}

// Render lays out the station screen in w columns and at most h lines:
// header lines, one row per slot (a state too long for its column goes
// on indented lines below, never cut), and the newest events.
func Render(header []string, slots []Slot, events []string, now time.Time, w, h int) []string {
	var out []string
	add := func(s string) { out = append(out, wrap(s, w, "    ")...) }
	for _, l := range header {
		add(l)
	}
	var erased, failed, wiping, waiting, kept int
	for _, s := range slots {
		switch {
		case s.Phase == Wiping || s.Phase == Identifying:
			wiping++
		case s.Phase == Done && s.Result == "ERASED":
			erased++
		case s.Phase == Done:
			failed++
		case s.Phase == Kept:
			kept++
		default:
			waiting++
		}
	}
	add(fmt.Sprintf("slots %d: %d wiping, %d erased (remove), %d failed (remove), %d empty, %d not touched", len(slots), wiping, erased, failed, waiting, kept))
	out = append(out, strings.Repeat("-", w))
	labelW, nameW, serialW := 4, 5, 6
	for _, s := range slots {
		labelW = max(labelW, min(len(s.Label), 16))
		nameW = max(nameW, min(len(s.Medium.Name), 10))
		serialW = max(serialW, min(len(s.Serial), 20))
	}
	row := func(label, name, serial, state string) []string {
		head := fmt.Sprintf("%-*s  %-*s  %-*s  ", labelW, cut(label, labelW), nameW, cut(name, nameW), serialW, cut(serial, serialW))
		room := w - len(head)
		if room < 20 {
			return wrap(head+state, w, "    ")
		}
		lines := wrap(state, room, "  ")
		out := []string{head + lines[0]}
		for _, l := range lines[1:] {
			out = append(out, strings.Repeat(" ", len(head))+l)
		}
		return out
	}
	out = append(out, row("SLOT", "DRIVE", "SERIAL", "STATE")...)
	for _, s := range slots {
		name, serial := s.Medium.Name, s.Serial
		if s.Phase == Waiting {
			name, serial = "-", "-"
		}
		out = append(out, row(s.Label, dash(name), dash(serial), State(s, now))...)
	}
	out = append(out, strings.Repeat("-", w))
	var ev []string
	for i := len(events) - 1; i >= 0; i-- {
		l := wrap(events[i], w, "    ")
		if len(out)+len(ev)+len(l) > h {
			break
		}
		ev = append(l, ev...)
	}
	out = append(out, ev...)
	if len(out) > h {
		out = out[:h]
	}
	return out
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "~"
}

// Wrap breaks s at spaces into lines of at most w columns, later lines
// indented: for log lines printed under the screen.
func Wrap(s string, w int) []string { return wrap(s, w, "    ") }

// wrap breaks s at spaces into lines of at most w columns; later lines
// start with indent; a word longer than a line is broken.
func wrap(s string, w int, indent string) []string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.TrimRight(s, " "))
	var out []string
	for len([]rune(s)) > w {
		r := []rune(s)
		at := strings.LastIndexByte(string(r[:w+1]), ' ')
		if at <= len(indent) {
			at = len(string(r[:w]))
		}
		out = append(out, strings.TrimRight(s[:at], " "))
		s = indent + strings.TrimLeft(s[at:], " ")
	}
	return append(out, s)
}
