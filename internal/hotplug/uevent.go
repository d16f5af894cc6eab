// Package hotplug watches this machine's disks come and go: it listens to
// the kernel's uevents (NETLINK_KOBJECT_UEVENT, the messages udev itself
// reads; there is no udev in the boot image) and turns them into "a medium
// was inserted" and "a medium was removed" events for whole disks.
//
// A disk is present when /sys/block/NAME exists with a non-zero size. A
// medium is identified by its disk sequence number (/sys/block/NAME/diskseq,
// Linux 5.15+), which the kernel raises whenever a new medium appears
// behind a name: a hot-plugged NVMe or SATA drive, a stick in a USB card
// reader, a loop device attached to another file. So a drive swapped
// faster than events are read still shows as a removal and an insertion.
package hotplug

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Uevent is one kernel uevent (lib/kobject_uevent.c): the header
// "ACTION@DEVPATH" and KEY=VALUE lines, NUL-separated.
type Uevent struct {
	Action    string // add, remove, change, move, online, offline, bind, unbind
	DevPath   string // /devices/...
	Subsystem string // block, nvme, scsi, ...
	DevName   string // sdb, nvme0n1, loop3 (without /dev/)
	DevType   string // disk, partition
	Seq       uint64 // SEQNUM
	DiskSeq   uint64 // DISKSEQ (0 if absent)
	Env       map[string]string
}

// ErrNotUevent is returned for a message that is not a kernel uevent (for
// example udev's own "libudev" messages on another multicast group).
var ErrNotUevent = errors.New("not a kernel uevent")

// ParseUevent decodes one netlink message payload.
func ParseUevent(b []byte) (Uevent, error) {
	fields := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	if len(fields) == 0 {
		return Uevent{}, ErrNotUevent
	}
	action, path, ok := strings.Cut(string(fields[0]), "@")
	if !ok || action == "" || !strings.HasPrefix(path, "/") {
		return Uevent{}, ErrNotUevent
	}
	u := Uevent{Env: map[string]string{}}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(string(f), "=")
		if !ok || k == "" {
			return Uevent{}, fmt.Errorf("uevent %s: malformed field %q", fields[0], f)
		}
		u.Env[k] = v
	}
	u.Action, u.DevPath = u.Env["ACTION"], u.Env["DEVPATH"]
	if u.Action == "" {
		u.Action = action
	}
	if u.DevPath == "" {
		u.DevPath = path
	}
	if u.Action != action || u.DevPath != path {
		return Uevent{}, fmt.Errorf("uevent %s: header and ACTION/DEVPATH disagree", fields[0])
	}
	u.Subsystem, u.DevName, u.DevType = u.Env["SUBSYSTEM"], u.Env["DEVNAME"], u.Env["DEVTYPE"]
	u.DevName = strings.TrimPrefix(u.DevName, "/dev/")
	if s := u.Env["SEQNUM"]; s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Uevent{}, fmt.Errorf("uevent %s: SEQNUM %q", fields[0], s)
		}
		u.Seq = n
	}
	if s := u.Env["DISKSEQ"]; s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Uevent{}, fmt.Errorf("uevent %s: DISKSEQ %q", fields[0], s)
		}
		u.DiskSeq = n
	}
	return u, nil
}

// IsDisk reports whether the event concerns a whole block device.
func (u Uevent) IsDisk() bool {
	return u.Subsystem == "block" && u.DevType == "disk" && u.DevName != ""
}
