package tests

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/qemutest"
	"github.com/lethe-project/lethe/internal/wipe"
)

// In the guest (paths below are the guest's disks): the NVMe namespace is
// /dev/nvme0n1 and the device-mapper backing disk /dev/vda; the AHCI and
// virtio-scsi disks are sdX in probe order, so the steps find them by the
// vendor sysfs reports (libata says "ATA", scsi-hd "QEMU").
const findDisks = `for d in /sys/block/sd*; do case "$(cat $d/device/vendor)" in ATA*) ATA=/dev/${d##*/};; QEMU*) SCSI=/dev/${d##*/};; esac; done
`

// guestWipe is lethe wipe with the test's key and a state directory in the
// guest's tmpfs; certificates go to $OUT/certs/NAME.
func guestWipe(name, args string) string {
	return "lethe wipe --yes --key /mnt/lethe/in/lethe.key --cert-dir $OUT/certs/" + name +
		" --state-dir /tmp/lethe-state --operator qemu-guest --organization lethe-tests --progress none " + args
}

type guestTechnique struct {
	ID        string `json:"id"`
	Category  string `json:"category"`
	Available bool   `json:"available"`
	Reason    string `json:"reason"`
}

type guestDrive struct {
	Path       string           `json:"path"`
	Serial     string           `json:"serial"`
	Transport  string           `json:"transport"`
	Interface  string           `json:"interface"`
	ProbeError string           `json:"probeError"`
	Techniques []guestTechnique `json:"techniques"`
}

func (d guestDrive) technique(t *testing.T, id string) guestTechnique {
	t.Helper()
	for _, x := range d.Techniques {
		if x.ID == id {
			return x
		}
	}
	t.Fatalf("%s (%s): technique %s not listed: %+v", d.Path, d.Serial, id, d.Techniques)
	return guestTechnique{}
}

func buildDMHelper(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "dmhelper")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./internal/dmhelper")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOAMD64=v1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build dmhelper: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGuestFirmware runs lethe inside a QEMU guest (TCG) against emulated
// NVMe, AHCI and virtio-scsi disks and a device-mapper error target, in
// one boot: what QEMU can prove about the firmware paths.
func TestGuestFirmware(t *testing.T) {
	qemutest.Require(t)
	img := qemutest.GetImage(t)
	s := newStation(t)
	key, err := os.ReadFile(s.key)
	if err != nil {
		t.Fatal(err)
	}
	// The NVMe disk holds "customer data": random blocks with markers.
	const nvmeSize = 64 << 20
	marker := []byte("CUSTOMER-DATA-lethe-qemu-nvme-4c1d")
	nvmeFile := filepath.Join(t.TempDir(), "nvme.img")
	data := make([]byte, nvmeSize)
	rand.Read(data)
	for off := 0; off < nvmeSize; off += 1 << 20 {
		copy(data[off+512:], marker)
	}
	if err := os.WriteFile(nvmeFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	disks := []qemutest.Disk{
		{Kind: qemutest.NVMe, File: nvmeFile, Serial: "LETHENVME0001"},
		{Kind: qemutest.AHCI, Size: 32 << 20, Serial: "LETHESATA0001"},
		{Kind: qemutest.VirtioSCSI, Size: 32 << 20, Serial: "LETHESCSI0001"},
		{Kind: qemutest.VirtioBlk, Size: 16 << 20, Serial: "LETHEDMBACK01"},
	}
	// 16 MiB = 32768 sectors: linear, 8 failing sectors at LBA 8192, linear.
	// (The engine retries each failing sector; a longer range only costs
	// guest time.)
	dmTable := `"0 8192 linear /dev/vda 0" "8192 8 error" "8200 24568 linear /dev/vda 8200"` // inside the QEMU guest: its emulated disks
	steps := []qemutest.Step{
		{Name: "modules", Script: "lethe modules load > $OUT/modules.txt"},
		{Name: "devices", Script: "lethe devices --json --state-dir /tmp/lethe-state > $OUT/devices.json && lethe devices --state-dir /tmp/lethe-state > $OUT/devices.txt"},
		{Name: "nvme-plan", Script: "lethe plan --state-dir /tmp/lethe-state /dev/nvme0n1"},                           // inside the QEMU guest: its emulated disks
		{Name: "nvme-purge-or-fail", Script: "lethe plan --policy purge-or-fail /dev/nvme0n1", ContinueOnError: true}, // inside the QEMU guest: its emulated disks
		{Name: "nvme-wipe", Script: guestWipe("nvme", "--policy purge /dev/nvme0n1")},
		{Name: "ata-purge-or-fail", Script: findDisks + guestWipe("ata-pof", "--policy purge-or-fail $ATA"), ContinueOnError: true},
		{Name: "ata-wipe", Script: findDisks + guestWipe("ata", "--policy purge $ATA")},
		{Name: "scsi-purge-or-fail", Script: findDisks + guestWipe("scsi-pof", "--policy purge-or-fail $SCSI"), ContinueOnError: true},
		{Name: "scsi-format-unit", Script: findDisks + guestWipe("scsi-fu", "--technique scsi-format-unit $SCSI"), ContinueOnError: true},
		{Name: "scsi-wipe", Script: findDisks + guestWipe("scsi", "--policy purge $SCSI")},
		{Name: "dm-create", Script: "/mnt/lethe/in/dmhelper create lethe-bad " + dmTable + " > $OUT/dm.txt && cat $OUT/dm.txt"},
		{Name: "holders-refused", Script: guestWipe("holders", "/dev/vda"), ContinueOnError: true},
		{Name: "holders-forced-plan", Script: "lethe plan --force /dev/vda"}, // inside the QEMU guest: its emulated disks
		{Name: "dm-wipe", Script: guestWipe("dm", "--force --method zero $(cat $OUT/dm.txt)"), ContinueOnError: true},
	}
	start := time.Now()
	res := qemutest.Boot(t, img, qemutest.Options{Disks: disks, Timeout: 6 * time.Minute,
		Files: map[string][]byte{"in/lethe.key": key, "in/dmhelper": buildDMHelper(t)}}, steps...)
	t.Logf("guest took %s", time.Since(start).Round(time.Second))
	for _, st := range res.Steps {
		t.Logf("step %-20s exit %d in %s", st.Name, st.ExitCode, st.Took.Round(100*time.Millisecond))
	}
	step := func(name string, code int, out ...string) qemutest.StepResult {
		t.Helper()
		st := res.Step(name)
		if !st.Ran || st.ExitCode != code {
			t.Fatalf("step %s: ran %v exit %d, want %d\nstdout:\n%s\nstderr:\n%s", name, st.Ran, st.ExitCode, code, st.Stdout, st.Stderr)
		}
		for _, o := range out {
			if !strings.Contains(st.Stdout+st.Stderr, o) {
				t.Fatalf("step %s: output lacks %q\nstdout:\n%s\nstderr:\n%s", name, o, st.Stdout, st.Stderr)
			}
		}
		return st
	}
	pub, err := sign.LoadPublicKey(s.pub)
	if err != nil {
		t.Fatal(err)
	}
	cert := func(dir string) *cert.Statement {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(res.Out, "certs", dir, "*.cert.json"))
		if len(m) != 1 {
			t.Fatalf("%s: %d certificates", dir, len(m))
		}
		v, err := attest.ReadFile(m[0], pub)
		if err != nil {
			t.Fatalf("%s: certificate does not verify on the host: %v", dir, err)
		}
		// Every certificate must fit the audit store's envelope limit.
		if st, _ := os.Stat(m[0]); st.Size() > store.MaxEnvelope {
			t.Errorf("%s: certificate is %d bytes, over the audit store's %d", dir, st.Size(), store.MaxEnvelope)
		}
		return v.Statement
	}
	step("modules", 0)

	// lethe identifies all three with the right techniques.
	step("devices", 0)
	var drives []guestDrive
	if err := json.Unmarshal(res.ReadFile(t, "devices.json"), &drives); err != nil {
		t.Fatal(err)
	}
	bySerial := map[string]guestDrive{}
	for _, d := range drives {
		bySerial[d.Serial] = d
	}
	nv, sa, sc := bySerial["LETHENVME0001"], bySerial["LETHESATA0001"], bySerial["LETHESCSI0001"]
	if nv.Interface != "nvme" || sa.Interface != "ata" || sc.Interface != "scsi" {
		t.Fatalf("interfaces: nvme %q ata %q scsi %q (probe errors %q %q %q)\n%s", nv.Interface, sa.Interface, sc.Interface,
			nv.ProbeError, sa.ProbeError, sc.ProbeError, res.ReadFile(t, "devices.txt"))
	}
	for _, c := range []struct {
		d         guestDrive
		id        string
		available bool
		reason    string
	}{
		{nv, "nvme-sanitize-crypto", false, "SANICAP = 0"},
		{nv, "nvme-sanitize-block", false, "SANICAP = 0"},
		{nv, "nvme-format-crypto", false, "FNA bit 2 clear"},
		{nv, "nvme-format-user-data", true, "keeping LBA format"},
		{nv, "overwrite", true, "Clear only"},
		{sa, "ata-sanitize-crypto", false, "word 59 bit 12"},
		{sa, "ata-security-erase-enhanced", false, "word 82 bit 1"},
		{sa, "ata-security-erase", false, "word 82 bit 1"},
		{sa, "overwrite", true, ""},
		{sc, "scsi-sanitize-crypto", false, "REPORT SUPPORTED OPERATION CODES"},
		{sc, "scsi-format-unit", true, "mandatory"},
		{sc, "overwrite", true, ""},
	} {
		got := c.d.technique(t, c.id)
		if got.Available != c.available || !strings.Contains(got.Reason, c.reason) {
			t.Errorf("%s %s: available %v reason %q, want %v and %q", c.d.Serial, c.id, got.Available, got.Reason, c.available, c.reason)
		}
	}
	if nv.technique(t, "nvme-format-user-data").Category != "clear" {
		t.Error("Format NVM SES=1 must be Clear")
	}

	// NVMe: policy purge falls back to Format NVM SES=1, which is Clear.
	step("nvme-plan", 0, "NVMe Format NVM, User Data Erase (SES=1) -> CLEAR", "no Purge technique available")
	step("nvme-purge-or-fail", 1, "no Purge technique available")
	step("nvme-wipe", 0, "ERASED")
	nc := cert("nvme").Predicate
	f := nc.Firmware
	if nc.Status != wipe.StatusErased || nc.Sanitization.Technique != wipe.TechNVMeFormatUserData || nc.Sanitization.Category != wipe.CategoryClear || f == nil {
		t.Fatalf("nvme certificate: %s %s %s", nc.Status, nc.Sanitization.Technique, nc.Sanitization.Category)
	}
	why := strings.Join(nc.Sanitization.Decision, "\n")
	for _, w := range []string{"no Purge technique available", "SANICAP = 0", "FNA bit 2 clear", "achieves Clear only"} {
		if !strings.Contains(why, w) {
			t.Errorf("nvme certificate does not say why it is Clear (%q):\n%s", w, why)
		}
	}
	// The firmware erase is watched like an overwrite: the kernel counted
	// lethe's canaries and nothing else on the namespace.
	if w := nc.Watch; w == nil || w.Result != "passed" || len(w.Counters) == 0 || w.OwnSectorsWritten == 0 {
		t.Fatalf("nvme device watch: %+v", w)
	}
	ev := f.Proof
	if ev == nil || ev.Result != "passed" || ev.CanariesPlanted != 64 || len(ev.CanaryOffsets) != 64 || ev.CanariesSurvived != 0 || ev.InformativeSamples < 200 || ev.UnchangedBlocks != 0 || !ev.Deallocated {
		t.Fatalf("nvme proof: %+v", ev)
	}
	if nc.Verification.Scope != "full" || nc.Verification.Result != wipe.VerifyPassed || nc.Verification.Expected.Name != "zero" {
		t.Fatalf("nvme read-back: %+v", nc.Verification)
	}
	formatSent := false
	for _, c := range f.Commands {
		formatSent = formatSent || c.Name == "Format NVM" && strings.Contains(c.Params, "CDW10=0x00000200") && c.Result == "ok"
	}
	if !formatSent {
		t.Fatalf("Format NVM SES=1 LBAF 0 not recorded: %+v", f.Commands)
	}
	after, err := os.ReadFile(nvmeFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(after, marker) || bytes.Contains(after, []byte("LETHE-CANARY")) || len(bytes.Trim(after, "\x00")) != 0 {
		t.Fatal("the NVMe disk still holds old data or canaries after Format NVM")
	}

	// AHCI: no SANITIZE, no Security: purge-or-fail refuses, purge falls
	// back to a host overwrite.
	step("ata-purge-or-fail", 1, "no Purge technique available", "SANITIZE feature set not supported", "nothing was written")
	step("ata-wipe", 0, "ERASED")
	ac := cert("ata").Predicate
	if ac.Sanitization.Technique != wipe.TechOverwrite || ac.Status != wipe.StatusErased || !strings.Contains(strings.Join(ac.Sanitization.Decision, "\n"), "falling back to overwrite") ||
		!ac.HiddenAreas.Inspected || len(ac.Capacity) == 0 {
		t.Fatalf("ata certificate: %s %s %v hidden %+v capacity %+v", ac.Status, ac.Sanitization.Technique, ac.Sanitization.Decision, ac.HiddenAreas, ac.Capacity)
	}

	// virtio-scsi: no SANITIZE; FORMAT UNIT returns GOOD and erases
	// nothing, which the proof catches.
	step("scsi-purge-or-fail", 1, "no Purge technique available", "nothing was written")
	step("scsi-format-unit", 1, "FAILED")
	fu := cert("scsi-fu").Predicate
	if fu.Status != wipe.StatusFailed || fu.Firmware == nil || fu.Firmware.Proof.CanariesSurvived == 0 || fu.Disposition != "destroy" ||
		!strings.Contains(fu.StatusReason, "canary content survived") {
		t.Fatalf("FORMAT UNIT certificate: %s %q", fu.Status, fu.StatusReason)
	}
	step("scsi-wipe", 0, "ERASED")
	if scc := cert("scsi").Predicate; scc.Sanitization.Technique != wipe.TechOverwrite || scc.Status != wipe.StatusErased {
		t.Fatalf("scsi certificate: %s %s", scc.Status, scc.Sanitization.Technique)
	}

	// device-mapper in the guest: a holder on the guest's /dev/vda, and a real I/O error.
	dm := strings.TrimSpace(step("dm-create", 0).Stdout)
	if !strings.HasPrefix(dm, "/dev/dm-") {
		t.Fatalf("dm device %q", dm)
	}
	step("holders-refused", 2, "has holders: "+strings.TrimPrefix(dm, "/dev/"), "nothing was written")
	step("holders-forced-plan", 0, "technique")
	step("dm-wipe", 1, "FAILED")
	dc := cert("dm").Predicate
	if dc.Status != wipe.StatusFailed || dc.Disposition != "destroy" || len(dc.Sanitization.Passes) != 1 {
		t.Fatalf("dm certificate: %s %s", dc.Status, dc.Disposition)
	}
	found := false
	for _, r := range dc.Sanitization.Passes[0].Failed {
		found = found || r.LBA == 8192 && r.Count == 8
	}
	if !found {
		t.Fatalf("failed LBA range 8192+8 not in the certificate: %+v", dc.Sanitization.Passes[0].Failed)
	}
}
