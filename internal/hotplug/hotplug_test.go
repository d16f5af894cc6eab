package hotplug

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/testutil"
)

func TestParseUevent(t *testing.T) {
	// As the kernel sends it (lib/kobject_uevent.c): header, then the
	// environment, each NUL-terminated.
	msg := "add@/devices/virtual/block/loop3\x00ACTION=add\x00DEVPATH=/devices/virtual/block/loop3\x00SUBSYSTEM=block\x00MAJOR=7\x00MINOR=3\x00DEVNAME=loop3\x00DEVTYPE=disk\x00DISKSEQ=42\x00SEQNUM=5012\x00"
	u, err := ParseUevent([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if u.Action != "add" || u.DevName != "loop3" || u.DevType != "disk" || u.DiskSeq != 42 || u.Seq != 5012 || !u.IsDisk() || u.Env["MAJOR"] != "7" {
		t.Errorf("%+v", u)
	}
	for _, bad := range []string{
		"libudev\x00\xfe\xed\xca\xfe",   // udev's own messages
		"",                              //
		"add@/x\x00ACTION=remove\x00",   // header and body disagree
		"add@/x\x00SEQNUM=x\x00",        // not a number
		"add@/x\x00NOEQUALS\x00",        //
		"@/devices/x\x00",               // no action
		"add@devices\x00ACTION=add\x00", // path not absolute
		"remove@/x\x00DEVPATH=/y\x00SUBSYSTEM=blk\x00", // header and body disagree
	} {
		if _, err := ParseUevent([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseUevent(f *testing.F) {
	f.Add([]byte("change@/devices/virtual/block/loop0\x00ACTION=change\x00DEVPATH=/devices/virtual/block/loop0\x00SUBSYSTEM=block\x00DEVNAME=loop0\x00DEVTYPE=disk\x00DISKSEQ=9\x00SEQNUM=1\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUevent(b)
		if err == nil && (u.Action == "" || !strings.HasPrefix(u.DevPath, "/")) {
			t.Fatalf("accepted %q as %+v", b, u)
		}
	})
}

func TestSlotOf(t *testing.T) {
	for _, tc := range []struct{ name, path, slot, label string }{
		{"sdb", "/sys/devices/pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block/sdb", "/devices/pci0000:00/0000:00:1f.2/ata3", "ata3"},
		{"nvme1n1", "/sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0/nvme/nvme1/nvme1n1", "/devices/pci0000:00/0000:00:02.0/0000:01:00.0", "0000:01:00.0"},
		{"sdc", "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.4/2-1.4:1.0/host6/target6:0:0/6:0:0:0/block/sdc", "/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.4", "usb 2-1.4"},
		{"vda", "/sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda", "/devices/pci0000:00/0000:00:04.0", "0000:00:04.0"},
		{"sdd", "/sys/devices/pci0000:00/0000:00:03.0/0000:03:00.0/host0/port-0:0/expander-0:0/port-0:0:4/end_device-0:0:4/target0:0:4/0:0:4:0/block/sdd", "/devices/pci0000:00/0000:00:03.0/0000:03:00.0/host0/port-0:0/expander-0:0/port-0:0:4/end_device-0:0:4", "end_device-0:0:4"},
		{"loop3", "/sys/devices/virtual/block/loop3", "virtual/loop3", "loop3"},
	} {
		slot, label := SlotOf(tc.name, tc.path)
		if slot != tc.slot || label != tc.label {
			t.Errorf("%s: slot %q label %q, want %q %q", tc.name, slot, label, tc.slot, tc.label)
		}
	}
	// A re-plugged NVMe drive comes back as another controller instance in
	// the same PCIe slot: same slot.
	a, _ := SlotOf("nvme0n1", "/sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0/nvme/nvme0/nvme0n1")
	b, _ := SlotOf("nvme2n1", "/sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0/nvme/nvme2/nvme2n1")
	if a != b {
		t.Errorf("re-plugged NVMe: %q != %q", a, b)
	}
}

// loop is a loop device the test attached to its own scratch file.
func attach(t *testing.T, size int64) (dev, file string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", file).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() { detach(dev) })
	return dev, file
}

func detach(dev string) {
	if dev != "" {
		_ = exec.Command("losetup", "-d", dev).Run()
	}
}

// TestLoopAttachDetach attaches and detaches loop devices while a watcher
// runs: each attach is an insertion, each detach a removal, a device
// attached before the watcher started is reported as present, and a
// detach followed at once by an attach of another file to the same loop
// device is a removal then an insertion (the disk sequence number moved).
func TestLoopAttachDetach(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "losetup")
	before, _ := attach(t, 1<<20)
	w, err := New(Options{Rescan: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	name := func(dev string) string { return filepath.Base(dev) }
	found := false
	for _, m := range w.Present() {
		if m.Name == name(before) {
			found = true
			if m.SizeBytes != 1<<20 || m.Slot != "virtual/"+m.Name {
				t.Errorf("present: %+v", m)
			}
		}
	}
	if !found {
		t.Errorf("%s attached before the watcher is not listed as present", before)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Event, 64)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, ch) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	}()
	expect := func(kind Kind, dev string, size int64) Medium {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case ev := <-ch:
				if ev.Medium.Name != name(dev) {
					continue // another loop device on this machine
				}
				if ev.Kind != kind || (size > 0 && ev.Medium.SizeBytes != size) {
					t.Fatalf("%s: got %s %+v (cause %s), want %s", dev, ev.Kind, ev.Medium, ev.Cause, kind)
				}
				return ev.Medium
			case <-timeout:
				t.Fatalf("%s: no %s event", dev, kind)
			}
		}
	}
	dev, _ := attach(t, 2<<20)
	m1 := expect(Inserted, dev, 2<<20)
	detach(dev)
	expect(Removed, dev, 0)

	// Re-attach the same loop device to another file and swap it at once.
	f2 := filepath.Join(t.TempDir(), "b.img")
	os.WriteFile(f2, nil, 0o600)
	os.Truncate(f2, 3<<20)
	if out, err := exec.Command("losetup", dev, f2).CombinedOutput(); err != nil {
		t.Fatalf("losetup %s: %v %s", dev, err, out)
	}
	m2 := expect(Inserted, dev, 3<<20)
	if m2.DiskSeq != 0 && m2.DiskSeq == m1.DiskSeq {
		t.Errorf("disk sequence did not move: %d", m2.DiskSeq)
	}
	f3 := filepath.Join(t.TempDir(), "c.img")
	os.WriteFile(f3, nil, 0o600)
	os.Truncate(f3, 3<<20)
	var out bytes.Buffer
	sw := exec.Command("sh", "-c", "losetup -d "+dev+" && losetup "+dev+" "+f3)
	sw.Stdout, sw.Stderr = &out, &out
	if err := sw.Run(); err != nil {
		t.Fatalf("swap: %v %s", err, out.String())
	}
	expect(Removed, dev, 3<<20)
	m3 := expect(Inserted, dev, 3<<20)
	if m3.DiskSeq == m2.DiskSeq && m3.DiskSeq != 0 {
		t.Errorf("swapped medium has the same disk sequence %d", m3.DiskSeq)
	}
	detach(dev)
	expect(Removed, dev, 0)
	detach(before)
	expect(Removed, before, 0)
}
