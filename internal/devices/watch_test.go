package devices

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A loop device with an offset and a size limit over an image file: the
// window is recorded, the identity carries it, and nothing says the whole
// file is covered. The file lives in the fake tree (a fixture).
func TestLoopWindow(t *testing.T) {
	ft := newFakeTree(t)
	ft.write("srv/disk.img", "")
	if err := os.Truncate(filepath.Join(ft.root, "srv/disk.img"), 64<<20); err != nil {
		t.Fatal(err)
	}
	ft.addDisk(diskSpec{name: "loop3", devpath: "virtual", devno: "7:3", sectors: 65536,
		files: map[string]string{"loop/backing_file": "/srv/disk.img\n", "loop/offset": "1048576\n", "loop/sizelimit": "33554432\n", "diskseq": "42\n"}})
	ft.addDisk(diskSpec{name: "loop4", devpath: "virtual", devno: "7:4", sectors: 131072,
		files: map[string]string{"loop/backing_file": "/srv/disk.img\n", "loop/offset": "0\n", "loop/sizelimit": "0\n"}})
	e := Env{Root: ft.root}
	d, err := e.DescribeName("loop3")
	if err != nil {
		t.Fatal(err)
	}
	if d.LoopOffset != 1<<20 || d.LoopSizeLimit != 32<<20 || d.BackingFileBytes != 64<<20 || d.DiskSeq != 42 || d.CoversWholeBacking() {
		t.Fatalf("loop3 %+v", d)
	}
	id := d.Identity()
	if id.BackingFile != "/srv/disk.img" || id.BackingOffset != 1<<20 || id.BackingSizeLimit != 32<<20 {
		t.Fatalf("identity %+v", id)
	}
	want := "bytes 1048576-34603007 (32.0 MiB) of the backing file /srv/disk.img of 67108864 bytes; the other 33554432 bytes (32.0 MiB) of the file lie outside the device"
	if got := d.BackingRegion(); got != want {
		t.Fatalf("region %q\nwant   %q", got, want)
	}
	whole, _ := e.DescribeName("loop4")
	if !whole.CoversWholeBacking() || !strings.HasPrefix(whole.BackingRegion(), "the whole 64.0 MiB (67108864-byte) backing file") {
		t.Fatalf("loop4: %v %q", whole.CoversWholeBacking(), whole.BackingRegion())
	}
	// Whole-file identities keep their schema-1 encoding: no new keys.
	if wid := whole.Identity(); wid.BackingOffset != 0 || wid.BackingSizeLimit != 0 {
		t.Fatalf("whole-file identity %+v", wid)
	}
	// Each sees the other as a loop device on the same file.
	if o := e.LoopsOnSameFile(d); len(o) != 1 || o[0].Name != "loop4" || !o[0].Overlaps(d.Window()) {
		t.Fatalf("loops on the same file: %+v", o)
	}
}

func TestCounters(t *testing.T) {
	ft := newFakeTree(t)
	ft.addDisk(diskSpec{name: "sdx", devpath: "pci0000:00/x/block", devno: "8:64", sectors: 100,
		files: map[string]string{"stat": "    5499        0  1248188     2351      793       70   863660     7343        0     2220    10191        2        0    65538        0      188      496\n",
			"queue/iostats": "1\n"},
		parts: []partSpec{{name: "sdx1", devno: "8:65", sectors: 50}}})
	ft.write("sys/devices/pci0000:00/x/block/block/sdx/sdx1/stat", "1 0 8 0 1 0 8 0 0 0 0\n") // a 4.17 kernel: no discard fields
	ft.addDisk(diskSpec{name: "sdy", devpath: "pci0000:00/y/block", devno: "8:80", sectors: 100, files: map[string]string{"stat": "1 2 3\n", "queue/iostats": "0\n"}})
	e := Env{Root: ft.root}
	c, err := e.Counters("sdx")
	if err != nil || c.SectorsWritten != 863660 || c.SectorsDiscarded != 65538 {
		t.Fatalf("sdx counters %+v %v", c, err)
	}
	if c, err := e.Counters("sdx1"); err != nil || c.SectorsWritten != 8 || c.SectorsDiscarded != 0 {
		t.Fatalf("sdx1 counters %+v %v", c, err)
	}
	if _, err := e.Counters("sdy"); err == nil || !strings.Contains(err.Error(), "3 fields") {
		t.Fatalf("short stat: %v", err)
	}
	if _, err := e.Counters("sdz"); err == nil {
		t.Fatal("counters of a missing device")
	}
	if !e.IOStatsEnabled("sdx") || !e.IOStatsEnabled("sdx1") || e.IOStatsEnabled("sdy") {
		t.Fatal("iostats")
	}
}

func TestChanges(t *testing.T) {
	before := &Device{Path: "/dev/loop3", Kind: KindDisk, SizeBytes: 1 << 20, LogicalSectorSize: 512, Serial: "A", BackingFile: "/x", DiskSeq: 7} // fixture: the path is never opened
	same := *before
	if c := Changes(before, &same); len(c) != 0 {
		t.Fatalf("no change: %v", c)
	}
	after := *before
	after.SizeBytes, after.Serial, after.LoopOffset, after.DiskSeq = 2<<20, "B", 4096, 8
	got := strings.Join(Changes(before, &after), "\n")
	for _, want := range []string{"the size grew from 1048576 to 2097152 bytes", `the serial number changed from "A" to "B"`, "the loop offset changed from 0 to 4096", "disk sequence number changed from 7 to 8"} {
		if !strings.Contains(got, want) {
			t.Errorf("changes lack %q:\n%s", want, got)
		}
	}
	f1 := &Device{Path: "/img", Kind: KindFile, SizeBytes: 10, fileDev: 1, fileIno: 2}
	f2 := *f1
	f2.fileIno = 3
	if c := Changes(f1, &f2); len(c) != 1 || !strings.Contains(c[0], "now names another file") {
		t.Fatalf("replaced file: %v", c)
	}
}
