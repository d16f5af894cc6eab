package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// selection is the operator's choice of drives.
type selection struct {
	args     []string
	all      bool
	excludes []string
	force    bool
}

// skipped is a drive --all passed over, and why.
type skipped struct {
	dev    *devices.Device
	reason string
}

// resolve turns the selection into devices that pass the guards. With an
// explicit list, any refusal stops everything before a byte is written; with
// --all, refused and excluded drives are skipped and reported.
func (s selection) resolve() ([]*devices.Device, []skipped, error) {
	switch {
	case len(s.args) == 0 && !s.all:
		return nil, nil, usageErr("name the devices to wipe, or pass --all: lethe touches nothing without an explicit list")
	case len(s.args) > 0 && s.all:
		return nil, nil, usageErr("give either a device list or --all, not both")
	case len(s.excludes) > 0 && !s.all:
		return nil, nil, usageErr("--exclude only applies with --all")
	}
	if s.all {
		return s.resolveAll()
	}
	var out []*devices.Device
	var refusals []string
	seen := map[string]string{}
	for _, arg := range s.args {
		d, err := devices.Describe(arg)
		if err != nil {
			return nil, nil, err
		}
		key := d.Path
		if d.Kind != devices.KindFile {
			key = fmt.Sprintf("%d:%d", d.Major, d.Minor)
		}
		if prev, dup := seen[key]; dup {
			return nil, nil, usageErr("%s and %s are the same device", prev, arg)
		}
		seen[key] = arg
		for _, r := range devices.Check(d) {
			if s.force && r.Forceable {
				log.WithField("device", d.Path).Warnf("forced past: %s", r.Detail)
				continue
			}
			refusals = append(refusals, r.Error())
		}
		out = append(out, d)
	}
	if len(refusals) > 0 {
		return nil, nil, &exitError{exitUsage, errors.New(strings.Join(refusals, "\nlethe: ") + "\nnothing was written")}
	}
	return out, nil, nil
}

func (s selection) resolveAll() ([]*devices.Device, []skipped, error) {
	list, err := devices.Discover()
	if err != nil {
		return nil, nil, err
	}
	var out []*devices.Device
	var skips []skipped
	for _, d := range list {
		if d.Virtual {
			continue
		}
		if d.Transport == devices.TransportLoop {
			// Loop devices are not media; they are wiped only when named.
			skips = append(skips, skipped{d, "loop device: name it explicitly to wipe it"})
			continue
		}
		if sel := matchAny(d, s.excludes); sel != "" {
			skips = append(skips, skipped{d, "excluded by --exclude " + sel})
			continue
		}
		if r := devices.Allowed(d, s.force); r != nil {
			skips = append(skips, skipped{d, r.Detail})
			continue
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, skips, usageErr("--all found no device that may be wiped")
	}
	return out, skips, nil
}

func matchAny(d *devices.Device, sels []string) string {
	for _, s := range sels {
		if d.Matches(s) {
			return s
		}
	}
	return ""
}

// openTargets opens every device before any is written, so that a busy
// device stops the run while nothing has been touched.
func openTargets(list []*devices.Device, force bool) ([]wipe.Target, error) {
	var out []wipe.Target
	for _, d := range list {
		shared := force && len(d.Usage.Holders) > 0
		t, err := wipe.Open(d.Path, wipe.OpenOptions{Shared: shared})
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			var busy *wipe.BusyError
			if errors.As(err, &busy) {
				return nil, &devices.Refusal{Device: d.Path, Reason: devices.ReasonBusy, Detail: "is open exclusively by another program (device busy); nothing was written"}
			}
			return nil, err
		}
		if t.Size() != d.SizeBytes {
			// The device changed between discovery and open (media
			// swapped, loop device re-attached): stop.
			t.Close()
			for _, o := range out {
				o.Close()
			}
			return nil, usageErr("%s: size changed from %d to %d bytes since it was described; nothing was written", d.Path, d.SizeBytes, t.Size())
		}
		out = append(out, t)
	}
	return out, nil
}

// confirm asks the operator to type "yes" after naming every drive.
func confirm(in io.Reader, out io.Writer, list []*devices.Device, action string) error {
	fmt.Fprintf(out, "About to %s ALL DATA on %d device(s):\n", action, len(list))
	for _, d := range list {
		fmt.Fprintf(out, "  %-14s %-10s model %-24s serial %-20s %s\n", d.Path, devices.HumanBytes(d.SizeBytes), dash(d.Model), dash(d.Serial), d.Transport)
	}
	fmt.Fprint(out, "Type 'yes' to continue: ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return usageErr("no confirmation: nothing was written")
	}
	if strings.TrimSpace(line) != "yes" {
		return usageErr("not confirmed: nothing was written")
	}
	return nil
}

func requireConfirmation(yes bool, list []*devices.Device, action string) error {
	if yes {
		return nil
	}
	if !stdinIsTerminal() {
		return usageErr("refusing to %s without confirmation: stdin is not a terminal; pass --yes", action)
	}
	return confirm(os.Stdin, os.Stderr, list, action)
}
