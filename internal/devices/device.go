// Package devices finds the block devices of this machine, describes each
// one (identity, geometry, transport), and decides whether lethe may write to
// it. It never writes to a device itself.
package devices

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/humanize"
)

// Kind says what a path names.
type Kind string

// Kinds of path lethe can be given.
const (
	KindDisk      Kind = "disk"      // a whole block device
	KindPartition Kind = "partition" // a partition of a block device
	KindFile      Kind = "file"      // a regular file, e.g. a disk image
)

// Transport and MediaType are defined by the certificate schema, which
// records them (cert.Transport, cert.MediaType).
type (
	Transport = cert.Transport
	MediaType = cert.MediaType
)

// Transports lethe distinguishes. The firmware techniques that apply depend
// on it (NVMe admin commands, ATA or SCSI pass-through).
const (
	TransportNVMe    = cert.TransportNVMe
	TransportSATA    = cert.TransportSATA
	TransportSAS     = cert.TransportSAS
	TransportSCSI    = cert.TransportSCSI
	TransportVirtio  = cert.TransportVirtio
	TransportUSB     = cert.TransportUSB
	TransportMMC     = cert.TransportMMC
	TransportLoop    = cert.TransportLoop
	TransportVirtual = cert.TransportVirtual
	TransportOptical = cert.TransportOptical
	TransportFile    = cert.TransportFile
	TransportUnknown = cert.TransportUnknown
)

// Media types. Flash and rotating media differ in what an overwrite proves
// (NIST SP 800-88 Rev. 2: overwrite is Clear on both, never Purge on flash).
const (
	MediaHDD     = cert.MediaHDD
	MediaSSD     = cert.MediaSSD
	MediaFile    = cert.MediaFile
	MediaVirtual = cert.MediaVirtual
	MediaUnknown = cert.MediaUnknown
)

// Device describes one block device or image file.
type Device struct {
	Path      string    `json:"path"`
	Name      string    `json:"name"`
	Kind      Kind      `json:"kind"`
	Transport Transport `json:"transport"`
	Media     MediaType `json:"media"`

	SizeBytes          int64 `json:"sizeBytes"`
	LogicalSectorSize  int   `json:"logicalSectorSize"`
	PhysicalSectorSize int   `json:"physicalSectorSize"`
	Rotational         bool  `json:"rotational"`
	Removable          bool  `json:"removable"`
	ReadOnly           bool  `json:"readOnly"`

	Vendor   string `json:"vendor,omitempty"`
	Model    string `json:"model,omitempty"`
	Serial   string `json:"serial,omitempty"`
	WWN      string `json:"wwn,omitempty"`
	Firmware string `json:"firmware,omitempty"`

	// Major and Minor are the device numbers of a block device (0 for files).
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	// BackingFile is the file behind a loop device.
	BackingFile string `json:"backingFile,omitempty"`
	// LoopOffset and LoopSizeLimit are a loop device's window into its
	// backing file (sysfs loop/offset and loop/sizelimit, in bytes; a
	// size limit of 0 means "to the end of the file"). The device covers
	// bytes [LoopOffset, LoopOffset+SizeBytes) of the file.
	LoopOffset    int64 `json:"loopOffset,omitempty"`
	LoopSizeLimit int64 `json:"loopSizeLimit,omitempty"`
	// BackingFileBytes is the size of a loop device's backing file when
	// the device was described (0 when it could not be read).
	BackingFileBytes int64 `json:"backingFileBytes,omitempty"`
	// DiskSeq is the kernel's disk sequence number (/sys/block/X/diskseq,
	// Linux 5.15+): a new number whenever the medium changes or a loop
	// device is attached to a file, so the same name with another number
	// is another device.
	DiskSeq uint64 `json:"diskSeq,omitempty"`
	// Parent names the whole disk of a partition.
	Parent string `json:"parent,omitempty"`

	Partitions []Partition `json:"partitions,omitempty"`
	Usage      Usage       `json:"usage"`
	// Virtual is true for zram, dm, md, sr, loop and similar devices that
	// are not physical media; `lethe devices` hides them unless --all
	// (loop devices excepted: they are listed, and wiped only when named).
	Virtual bool `json:"virtual"`

	// fileDev and fileIno identify an image file (stat st_dev, st_ino), so
	// that a file replaced under the same path is noticed.
	fileDev, fileIno uint64
}

// Partition is one partition of a disk.
type Partition struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Major     uint32 `json:"major"`
	Minor     uint32 `json:"minor"`
	SizeBytes int64  `json:"sizeBytes"`
}

// Usage is what currently uses a device; any of it makes writing unsafe.
type Usage struct {
	// Mounts are the filesystems that live on the device, one of its
	// partitions, or a device stacked on top of it (dm, md, loop).
	Mounts []Mount `json:"mounts,omitempty"`
	// Holders are the kernel devices stacked directly on the device or its
	// partitions (dm, md, bcache), from /sys/block/X/holders.
	Holders []string `json:"holders,omitempty"`
	// Swap lists active swap areas on the device or above it.
	Swap []string `json:"swap,omitempty"`
	// System is set when the device holds the running system (the root
	// filesystem, /boot, /usr, or the medium the system booted from).
	System string `json:"system,omitempty"`
	// Busy is set when the kernel refuses an exclusive open (O_EXCL): some
	// other program or kernel user holds the device.
	Busy bool `json:"busy"`
	// LoopBacking lists loop devices whose backing file is this image file.
	LoopBacking []string `json:"loopBacking,omitempty"`
}

// Mount is one mounted filesystem that depends on a device.
type Mount struct {
	Source     string `json:"source"`
	MountPoint string `json:"mountPoint"`
	FSType     string `json:"fsType"`
	// Via names the partition or stacked device the mount sits on, when it
	// is not the device itself.
	Via string `json:"via,omitempty"`
}

// Identity is the canonical identity of a drive (the certificate's
// cert.Identity), the part of a Device that names the physical medium
// rather than how it is attached today.
type Identity = cert.Identity

// Identity returns the canonical identity of d.
func (d *Device) Identity() Identity {
	id := Identity{
		Vendor:    d.Vendor,
		Model:     d.Model,
		Serial:    d.Serial,
		WWN:       d.WWN,
		Firmware:  d.Firmware,
		Transport: d.Transport,
		SizeBytes: d.SizeBytes,
	}
	switch {
	case d.Kind == KindFile:
		id.BackingFile = d.Path
	case d.BackingFile != "":
		id.BackingFile = d.BackingFile
		id.BackingOffset = d.LoopOffset
		id.BackingSizeLimit = d.LoopSizeLimit
	}
	return id
}

// CoversWholeBacking reports whether a loop device covers every byte of
// its backing file: offset 0 and a size equal to the file's. A loop device
// with an offset, a size limit short of the file's end, or a file whose
// size is not a multiple of 512 bytes (the kernel rounds the device down)
// leaves part of the file out. False when the file's size is unknown.
func (d *Device) CoversWholeBacking() bool {
	return d.Transport == TransportLoop && d.LoopOffset == 0 && d.BackingFileBytes > 0 && d.SizeBytes == d.BackingFileBytes
}

// BackingRegion describes which bytes of its backing file a loop device
// covers, for certificates and output: "the whole 64.0 MiB backing file
// F", or "bytes 1048576-34603007 (32.0 MiB) of the backing file F of
// 67108864 bytes; the other 33554432 bytes (32.0 MiB) of the file lie
// outside the device".
func (d *Device) BackingRegion() string {
	if d.BackingFile == "" {
		return ""
	}
	if d.CoversWholeBacking() {
		return fmt.Sprintf("the whole %s (%d-byte) backing file %s", HumanBytes(d.BackingFileBytes), d.BackingFileBytes, d.BackingFile)
	}
	s := fmt.Sprintf("bytes %d-%d (%s) of the backing file %s", d.LoopOffset, d.LoopOffset+d.SizeBytes-1, HumanBytes(d.SizeBytes), d.BackingFile)
	if d.BackingFileBytes <= 0 {
		return s + ", whose size could not be read; the rest of the file, if any, lies outside the device"
	}
	outside := d.BackingFileBytes - d.SizeBytes
	return s + fmt.Sprintf(" of %d bytes; the other %d bytes (%s) of the file lie outside the device", d.BackingFileBytes, outside, HumanBytes(outside))
}

// Label is a short human name for the drive: model and serial where known.
func (d *Device) Label() string {
	var parts []string
	if d.Model != "" {
		parts = append(parts, d.Model)
	}
	if d.Serial != "" {
		parts = append(parts, "serial "+d.Serial)
	}
	if d.BackingFile != "" {
		parts = append(parts, "backed by "+d.BackingFile)
	}
	if len(parts) == 0 {
		return d.Path
	}
	return d.Path + " (" + strings.Join(parts, ", ") + ")"
}

// HumanBytes formats n bytes with binary units, as operators read sizes.
func HumanBytes(n int64) string { return humanize.Bytes(n) }
