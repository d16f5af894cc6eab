package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/wipe"
)

type clockT struct{ t time.Time }

func (c *clockT) now() time.Time { return c.t }

func TestLines(t *testing.T) {
	c := &clockT{time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	b := NewBoard(c.now)
	b.Add("loop2", "probe")
	b.Add("nvme10n1", "probe")
	b.Add("sdb", "probe")
	c.t = c.t.Add(20 * time.Second)
	// Half of the overwrite of 64 MiB done in 20 s, verify still to come.
	b.Update("loop2", wipe.Progress{Phase: wipe.PhaseOverwrite, Pass: 1, Passes: 1, Done: 32 << 20, Total: 64 << 20, Took: 20 * time.Second, OverallDone: 32 << 20, OverallTotal: 128 << 20})
	b.Update("nvme10n1", wipe.Progress{Phase: "nvme-sanitize-crypto", Pass: 1, Passes: 1, Done: 1 << 40, Total: 4 << 40, Took: 20 * time.Second, OverallDone: 1 << 40, OverallTotal: 4 << 40})
	b.Finish("sdb", "ERASED", "")
	for _, width := range []int{79, 119} {
		lines := b.Render(width)
		for _, l := range lines {
			if len([]rune(l)) > width {
				t.Errorf("%d columns: %d wide: %q", width, len(l), l)
			}
		}
		all := strings.Join(lines, "\n")
		for _, want := range []string{"overwrite 1/1", "25.0%", "0:20 elapsed", "1:00 left", "nvme-sanitize-crypto", "in drive", "ERASED"} {
			if !strings.Contains(all, want) {
				t.Errorf("%d columns lack %q:\n%s", width, want, all)
			}
		}
		if width >= 119 && (!strings.Contains(all, "[====") || !strings.Contains(all, "32.0/64.0 MiB") || !strings.Contains(all, "1.7 MB/s")) {
			t.Errorf("120 columns: no bar, bytes or speed:\n%s", all)
		}
	}
	// Finishing shows the average speed and duration.
	c.t = c.t.Add(40 * time.Second)
	b.Update("loop2", wipe.Progress{Phase: wipe.PhaseVerify, Pass: 1, Passes: 1, Done: 64 << 20, Total: 64 << 20, Took: 20 * time.Second, Final: true, OverallDone: 128 << 20, OverallTotal: 128 << 20})
	b.Finish("loop2", "ERASED", "")
	got := b.Render(79)[0]
	if !strings.Contains(got, "ERASED  64.0 MiB in 1:00 (128.0 MiB moved, 2.2 MB/s average)") {
		t.Errorf("final line %q", got)
	}
}

func TestRemainingWaitsForData(t *testing.T) {
	c := &clockT{time.Unix(1000, 0)}
	d := &Drive{Started: c.t, OverallTotal: 1 << 40, OverallDone: 1 << 20}
	if _, ok := d.Remaining(c.t.Add(time.Second)); ok {
		t.Error("an estimate after 1 s and 0.0001%")
	}
	if l, ok := d.Remaining(c.t.Add(10 * time.Second)); !ok || l < 100*time.Hour {
		t.Errorf("estimate %v %v", l, ok)
	}
}

func TestTerminalKeepsLogAbove(t *testing.T) {
	c := &clockT{time.Unix(1000, 0)}
	b := NewBoard(c.now)
	b.Add("loop0", "probe")
	var out bytes.Buffer
	term := NewTerminal(&out, b, func() (int, int) { return 80, 25 })
	term.Draw()
	term.Println("lethe: a warning that is rather long " + strings.Repeat("x", 100))
	term.Draw()
	s := out.String()
	// After the first frame, every redraw first moves up over the board.
	if strings.Count(s, "\x1b[1A") != 2 {
		t.Errorf("redraws %q", s)
	}
	for _, l := range strings.Split(s, "\n") {
		if i := strings.LastIndex(l, "\x1b[J"); i >= 0 {
			l = l[i+3:]
		}
		if len(l) > 79 {
			t.Errorf("line of %d: %q", len(l), l)
		}
	}
}
