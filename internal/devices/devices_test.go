package devices

import (
	"errors"
	"github.com/lethe-project/lethe/internal/humanize"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeTree builds a sysfs/procfs tree like a server's: the paths below are
// fixtures inside a temporary directory, never the host's devices.
type fakeTree struct {
	t    *testing.T
	root string
}

func newFakeTree(t *testing.T) *fakeTree {
	ft := &fakeTree{t: t, root: t.TempDir()}
	for _, d := range []string{"sys/block", "sys/class/block", "sys/dev/block", "proc/self", "sys/class/dmi/id", "etc"} {
		ft.mkdir(d)
	}
	return ft
}

func (ft *fakeTree) mkdir(p string) {
	if err := os.MkdirAll(filepath.Join(ft.root, p), 0o755); err != nil {
		ft.t.Fatal(err)
	}
}

func (ft *fakeTree) write(p, content string) {
	ft.mkdir(filepath.Dir(p))
	if err := os.WriteFile(filepath.Join(ft.root, p), []byte(content), 0o644); err != nil {
		ft.t.Fatal(err)
	}
}

func (ft *fakeTree) link(target, p string) {
	if err := os.Symlink(filepath.Join(ft.root, target), filepath.Join(ft.root, p)); err != nil {
		ft.t.Fatal(err)
	}
}

// disk adds a whole disk at devpath (under sys/devices) with attributes.
type diskSpec struct {
	name, devpath, devno string
	sectors              int64
	lbs, pbs             int
	rotational           bool
	removable, ro        bool
	device               map[string]string // files in device/
	files                map[string]string // files in the disk directory
	parts                []partSpec
	holders, slaves      []string
}

type partSpec struct {
	name, devno string
	sectors     int64
	holders     []string
}

func b2s(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (ft *fakeTree) addDisk(d diskSpec) {
	dir := filepath.Join("sys/devices", d.devpath, "block", d.name)
	ft.write(dir+"/dev", d.devno+"\n")
	ft.write(dir+"/size", itoa(d.sectors)+"\n")
	ft.write(dir+"/ro", b2s(d.ro)+"\n")
	ft.write(dir+"/removable", b2s(d.removable)+"\n")
	if d.lbs == 0 {
		d.lbs = 512
	}
	if d.pbs == 0 {
		d.pbs = d.lbs
	}
	ft.write(dir+"/queue/logical_block_size", itoa(int64(d.lbs))+"\n")
	ft.write(dir+"/queue/physical_block_size", itoa(int64(d.pbs))+"\n")
	ft.write(dir+"/queue/rotational", b2s(d.rotational)+"\n")
	for k, v := range d.device {
		ft.write(dir+"/device/"+k, v)
	}
	for k, v := range d.files {
		ft.write(dir+"/"+k, v)
	}
	ft.mkdir(dir + "/holders")
	for _, h := range d.holders {
		ft.write(dir+"/holders/"+h, "")
	}
	ft.mkdir(dir + "/slaves")
	for _, s := range d.slaves {
		ft.write(dir+"/slaves/"+s, "")
	}
	ft.link(dir, "sys/block/"+d.name)
	ft.link(dir, "sys/class/block/"+d.name)
	ft.link(dir, "sys/dev/block/"+d.devno)
	for _, p := range d.parts {
		pdir := dir + "/" + p.name
		ft.write(pdir+"/dev", p.devno+"\n")
		ft.write(pdir+"/partition", "1\n")
		ft.write(pdir+"/size", itoa(p.sectors)+"\n")
		ft.mkdir(pdir + "/holders")
		for _, h := range p.holders {
			ft.write(pdir+"/holders/"+h, "")
		}
		ft.link(pdir, "sys/class/block/"+p.name)
		ft.link(pdir, "sys/dev/block/"+p.devno)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// serverTree is a server with:
//   - sda: SATA SSD, sda1 mounted at /data, serial only in VPD page 0x80;
//   - sdb: SAS HDD under dm-0, which holds the root filesystem;
//   - sdc: USB stick with swap on sdc1;
//   - nvme0n1: NVMe SSD, unused;
//   - vda: virtio disk with a serial;
//   - zram0, loop0 (detached), loop1 (attached).
func serverTree(t *testing.T) *fakeTree {
	ft := newFakeTree(t)
	vpd := string([]byte{0x00, 0x80, 0x00, 0x0c}) + "  S3Z9NB0K12"
	ft.addDisk(diskSpec{name: "sda", devpath: "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0", devno: "8:0",
		sectors: 1953525168, pbs: 4096,
		device: map[string]string{"vendor": "ATA     \n", "model": "Samsung SSD 860 \n", "rev": "2B6Q\n", "vpd_pg80": vpd, "wwid": "naa.5002538e40a1b2c3\n"},
		parts:  []partSpec{{name: "sda1", devno: "8:1", sectors: 1000000}}})
	ft.addDisk(diskSpec{name: "sdb", devpath: "pci0000:00/0000:00:02.0/host1/port-1:0/end_device-1:0/target1:0:0/1:0:0:0", devno: "8:16",
		sectors: 3907029168, rotational: true, holders: []string{"dm-0"},
		device: map[string]string{"vendor": "SEAGATE \n", "model": "ST2000NM0045    \n", "rev": "N004\n", "wwid": "naa.5000c500a1b2c3d4\n"}})
	ft.addDisk(diskSpec{name: "sdc", devpath: "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host2/target2:0:0/2:0:0:0", devno: "8:32",
		sectors: 60000000, removable: true,
		device: map[string]string{"vendor": "SanDisk \n", "model": "Cruzer Blade    \n", "rev": "1.00\n"},
		parts:  []partSpec{{name: "sdc1", devno: "8:33", sectors: 4000000}}})
	ft.addDisk(diskSpec{name: "nvme0n1", devpath: "pci0000:00/0000:00:04.0/nvme/nvme0", devno: "259:0",
		sectors: 7814037168,
		device:  map[string]string{"model": "INTEL SSDPE2KX040T8                     \n", "serial": "PHLJ9123004G4P0DGN  \n", "firmware_rev": "VDV10131\n"},
		files:   map[string]string{"wwid": "eui.01000000000000005cd2e4a1b2c3d4e5\n"}})
	ft.addDisk(diskSpec{name: "vda", devpath: "pci0000:00/0000:00:05.0/virtio2", devno: "254:0",
		sectors: 2097152, rotational: true, files: map[string]string{"serial": "VIRT-0001\n"}, device: map[string]string{"vendor": "0x1af4\n"}})
	ft.addDisk(diskSpec{name: "dm-0", devpath: "virtual", devno: "253:0", sectors: 3907029168, slaves: []string{"sdb"}})
	ft.addDisk(diskSpec{name: "zram0", devpath: "virtual", devno: "252:0", sectors: 8000000})
	ft.addDisk(diskSpec{name: "loop0", devpath: "virtual", devno: "7:0", sectors: 0})
	ft.addDisk(diskSpec{name: "loop1", devpath: "virtual", devno: "7:1", sectors: 204800, rotational: true,
		files: map[string]string{"loop/backing_file": "/srv/images/customer.img\n"}})
	ft.write("proc/self/mountinfo", strings.Join([]string{
		"21 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/vg-root rw",
		"22 21 0:20 / /proc rw,nosuid - proc proc rw",
		`36 21 8:1 / /data\040disk rw,relatime shared:7 - ext4 /dev/sda1 rw`, // fixture: never opened
		"37 21 0:33 / /run rw - tmpfs tmpfs rw",
	}, "\n")+"\n")
	ft.write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sdc1                               partition\t2000000\t\t0\t\t-2\n") // fixture: never opened
	ft.write("sys/class/dmi/id/sys_vendor", "Dell Inc.\n")
	ft.write("sys/class/dmi/id/product_name", "PowerEdge R640\n")
	ft.write("sys/class/dmi/id/product_serial", "7XK2M53\n")
	ft.write("sys/class/dmi/id/product_uuid", "4c4c4544-0058-4b10-8032-b7c04f4d3533\n")
	ft.write("sys/class/dmi/id/chassis_asset_tag", "Default string\n")
	ft.write("etc/hostname", "r640-17\n")
	return ft
}

func byName(t *testing.T, list []*Device, name string) *Device {
	t.Helper()
	for _, d := range list {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("device %s not discovered", name)
	return nil
}

func reasons(d *Device) []Reason {
	var out []Reason
	for _, r := range Check(d) {
		out = append(out, r.Reason)
	}
	return out
}

func TestDiscoverServer(t *testing.T) {
	env := Env{Root: serverTree(t).root}
	list, err := env.Discover()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list {
		names = append(names, d.Name)
	}
	want := []string{"dm-0", "loop1", "nvme0n1", "sda", "sdb", "sdc", "vda", "zram0"}
	if !slices.Equal(names, want) {
		t.Fatalf("discovered %v, want %v (detached loop0 left out)", names, want)
	}

	sda := byName(t, list, "sda")
	if sda.Transport != TransportSATA || sda.Media != MediaSSD || sda.Model != "Samsung SSD 860" || sda.Serial != "S3Z9NB0K12" ||
		sda.Firmware != "2B6Q" || sda.WWN != "naa.5002538e40a1b2c3" || sda.Vendor != "" || sda.PhysicalSectorSize != 4096 ||
		sda.SizeBytes != 1953525168*512 {
		t.Errorf("sda = %+v", sda)
	}
	if got := reasons(sda); !slices.Equal(got, []Reason{ReasonMounted}) {
		t.Errorf("sda refusals %v, want [mounted]", got)
	}
	if m := sda.Usage.Mounts; len(m) != 1 || m[0].MountPoint != "/data disk" || m[0].Via != "sda1" {
		t.Errorf("sda mounts %+v, want /data disk via sda1", m)
	}

	sdb := byName(t, list, "sdb")
	if sdb.Transport != TransportSAS || sdb.Media != MediaHDD || sdb.Vendor != "SEAGATE" {
		t.Errorf("sdb = %+v", sdb)
	}
	if got := reasons(sdb); !slices.Equal(got, []Reason{ReasonSystem, ReasonMounted, ReasonHolders}) {
		t.Errorf("sdb refusals %v, want [system mounted holders]", got)
	}
	if sdb.Usage.Mounts[0].Via != "dm-0" {
		t.Errorf("sdb root mount via %q, want dm-0", sdb.Usage.Mounts[0].Via)
	}

	sdc := byName(t, list, "sdc")
	if sdc.Transport != TransportUSB || !sdc.Removable {
		t.Errorf("sdc = %+v", sdc)
	}
	if got := reasons(sdc); !slices.Equal(got, []Reason{ReasonSwap}) {
		t.Errorf("sdc refusals %v, want [swap]", got)
	}

	nv := byName(t, list, "nvme0n1")
	if nv.Transport != TransportNVMe || nv.Serial != "PHLJ9123004G4P0DGN" || nv.Model != "INTEL SSDPE2KX040T8" ||
		nv.Firmware != "VDV10131" || nv.WWN != "eui.01000000000000005cd2e4a1b2c3d4e5" {
		t.Errorf("nvme0n1 = %+v", nv)
	}
	if got := reasons(nv); len(got) != 0 {
		t.Errorf("nvme0n1 refused: %v", got)
	}
	if !nv.Matches("PHLJ9123004G4P0DGN") || !nv.Matches("/dev/nvme0n1") || !nv.Matches("nvme0n1") || !nv.Matches("EUI.01000000000000005CD2E4A1B2C3D4E5") || nv.Matches("sda") { // fixture: never opened
		t.Error("nvme0n1 Matches by serial/path/name/WWN wrong")
	}

	vda := byName(t, list, "vda")
	if vda.Transport != TransportVirtio || vda.Serial != "VIRT-0001" || vda.Vendor != "" {
		t.Errorf("vda = %+v", vda)
	}
	loop := byName(t, list, "loop1")
	if loop.Transport != TransportLoop || loop.BackingFile != "/srv/images/customer.img" || !loop.Virtual || loop.Rotational || loop.Media != MediaVirtual ||
		slices.Contains(reasons(loop), ReasonVirtual) {
		t.Errorf("loop1 = %+v", loop)
	}
	for _, name := range []string{"zram0", "dm-0"} {
		d := byName(t, list, name)
		if !d.Virtual || !slices.Contains(reasons(d), ReasonVirtual) {
			t.Errorf("%s not marked virtual", name)
		}
	}
}

func TestForce(t *testing.T) {
	d := &Device{Path: "/dev/sdz", Name: "sdz", Kind: KindDisk, SizeBytes: 1 << 30, Usage: Usage{Holders: []string{"md127"}}} // fixture: never opened
	if r := Allowed(d, false); r == nil || r.Reason != ReasonHolders || !r.Forceable || !strings.Contains(r.Error(), "--force") {
		t.Fatalf("holders not refused as forceable: %v", r)
	}
	if r := Allowed(d, true); r != nil {
		t.Fatalf("--force did not override holders: %v", r)
	}
	d.Usage.Mounts = []Mount{{MountPoint: "/srv", FSType: "xfs", Via: "md127"}}
	if r := Allowed(d, true); r == nil || r.Reason != ReasonMounted || r.Forceable {
		t.Fatalf("--force overrode a mount: %v", r)
	}
	for _, u := range []Usage{{System: "holds /"}, {Swap: []string{"/dev/sdz2"}}, {Busy: true}} { // fixture: never opened
		d := &Device{Path: "/dev/sdz", Kind: KindDisk, SizeBytes: 1, Usage: u} // fixture: never opened
		if r := Allowed(d, true); r == nil || r.Forceable {
			t.Errorf("--force overrode %+v", u)
		}
	}
	ro := &Device{Path: "/dev/sdz", Kind: KindDisk, SizeBytes: 1, ReadOnly: true} // fixture: never opened
	if r := Allowed(ro, true); r == nil || r.Reason != ReasonReadOnly {
		t.Errorf("read-only not refused under --force: %v", r)
	}
	part := &Device{Path: "/dev/sdz1", Kind: KindPartition, Parent: "/dev/sdz", SizeBytes: 1}        // fixture: never opened
	if r := Allowed(part, true); r == nil || !strings.Contains(r.Error(), "name /dev/sdz instead") { // fixture: never opened
		t.Errorf("partition refusal %v", r)
	}
}

func TestHostIdentity(t *testing.T) {
	h := Env{Root: serverTree(t).root}.Host()
	if h.SystemVendor != "Dell Inc." || h.SystemProduct != "PowerEdge R640" || h.SystemSerial != "7XK2M53" ||
		h.SystemUUID != "4c4c4544-0058-4b10-8032-b7c04f4d3533" || h.ChassisAssetTag != "" || h.Hostname != "r640-17" {
		t.Fatalf("host identity %+v", h)
	}
}

func TestParseMountinfo(t *testing.T) {
	ms := parseMountinfo("36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\nbroken line\n40 1 0:5 / /x - tmpfs none rw\n")
	if len(ms) != 2 || ms[0].dev != (devno{98, 0}) || ms[0].mountPoint != "/mnt 2" || ms[0].fsType != "ext3" || ms[0].source != "/dev/root" {
		t.Fatalf("parsed %+v", ms)
	}
}

func TestParseSwaps(t *testing.T) {
	s := parseSwaps("Filename Type Size Used Priority\n/swapfile file 100 0 -2\n/dev/sdb2 partition 200 0 -3\n") // fixture: never opened
	if len(s) != 2 || s[0].file != "/swapfile" || s[0].kind != "file" || s[1].kind != "partition" {
		t.Fatalf("parsed %+v", s)
	}
}

func TestNormalizeWWN(t *testing.T) {
	for in, want := range map[string]string{
		"naa.5000C500A1B2C3D4": "naa.5000c500a1b2c3d4",
		"0x5000c500a1b2c3d4":   "naa.5000c500a1b2c3d4",
		"eui.0025388B91B2C3D4": "eui.0025388b91b2c3d4",
		"t10.ATA     QEMU":     "t10.ATA     QEMU",
	} {
		if got := normalizeWWN(in); got != want {
			t.Errorf("normalizeWWN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDescribeBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "missing"), dir, "/dev/null", ""} {
		_, err := Describe(p)
		var ie *InputError
		if err == nil || !errors.As(err, &ie) {
			t.Errorf("Describe(%q) = %v, want an InputError", p, err)
		}
	}
	empty := filepath.Join(dir, "empty.img")
	os.WriteFile(empty, nil, 0o644)
	d, err := Describe(empty)
	if err != nil {
		t.Fatal(err)
	}
	if got := reasons(d); !slices.Equal(got, []Reason{ReasonEmpty}) {
		t.Errorf("empty image refusals %v", got)
	}
}

func TestNaturalCompare(t *testing.T) {
	names := []string{"loop10", "sda", "loop2", "nvme10n1", "nvme2n1", "loop1", "nvme2n10", "nvme2n2", "sdaa", "sdb", "loop02"}
	slices.SortFunc(names, humanize.NaturalCompare)
	want := []string{"loop1", "loop2", "loop02", "loop10", "nvme2n1", "nvme2n2", "nvme2n10", "nvme10n1", "sda", "sdaa", "sdb"}
	if !slices.Equal(names, want) {
		t.Errorf("got %v\nwant %v", names, want)
	}
}
