package agent

import (
	"fmt"
	"os"
	"strings"

	"github.com/lethe-project/lethe/internal/devices"
)

// Verdict is what the agent does with one disk.
type Verdict string

// Verdicts.
const (
	Wipe     Verdict = "wipe"
	Boot     Verdict = "boot"     // the medium lethe was booted from: kept
	Excluded Verdict = "excluded" // named by lethe.exclude: kept
	Refused  Verdict = "refused"  // a safety guard refused it (mounted, read-only, ...)
	Skipped  Verdict = "skipped"  // not physical media (loop, zram, dm, md)
)

// Disk is a disk and the agent's verdict on it.
type Disk struct {
	Dev     *devices.Device
	Verdict Verdict
	Reason  string
}

// LabelReader returns the filesystem label found at the start of a block
// device or partition.
type LabelReader func(path string) (FSLabel, error)

// ReadDeviceLabel opens path read-only and reads its filesystem label.
func ReadDeviceLabel(path string) (FSLabel, error) {
	f, err := os.Open(path)
	if err != nil {
		return FSLabel{}, err
	}
	defer f.Close()
	return ReadFSLabel(f)
}

// BootUnknownError is returned when the agent cannot tell which disk it
// was booted from. It wipes nothing then: guessing wrong erases the
// operator's boot stick, or worse, leaves the wrong disk untouched.
type BootUnknownError struct {
	// Removable lists the disks that could be a boot stick.
	Removable []string
}

func (e *BootUnknownError) Error() string {
	s := "cannot tell which disk this image was booted from: add lethe.bootdev=none (network or virtual-machine boot), " +
		"lethe.bootdev=SERIAL (the boot stick), or label the stick's filesystem " + BootLabels[0]
	if len(e.Removable) > 0 {
		s += "; removable or USB disks here: " + strings.Join(e.Removable, ", ")
	}
	return s
}

// SelectorError is returned when a lethe.bootdev or lethe.exclude selector
// names no disk: most likely a typo, and the disk it meant would be wiped.
type SelectorError struct {
	Param, Selector string
}

func (e *SelectorError) Error() string {
	return fmt.Sprintf("lethe.%s=%s names no disk of this machine; nothing is wiped until it does (a typo would erase the disk it meant)", e.Param, e.Selector)
}

// Classify decides, for every disk, whether the agent wipes it. The boot
// medium is kept whenever it can be recognized: named by lethe.bootdev
// (serial, WWN, path, kernel name, or LABEL=NAME of a filesystem on it), or
// carrying a filesystem labelled LETHE-BOOT. If the configuration does not
// say the image came over the network (lethe.bootdev=none) and no boot
// medium is recognized, Classify returns a BootUnknownError and the agent
// must wipe nothing. Disks named by lethe.exclude are kept; disks the
// safety guards refuse (mounted, read-only, swap, ...) are never forced.
func Classify(list []*devices.Device, cfg *Config, labels LabelReader) ([]Disk, error) {
	out := make([]Disk, 0, len(list))
	used := map[string]bool{}
	boot := 0
	var removable []string
	for _, d := range list {
		disk := Disk{Dev: d, Verdict: Wipe}
		fsl := diskLabels(d, labels)
		switch {
		case d.Virtual || d.Transport == devices.TransportLoop || d.Kind != devices.KindDisk:
			disk.Verdict, disk.Reason = Skipped, "not physical media"
		case d.SizeBytes == 0:
			// An empty card reader slot or an unloaded virtual drive.
			disk.Verdict, disk.Reason = Skipped, "no medium"
		default:
			if sel := matchBootDev(d, cfg.BootDev, fsl); sel != "" {
				used[sel] = true
				disk.Verdict, disk.Reason = Boot, "boot medium (lethe.bootdev="+sel+")"
			} else if where, ok := bootLabel(fsl); ok {
				disk.Verdict, disk.Reason = Boot, "boot medium (filesystem labelled "+where+")"
			}
		}
		if disk.Verdict == Boot {
			boot++
		}
		if disk.Verdict == Wipe {
			if sel := matchAny(d, cfg.Exclude); sel != "" {
				used["exclude:"+sel] = true
				disk.Verdict, disk.Reason = Excluded, "excluded by lethe.exclude="+sel
			} else if r := devices.Allowed(d, false); r != nil {
				disk.Verdict, disk.Reason = Refused, r.Detail
			}
		}
		if disk.Verdict == Wipe && (d.Removable || d.Transport == devices.TransportUSB) {
			removable = append(removable, d.Label())
		}
		out = append(out, disk)
	}
	for _, sel := range cfg.BootDev {
		if !used[sel] {
			return out, &SelectorError{Param: "bootdev", Selector: sel}
		}
	}
	for _, sel := range cfg.Exclude {
		if !used["exclude:"+sel] && !excludedElsewhere(out, sel) {
			return out, &SelectorError{Param: "exclude", Selector: sel}
		}
	}
	if boot == 0 && !cfg.NoBootDisk {
		return out, &BootUnknownError{Removable: removable}
	}
	return out, nil
}

// diskLabels reads the labels of a disk and its partitions, keyed by path.
func diskLabels(d *devices.Device, labels LabelReader) map[string]FSLabel {
	out := map[string]FSLabel{}
	if labels == nil {
		return out
	}
	paths := []string{d.Path}
	for _, p := range d.Partitions {
		paths = append(paths, p.Path)
	}
	for _, p := range paths {
		if l, err := labels(p); err == nil && l.Label != "" {
			out[p] = l
		}
	}
	return out
}

func bootLabel(fsl map[string]FSLabel) (string, bool) {
	for p, l := range fsl {
		if IsBootLabel(l.Label) {
			return fmt.Sprintf("%s on %s", l.Label, p), true
		}
	}
	return "", false
}

func matchBootDev(d *devices.Device, sels []string, fsl map[string]FSLabel) string {
	for _, s := range sels {
		if name, ok := strings.CutPrefix(s, "LABEL="); ok {
			for _, l := range fsl {
				if l.Label == name {
					return s
				}
			}
			continue
		}
		if d.Matches(s) {
			return s
		}
	}
	return ""
}

// excludedElsewhere reports whether sel names a disk that is kept anyway
// (the boot medium, or one a guard refused).
func excludedElsewhere(disks []Disk, sel string) bool {
	for _, d := range disks {
		if d.Dev.Matches(sel) {
			return true
		}
	}
	return false
}

func matchAny(d *devices.Device, sels []string) string {
	for _, s := range sels {
		if d.Matches(s) {
			return s
		}
	}
	return ""
}
