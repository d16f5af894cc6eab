package agent

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/testutil"
)

// Golden superblocks built from the specifications' offsets.
func extImage(label string) []byte {
	b := make([]byte, LabelProbeSize)
	binary.LittleEndian.PutUint16(b[1024+56:], 0xEF53) // s_magic
	copy(b[1024+120:1024+136], label)                  // s_volume_name
	return b
}

func fatImage(fat32 bool, label string) []byte {
	b := make([]byte, 4096)
	b[0], b[1], b[2] = 0xEB, 0x58, 0x90
	binary.LittleEndian.PutUint16(b[11:], 512) // BPB_BytsPerSec
	b[13] = 8                                  // BPB_SecPerClus
	b[16] = 2                                  // BPB_NumFATs
	sig, lab := 38, 43
	if fat32 {
		sig, lab = 66, 71 // BPB_FATSz16 stays 0
	} else {
		binary.LittleEndian.PutUint16(b[22:], 32)
	}
	b[sig] = 0x29
	copy(b[lab:lab+11], []byte(label + strings.Repeat(" ", 11))[:11])
	b[510], b[511] = 0x55, 0xAA
	return b
}

func isoImage(label string) []byte {
	b := make([]byte, LabelProbeSize)
	p := 16 * 2048
	b[p] = 1
	copy(b[p+1:], "CD001")
	b[p+6] = 1
	copy(b[p+40:p+72], []byte(label + strings.Repeat(" ", 32))[:32])
	return b
}

func TestParseFSLabel(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want FSLabel
		err  bool
	}{
		{"ext", extImage("LETHE-BOOT"), FSLabel{"ext", "LETHE-BOOT"}, false},
		{"ext full 16 bytes", extImage("ABCDEFGHIJKLMNOP"), FSLabel{"ext", "ABCDEFGHIJKLMNOP"}, false},
		{"fat32", fatImage(true, "LETHE-BOOT"), FSLabel{"vfat", "LETHE-BOOT"}, false},
		{"fat16", fatImage(false, "STICK"), FSLabel{"vfat", "STICK"}, false},
		{"fat no name", fatImage(true, "NO NAME"), FSLabel{"vfat", ""}, false},
		{"iso", isoImage("LETHE_BOOT"), FSLabel{"iso9660", "LETHE_BOOT"}, false},
		{"zeros", make([]byte, LabelProbeSize), FSLabel{}, true},
		{"short", []byte{0x55}, FSLabel{}, true},
	} {
		got, err := ParseFSLabel(tc.b)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v (error %v)", tc.name, got, err, tc.want, tc.err)
		}
	}
	// A FAT boot sector with a bad BPB is not FAT (random data can end in 55 AA).
	b := fatImage(true, "X")
	binary.LittleEndian.PutUint16(b[11:], 513)
	if _, err := ParseFSLabel(b); err == nil {
		t.Error("accepted bytes-per-sector 513")
	}
	for _, l := range []string{"lethe-boot", "LETHE_BOOT", " LETHE-BOOT "} {
		if !IsBootLabel(l) {
			t.Errorf("IsBootLabel(%q) = false", l)
		}
	}
	if IsBootLabel("LETHE") || IsBootLabel("") {
		t.Error("IsBootLabel accepts other labels")
	}
}

// TestReadFSLabelFromTools checks the parser against filesystems made by
// mke2fs and mkfs.vfat.
func TestReadFSLabelFromTools(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		tool string
		args []string
		want FSLabel
	}{
		{"mke2fs", []string{"-q", "-F", "-t", "ext4", "-L", "LETHE-BOOT"}, FSLabel{"ext", "LETHE-BOOT"}},
		{"mkfs.vfat", []string{"-F", "32", "-n", "LETHE-BOOT"}, FSLabel{"vfat", "LETHE-BOOT"}},
		{"mkfs.vfat", []string{"-F", "16", "-n", "STICK"}, FSLabel{"vfat", "STICK"}},
	} {
		path := testutil.RequireCommand(t, tc.tool)
		img := filepath.Join(dir, strings.Join(tc.args, "")+".img")
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, 40<<20); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(path, append(tc.args, img)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", tc.tool, err, out)
		}
		got, err := ReadDeviceLabel(img)
		if err != nil || got != tc.want {
			t.Errorf("%s %v: %+v, %v; want %+v", tc.tool, tc.args, got, err, tc.want)
		}
	}
}

func FuzzParseFSLabel(f *testing.F) {
	f.Add(extImage("LETHE-BOOT"))
	f.Add(fatImage(true, "LETHE-BOOT"))
	f.Add(fatImage(false, "X"))
	f.Add(isoImage("LETHE_BOOT"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseFSLabel(b)
		if err == nil && l.Type == "" {
			t.Fatal("no error and no type")
		}
		if len(l.Label) > 32 {
			t.Fatalf("label longer than any format allows: %q", l.Label)
		}
	})
}

// Disks of a machine as the boot image sees them. Paths here are fixtures,
// never opened.
func fixture() []*devices.Device {
	return []*devices.Device{
		{Path: "/dev/nvme0n1", Name: "nvme0n1", Kind: devices.KindDisk, Transport: devices.TransportNVMe, Serial: "NV1", SizeBytes: 1 << 30},                      // fixture: never opened
		{Path: "/dev/sda", Name: "sda", Kind: devices.KindDisk, Transport: devices.TransportSATA, Serial: "SA1", WWN: "naa.5000c500a1b2c3d4", SizeBytes: 1 << 30}, // fixture: never opened
		{Path: "/dev/sdb", Name: "sdb", Kind: devices.KindDisk, Transport: devices.TransportUSB, Removable: true, Serial: "USB1", SizeBytes: 1 << 30, // fixture: never opened
			Partitions: []devices.Partition{{Name: "sdb1", Path: "/dev/sdb1"}}}, // fixture: never opened
		{Path: "/dev/sdc", Name: "sdc", Kind: devices.KindDisk, Transport: devices.TransportSAS, Serial: "RO1", SizeBytes: 1 << 30, ReadOnly: true}, // fixture: never opened
		{Path: "/dev/zram0", Name: "zram0", Kind: devices.KindDisk, Transport: devices.TransportVirtual, Virtual: true, SizeBytes: 1 << 30},
		{Path: "/dev/sdd", Name: "sdd", Kind: devices.KindDisk, Transport: devices.TransportUSB, Removable: true, Serial: "CARDSLOT"}, // fixture: never opened
	}
}

func labelsOf(m map[string]string) LabelReader {
	return func(p string) (FSLabel, error) {
		if l, ok := m[p]; ok {
			return FSLabel{Type: "vfat", Label: l}, nil
		}
		return FSLabel{}, errNoFS
	}
}

func verdicts(ds []Disk) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Dev.Name+":"+string(d.Verdict))
	}
	return strings.Join(s, " ")
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cmdline string
		labels  map[string]string
		want    string
		err     any
	}{
		{"boot stick by label on a partition", "", map[string]string{"/dev/sdb1": "LETHE-BOOT"}, // fixture: never opened
			"nvme0n1:wipe sda:wipe sdb:boot sdc:refused zram0:skipped sdd:skipped", nil},
		{"network boot", "lethe.bootdev=none", nil,
			"nvme0n1:wipe sda:wipe sdb:wipe sdc:refused zram0:skipped sdd:skipped", nil},
		{"boot stick by serial, exclusion by WWN", "lethe.bootdev=USB1 lethe.exclude=0x5000c500a1b2c3d4", nil,
			"nvme0n1:wipe sda:excluded sdb:boot sdc:refused zram0:skipped sdd:skipped", nil},
		{"boot stick by LABEL=", "lethe.bootdev=LABEL=MYSTICK", map[string]string{"/dev/sdb": "MYSTICK"}, // fixture: never opened
			"nvme0n1:wipe sda:wipe sdb:boot sdc:refused zram0:skipped sdd:skipped", nil},
		{"network boot and a labelled stick", "lethe.bootdev=none", map[string]string{"/dev/sdb": "lethe_boot"}, // fixture: never opened
			"nvme0n1:wipe sda:wipe sdb:boot sdc:refused zram0:skipped sdd:skipped", nil},
		{"exclusion of a read-only disk", "lethe.bootdev=none lethe.exclude=RO1", nil,
			"nvme0n1:wipe sda:wipe sdb:wipe sdc:excluded zram0:skipped sdd:skipped", nil},
		{"exclusion of the boot stick", "lethe.exclude=USB1", map[string]string{"/dev/sdb1": "LETHE-BOOT"}, // fixture: never opened
			"nvme0n1:wipe sda:wipe sdb:boot sdc:refused zram0:skipped sdd:skipped", nil},
		{"unknown boot medium", "", nil, "", new(*BootUnknownError)},
		{"unknown boot medium, other labels", "", map[string]string{"/dev/sdb1": "DATA"}, "", new(*BootUnknownError)}, // fixture: never opened
		{"bootdev typo", "lethe.bootdev=USB2", map[string]string{"/dev/sdb1": "LETHE-BOOT"}, "", new(*SelectorError)}, // fixture: never opened
		{"exclude typo", "lethe.bootdev=none lethe.exclude=SA2", nil, "", new(*SelectorError)},
	} {
		cfg, err := ParseCmdline(tc.cmdline)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Classify(fixture(), &cfg, labelsOf(tc.labels))
		if tc.err != nil {
			if err == nil || !errors.As(err, tc.err) {
				t.Errorf("%s: error %v, want %T", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if v := verdicts(got); v != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, v, tc.want)
		}
	}
	// The error for an unknown boot medium names the candidates and the fix.
	cfg := Default()
	_, err := Classify(fixture(), &cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "serial USB1") || !strings.Contains(err.Error(), "lethe.bootdev=none") {
		t.Errorf("BootUnknownError: %v", err)
	}
}
