package wipe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Unfreezer brings a frozen ATA drive back to an unfrozen state. A BIOS
// sends SECURITY FREEZE LOCK (and sometimes SANITIZE FREEZE LOCK EXT) at
// boot; the freeze lasts until the drive loses power. A suspend to RAM cuts
// the drive's power and the resume path does not run the BIOS's freeze
// again, so the drive comes back unfrozen (hdparm's documented workaround).
type Unfreezer interface {
	SuspendResume(ctx context.Context) error
}

// UnfreezeFunc adapts a function (a simulator's SuspendResume in tests).
type UnfreezeFunc func(ctx context.Context) error

// SuspendResume calls f.
func (f UnfreezeFunc) SuspendResume(ctx context.Context) error { return f(ctx) }

// SystemSuspend suspends this machine to RAM and lets the RTC wake it up.
// It affects the whole machine: lethe only uses it with --allow-unfreeze.
type SystemSuspend struct {
	// Sysfs is the sysfs mount (default /sys).
	Sysfs string
	// RTC is the clock that wakes the machine (default rtc0).
	RTC string
	// WakeAfter is how long the machine sleeps (default 10 s).
	WakeAfter time.Duration
}

// SuspendResume arms the RTC wake alarm (sysfs wakealarm, "+N" seconds from
// now) and writes "mem" to /sys/power/state, which returns after resume.
func (s SystemSuspend) SuspendResume(ctx context.Context) error {
	sys := s.Sysfs
	if sys == "" {
		sys = "/sys"
	}
	rtc := s.RTC
	if rtc == "" {
		rtc = "rtc0"
	}
	wake := s.WakeAfter
	if wake <= 0 {
		wake = 10 * time.Second
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	state := filepath.Join(sys, "power", "state")
	states, err := os.ReadFile(state)
	if err != nil {
		return fmt.Errorf("suspend to RAM: %w", err)
	}
	if !strings.Contains(" "+strings.TrimSpace(string(states))+" ", " mem ") {
		return fmt.Errorf("suspend to RAM: this kernel offers %q in %s, not mem", strings.TrimSpace(string(states)), state)
	}
	alarm := filepath.Join(sys, "class", "rtc", rtc, "wakealarm")
	// Clear a pending alarm first: the kernel refuses to overwrite one.
	if err := os.WriteFile(alarm, []byte("0\n"), 0); err != nil {
		return fmt.Errorf("suspend to RAM: RTC wake alarm: %w", err)
	}
	if err := os.WriteFile(alarm, fmt.Appendf(nil, "+%d\n", int(wake.Seconds())), 0); err != nil {
		return fmt.Errorf("suspend to RAM: RTC wake alarm: %w", err)
	}
	// The write returns after the machine has resumed.
	if err := os.WriteFile(state, []byte("mem\n"), 0); err != nil {
		return fmt.Errorf("suspend to RAM: %w", err)
	}
	return nil
}
