package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

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

// barUI draws one mpb progress bar per drive.
type barUI struct {
	p       *mpb.Progress
	prevLog io.Writer
	mu      sync.Mutex
	bars    map[string]*bar
}

type bar struct {
	b     *mpb.Bar
	mu    sync.Mutex
	phase string
	rate  float64
}

func newBarUI() *barUI {
	u := &barUI{p: mpb.New(mpb.WithOutput(os.Stderr), mpb.WithWidth(40), mpb.WithRefreshRate(250*time.Millisecond)), bars: map[string]*bar{}}
	// Log lines go above the bars instead of through them.
	u.prevLog = logOutput.Set(u.p)
	return u
}

func (u *barUI) Progress(device string) func(wipe.Progress) {
	br := &bar{phase: "starting"}
	// Total 0: the total is set from the first event, and completion is
	// triggered explicitly in Finish (mpb only allows both that way).
	br.b = u.p.AddBar(0,
		mpb.PrependDecorators(decor.Name(device, decor.WC{W: len(device) + 1, C: decor.DindentRight}),
			decor.Any(func(decor.Statistics) string {
				br.mu.Lock()
				defer br.mu.Unlock()
				return br.phase
			}, decor.WC{W: 22, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 6}),
			decor.Any(func(decor.Statistics) string {
				br.mu.Lock()
				defer br.mu.Unlock()
				return fmt.Sprintf(" %7.1f MB/s", br.rate/1e6)
			})),
	)
	u.mu.Lock()
	u.bars[device] = br
	u.mu.Unlock()
	return func(p wipe.Progress) {
		br.mu.Lock()
		br.phase = fmt.Sprintf("%s %d/%d", p.Phase, p.Pass, p.Passes)
		br.rate = p.Rate()
		br.mu.Unlock()
		if p.OverallTotal > 0 {
			br.b.SetTotal(p.OverallTotal, false)
			br.b.SetCurrent(p.OverallDone)
		}
	}
}

func (u *barUI) Finished(r station.Result) { u.finish(r.Drive.Device.Path, string(r.Status())) }

func (u *barUI) finish(device, status string) {
	u.mu.Lock()
	br := u.bars[device]
	u.mu.Unlock()
	if br == nil {
		return
	}
	br.mu.Lock()
	br.phase = status
	br.mu.Unlock()
	if status == string(wipe.StatusErased) || status == string(wipe.StatusPartial) {
		br.b.SetTotal(-1, true)
	} else {
		br.b.Abort(false)
	}
}

func (u *barUI) Close() {
	u.p.Wait()
	logOutput.Set(u.prevLog)
}
