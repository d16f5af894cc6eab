package wipe

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/probe"
)

func qemuPage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "devices", "testdata", "qemu", name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requireCap(t *testing.T, c Capabilities, id TechniqueID, available bool, reason string) {
	t.Helper()
	cp, ok := c.Lookup(id)
	if !ok || cp.Available != available || !strings.Contains(cp.Reason, reason) {
		t.Fatalf("%s: %+v (present %v), want available=%v reason containing %q", id, cp, ok, available, reason)
	}
}

// QEMU 7.2's NVMe controller, as captured in a guest: OACS Format, FNA 0,
// SANICAP 0, no sanitize log (0x4002).
func TestCapabilitiesQEMUNVMe(t *testing.T) {
	ctrl, err := nvme.ParseController(qemuPage(t, "nvme-identify-controller"))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := nvme.ParseNamespace(qemuPage(t, "nvme-identify-namespace"))
	if err != nil {
		t.Fatal(err)
	}
	in := &probe.Info{Kind: probe.KindNVMe, NVMe: &probe.NVMeInfo{Controller: ctrl, NSID: 1, Namespaces: map[uint32]*nvme.Namespace{1: ns}},
		Notes: []string{"Sanitize Status log: Get Log Page (Sanitize Status): Invalid Field in Command (DNR) (status 0x4002)"}}
	d := &devices.Device{Path: "/dev/nvme0n1", Kind: devices.KindDisk, Transport: devices.TransportNVMe, Media: devices.MediaSSD, SizeBytes: int64(ns.SizeBytes())} // a path inside a QEMU guest
	c := CapabilitiesOf(d, in, FirmwareOptions{}, false)
	requireCap(t, c, TechNVMeSanitizeCrypto, false, "SANICAP = 0")
	requireCap(t, c, TechNVMeSanitizeBlock, false, "SANICAP = 0")
	requireCap(t, c, TechNVMeFormatCrypto, false, "FNA bit 2 clear")
	requireCap(t, c, TechNVMeFormatUserData, true, "keeping LBA format 0")
	if len(c.Capacity) != 1 || !c.Capacity[0].Match {
		t.Fatalf("capacity %+v", c.Capacity)
	}
	p := NewPlan(d, c, defaultReq(PolicyPurge))
	if p.Technique.ID != TechNVMeFormatUserData || p.Category != CategoryClear {
		t.Fatalf("plan %s", p.Technique.ID)
	}
	if p = NewPlan(d, c, defaultReq(PolicyPurgeOrFail)); !strings.Contains(p.Refusal, "no Purge technique") {
		t.Fatalf("purge-or-fail: %q", p.Refusal)
	}
}

// QEMU's AHCI disk: neither Security nor SANITIZE.
func TestCapabilitiesQEMUATA(t *testing.T) {
	id, err := ata.ParseIdentify(qemuPage(t, "ata-identify"))
	if err != nil {
		t.Fatal(err)
	}
	in := &probe.Info{Kind: probe.KindATA, ATA: &probe.ATAInfo{Identify: id}}
	d := &devices.Device{Path: "/dev/sda", Kind: devices.KindDisk, Transport: devices.TransportSATA, Media: devices.MediaHDD, Rotational: true, SizeBytes: int64(id.Sectors) * 512} // a path inside a QEMU guest
	c := CapabilitiesOf(d, in, FirmwareOptions{}, false)
	requireCap(t, c, TechATASanitizeBlock, false, "word 59 bit 12")
	requireCap(t, c, TechATASecurityEnhanced, false, "word 82 bit 1")
	if _, ok := c.Lookup(TechOverwrite); ok {
		t.Fatal("overwrite restricted without reason")
	}
	p := NewPlan(d, c, defaultReq(PolicyPurge))
	if p.Technique.ID != TechOverwrite || !strings.Contains(strings.Join(p.Decision, "\n"), "no Purge technique available") {
		t.Fatalf("plan %s\n%s", p.Technique.ID, strings.Join(p.Decision, "\n"))
	}
}

// An old HBA shows the OS 2^32 sectors of a larger drive: a host
// overwrite would miss the rest, so it is not offered.
func TestCapabilitiesCapacityCap(t *testing.T) {
	id := &ata.Identify{Sectors: 6 << 30, LogicalSectorSize: 512} // a 3 TiB drive
	in := &probe.Info{Kind: probe.KindATA, ATA: &probe.ATAInfo{Identify: id}}
	d := &devices.Device{Path: "/dev/sdx", Kind: devices.KindDisk, Transport: devices.TransportSATA, Media: devices.MediaHDD, Rotational: true, SizeBytes: 1 << 32 * 512} // fixture: the path is never opened
	c := CapabilitiesOf(d, in, FirmwareOptions{}, false)
	ow, ok := c.Lookup(TechOverwrite)
	if !ok || ow.Available || !strings.Contains(ow.Reason, "2^32") || c.Capacity[0].Match {
		t.Fatalf("overwrite %+v capacity %+v", ow, c.Capacity)
	}
	p := NewPlan(d, c, defaultReq(PolicyPurge))
	if !strings.Contains(p.Refusal, "no technique") {
		t.Fatalf("plan %s refusal %q", p.Technique.ID, p.Refusal)
	}
	found := false
	for _, n := range c.Notes {
		found = found || strings.Contains(n, "capacity:")
	}
	if !found {
		t.Fatalf("notes %v", c.Notes)
	}
}

// The drive's own rotation rate decides categories where the OS guessed.
func TestPlannerUsesDriveRotation(t *testing.T) {
	rot := true
	c := caps("ata", TechATASecurityEnhanced)
	c.Rotational = &rot
	p := NewPlan(sataSSD, c, defaultReq(PolicyPurge))
	if p.Category != CategoryPurge || !strings.Contains(strings.Join(p.Decision, "\n"), "reports itself rotating") {
		t.Fatalf("%s %v", p.Category, p.Decision)
	}
}

func TestProbeWithoutPassThrough(t *testing.T) {
	c := ProbeWith(context.Background(), loopDev, FirmwareOptions{})
	if c.Interface != "" || c.ProbeError != "" {
		t.Fatalf("%+v", c)
	}
}

func TestSystemSuspendWrites(t *testing.T) {
	sys := t.TempDir()
	for _, p := range []string{"power", "class/rtc/rtc0"} {
		os.MkdirAll(filepath.Join(sys, p), 0o755)
	}
	os.WriteFile(filepath.Join(sys, "power/state"), []byte("freeze mem disk\n"), 0o644)
	os.WriteFile(filepath.Join(sys, "class/rtc/rtc0/wakealarm"), nil, 0o644)
	if err := (SystemSuspend{Sysfs: sys, WakeAfter: 7e9}).SuspendResume(context.Background()); err != nil {
		t.Fatal(err)
	}
	alarm, _ := os.ReadFile(filepath.Join(sys, "class/rtc/rtc0/wakealarm"))
	state, _ := os.ReadFile(filepath.Join(sys, "power/state"))
	if string(alarm) != "+7\n" || string(state) != "mem\n" {
		t.Fatalf("wakealarm %q state %q", alarm, state)
	}
	os.WriteFile(filepath.Join(sys, "power/state"), []byte("freeze disk\n"), 0o644)
	if err := (SystemSuspend{Sysfs: sys}).SuspendResume(context.Background()); err == nil || !strings.Contains(err.Error(), "not mem") {
		t.Fatalf("no mem state: %v", err)
	}
}

func TestJobKeyIsFileSafe(t *testing.T) {
	for _, d := range []*devices.Device{
		{WWN: "naa.5000c500a1b2c3d4"}, {Model: "Samsung SSD 980/PRO", Serial: "S5 GXNX0 R"}, {Path: "/dev/sda"}, // fixture: the path is never opened
	} {
		k := jobKey(d)
		if strings.ContainsAny(k, "/ ") || k == "" {
			t.Fatalf("%q", k)
		}
	}
}

func TestObservationsBounded(t *testing.T) {
	r := &FirmwareRecord{}
	for i := range 5000 {
		r.Observe("in progress", float64(i)/5000, []string{"a", "b"}[i%2])
	}
	r.Observe("completed", 0, "")
	if len(r.Observations) > cert.MaxObservations || r.Observations[len(r.Observations)-1].State != "completed" || r.Polls != 5001 {
		t.Fatalf("%d observations, last %+v, polls %d", len(r.Observations), r.Observations[len(r.Observations)-1], r.Polls)
	}
}
