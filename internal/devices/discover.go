package devices

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jaypipes/ghw"

	"github.com/lethe-project/lethe/internal/humanize"
)

// Discover lists the block devices of the machine: every disk ghw finds,
// described from sysfs (ghw reports "unknown" identity without udev, as in
// the boot image). Detached loop devices are left out; virtual devices (zram,
// dm, md, sr) are included with Virtual set.
func (e Env) Discover() ([]*Device, error) {
	info, err := ghw.Block(ghw.WithChroot(e.Root), ghw.WithDisableTools())
	if err != nil {
		return nil, fmt.Errorf("discover block devices: %w", err)
	}
	var out []*Device
	for _, disk := range info.Disks {
		d, err := e.DescribeName(disk.Name)
		if err != nil {
			return nil, fmt.Errorf("discover %s: %w", disk.Name, err)
		}
		if d.Transport == TransportLoop && d.SizeBytes == 0 {
			continue
		}
		// Prefer sysfs identity; fall back to what ghw found through udev.
		if d.Model == "" && !isUnknown(disk.Model) {
			d.Model = disk.Model
		}
		if d.Serial == "" && !isUnknown(disk.SerialNumber) {
			d.Serial = disk.SerialNumber
		}
		if d.WWN == "" && !isUnknown(disk.WWN) {
			d.WWN = normalizeWWN(disk.WWN)
		}
		if d.Vendor == "" && !isUnknown(disk.Vendor) {
			d.Vendor = cleanVendor(disk.Vendor)
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *Device) int { return humanize.NaturalCompare(a.Name, b.Name) })
	return out, nil
}

func isUnknown(s string) bool { return s == "" || strings.EqualFold(s, "unknown") }

// Describe describes path on the running machine.
func Describe(path string) (*Device, error) { return Host.Describe(path) }

// Discover lists the running machine's block devices.
func Discover() ([]*Device, error) { return Host.Discover() }

// Matches reports whether d is named by sel: its path, kernel name, serial
// number or WWN. Operators exclude drives by any of these.
func (d *Device) Matches(sel string) bool {
	if sel == "" {
		return false
	}
	sel = strings.TrimSpace(sel)
	return sel == d.Path || sel == d.Name || "/dev/"+sel == d.Path ||
		(d.Serial != "" && sel == d.Serial) ||
		(d.WWN != "" && (strings.EqualFold(sel, d.WWN) || strings.EqualFold("naa."+strings.TrimPrefix(strings.ToLower(sel), "0x"), d.WWN)))
}
