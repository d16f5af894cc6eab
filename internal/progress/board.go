// Package progress shows several drives being wiped at once on a
// terminal: one line per drive that answers "how long" (phase, bytes done
// of total, speed, elapsed, time left), a final line per drive with its
// average speed, duration and status, and log lines printed above the
// drive lines rather than through them. It draws in place with plain ANSI
// cursor movement and never writes a line wider than the terminal.
package progress

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lethe-project/lethe/internal/wipe"
)

// Drive is what the board knows about one drive.
type Drive struct {
	Name string
	// Phase is what runs now: "probe", "overwrite", "verify", or a
	// firmware operation; Pass/Passes number overwrite passes.
	Phase        string
	Pass, Passes int
	// Done and Total are the bytes of the current phase; OverallDone and
	// OverallTotal span every phase of the drive's job.
	Done, Total               int64
	OverallDone, OverallTotal int64
	// Rate is the current phase's average speed in bytes per second.
	Rate float64
	// Size is the drive's size (the largest phase total seen: one pass).
	Size int64
	// Firmware is set while the drive itself erases (sanitize, format):
	// Done/Total then is the drive's own progress.
	Firmware bool
	Started  time.Time
	// phaseStarted and the overall bytes at that time give the remaining
	// time from the speed actually seen.
	Ended  time.Time
	Status string // "" while running; ERASED, FAILED, ABORTED, PARTIAL
	Note   string // a short reason shown with the final line
}

// Elapsed is the time since the drive started (until it ended).
func (d *Drive) Elapsed(now time.Time) time.Duration {
	if d.Started.IsZero() {
		return 0
	}
	if !d.Ended.IsZero() {
		now = d.Ended
	}
	return now.Sub(d.Started)
}

// Remaining estimates the time left: the bytes left in every phase at the
// speed seen so far over the whole job (a firmware erase: from the drive's
// own progress). ok is false until there is something to estimate from.
func (d *Drive) Remaining(now time.Time) (left time.Duration, ok bool) {
	el := d.Elapsed(now)
	if d.Status != "" || el <= 0 {
		return 0, false
	}
	if d.OverallTotal <= 0 || d.OverallDone <= 0 {
		return 0, false
	}
	frac := float64(d.OverallDone) / float64(d.OverallTotal)
	if frac >= 1 {
		return 0, true
	}
	// Wait for 1% or three seconds of data: the first second of a wipe
	// says little about the hours after it.
	if frac < 0.01 && el < 3*time.Second {
		return 0, false
	}
	return time.Duration(float64(el) * (1 - frac) / frac), true
}

// AverageRate is the bytes of every phase per second of the whole job.
func (d *Drive) AverageRate(now time.Time) float64 {
	el := d.Elapsed(now).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(d.OverallDone) / el
}

// Board holds the drives in the order they were added.
type Board struct {
	mu     sync.Mutex
	drives []*Drive
	byName map[string]*Drive
	now    func() time.Time
}

// NewBoard returns an empty board; now is the clock (nil: time.Now).
func NewBoard(now func() time.Time) *Board {
	if now == nil {
		now = time.Now
	}
	return &Board{byName: map[string]*Drive{}, now: now}
}

func (b *Board) drive(name string) *Drive {
	d := b.byName[name]
	if d == nil {
		d = &Drive{Name: name, Phase: "waiting"}
		b.byName[name] = d
		b.drives = append(b.drives, d)
	}
	return d
}

// Add puts a drive on the board in its starting phase ("probe").
func (b *Board) Add(name, phase string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.drive(name)
	d.Phase = phase
	if d.Started.IsZero() {
		d.Started = b.now()
	}
}

// Update records a progress snapshot from the wipe engine.
func (b *Board) Update(name string, p wipe.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.drive(name)
	if d.Started.IsZero() {
		d.Started = b.now().Add(-p.Took)
	}
	d.Phase, d.Pass, d.Passes = p.Phase, p.Pass, p.Passes
	d.Done, d.Total, d.Rate = p.Done, p.Total, p.Rate()
	d.Size = max(d.Size, p.Total)
	d.Firmware = p.Phase != wipe.PhaseOverwrite && p.Phase != wipe.PhaseVerify
	if p.OverallTotal > 0 {
		d.OverallDone, d.OverallTotal = p.OverallDone, p.OverallTotal
	} else {
		d.OverallDone, d.OverallTotal = p.Done, p.Total
	}
}

// Finish ends a drive with its status and a short note.
func (b *Board) Finish(name, status, note string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.drive(name)
	d.Status, d.Note, d.Ended = status, note, b.now()
	if d.Started.IsZero() {
		d.Started = d.Ended
	}
}

// Drives returns a copy of every drive.
func (b *Board) Drives() []Drive {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Drive, len(b.drives))
	for i, d := range b.drives {
		out[i] = *d
	}
	return out
}

// Render lays the board out: one line per drive, none wider than width.
func (b *Board) Render(width int) []string {
	now := b.now()
	ds := b.Drives()
	nameW := 4
	for _, d := range ds {
		nameW = max(nameW, min(utf8.RuneCountInString(d.Name), 14))
	}
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, Line(&d, now, nameW, width))
	}
	return out
}

// Line is one drive's line: while running
//
//	loop2   overwrite 1/1   41%  26.2/64.0 MiB  245 MB/s  0:12 elapsed  0:17 left
//
// and when done
//
//	loop2   ERASED  64.0 MiB in 0:29, average 221 MB/s
//
// On a narrow terminal the least important fields go first (the bar, then
// the byte counts); the phase, percentage and time left stay.
func Line(d *Drive, now time.Time, nameW, width int) string {
	name := padCut(d.Name, nameW)
	if d.Status != "" {
		s := fmt.Sprintf("%s  %-7s %s in %s (%s moved, %s average)", name, d.Status, size(d.Size), clock(d.Elapsed(now)), size(d.OverallDone), rate(d.AverageRate(now)))
		if d.Note != "" {
			s += ": " + d.Note
		}
		return cutTo(s, width)
	}
	phase := d.Phase
	if d.Passes > 1 || (d.Phase == wipe.PhaseOverwrite && d.Passes > 0) {
		phase = fmt.Sprintf("%s %d/%d", d.Phase, d.Pass, d.Passes)
	}
	if d.Total <= 0 {
		return cutTo(fmt.Sprintf("%s  %-15s %s elapsed", name, phase, clock(d.Elapsed(now))), width)
	}
	pct := 100 * float64(d.Done) / float64(d.Total)
	if pct > 99.9 && d.Done < d.Total {
		pct = 99.9 // never show 100 % before the end
	}
	left := "--:-- left"
	if l, ok := d.Remaining(now); ok {
		left = clock(l) + " left"
	}
	speed := rate(d.Rate)
	bytes := fmt.Sprintf("%s/%s", sizeNum(d.Done, d.Total), size(d.Total))
	if d.Firmware {
		speed = "in drive"
		bytes = "drive reports"
	}
	fields := []string{name, fmt.Sprintf("%-15s", phase), fmt.Sprintf("%5.1f%%", pct), bytes, speed, clock(d.Elapsed(now)) + " elapsed", left}
	line := join(fields)
	// A bar where there is room for a useful one (120 columns and up).
	if room := width - utf8.RuneCountInString(line) - 2; room >= 22 {
		barW := min(room, 40) - 2
		fill := int(float64(barW) * pct / 100)
		bar := "[" + strings.Repeat("=", fill) + strings.Repeat(" ", barW-fill) + "]"
		fields = append(fields[:3], append([]string{bar}, fields[3:]...)...)
		return join(fields)
	}
	for _, drop := range []int{3, 5} { // the byte counts, then "elapsed"
		if utf8.RuneCountInString(line) <= width {
			break
		}
		fields[drop] = ""
		line = join(nonEmpty(fields))
	}
	return cutTo(line, width)
}

// join puts two spaces after the name and one between the figures.
func join(fields []string) string {
	return fields[0] + "  " + strings.Join(fields[1:], " ")
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Clock formats a duration as M:SS or H:MM:SS.
func Clock(d time.Duration) string { return clock(d) }

// Rate formats a speed in bytes per second (MB/s, GB/s).
func Rate(bps float64) string { return rate(bps) }

// clock formats a duration as M:SS or H:MM:SS.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// rate formats bytes per second in decimal megabytes, as drive datasheets do.
func rate(bps float64) string {
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.2f GB/s", bps/1e9)
	case bps >= 100e6:
		return fmt.Sprintf("%.0f MB/s", bps/1e6)
	}
	return fmt.Sprintf("%.1f MB/s", bps/1e6)
}

var units = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}

func unitOf(n int64) (float64, int) {
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	return f, u
}

func size(n int64) string {
	f, u := unitOf(n)
	if u == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}

// sizeNum is n in the unit of total, without the unit ("26.2" of "64.0 MiB").
func sizeNum(n, total int64) string {
	_, u := unitOf(total)
	f := float64(n)
	for range u {
		f /= 1024
	}
	if u == 0 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%.1f", f)
}

func padCut(s string, n int) string {
	s = cutTo(s, n)
	return s + strings.Repeat(" ", n-utf8.RuneCountInString(s))
}

// cutTo shortens s to n columns, marking the cut with '~'.
func cutTo(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n <= 1 {
		return string(r[:max(n, 0)])
	}
	return string(r[:n-1]) + "~"
}
