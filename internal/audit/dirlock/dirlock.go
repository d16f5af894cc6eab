// Package dirlock gives one process at a time a directory: an advisory
// lock on a file in it (flock on Unix, LockFileEx on Windows), which the
// kernel drops when the process dies, so a crash never leaves it locked.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Lock is a process's exclusive hold on a directory.
type Lock struct {
	f *os.File
}

// ErrInUse is returned when another process holds the lock.
var ErrInUse = errors.New("directory is in use by another lethe audit process")

// Acquire takes the lock file name in dir, or fails at once with ErrInUse
// saying which process holds it; hint tells the user what to do.
func Acquire(dir, name, hint string) (*Lock, error) {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := tryLock(f); err != nil {
		holder, _ := os.ReadFile(p)
		f.Close()
		msg := strings.TrimSpace(string(holder))
		if msg == "" {
			msg = "unknown process"
		}
		return nil, fmt.Errorf("%w: %s is held by %s (%s)", ErrInUse, dir, msg, hint)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)
	return &Lock{f: f}, nil
}

// Release gives the directory up (a nil Lock is fine).
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = unlock(l.f)
	l.f.Close()
	l.f = nil
}
