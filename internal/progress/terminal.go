package progress

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Terminal draws a Board in place at the bottom of a terminal and prints
// log lines above it, so the two never interleave.
type Terminal struct {
	mu    sync.Mutex
	w     io.Writer
	board *Board
	size  func() (w, h int)
	drawn int // lines of the board on the screen now
	stop  chan struct{}
	done  chan struct{}
	buf   bytes.Buffer // a partial log line
}

// NewTerminal draws board on w; size reports the terminal's columns and
// rows (called on every frame, so a resized window is followed).
func NewTerminal(w io.Writer, board *Board, size func() (int, int)) *Terminal {
	return &Terminal{w: w, board: board, size: size}
}

// Start redraws every interval until Stop.
func (t *Terminal) Start(interval time.Duration) {
	t.stop, t.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(t.done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			t.Draw()
			select {
			case <-tk.C:
			case <-t.stop:
				return
			}
		}
	}()
}

// Stop draws the last frame, which stays on the screen, and stops.
func (t *Terminal) Stop() {
	if t.stop != nil {
		close(t.stop)
		<-t.done
		t.stop = nil
	}
	t.Draw()
	t.mu.Lock()
	t.drawn = 0 // the last frame is now ordinary output
	t.mu.Unlock()
}

func (t *Terminal) dims() (int, int) {
	w, h := 80, 25
	if t.size != nil {
		if cw, ch := t.size(); cw > 0 && ch > 0 {
			w, h = cw, ch
		}
	}
	return w, h
}

// frame is the board fitted to the terminal: one column is left free (a
// line of exactly the terminal's width wraps on some terminals), and with
// more drives than rows the finished ones are counted on one line.
func (t *Terminal) frame() []string {
	w, h := t.dims()
	lines := t.board.Render(w - 1)
	rows := h - 2
	if len(lines) <= rows || rows < 2 {
		return lines
	}
	// Keep what needs looking at (running, failed); count the erased.
	var keep []string
	for i, d := range t.board.Drives() {
		if d.Status != "ERASED" {
			keep = append(keep, lines[i])
		}
	}
	if len(keep) > rows-1 {
		keep = keep[:rows-1]
	}
	return append(keep, fmt.Sprintf("... and %d more drive(s) ERASED", len(lines)-len(keep)))
}

// erase moves the cursor to the board's first line and clears to the end
// of the screen. Call with mu held.
func (t *Terminal) erase(b *strings.Builder) {
	if t.drawn > 0 {
		fmt.Fprintf(b, "\r\x1b[%dA", t.drawn)
	}
	b.WriteString("\r\x1b[J")
}

// Draw redraws the board.
func (t *Terminal) Draw() {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	t.erase(&b)
	lines := t.frame()
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\n")
	}
	t.drawn = len(lines)
	io.WriteString(t.w, b.String())
}

// Println prints a log line above the board.
func (t *Terminal) Println(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	t.erase(&b)
	w, _ := t.dims()
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		for len([]rune(l)) > w-1 {
			r := []rune(l)
			b.WriteString(string(r[:w-1]) + "\n")
			l = "  " + string(r[w-1:])
		}
		b.WriteString(l + "\n")
	}
	lines := t.frame()
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	t.drawn = len(lines)
	io.WriteString(t.w, b.String())
}

// Write makes the terminal an io.Writer for a logger: each complete line
// is printed above the board.
func (t *Terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf.Write(p)
	var lines []string
	for {
		i := bytes.IndexByte(t.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(t.buf.Next(i+1)))
	}
	t.mu.Unlock()
	for _, l := range lines {
		t.Println(l)
	}
	return len(p), nil
}
