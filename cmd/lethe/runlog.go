//go:build linux

package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
)

// RunLogName is the log file lethe wipe and lethe station keep beside the
// certificates: every event of every run, as JSON lines, appended.
const RunLogName = "lethe.log"

// teeHandler sends each record to several handlers, each with its own
// minimum level.
type teeHandler struct {
	hs   []slog.Handler
	mins []slog.Leveler
}

func (t *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for i, h := range t.hs {
		if l >= t.mins[i].Level() && h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (t *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for i, h := range t.hs {
		if r.Level >= t.mins[i].Level() && h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &teeHandler{mins: t.mins}
	for _, h := range t.hs {
		n.hs = append(n.hs, h.WithAttrs(as))
	}
	return n
}

func (t *teeHandler) WithGroup(g string) slog.Handler {
	n := &teeHandler{mins: t.mins}
	for _, h := range t.hs {
		n.hs = append(n.hs, h.WithGroup(g))
	}
	return n
}

// runLog is a run's logging: every record at info and above into
// DIR/lethe.log, and the console logger as before, raised to warnings and
// errors while a display (progress board, station screen) owns the
// terminal, so log lines never run through it.
type runLog struct {
	file    *os.File
	Path    string
	console *slog.LevelVar
	prev    *slog.Logger
}

// startRunLog replaces the command's logger for the run; Close restores it.
func startRunLog(dir string) (*runLog, error) {
	path, err := filepath.Abs(filepath.Join(dir, RunLogName))
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	rl := &runLog{file: f, Path: path, console: new(slog.LevelVar), prev: logger}
	rl.console.Set(logLevel.Level())
	fileLevel := new(slog.LevelVar)
	fileLevel.Set(min(logLevel.Level(), slog.LevelInfo))
	logger = slog.New(&teeHandler{
		hs:   []slog.Handler{slog.NewJSONHandler(f, &slog.HandlerOptions{Level: fileLevel}), rl.prev.Handler()},
		mins: []slog.Leveler{fileLevel, rl.console},
	})
	return rl, nil
}

// Quiet limits the console to warnings and errors (a display is drawn).
func (rl *runLog) Quiet() { rl.console.Set(max(logLevel.Level(), slog.LevelWarn)) }

// Close restores the logger and closes the file.
func (rl *runLog) Close() error {
	logger = rl.prev
	return rl.file.Close()
}
