package nvme

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// An Identify Controller structure laid out from NVMe Base 2.0 Figure 275.
func controllerPage() []byte {
	b := make([]byte, IdentifyDataBytes)
	binary.LittleEndian.PutUint16(b[0:], 0x144d)
	copy(b[4:24], "S4EWNX0R123456      ")
	copy(b[24:64], "Samsung SSD 980 PRO 1TB                 ")
	copy(b[64:72], "5B2QGXA7")
	b[73], b[74], b[75] = 0x38, 0x25, 0x00
	binary.LittleEndian.PutUint32(b[80:], 0x00010400) // 1.4
	binary.LittleEndian.PutUint16(b[256:], 0x000f)    // security, format, firmware, NS mgmt
	b[260] = 0x16
	binary.LittleEndian.PutUint64(b[280:], 1000204886016)
	binary.LittleEndian.PutUint32(b[328:], 0x60000003) // CES, BES, NDI, NODMMAS=1
	binary.LittleEndian.PutUint32(b[516:], 1)
	binary.LittleEndian.PutUint16(b[520:], 0x0057)
	b[524] = 0x05 // format all NS, crypto erase
	copy(b[768:], "nqn.1994-11.com.samsung:nvme:980PRO")
	return b
}

func TestParseController(t *testing.T) {
	c, err := ParseController(controllerPage())
	if err != nil {
		t.Fatal(err)
	}
	if c.VID != 0x144d || c.Serial != "S4EWNX0R123456" || c.Model != "Samsung SSD 980 PRO 1TB" || c.Firmware != "5B2QGXA7" || c.IEEE != 0x002538 {
		t.Fatalf("identity %+v", c)
	}
	if !c.SupportsFormat() || !c.SupportsFirmware() || !c.SupportsNamespaceMgmt() || !c.SupportsDeallocate() {
		t.Fatal("OACS/ONCS")
	}
	s := c.Sanitize()
	if !s.Crypto || !s.BlockErase || s.Overwrite || !s.NoDeallocInhibited || s.NODMMAS != 1 || !s.Any() {
		t.Fatalf("SANICAP %+v", s)
	}
	f := c.Format()
	if !f.AllNamespaces || f.SecureEraseAllNamespaces || !f.CryptoErase || f.NoBroadcastFormat {
		t.Fatalf("FNA %+v", f)
	}
	if c.NN != 1 || c.TNVMCAP != 1000204886016 || c.Version != 0x10400 {
		t.Fatalf("%+v", c)
	}
	if _, err := ParseController(make([]byte, 100)); err == nil {
		t.Fatal("short page accepted")
	}
}

func TestParseNamespace(t *testing.T) {
	b := make([]byte, IdentifyDataBytes)
	binary.LittleEndian.PutUint64(b[0:], 0x100000)
	binary.LittleEndian.PutUint64(b[8:], 0x100000)
	binary.LittleEndian.PutUint64(b[16:], 0x1234)
	b[25] = 1    // two formats
	b[26] = 0x01 // format 1
	b[33] = 0x09 // DLFEAT: reads 0x00, write zeroes deallocates
	for i := range 16 {
		b[104+i] = byte(0xa0 + i)
	}
	binary.LittleEndian.PutUint32(b[128:], 0x02090000) // 512 B, RP 2
	binary.LittleEndian.PutUint32(b[132:], 0x000c0008) // 4 KiB, 8 B metadata
	n, err := ParseNamespace(b)
	if err != nil {
		t.Fatal(err)
	}
	if n.FormatIndex() != 1 || n.BlockSize() != 4096 || n.SizeBytes() != 0x100000*4096 || n.NUSE != 0x1234 {
		t.Fatalf("%+v", n)
	}
	if f := n.Formats[0]; f.LBADS != 9 || f.RP != 2 || f.MS != 0 {
		t.Fatalf("format 0 %+v", f)
	}
	if f := n.Formats[1]; f.MS != 8 {
		t.Fatalf("format 1 %+v", f)
	}
	if !n.DeallocReadsZero() || n.DeallocReadsOnes() || n.ID() != "eui.a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" {
		t.Fatalf("DLFEAT/ID %v %s", n.DLFEAT, n.ID())
	}
	// More than 16 formats: FLBAS bits 6:5 are the upper index bits.
	b[25] = 19
	b[26] = 0x21
	for i := 2; i < 20; i++ {
		binary.LittleEndian.PutUint32(b[128+4*i:], 0x00090000)
	}
	binary.LittleEndian.PutUint32(b[128+4*17:], 0x000c0000)
	n, err = ParseNamespace(b)
	if err != nil || n.FormatIndex() != 17 || n.BlockSize() != 4096 || len(n.Formats) != 20 {
		t.Fatalf("index %d size %d n %d %v", n.FormatIndex(), n.BlockSize(), len(n.Formats), err)
	}
	b[25] = 64
	if _, err := ParseNamespace(b); err == nil {
		t.Fatal("NLBAF 64 accepted")
	}
	if ids := ParseNSList([]byte{1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0}); len(ids) != 2 || ids[1] != 3 {
		t.Fatalf("ns list %v", ids)
	}
}

func TestParseSanitizeLog(t *testing.T) {
	b := make([]byte, SanitizeLogBytes)
	binary.LittleEndian.PutUint16(b[0:], 0x8000)
	binary.LittleEndian.PutUint16(b[2:], 0x0112) // in progress, 2 passes, GDE
	binary.LittleEndian.PutUint32(b[4:], 0x0000020c)
	for i, v := range []uint32{0xffffffff, 60, 5, 0xffffffff, 90, 7} {
		binary.LittleEndian.PutUint32(b[8+4*i:], v)
	}
	l, err := ParseSanitizeLog(b)
	if err != nil {
		t.Fatal(err)
	}
	if l.Status != SanitizeInProgress || l.Progress != 0.5 || l.OverwritePasses != 2 || !l.GlobalDataErased {
		t.Fatalf("%+v", l)
	}
	if l.SCDW10 != 0x20c || l.Action() != SanitizeCryptoErase {
		t.Fatalf("SCDW10 %x action %v", l.SCDW10, l.Action())
	}
	if _, ok := l.ETO.Duration(); ok {
		t.Fatal("ETO 0xFFFFFFFF reported as a time")
	}
	// The ND fields count only with NDAS on a NODMMAS=10b controller.
	if d, ok := l.Estimate(SanitizeRequest{Action: SanitizeCryptoErase, NoDeallocate: true}, NODMMASModified); !ok || d.Seconds() != 7 {
		t.Fatalf("ETCEND %v", d)
	}
	if d, ok := l.Estimate(SanitizeRequest{Action: SanitizeCryptoErase, NoDeallocate: true}, NODMMASNotModified); !ok || d.Seconds() != 5 {
		t.Fatalf("NODMMAS 01b: ETCE %v, want 5 s", d)
	}
	if d, ok := l.Estimate(SanitizeRequest{Action: SanitizeBlockErase}, NODMMASModified); !ok || d.Seconds() != 60 {
		t.Fatalf("ETBE %v", d)
	}
	if got := FormatTimeout(l, SESUserData, 0).Minutes(); got != 12 {
		t.Fatalf("format timeout from ETBE 60 s: %v min, want 12", got)
	}
	if _, err := ParseSanitizeLog(b[:31]); err == nil {
		t.Fatal("short log accepted")
	}
}

// SSTAT values per NVMe Base 2.1 Figure 291: 100b is a success with
// deallocation after NDAS was requested, not "no deallocation".
func TestSanitizeStates(t *testing.T) {
	for _, c := range []struct {
		sstat   uint16
		want    SanitizeState
		success bool
		text    string
	}{
		{0, SanitizeNever, false, "never"},
		{1, SanitizeSuccess, true, "completed successfully"},
		{2, SanitizeInProgress, false, "in progress"},
		{3, SanitizeFailed, false, "failed"},
		{4, SanitizeSuccessDeallocated, true, "with deallocation although no-deallocate was requested"},
		{5, 5, false, "reserved"},
	} {
		b := make([]byte, 32)
		binary.LittleEndian.PutUint16(b[2:], c.sstat)
		l, err := ParseSanitizeLog(b)
		if err != nil || l.Status != c.want || l.Status.Succeeded() != c.success || !strings.Contains(l.Status.String(), c.text) {
			t.Errorf("SSTAT %d: %v %q succeeded %v (%v)", c.sstat, l.Status, l.Status, l.Status.Succeeded(), err)
		}
	}
}

// ETO is the estimate for 16 passes (NVMe Base 2.1 Figure 291).
func TestOverwriteEstimateScales(t *testing.T) {
	l := &SanitizeLog{ETO: 1600, ETOND: 3200}
	for _, c := range []struct {
		passes uint8
		nd     bool
		want   time.Duration
	}{{1, false, 100 * time.Second}, {16, false, 1600 * time.Second}, {4, true, 800 * time.Second}} {
		d, ok := l.Estimate(SanitizeRequest{Action: SanitizeOverwrite, OverwritePasses: c.passes, NoDeallocate: c.nd}, NODMMASModified)
		if !ok || d != c.want {
			t.Errorf("%d passes nd %v: %v, want %v", c.passes, c.nd, d, c.want)
		}
	}
}

func TestCMICNMICFPI(t *testing.T) {
	b := controllerPage()
	b[76] = 0x03
	c, err := ParseController(b)
	if err != nil || !c.MultiController() || !c.MultiPort() || c.VirtualFunction() {
		t.Fatalf("CMIC %x: %v %v %v", c.CMIC, c.MultiController(), c.MultiPort(), err)
	}
	ns := make([]byte, IdentifyDataBytes)
	ns[30], ns[32] = 0x01, 0x80|42
	n, err := ParseNamespace(ns)
	if err != nil || !n.Shared() {
		t.Fatalf("NMIC %x", n.NMIC)
	}
	if sup, rem := n.FormatProgress(); !sup || rem != 42 {
		t.Fatalf("FPI %v %d", sup, rem)
	}
}

func TestRetryAfterCancel(t *testing.T) {
	for op, want := range map[uint8]bool{OpIdentify: true, OpGetLogPage: true, OpFormatNVM: false, OpSanitize: false, 0x09: false} {
		if RetryAfterCancel(op) != want {
			t.Errorf("opcode 0x%02x: retry %v", op, !want)
		}
	}
	if !IsCancelled(fmt.Errorf("x: %w", ErrCancelled)) {
		t.Fatal("IsCancelled")
	}
}

func TestStatus(t *testing.T) {
	s := Status(0x4002)
	if !s.DNR() || s.SCT() != 0 || s.SC() != 2 || s.OK() || s.String() != "Invalid Field in Command (DNR)" {
		t.Fatalf("%v", s)
	}
	s = Status(0x210a) // More + SCT 1 SC 0x0a
	if !s.More() || s.Code() != StatusInvalidFormat {
		t.Fatalf("%v", s)
	}
	err := &StatusError{Op: "Format", Status: 0x010a}
	if !IsInvalidFormat(err) || IsDNR(err) || IsInvalidField(err) {
		t.Fatal("predicates")
	}
}
