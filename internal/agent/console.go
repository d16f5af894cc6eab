package agent

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lethe-project/lethe/internal/agent/power"
)

// Console writes the screen to every console the kernel has (a VGA text
// console and a serial line usually both), directly rather than through
// init's copy of standard output, so that what the agent draws last is on
// the wire before it powers the machine off (see package power).
type Console struct {
	mu     sync.Mutex
	outs   []io.Writer
	files  []*os.File
	events []string
	// shown is the frame on the screen; nil after plain text scrolled it.
	shown   []string
	started time.Time
}

// maxEvents bounds the event history kept for the screen.
const maxEvents = 50

// OpenConsoles opens the kernel's consoles (/proc/consoles). If none can
// be opened (not running as the boot image's agent), it writes to w.
func OpenConsoles(w io.Writer) *Console {
	c := &Console{started: time.Now()}
	seen := map[string]bool{}
	for _, p := range power.Consoles() {
		if seen[p] {
			continue
		}
		seen[p] = true
		f, err := os.OpenFile(p, os.O_WRONLY|unix.O_NOCTTY, 0)
		if err != nil {
			continue
		}
		c.files = append(c.files, f)
		c.outs = append(c.outs, f)
	}
	if len(c.outs) == 0 {
		c.outs = []io.Writer{w}
	}
	return c
}

// NewConsole writes to the given writers (tests, or a terminal).
func NewConsole(ws ...io.Writer) *Console {
	return &Console{outs: ws, started: time.Now()}
}

// Draw shows lines (from Render). The first frame, and the first after
// plain text was printed, clears the screen and draws everything; after
// that only the lines that changed are rewritten, in place (cursor
// addressing), and an unchanged frame writes nothing: a serial console's
// log grows by what changed on the screen, not by a screenful per redraw.
func (c *Console) Draw(lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	if c.shown == nil {
		b.WriteString("\x1b[H\x1b[2J")
		for i, l := range lines {
			if i > 0 {
				b.WriteString("\r\n")
			}
			b.WriteString(l)
		}
		b.WriteString("\r\n")
	} else {
		for i, l := range lines {
			if i < len(c.shown) && c.shown[i] == l {
				continue
			}
			fmt.Fprintf(&b, "\x1b[%d;1H%s\x1b[K", i+1, l)
		}
		if len(lines) < len(c.shown) {
			fmt.Fprintf(&b, "\x1b[%d;1H\x1b[J", len(lines)+1)
		}
		if b.Len() == 0 {
			return
		}
		// Park the cursor below the screen, where a plain line would go.
		fmt.Fprintf(&b, "\x1b[%d;1H", len(lines)+1)
	}
	c.shown = append(c.shown[:0:0], lines...)
	c.write(b.String())
}

// Event records a line for the screen's event area and prints it at once
// as a plain line "lethe: ..." (the serial log keeps it; the next frame
// covers it on a VGA screen).
func (c *Console) Event(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	up := Uptime()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, fmt.Sprintf("%7.1fs %s", up, msg))
	if len(c.events) > maxEvents {
		c.events = c.events[len(c.events)-maxEvents:]
	}
	c.write("lethe: " + msg + "\r\n")
	c.shown = nil
}

// Events returns the recorded event lines, oldest first.
func (c *Console) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

// Print writes plain text (CR-LF line ends) without touching the screen
// state: the final report, certificates that could not be delivered.
func (c *Console) Print(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.write(strings.ReplaceAll(strings.TrimRight(text, "\n"), "\n", "\r\n") + "\r\n")
	c.shown = nil
}

func (c *Console) write(s string) {
	for _, w := range c.outs {
		_, _ = io.WriteString(w, s)
	}
}

// Close drains and closes the console devices.
func (c *Console) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.files {
		f.Close()
	}
	c.files, c.outs = nil, []io.Writer{io.Discard}
}

// Uptime is the seconds since the kernel started (/proc/uptime), the
// clock the boot benchmarks use; -1 if unknown.
func Uptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return -1
	}
	var up float64
	if _, err := fmt.Sscanf(string(b), "%f", &up); err != nil {
		return -1
	}
	return up
}
