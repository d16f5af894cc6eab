package devices

import (
	"errors"
	"fmt"
	"strings"
)

// Reason is why lethe refuses to write to a device.
type Reason string

// Refusal reasons. Each names one condition an operator can check and fix.
const (
	ReasonPartition   Reason = "partition"
	ReasonEmpty       Reason = "empty"
	ReasonReadOnly    Reason = "read-only"
	ReasonSystem      Reason = "system"
	ReasonMounted     Reason = "mounted"
	ReasonSwap        Reason = "swap"
	ReasonHolders     Reason = "holders"
	ReasonBusy        Reason = "busy"
	ReasonLoopBacking Reason = "loop-backing"
	ReasonVirtual     Reason = "virtual"
)

// forceable are the reasons --force may override. Everything else either
// endangers a running system (mounts, swap, the root disk), cannot work
// (read-only), or races with another writer (an exclusive opener): those are
// fixed by the operator (umount, swapoff), never forced.
var forceable = map[Reason]string{
	// Stacked devices (dm, md, LVM) with nothing mounted or swapped on top:
	// a returned server's disks often carry auto-assembled arrays. Wiping
	// under them destroys exactly what the operator asked to destroy.
	ReasonHolders: "nothing above it is mounted or swapped on",
	// A disk image that a loop device still uses, with nothing mounted on
	// the loop device.
	ReasonLoopBacking: "nothing is mounted on the loop device",
	// zram, dm, md and nbd are not media; wiping one is unusual but can be
	// what the operator means.
	ReasonVirtual: "it is not physical media",
}

// Refusal is lethe declining to write to a device, and why.
type Refusal struct {
	Device string
	Reason Reason
	Detail string
	// Forceable is true when --force may override this refusal.
	Forceable bool
}

func (r *Refusal) Error() string {
	s := fmt.Sprintf("refusing %s: %s", r.Device, r.Detail)
	if r.Forceable {
		s += " (--force overrides this: " + forceable[r.Reason] + ")"
	}
	return s
}

// IsRefusal reports whether err is, or wraps, a Refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// Check returns every reason lethe must not write to d, in the order an
// operator should fix them. An empty result means d may be wiped.
func Check(d *Device) []*Refusal {
	var out []*Refusal
	add := func(reason Reason, format string, args ...any) {
		_, f := forceable[reason]
		out = append(out, &Refusal{Device: d.Path, Reason: reason, Detail: fmt.Sprintf(format, args...), Forceable: f})
	}
	u := d.Usage
	if d.Kind == KindPartition {
		add(ReasonPartition, "is a partition of %s; lethe sanitizes whole drives, name %s instead", d.Parent, d.Parent)
	}
	if d.SizeBytes == 0 {
		add(ReasonEmpty, "has size 0 (no medium, or a detached loop device)")
	}
	if d.ReadOnly {
		add(ReasonReadOnly, "is read-only")
	}
	if u.System != "" {
		add(ReasonSystem, "%s", u.System)
	}
	if len(u.Mounts) > 0 {
		var ms []string
		for _, m := range u.Mounts {
			s := m.MountPoint + " (" + m.FSType
			if m.Via != "" {
				s += " on " + m.Via
			}
			ms = append(ms, s+")")
		}
		add(ReasonMounted, "is mounted: %s", strings.Join(ms, ", "))
	}
	if len(u.Swap) > 0 {
		add(ReasonSwap, "is active swap: %s (swapoff first)", strings.Join(u.Swap, ", "))
	}
	if len(u.Holders) > 0 {
		add(ReasonHolders, "has holders: %s (dm, md or LVM devices stacked on it)", strings.Join(u.Holders, ", "))
	}
	// A busy device with mounts or holders is already explained above.
	if u.Busy && len(u.Mounts) == 0 && len(u.Holders) == 0 {
		add(ReasonBusy, "is open exclusively by another program")
	}
	if len(u.LoopBacking) > 0 {
		add(ReasonLoopBacking, "is the backing file of %s", strings.Join(u.LoopBacking, ", "))
	}
	if d.Virtual && d.Transport != TransportLoop { // loop devices are wiped when named (never by --all)
		add(ReasonVirtual, "is a virtual device (%s), not physical media", d.Name)
	}
	return out
}

// Allowed returns the first refusal that --force (when force is set) does not
// override, or nil when d may be wiped.
func Allowed(d *Device, force bool) *Refusal {
	for _, r := range Check(d) {
		if force && r.Forceable {
			continue
		}
		return r
	}
	return nil
}
