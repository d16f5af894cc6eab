//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/lethe-project/lethe/internal/progress"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
)

// progressUI shows the progress of several drives at once: a bar per drive
// on a terminal, JSON (or text) log events otherwise. It follows a
// station.Run as its Observer.
type progressUI interface {
	station.Observer
	// finish marks one device done with its final status (for runs that
	// are not a station run: lethe verify).
	finish(device, status string)
	// Close waits for the display to settle.
	Close()
}

func newProgressUI(mode string) (progressUI, error) {
	switch mode {
	case "auto":
		if stderrIsTerminal() {
			return newBarUI(), nil
		}
		return &logUI{every: 5 * time.Second}, nil
	case "bar":
		return newBarUI(), nil
	case "log":
		return &logUI{every: 5 * time.Second}, nil
	case "none":
		return noUI{}, nil
	}
	return nil, usageErr("--progress %q: want auto, bar, log or none", mode)
}

type noUI struct{}

func (noUI) Progress(string) func(wipe.Progress) { return nil }
func (noUI) Finished(station.Result)             {}
func (noUI) finish(string, string)               {}
func (noUI) Close()                              {}

// logUI emits a structured progress event per drive every few seconds and
// at the end of each phase, for logs and machines.
type logUI struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
}

func (l *logUI) Progress(device string) func(wipe.Progress) {
	return func(p wipe.Progress) {
		l.mu.Lock()
		if l.last == nil {
			l.last = map[string]time.Time{}
		}
		due := p.Final || time.Since(l.last[device]) >= l.every
		if due {
			l.last[device] = time.Now()
		}
		l.mu.Unlock()
		if !due {
			return
		}
		pct := 0.0
		if p.Total > 0 {
			pct = 100 * float64(p.Done) / float64(p.Total)
		}
		logger.Info("progress",
			"event", "progress", "device", device, "phase", p.Phase, "pass", p.Pass, "passes", p.Passes,
			"done_bytes", p.Done, "total_bytes", p.Total, "percent", fmt.Sprintf("%.1f", pct),
			"rate_mb_s", fmt.Sprintf("%.1f", p.Rate()/1e6), "final", p.Final,
			"overall_done_bytes", p.OverallDone, "overall_total_bytes", p.OverallTotal)
	}
}

func (l *logUI) Finished(r station.Result) { l.finish(r.Drive.Device.Path, string(r.Status())) }

func (l *logUI) finish(device, status string) {
	logger.Info("drive finished", "event", "done", "device", device, "status", status)
}

func (l *logUI) Close() {}

// boardUI draws one line per drive (internal/progress): phase, bytes
// done of total, speed, elapsed and time left; a final line per drive with
// its average speed and duration. Log lines are printed above it.
type boardUI struct {
	board   *progress.Board
	term    *progress.Terminal
	prevLog io.Writer
}

func newBarUI() *boardUI {
	b := progress.NewBoard(nil)
	size := func() (int, int) {
		w, h, err := term.GetSize(int(os.Stderr.Fd()))
		if err != nil {
			return 80, 25
		}
		return w, h
	}
	u := &boardUI{board: b, term: progress.NewTerminal(os.Stderr, b, size)}
	// Log lines go above the drive lines instead of through them.
	u.prevLog = logOutput.Set(u.term)
	u.term.Start(250 * time.Millisecond)
	return u
}

// name is how the board shows a device: its kernel name (sdb, loop2),
// the path for an image file.
func boardName(device string) string { return strings.TrimPrefix(device, "/dev/") }

func (u *boardUI) Progress(device string) func(wipe.Progress) {
	u.board.Add(boardName(device), "starting")
	return func(p wipe.Progress) { u.board.Update(boardName(device), p) }
}

func (u *boardUI) Finished(r station.Result) {
	note := ""
	if r.Report != nil && r.Report.Status != wipe.StatusErased {
		note = r.Report.StatusReason
	} else if r.Report == nil && r.Err != nil {
		note = r.Err.Error()
	}
	u.board.Finish(boardName(r.Drive.Device.Path), string(r.Status()), note)
}

func (u *boardUI) finish(device, status string) { u.board.Finish(boardName(device), status, "") }

func (u *boardUI) Close() {
	u.term.Stop()
	logOutput.Set(u.prevLog)
}
