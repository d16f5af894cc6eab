package devices

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Env is the view of a machine's device tree: sysfs, procfs and /dev under
// Root. Production code uses Host (Root "/"); tests point Root at a fake tree.
type Env struct {
	Root string
}

// Host is the running machine.
var Host = Env{Root: "/"}

func (e Env) path(p string) string { return filepath.Join(e.Root, p) }

// InputError says why a path cannot be a wipe target at all: it does not
// exist, is a directory, is not a block device or regular file. Callers map
// it to a usage error.
type InputError struct {
	Path   string
	Reason string
}

func (e *InputError) Error() string { return e.Path + ": " + e.Reason }

// Describe returns what path is: a block device (whole disk or partition) or
// a regular file, with its identity, geometry and current usage.
func (e Env) Describe(path string) (*Device, error) {
	if path == "" {
		return nil, &InputError{Path: path, Reason: "empty device path"}
	}
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", path, err)
		}
		path = abs
	}
	st, err := os.Stat(e.path(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &InputError{Path: path, Reason: "no such device or file"}
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", path, err)
	}
	switch {
	case st.IsDir():
		return nil, &InputError{Path: path, Reason: "is a directory, not a device"}
	case st.Mode().IsRegular():
		return e.describeFile(path, st)
	case st.Mode()&fs.ModeDevice != 0 && st.Mode()&fs.ModeCharDevice == 0:
		var sys unix.Stat_t
		if err := unix.Stat(e.path(path), &sys); err != nil {
			return nil, fmt.Errorf("describe %s: %w", path, err)
		}
		d, err := e.describeDevno(unix.Major(uint64(sys.Rdev)), unix.Minor(uint64(sys.Rdev)))
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", path, err)
		}
		d.Path = path
		if err := e.fillUsage(d); err != nil {
			return nil, err
		}
		return d, nil
	default:
		return nil, &InputError{Path: path, Reason: "is neither a block device nor a regular file"}
	}
}

func (e Env) describeFile(path string, st fs.FileInfo) (*Device, error) {
	d := &Device{
		Path:               path,
		Name:               filepath.Base(path),
		Kind:               KindFile,
		Transport:          TransportFile,
		Media:              MediaFile,
		SizeBytes:          st.Size(),
		LogicalSectorSize:  512,
		PhysicalSectorSize: 512,
		ReadOnly:           unix.Access(e.path(path), unix.W_OK) != nil,
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		d.fileDev, d.fileIno = sys.Dev, sys.Ino
	}
	if err := e.fillUsage(d); err != nil {
		return nil, err
	}
	return d, nil
}

// describeDevno describes the block device major:minor from sysfs.
func (e Env) describeDevno(major, minor uint32) (*Device, error) {
	link := e.path(fmt.Sprintf("/sys/dev/block/%d:%d", major, minor))
	dir, err := filepath.EvalSymlinks(link)
	if err != nil {
		return nil, fmt.Errorf("block device %d:%d not in sysfs: %w", major, minor, err)
	}
	return e.describeSysfsDir(dir)
}

// DescribeName describes the block device called name in /sys/block.
func (e Env) DescribeName(name string) (*Device, error) {
	dir, err := filepath.EvalSymlinks(e.path("/sys/block/" + name))
	if err != nil {
		return nil, &InputError{Path: "/dev/" + name, Reason: "no such block device"}
	}
	d, err := e.describeSysfsDir(dir)
	if err != nil {
		return nil, err
	}
	if err := e.fillUsage(d); err != nil {
		return nil, err
	}
	return d, nil
}

// describeSysfsDir reads a block device's sysfs directory (the resolved
// /sys/devices/... path). Usage is filled in separately.
func (e Env) describeSysfsDir(dir string) (*Device, error) {
	name := filepath.Base(dir)
	d := &Device{Path: "/dev/" + name, Name: name, Kind: KindDisk}
	d.Major, d.Minor = readDevno(filepath.Join(dir, "dev"))

	disk := dir // the whole disk's directory, where queue/ and device/ live
	if exists(filepath.Join(dir, "partition")) {
		d.Kind = KindPartition
		disk = filepath.Dir(dir)
		d.Parent = "/dev/" + filepath.Base(disk)
	}
	sectors := readInt(filepath.Join(dir, "size"))
	d.SizeBytes = sectors * 512 // sysfs "size" is always in 512-byte units
	d.LogicalSectorSize = int(readIntDefault(filepath.Join(disk, "queue/logical_block_size"), 512))
	d.PhysicalSectorSize = int(readIntDefault(filepath.Join(disk, "queue/physical_block_size"), int64(d.LogicalSectorSize)))
	d.Rotational = readInt(filepath.Join(disk, "queue/rotational")) == 1
	d.Removable = readInt(filepath.Join(disk, "removable")) == 1
	d.ReadOnly = readInt(filepath.Join(dir, "ro")) == 1 || readInt(filepath.Join(disk, "ro")) == 1

	diskName := filepath.Base(disk)
	d.Transport = classifyTransport(diskName, disk)
	// A loop device is not physical media (its backing file is), and it
	// never rotates, whatever the loop driver copied from the disk under
	// the file.
	d.Virtual = isVirtualName(diskName) || d.Transport == TransportLoop
	if d.Transport == TransportLoop {
		d.Rotational = false
	}
	e.readIdentity(d, diskName, disk)
	d.Media = classifyMedia(d)
	d.DiskSeq = uint64(readInt(filepath.Join(disk, "diskseq")))
	if d.Transport == TransportLoop {
		e.readLoop(d, disk)
	}
	if d.Kind == KindDisk {
		d.Partitions = readPartitions(dir, diskName)
	}
	return d, nil
}

// readLoop records a loop device's backing file and the window of it the
// device covers (drivers/block/loop.c exposes lo_offset and lo_sizelimit
// as loop/offset and loop/sizelimit), and the file's size now.
func (e Env) readLoop(d *Device, disk string) {
	d.BackingFile = readString(filepath.Join(disk, "loop/backing_file"))
	d.LoopOffset = readInt(filepath.Join(disk, "loop/offset"))
	d.LoopSizeLimit = readInt(filepath.Join(disk, "loop/sizelimit"))
	if d.BackingFile == "" || strings.HasSuffix(d.BackingFile, " (deleted)") {
		return
	}
	if st, err := os.Stat(e.path(d.BackingFile)); err == nil && st.Mode().IsRegular() {
		d.BackingFileBytes = st.Size()
	} else if err == nil && st.Mode()&fs.ModeDevice != 0 {
		// A loop device over a block device: its size from sysfs.
		var sys unix.Stat_t
		if unix.Stat(e.path(d.BackingFile), &sys) == nil {
			if dir, err := filepath.EvalSymlinks(e.path(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(uint64(sys.Rdev)), unix.Minor(uint64(sys.Rdev))))); err == nil {
				d.BackingFileBytes = readInt(filepath.Join(dir, "size")) * 512
			}
		}
	}
}

// classifyTransport derives the transport from the device name and the
// resolved sysfs path, which encodes the bus the disk hangs off.
func classifyTransport(name, sysdir string) Transport {
	switch {
	case strings.HasPrefix(name, "nvme"):
		return TransportNVMe
	case strings.HasPrefix(name, "loop"):
		return TransportLoop
	case strings.HasPrefix(name, "sr"):
		return TransportOptical
	case isVirtualName(name):
		return TransportVirtual
	case strings.HasPrefix(name, "mmcblk"):
		return TransportMMC
	case strings.HasPrefix(name, "vd"), strings.HasPrefix(name, "xvd"):
		return TransportVirtio
	}
	p := sysdir + "/"
	vendor := strings.TrimSpace(readString(filepath.Join(sysdir, "device/vendor")))
	switch {
	case strings.Contains(p, "/usb"):
		return TransportUSB
	case vendor == "ATA":
		// libata and SATA drives behind a SAS HBA both report vendor "ATA"
		// (SAT-4 §8.1: the translated INQUIRY vendor field).
		return TransportSATA
	case strings.Contains(p, "/end_device-"), strings.Contains(p, "/sas_"):
		return TransportSAS
	case strings.Contains(p, "/ata"):
		return TransportSATA
	case strings.Contains(p, "/virtio") && !strings.Contains(p, "/target"):
		return TransportVirtio
	case strings.HasPrefix(name, "sd"):
		return TransportSCSI
	}
	return TransportUnknown
}

func isVirtualName(name string) bool {
	for _, p := range []string{"zram", "dm-", "md", "ram", "nbd", "sr", "fd", "zd"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func classifyMedia(d *Device) MediaType {
	switch d.Transport {
	case TransportFile:
		return MediaFile
	case TransportLoop, TransportVirtual:
		return MediaVirtual
	case TransportNVMe, TransportMMC:
		return MediaSSD
	}
	if d.Rotational {
		return MediaHDD
	}
	if d.Transport == TransportUnknown {
		return MediaUnknown
	}
	return MediaSSD
}

// readIdentity fills vendor, model, serial, WWN and firmware from sysfs. The
// kernel exposes them in different files per subsystem; u-root has no udev,
// so these files are the only source besides IDENTIFY itself.
func (e Env) readIdentity(d *Device, name, disk string) {
	dev := filepath.Join(disk, "device")
	clean := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	d.Vendor = clean(readString(filepath.Join(dev, "vendor")))
	d.Model = clean(readString(filepath.Join(dev, "model")))
	d.Serial = clean(readString(filepath.Join(dev, "serial")))
	if d.Serial == "" {
		d.Serial = clean(readString(filepath.Join(disk, "serial"))) // virtio-blk
	}
	if d.Serial == "" {
		d.Serial = clean(vpdSerial(filepath.Join(dev, "vpd_pg80")))
	}
	d.Firmware = clean(readString(filepath.Join(dev, "firmware_rev")))
	if d.Firmware == "" {
		d.Firmware = clean(readString(filepath.Join(dev, "rev")))
	}
	wwid := clean(readString(filepath.Join(disk, "wwid")))
	if wwid == "" {
		wwid = clean(readString(filepath.Join(dev, "wwid")))
	}
	d.WWN = normalizeWWN(wwid)
	if d.Transport == TransportMMC {
		d.Model = clean(readString(filepath.Join(dev, "name")))
		if s := readString(filepath.Join(dev, "serial")); s != "" {
			d.Serial = clean(s)
		}
	}
	d.Vendor = cleanVendor(d.Vendor)
}

// cleanVendor drops vendor strings that do not name the drive's vendor:
// virtio and NVMe controllers expose a PCI vendor ID ("0x1af4"), and SAT
// puts "ATA" in the INQUIRY vendor field (the real vendor is part of the
// model string).
func cleanVendor(v string) string {
	if strings.HasPrefix(v, "0x") || v == "ATA" {
		return ""
	}
	return v
}

// vpdSerial extracts the product serial number from a raw Unit Serial Number
// VPD page (SPC-5 §7.7.18: 4-byte header, PAGE LENGTH in bytes 2-3).
func vpdSerial(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 4 || b[1] != 0x80 {
		return ""
	}
	n := int(b[2])<<8 | int(b[3])
	if 4+n > len(b) {
		n = len(b) - 4
	}
	return string(b[4 : 4+n])
}

// normalizeWWN turns the kernel's wwid forms ("naa.5000c500a1b2c3d4",
// "eui.0025388b91b2c3d4", "t10.ATA ...") into the form operators type: the
// NAA or EUI-64 identifier with its prefix, or the raw string otherwise.
func normalizeWWN(wwid string) string {
	wwid = strings.TrimSpace(wwid)
	switch {
	case strings.HasPrefix(wwid, "naa."), strings.HasPrefix(wwid, "eui."), strings.HasPrefix(wwid, "nvme."):
		return strings.ToLower(wwid)
	case strings.HasPrefix(wwid, "0x"):
		return "naa." + strings.TrimPrefix(strings.ToLower(wwid), "0x")
	}
	return wwid
}

func readPartitions(dir, disk string) []Partition {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var parts []Partition
	for _, ent := range entries {
		p := filepath.Join(dir, ent.Name())
		if !strings.HasPrefix(ent.Name(), disk) || !exists(filepath.Join(p, "partition")) {
			continue
		}
		major, minor := readDevno(filepath.Join(p, "dev"))
		parts = append(parts, Partition{
			Name:      ent.Name(),
			Path:      "/dev/" + ent.Name(),
			Major:     major,
			Minor:     minor,
			SizeBytes: readInt(filepath.Join(p, "size")) * 512,
		})
	}
	return parts
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func readString(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(b), "\n\x00 ")
}

func readInt(p string) int64 { return readIntDefault(p, 0) }

func readIntDefault(p string, def int64) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(readString(p)), 10, 64)
	if err != nil {
		return def
	}
	return n
}

func readDevno(p string) (uint32, uint32) {
	s := strings.TrimSpace(readString(p))
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0
	}
	a, err1 := strconv.ParseUint(maj, 10, 32)
	b, err2 := strconv.ParseUint(min, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return uint32(a), uint32(b)
}
