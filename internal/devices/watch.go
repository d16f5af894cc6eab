package devices

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// What the kernel lets lethe see of writes it did not make, and of a device
// changing under it. wipe uses these to decide whether a run can be
// certified: O_EXCL keeps mounts and exclusive openers out, not an ordinary
// program that opens the device and writes.

// IOCounters are a block device's cumulative write counters, in 512-byte
// sectors, from /sys/block/NAME/stat (Documentation/block/stat.rst: field 7
// "write sectors", field 14 "discard sectors"). The block layer counts
// every request that reaches the device, whoever issued it and through
// whatever path: the device node, a partition of it (a partition's I/O is
// also counted on its whole disk), or a device stacked on it (dm, md, a
// loop device over it). A buffered write is counted when the page cache
// writes it back, so callers flush caches (sync) before they read these.
type IOCounters struct {
	SectorsWritten   uint64 `json:"sectorsWritten"`
	SectorsDiscarded uint64 `json:"sectorsDiscarded"`
}

// StatPath is the sysfs file Counters reads for a block device name.
func StatPath(name string) string { return "/sys/class/block/" + name + "/stat" }

// Counters reads the write and discard counters of the block device name
// (a disk or a partition).
func (e Env) Counters(name string) (IOCounters, error) {
	raw, err := os.ReadFile(e.path(StatPath(name)))
	if err != nil {
		return IOCounters{}, fmt.Errorf("write counters of %s: %w", name, err)
	}
	f := strings.Fields(string(raw))
	if len(f) < 7 {
		return IOCounters{}, fmt.Errorf("write counters of %s: %d fields in %s, want at least 7", name, len(f), StatPath(name))
	}
	var c IOCounters
	if c.SectorsWritten, err = strconv.ParseUint(f[6], 10, 64); err != nil {
		return IOCounters{}, fmt.Errorf("write counters of %s: field 7: %w", name, err)
	}
	// Discard fields exist since Linux 4.18; before that no discard is
	// counted, and none can be seen.
	if len(f) >= 14 {
		if c.SectorsDiscarded, err = strconv.ParseUint(f[13], 10, 64); err != nil {
			return IOCounters{}, fmt.Errorf("write counters of %s: field 14: %w", name, err)
		}
	}
	return c, nil
}

// IOStatsEnabled reports whether the kernel keeps I/O statistics for the
// disk name (queue/iostats): with them off the counters stand still. A
// missing file (a partition, an old kernel) counts as enabled.
func (e Env) IOStatsEnabled(name string) bool {
	dir, err := filepath.EvalSymlinks(e.path("/sys/class/block/" + name))
	if err != nil {
		return false
	}
	if exists(filepath.Join(dir, "partition")) {
		dir = filepath.Dir(dir)
	}
	s := strings.TrimSpace(readString(filepath.Join(dir, "queue/iostats")))
	return s != "0"
}

// Slaves lists the block devices a stacked device (dm, md) is built on.
// Writes made to them directly do not pass through the stacked device and
// are not in its counters.
func (e Env) Slaves(name string) []string {
	ents, _ := os.ReadDir(e.path("/sys/class/block/" + name + "/slaves"))
	var out []string
	for _, s := range ents {
		out = append(out, s.Name())
	}
	return out
}

// LoopWindow is a loop device and the bytes of its backing file it covers.
type LoopWindow struct {
	Name   string
	Offset int64
	Size   int64
}

// Overlaps reports whether two windows share a byte.
func (w LoopWindow) Overlaps(o LoopWindow) bool {
	return w.Offset < o.Offset+o.Size && o.Offset < w.Offset+w.Size
}

// LoopsOnSameFile lists the other attached loop devices whose backing file
// is the same file (device and inode) as the loop device d's: a write
// through any of them changes the file d exposes without passing through
// d. Nil when d is not a loop device or its file cannot be found.
func (e Env) LoopsOnSameFile(d *Device) []LoopWindow {
	if d.Transport != TransportLoop || d.BackingFile == "" {
		return nil
	}
	var want unix.Stat_t
	if unix.Stat(e.path(d.BackingFile), &want) != nil {
		return nil
	}
	entries, _ := os.ReadDir(e.path("/sys/block"))
	var out []LoopWindow
	for _, ent := range entries {
		name := ent.Name()
		if !strings.HasPrefix(name, "loop") || name == d.Name {
			continue
		}
		dir := e.path("/sys/block/" + name)
		bf := readString(filepath.Join(dir, "loop/backing_file"))
		if bf == "" {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(e.path(strings.TrimSuffix(bf, " (deleted)")), &st) != nil || st.Dev != want.Dev || st.Ino != want.Ino {
			continue
		}
		out = append(out, LoopWindow{Name: name, Offset: readInt(filepath.Join(dir, "loop/offset")), Size: readInt(filepath.Join(dir, "size")) * 512})
	}
	return out
}

// Window is the part of its backing file the loop device d covers.
func (d *Device) Window() LoopWindow {
	return LoopWindow{Name: d.Name, Offset: d.LoopOffset, Size: d.SizeBytes}
}

// Recheck describes d again as it is now, from the same device number (a
// block device) or path (an image file), without usage: to compare with the
// description taken before a run.
func (e Env) Recheck(d *Device) (*Device, error) {
	if d.Kind == KindFile {
		st, err := os.Stat(e.path(d.Path))
		if err != nil {
			return nil, fmt.Errorf("recheck %s: %w", d.Path, err)
		}
		now := &Device{Path: d.Path, Name: d.Name, Kind: KindFile, Transport: TransportFile, SizeBytes: st.Size(),
			LogicalSectorSize: d.LogicalSectorSize}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			now.fileDev, now.fileIno = sys.Dev, sys.Ino
		}
		return now, nil
	}
	now, err := e.describeDevno(d.Major, d.Minor)
	if err != nil {
		return nil, fmt.Errorf("recheck %s: %w", d.Path, err)
	}
	now.Path = d.Path
	return now, nil
}

// Changes lists every difference in size and identity between two
// descriptions of one device (before and after a run), in words. Empty
// when it is the same device of the same size.
func Changes(before, after *Device) []string {
	var out []string
	str := func(what, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s changed from %q to %q", what, a, b))
		}
	}
	num := func(what string, a, b int64) {
		if a != b {
			out = append(out, fmt.Sprintf("%s changed from %d to %d", what, a, b))
		}
	}
	if before.SizeBytes != after.SizeBytes {
		verb := "grew"
		if after.SizeBytes < before.SizeBytes {
			verb = "shrank"
		}
		out = append(out, fmt.Sprintf("the size %s from %d to %d bytes", verb, before.SizeBytes, after.SizeBytes))
	}
	str("the kind", string(before.Kind), string(after.Kind))
	str("the vendor", before.Vendor, after.Vendor)
	str("the model", before.Model, after.Model)
	str("the serial number", before.Serial, after.Serial)
	str("the WWN", before.WWN, after.WWN)
	str("the firmware revision", before.Firmware, after.Firmware)
	num("the logical sector size", int64(before.LogicalSectorSize), int64(after.LogicalSectorSize))
	str("the loop backing file", before.BackingFile, after.BackingFile)
	num("the loop offset", before.LoopOffset, after.LoopOffset)
	num("the loop size limit", before.LoopSizeLimit, after.LoopSizeLimit)
	if before.DiskSeq != 0 && before.DiskSeq != after.DiskSeq {
		out = append(out, fmt.Sprintf("the kernel's disk sequence number changed from %d to %d (another medium or another loop attachment)", before.DiskSeq, after.DiskSeq))
	}
	if before.Kind == KindFile && (before.fileDev != after.fileDev || before.fileIno != after.fileIno) {
		out = append(out, fmt.Sprintf("the path %s now names another file (device/inode %d/%d, was %d/%d)", before.Path, after.fileDev, after.fileIno, before.fileDev, before.fileIno))
	}
	return out
}
