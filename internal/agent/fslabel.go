package agent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
)

// BootLabels are the filesystem labels that mark the medium lethe was
// booted from (a USB stick prepared for lethe, or any disk the operator
// wants the agent to leave alone). FAT labels are upper case and at most
// 11 characters; ISO 9660 volume identifiers may not contain '-'.
var BootLabels = []string{"LETHE-BOOT", "LETHE_BOOT"}

// IsBootLabel reports whether label marks a boot medium.
func IsBootLabel(label string) bool {
	for _, l := range BootLabels {
		if strings.EqualFold(strings.TrimSpace(label), l) {
			return true
		}
	}
	return false
}

// FSLabel is a filesystem found at the start of a device.
type FSLabel struct {
	Type  string // "ext", "vfat", "iso9660"
	Label string
}

// LabelProbeSize is how many bytes ReadFSLabel reads: enough for the ISO
// 9660 primary volume descriptor at 32 KiB.
const LabelProbeSize = 32768 + 2048

// errNoFS is returned when no known filesystem is found.
var errNoFS = errors.New("no ext2/3/4, FAT or ISO 9660 filesystem")

// ReadFSLabel reads the first LabelProbeSize bytes of r and returns the
// filesystem and its label. It only reads.
func ReadFSLabel(r io.ReaderAt) (FSLabel, error) {
	buf := make([]byte, LabelProbeSize)
	n, err := r.ReadAt(buf, 0)
	if n < 2048 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return FSLabel{}, err
	}
	return ParseFSLabel(buf[:n])
}

// ParseFSLabel identifies the filesystem whose first bytes are b.
func ParseFSLabel(b []byte) (FSLabel, error) {
	if l, ok := extLabel(b); ok {
		return l, nil
	}
	if l, ok := isoLabel(b); ok {
		return l, nil
	}
	if l, ok := fatLabel(b); ok {
		return l, nil
	}
	return FSLabel{}, errNoFS
}

// extLabel reads an ext2/3/4 superblock: it starts at byte 1024; s_magic
// (le16 0xEF53) is at offset 56 and s_volume_name (16 bytes, NUL padded)
// at offset 120 (Linux fs/ext4/ext4.h, struct ext4_super_block).
func extLabel(b []byte) (FSLabel, bool) {
	const sb = 1024
	if len(b) < sb+136 || binary.LittleEndian.Uint16(b[sb+56:]) != 0xEF53 {
		return FSLabel{}, false
	}
	return FSLabel{Type: "ext", Label: cString(b[sb+120 : sb+136])}, true
}

// isoLabel reads the ISO 9660 primary volume descriptor at sector 16
// (2048-byte sectors): type 1, "CD001", version 1, and the volume
// identifier at bytes 40-71, space padded (ECMA-119 §8.4).
func isoLabel(b []byte) (FSLabel, bool) {
	const pvd = 16 * 2048
	if len(b) < pvd+72 || b[pvd] != 1 || string(b[pvd+1:pvd+6]) != "CD001" || b[pvd+6] != 1 {
		return FSLabel{}, false
	}
	return FSLabel{Type: "iso9660", Label: strings.TrimRight(string(b[pvd+40:pvd+72]), " \x00")}, true
}

// fatLabel reads a FAT boot sector (Microsoft FAT specification, "BPB"):
// signature 0x55 0xAA at 510; bytes per sector (le16 at 11) a power of two
// from 512 to 4096; sectors per cluster (at 13) a power of two. FAT32 has
// BPB_FATSz16 (le16 at 22) zero and its extended boot record at 64
// (signature 0x29 at 66, volume label at 71); FAT12/16 at 36 (signature at
// 38, label at 43). A label of "NO NAME" means none.
func fatLabel(b []byte) (FSLabel, bool) {
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA {
		return FSLabel{}, false
	}
	bps := binary.LittleEndian.Uint16(b[11:])
	spc := b[13]
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 || b[16] == 0 {
		return FSLabel{}, false
	}
	sigOff, labelOff := 38, 43
	if binary.LittleEndian.Uint16(b[22:]) == 0 {
		sigOff, labelOff = 66, 71
	}
	if b[sigOff] != 0x29 {
		return FSLabel{Type: "vfat"}, true // an old BPB without a label field
	}
	label := strings.TrimRight(string(b[labelOff:labelOff+11]), " \x00")
	if label == "NO NAME" {
		label = ""
	}
	return FSLabel{Type: "vfat", Label: label}, true
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
