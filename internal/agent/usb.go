package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SettleUSB waits for USB storage, which appears long after its drivers
// load: the host controller enumerates the bus, usb-storage binds (after
// its delay_use), and the SCSI layer scans the device. The boot medium is
// often a USB stick, and the agent must see it before it decides what to
// wipe. SettleUSB returns once the list of USB devices has not changed for
// quiet and every mass-storage interface (USB class 08) has a disk, or
// fails when ctx ends, naming the interfaces without one. A machine
// without USB host controllers returns at once. sysRoot is normally "/sys".
func SettleUSB(ctx context.Context, sysRoot string, quiet time.Duration) error {
	dir := filepath.Join(sysRoot, "bus", "usb", "devices")
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	var last []string
	stable := time.Now()
	for {
		cur, _ := os.ReadDir(dir)
		var names []string
		for _, e := range cur {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, last) {
			last, stable = names, time.Now()
		}
		waiting := storageWithoutDisk(dir, names)
		if len(waiting) == 0 && time.Since(stable) >= quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			if len(waiting) > 0 {
				return fmt.Errorf("USB storage without a disk yet: %s", strings.Join(waiting, ", "))
			}
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// storageWithoutDisk lists mass-storage interfaces that have no block
// device below them yet.
func storageWithoutDisk(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		if !strings.Contains(n, ":") {
			continue // a device, not an interface
		}
		b, err := os.ReadFile(filepath.Join(dir, n, "bInterfaceClass"))
		if err != nil || strings.TrimSpace(string(b)) != "08" {
			continue
		}
		disks, _ := filepath.Glob(filepath.Join(dir, n, "host*", "target*", "*", "block", "*"))
		if len(disks) == 0 {
			out = append(out, n)
		}
	}
	return out
}
