package kmod

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Settle waits until the disks that freshly loaded drivers probe have
// appeared. There is no udev in the boot image to say when probing is
// done, and probing outlives finit_module: NVMe scans namespaces from a
// workqueue after the controller goes live, and sd attaches asynchronously.
// Settle returns once every NVMe controller in sysRoot/class/nvme is live
// and the list of sysRoot/block has not changed for quiet, or fails when ctx
// ends first. sysRoot is normally "/sys".
func Settle(ctx context.Context, sysRoot string, quiet time.Duration) ([]string, error) {
	const poll = 50 * time.Millisecond
	var last []string
	stableSince := time.Now()
	for {
		cur, err := listDir(filepath.Join(sysRoot, "block"))
		if err != nil {
			return nil, err
		}
		if !slices.Equal(cur, last) {
			last = cur
			stableSince = time.Now()
		}
		busy := nvmeBusy(sysRoot)
		if busy == "" && time.Since(stableSince) >= quiet {
			return cur, nil
		}
		select {
		case <-ctx.Done():
			if busy != "" {
				return cur, fmt.Errorf("devices did not settle: %s: %w", busy, ctx.Err())
			}
			return cur, fmt.Errorf("devices did not settle: block devices still changing: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

func listDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("settle: %w", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, nil // os.ReadDir sorts by name
}

// nvmeBusy names an NVMe controller that is still coming up ("new",
// "resetting", "connecting"), or returns "". Controllers that are "dead"
// or "deleting" will not bring disks and do not hold Settle up.
func nvmeBusy(sysRoot string) string {
	ents, err := os.ReadDir(filepath.Join(sysRoot, "class", "nvme"))
	if err != nil {
		return ""
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(sysRoot, "class", "nvme", e.Name(), "state"))
		if err != nil {
			continue
		}
		switch st := strings.TrimSpace(string(b)); st {
		case "new", "resetting", "connecting":
			return e.Name() + " is " + st
		}
	}
	return ""
}
