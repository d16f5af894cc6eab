package nvmesim

import (
	"bytes"
	"context"
	"testing"

	"github.com/lethe-project/lethe/internal/devices/nvme"
)

var ctx = context.Background()

// old writes recognisable data over the whole namespace.
func old(t *testing.T, ns *Namespace) []byte {
	t.Helper()
	b := bytes.Repeat([]byte("OLD DATA lethe! "), int(ns.Disk.Size())/16)
	if _, err := ns.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func read(t *testing.T, ns *Namespace) []byte {
	t.Helper()
	b := make([]byte, ns.Disk.Size())
	if _, err := ns.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func raw(t *testing.T, ns *Namespace) []byte {
	t.Helper()
	b := make([]byte, ns.Disk.Size())
	if _, err := ns.Disk.RawReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func allBytes(b []byte, v byte) bool { return len(bytes.Trim(b, string([]byte{v}))) == 0 }

// pollToEnd polls the sanitize log until the operation is no longer in
// progress and returns every log seen.
func pollToEnd(t *testing.T, c *Controller) []*nvme.SanitizeLog {
	t.Helper()
	var logs []*nvme.SanitizeLog
	for i := 0; i < 100; i++ {
		l, err := nvme.GetSanitizeLog(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
		if l.Status != nvme.SanitizeInProgress {
			return logs
		}
	}
	t.Fatal("sanitize never finished")
	return nil
}

func TestSanitizeCryptoDeallocates(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll, OACS: OACSFormat, Steps: 3})
	ns := c.Namespace(1)
	before := old(t, ns)
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeCryptoErase}); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.ReadAt(make([]byte, 512), 0); err != ErrBusy {
		t.Fatalf("host read during sanitize: %v, want ErrBusy", err)
	}
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1}); !nvme.IsSanitizeInProgress(err) {
		t.Fatalf("format during sanitize: %v, want Sanitize In Progress", err)
	}
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase}); !nvme.IsSanitizeInProgress(err) {
		t.Fatalf("second sanitize: %v", err)
	}
	if _, err := nvme.IdentifyController(ctx, c); err != nil {
		t.Fatalf("identify during sanitize: %v", err)
	}
	logs := pollToEnd(t, c)
	if logs[0].Status != nvme.SanitizeInProgress || logs[0].SPROG != 0 {
		t.Errorf("first poll: %v SPROG %d, want in progress at 0", logs[0].Status, logs[0].SPROG)
	}
	last := logs[len(logs)-1]
	if last.Status != nvme.SanitizeSuccess || last.SPROG != 0xffff || !last.GlobalDataErased {
		t.Errorf("final log %+v", last)
	}
	if last.Action() != nvme.SanitizeCryptoErase {
		t.Errorf("SCDW10 action %v", last.Action())
	}
	if got := read(t, ns); !allBytes(got, 0) {
		t.Error("host read after crypto erase: not all zero (DLFEAT 1)")
	}
	r := raw(t, ns)
	if bytes.Equal(r, before) || allBytes(r, 0) {
		t.Error("raw medium after crypto erase: unchanged or zero, want scrambled")
	}
	// A host write clears Global Data Erased.
	if _, err := ns.WriteAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	if l, _ := nvme.GetSanitizeLog(ctx, c); l.GlobalDataErased {
		t.Error("GDE still set after a write")
	}
}

func TestSanitizeOverwriteNoDealloc(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll, Steps: 2, ETO: 120})
	ns := c.Namespace(1)
	old(t, ns)
	req := nvme.SanitizeRequest{Action: nvme.SanitizeOverwrite, OverwritePasses: 3, InvertBetweenPasses: true, Pattern: 0x11223344, NoDeallocate: true}
	if err := nvme.Sanitize(ctx, c, req); err != nil {
		t.Fatal(err)
	}
	last := pollToEnd(t, c)
	l := last[len(last)-1]
	// NVMe Base 2.1 Figure 291: a sanitize that honoured NDAS reports
	// 001b like any success; 100b would mean it deallocated anyway.
	if l.Status != nvme.SanitizeSuccess || l.OverwritePasses != 3 {
		t.Fatalf("log %+v", l)
	}
	if d, ok := l.ETO.Duration(); !ok || d.Seconds() != 120 {
		t.Errorf("ETO %v %v", d, ok)
	}
	if _, ok := l.ETBE.Duration(); ok {
		t.Error("ETBE reported, want not reported")
	}
	// Passes 1 and 3 use the pattern, 2 its inverse: the last pass wins.
	want := bytes.Repeat([]byte{0x44, 0x33, 0x22, 0x11}, int(ns.Disk.Size())/4)
	if !bytes.Equal(read(t, ns), want) {
		t.Error("medium after overwrite does not hold the pattern")
	}
}

// A controller that deallocates although NDAS was requested reports SSTAT
// 100b, and the host then reads what deallocated blocks return.
func TestDeallocateDespiteNDAS(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll, Steps: 2, DeallocateDespiteNDAS: true, BlockEraseFill: 0x5a})
	ns := c.Namespace(1)
	old(t, ns)
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase, NoDeallocate: true}); err != nil {
		t.Fatal(err)
	}
	last := pollToEnd(t, c)
	if l := last[len(last)-1]; l.Status != nvme.SanitizeSuccessDeallocated {
		t.Fatalf("SSTAT %v, want 100b", l.Status)
	}
	if !allBytes(read(t, ns), 0) {
		t.Fatal("host reads are not the deallocated value")
	}
	raw := make([]byte, ns.Disk.Size())
	ns.Disk.RawReadAt(raw, 0)
	if !allBytes(raw, 0x5a) {
		t.Fatal("medium not block erased")
	}
}

// Namespaces the controller cannot see still exist in the subsystem: CNS
// 10h lists them with Namespace Management, and a sanitize erases them.
func TestAllocatedNamespaces(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll, OACS: OACSNSMgmt, CMIC: CMICMultiCtl,
		Namespaces: []NamespaceConfig{{Shared: true}, {Detached: true}}})
	act, err := nvme.ActiveNamespaces(ctx, c)
	if err != nil || len(act) != 1 || act[0] != 1 {
		t.Fatalf("active %v %v", act, err)
	}
	all, err := nvme.AllocatedNamespaces(ctx, c)
	if err != nil || len(all) != 2 {
		t.Fatalf("allocated %v %v", all, err)
	}
	ctrl, _ := nvme.IdentifyController(ctx, c)
	n1, _ := nvme.IdentifyNamespace(ctx, c, 1)
	n2, _ := nvme.IdentifyNamespace(ctx, c, 2)
	if !ctrl.MultiController() || !n1.Shared() || n2.NSZE != 0 {
		t.Fatalf("CMIC %x NMIC %x NSZE2 %d", ctrl.CMIC, n1.NMIC, n2.NSZE)
	}
	old(t, c.Namespace(2))
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase}); err != nil {
		t.Fatal(err)
	}
	pollToEnd(t, c)
	if !allBytes(read(t, c.Namespace(2)), 0) {
		t.Fatal("the detached namespace survived the sanitize")
	}
	if _, err := nvme.AllocatedNamespaces(ctx, MustNew(Config{})); !nvme.IsInvalidField(err) {
		t.Fatalf("CNS 10h without Namespace Management: %v", err)
	}
}

// A Format NVM the kernel cancels goes on in the controller; the Format
// Progress Indicator shows it.
func TestFormatCancelledContinues(t *testing.T) {
	c := MustNew(Config{OACS: OACSFormat, FormatSteps: 4, FPI: true})
	ns := c.Namespace(1)
	old(t, ns)
	c.CancelNext(nvme.OpFormatNVM)
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, SES: nvme.SESUserData}); !nvme.IsCancelled(err) {
		t.Fatalf("format: %v", err)
	}
	if _, err := ns.ReadAt(make([]byte, 512), 0); err == nil {
		t.Fatal("host I/O during the format")
	}
	var rem []uint8
	for range 10 {
		n, err := nvme.IdentifyNamespace(ctx, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		sup, r := n.FormatProgress()
		if !sup {
			t.Fatal("FPI not supported")
		}
		rem = append(rem, r)
		if r == 0 {
			break
		}
	}
	if len(rem) < 3 || rem[0] != 100 || rem[len(rem)-1] != 0 || c.Formatting() {
		t.Fatalf("remaining %v", rem)
	}
	if !allBytes(read(t, ns), 0) {
		t.Fatal("not formatted")
	}
	// Without cancellation the command waits for the whole format.
	c2 := MustNew(Config{OACS: OACSFormat, FormatSteps: 4})
	old(t, c2.Namespace(1))
	if err := nvme.Format(ctx, c2, nvme.FormatRequest{NSID: 1, SES: nvme.SESUserData}); err != nil || c2.Formatting() || !allBytes(read(t, c2.Namespace(1)), 0) {
		t.Fatalf("blocking format: %v", err)
	}
}

func TestCancelledSanitizeRuns(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll})
	c.CancelNext(nvme.OpSanitize)
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase}); !nvme.IsCancelled(err) {
		t.Fatalf("sanitize: %v", err)
	}
	if !c.Sanitizing() {
		t.Fatal("the cancelled sanitize did not start")
	}
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase}); !nvme.IsSanitizeInProgress(err) {
		t.Fatalf("second sanitize: %v", err)
	}
}

func TestNoDeallocateInhibited(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll | 1<<29})
	err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase, NoDeallocate: true})
	if !nvme.IsInvalidField(err) || !nvme.IsDNR(err) {
		t.Fatalf("NDAS with NDI: %v", err)
	}
	ctrl, _ := nvme.IdentifyController(ctx, c)
	if !ctrl.Sanitize().NoDeallocInhibited {
		t.Error("NDI not reported")
	}
	if nvme.SanitizeCheck(ctrl, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase, NoDeallocate: true}) == nil {
		t.Error("SanitizeCheck accepted NDAS with NDI")
	}
}

func TestSanitizeUnsupportedAction(t *testing.T) {
	c := MustNew(Config{SANICAP: 0x2}) // block erase only
	err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeCryptoErase})
	if !nvme.IsInvalidField(err) {
		t.Fatalf("crypto on a block-only controller: %v", err)
	}
}

func TestRestrictedFailureMode(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll, OACS: OACSFormat, Steps: 4, FailAtStep: 2})
	ns := c.Namespace(1)
	before := old(t, ns)
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase}); err != nil {
		t.Fatal(err)
	}
	logs := pollToEnd(t, c)
	if l := logs[len(logs)-1]; l.Status != nvme.SanitizeFailed {
		t.Fatalf("final state %v", l.Status)
	}
	r := raw(t, ns)
	if bytes.Equal(r, before) || allBytes(r, 0) {
		t.Error("an interrupted block erase should leave the medium partly erased")
	}
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1}); !nvme.IsSanitizeFailed(err) {
		t.Errorf("format in failure mode: %v", err)
	}
	if _, err := ns.ReadAt(make([]byte, 512), 0); err != ErrBusy {
		t.Errorf("host read in failure mode: %v", err)
	}
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeExitFailureMode}); !nvme.IsSanitizeFailed(err) {
		t.Errorf("exit failure mode in restricted failure mode: %v", err)
	}
	// Only a new, successful sanitize leaves restricted failure mode.
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase}); err != nil {
		t.Fatal(err)
	}
	logs = pollToEnd(t, c)
	if l := logs[len(logs)-1]; l.Status != nvme.SanitizeSuccess {
		t.Fatalf("after retry: %v", l.Status)
	}
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1}); err != nil {
		t.Errorf("format after recovery: %v", err)
	}
}

func TestUnrestrictedFailureExit(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll, OACS: OACSFormat, FailAtStep: 1})
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeCryptoErase, AUSE: true}); err != nil {
		t.Fatal(err)
	}
	pollToEnd(t, c)
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1}); !nvme.IsSanitizeFailed(err) {
		t.Fatalf("format in failure mode: %v", err)
	}
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeExitFailureMode}); err != nil {
		t.Fatalf("exit failure mode (AUSE=1): %v", err)
	}
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1}); err != nil {
		t.Errorf("format after exit failure mode: %v", err)
	}
}

func TestPowerLossResumes(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll, Steps: 4, ManualProgress: true})
	ns := c.Namespace(1)
	old(t, ns)
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase}); err != nil {
		t.Fatal(err)
	}
	if err := c.Advance(2); err != nil {
		t.Fatal(err)
	}
	c.PowerCycle()
	l, err := nvme.GetSanitizeLog(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if l.Status != nvme.SanitizeInProgress || l.SPROG != 32768 {
		t.Fatalf("after power loss: %v SPROG %d, want in progress at half", l.Status, l.SPROG)
	}
	// ManualProgress: polling does not move it.
	l, _ = nvme.GetSanitizeLog(ctx, c)
	if l.SPROG != 32768 {
		t.Fatalf("manual progress moved on poll: %d", l.SPROG)
	}
	if err := c.Advance(2); err != nil {
		t.Fatal(err)
	}
	l, _ = nvme.GetSanitizeLog(ctx, c)
	if l.Status != nvme.SanitizeSuccess || !allBytes(read(t, ns), 0) {
		t.Fatalf("after resume: %v", l.Status)
	}
}

// The trap: an idle controller reports a previous success. A caller that
// only reads SSTAT would call a drive sanitized that never was.
func TestIdleLogReportsPreviousSuccess(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll, InitialState: nvme.SanitizeSuccess, InitialSCDW10: 2})
	ns := c.Namespace(1)
	before := old(t, ns)
	l, err := nvme.GetSanitizeLog(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Status.Succeeded() || l.GlobalDataErased {
		t.Fatalf("idle log %+v", l)
	}
	if !bytes.Equal(read(t, ns), before) {
		t.Fatal("data changed without a sanitize")
	}
}

func TestLyingController(t *testing.T) {
	c := MustNew(Config{SANICAP: SANICAPAll, OACS: OACSFormat, FNA: 0x4, Lying: true})
	ns := c.Namespace(1)
	before := old(t, ns)
	if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeCryptoErase}); err != nil {
		t.Fatal(err)
	}
	logs := pollToEnd(t, c)
	if !logs[len(logs)-1].Status.Succeeded() {
		t.Fatal("lying controller should report success")
	}
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, SES: nvme.SESCrypto}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(t, ns), before) {
		t.Fatal("lying controller changed the data")
	}
}

func TestQEMULikeController(t *testing.T) {
	c := MustNew(Config{OACS: OACSFormat, IgnoreSES: true})
	ns := c.Namespace(1)
	old(t, ns)
	err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase})
	var se *nvme.StatusError
	if !nvme.IsInvalidOpcode(err) || !asStatus(err, &se) || uint16(se.Status) != 0x4001 {
		t.Fatalf("sanitize on SANICAP=0: %v, want status 0x4001", err)
	}
	_, err = nvme.GetSanitizeLog(ctx, c)
	if !asStatus(err, &se) || uint16(se.Status) != 0x4002 {
		t.Fatalf("log 0x81 on SANICAP=0: %v, want status 0x4002", err)
	}
	// QEMU accepts SES=2 without FNA bit 2 and zeroes the namespace.
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, SES: nvme.SESCrypto}); err != nil {
		t.Fatal(err)
	}
	if !allBytes(read(t, ns), 0) {
		t.Fatal("QEMU-like format did not zero")
	}
}

func TestFormat(t *testing.T) {
	c := MustNew(Config{OACS: OACSFormat, SANICAP: SANICAPAll})
	ns := c.Namespace(1)
	before := old(t, ns)

	// SES=2 needs FNA bit 2.
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, SES: nvme.SESCrypto}); !nvme.IsInvalidField(err) {
		t.Fatalf("SES=2 without FNA bit 2: %v", err)
	}
	// SES=0 with the same format changes nothing.
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(t, ns), before) {
		t.Fatal("Format SES=0 changed the data")
	}
	// SES=1 erases.
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, SES: nvme.SESUserData}); err != nil {
		t.Fatal(err)
	}
	if !allBytes(read(t, ns), 0) || !allBytes(raw(t, ns), 0) {
		t.Fatal("Format SES=1 left data")
	}
	// An LBA format change to 4 KiB.
	old(t, ns)
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, LBAF: 1, SES: nvme.SESUserData}); err != nil {
		t.Fatal(err)
	}
	id, err := nvme.IdentifyNamespace(ctx, c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if id.BlockSize() != 4096 || id.SizeBytes() != uint64(ns.Disk.Size()) || id.FormatIndex() != 1 {
		t.Fatalf("after LBA format change: block %d, size %d, index %d", id.BlockSize(), id.SizeBytes(), id.FormatIndex())
	}
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, LBAF: 5}); !nvme.IsInvalidFormat(err) {
		t.Fatalf("nonexistent LBA format: %v", err)
	}
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 7}); err == nil {
		t.Fatal("format of a nonexistent namespace succeeded")
	}
}

func TestFormatCryptoWithFNA(t *testing.T) {
	c := MustNew(Config{OACS: OACSFormat, FNA: 0x4, Namespaces: []NamespaceConfig{{}, {SizeBytes: 1 << 20}}})
	a, b := c.Namespace(1), c.Namespace(2)
	oa, ob := old(t, a), old(t, b)
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, SES: nvme.SESCrypto}); err != nil {
		t.Fatal(err)
	}
	if r := raw(t, a); bytes.Equal(r, oa) || allBytes(r, 0) {
		t.Error("crypto format did not scramble namespace 1")
	}
	if !bytes.Equal(read(t, b), ob) {
		t.Error("format of namespace 1 touched namespace 2 (FNA bit 0/1 clear)")
	}
	ids, err := nvme.ActiveNamespaces(ctx, c)
	if err != nil || len(ids) != 2 || ids[0] != 1 || ids[1] != 2 {
		t.Fatalf("active namespaces %v %v", ids, err)
	}
}

func TestFormatWithoutOACS(t *testing.T) {
	c := MustNew(Config{})
	if err := nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1}); !nvme.IsInvalidOpcode(err) {
		t.Fatalf("format without OACS bit 1: %v", err)
	}
}

func asStatus(err error, se **nvme.StatusError) bool {
	e, ok := err.(*nvme.StatusError)
	if ok {
		*se = e
	}
	return ok
}

func TestConfigValidation(t *testing.T) {
	if _, err := New(Config{Namespaces: []NamespaceConfig{{SizeBytes: 6000}}}); err == nil {
		t.Fatal("a namespace size that fits no LBA format was accepted")
	}
	if _, err := New(Config{Namespaces: []NamespaceConfig{{Format: 5}}}); err == nil {
		t.Fatal("a current format outside the table was accepted")
	}
}
