package hotplug

import (
	"path/filepath"
	"regexp"
	"strings"
)

// Path components that name a place in the machine rather than this
// insertion (SCSI host/target numbers, NVMe controller instances and
// virtio device numbers change when a bay gets a new drive).
var (
	pciAddr = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)
	ataPort = regexp.MustCompile(`^ata[0-9]+$`)
	usbPort = regexp.MustCompile(`^[0-9]+-[0-9]+(\.[0-9]+)*$`)
	sasPhy  = regexp.MustCompile(`^(port|expander|end_device)-[0-9:]+$`)
)

// SlotOf names the place a disk sits from its sysfs path: the path up to
// the last component that belongs to the machine (a PCI function, an ATA
// port, a SAS phy, a USB port) rather than to this insertion. A virtual
// disk (loop, dm, ...) is its own slot. The label is the short form: the
// last stable component ("0000:01:00.0", "ata3", "usb 2-1.4").
func SlotOf(name, sysPath string) (slot, label string) {
	if sysPath == "" || strings.Contains(sysPath, "/devices/virtual/") {
		return "virtual/" + name, name
	}
	parts := strings.Split(strings.TrimPrefix(sysPath, "/sys"), "/")
	keep := len(parts)
	label = name
	for i, p := range parts {
		switch {
		case pciAddr.MatchString(p):
			keep, label = i+1, p
		case ataPort.MatchString(p), sasPhy.MatchString(p):
			keep, label = i+1, p
		case usbPort.MatchString(p):
			keep, label = i+1, "usb "+p
		}
	}
	// Everything after the last stable component is per insertion, unless
	// the path holds no stable component at all (then the name is the slot).
	if keep == len(parts) {
		return filepath.Join(parts...), name
	}
	return "/" + filepath.Join(parts[:keep]...), label
}
