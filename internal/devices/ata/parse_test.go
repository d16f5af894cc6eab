package ata

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/devices/scsi"
)

// identifyPage lays out IDENTIFY DEVICE data word by word from ACS-4 Table
// 45 for a 1 TB SATA SSD with security and sanitize.
func identifyPage() []byte {
	w := make([]uint16, 256)
	str := func(first int, s string, words int) {
		b := []byte(s)
		for len(b) < 2*words {
			b = append(b, ' ')
		}
		for i := 0; i < words; i++ {
			w[first+i] = uint16(b[2*i])<<8 | uint16(b[2*i+1]) // first char in the high byte
		}
	}
	w[0] = 0x0040
	str(10, "S3Z9NB0K123456A", 10)
	str(23, "RVT04B6Q", 4)
	str(27, "Samsung SSD 860 EVO 1TB", 20)
	w[59] = 0xf000 | 0x0400 // sanitize + crypto + overwrite + block, antifreeze
	w[60], w[61] = 0xffff, 0x0fff
	w[69] = 0x4020 // deterministic, zeroes after trim
	w[82] = 0x0402 // security, HPA
	w[83] = 0x4c00 // valid, 48-bit, DCO
	w[84] = 0x4100 // valid, WWN
	w[85] = 0x0400 // HPA enabled; security not enabled
	w[86] = 0x0c00
	w[87] = 0x4100
	w[89] = 0x0002                                             // 4 minutes
	w[90] = 0x8000 | 0x0080                                    // extended format: 128 x 2 min
	w[92] = 0xfffe                                             // master password identifier
	w[100], w[101], w[102], w[103] = 0x6db0, 0x7470, 0x0000, 0 // 1953525168 sectors
	w[106] = 0x6003                                            // 8 logical per physical
	w[108], w[109], w[110], w[111] = 0x5002, 0x538e, 0x4012, 0x3456
	w[128] = 0x0021 // supported, enhanced erase; not enabled/locked/frozen
	w[169] = 0x0001
	w[217] = 0x0001
	b := make([]byte, 512)
	for i, v := range w {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	b[510] = 0xa5
	var s uint8
	for _, c := range b[:511] {
		s += c
	}
	b[511] = -s
	return b
}

func TestParseIdentify(t *testing.T) {
	id, err := ParseIdentify(identifyPage())
	if err != nil {
		t.Fatal(err)
	}
	if id.Model != "Samsung SSD 860 EVO 1TB" || id.Serial != "S3Z9NB0K123456A" || id.Firmware != "RVT04B6Q" {
		t.Fatalf("strings %q %q %q", id.Model, id.Serial, id.Firmware)
	}
	if id.Sectors != 1953525168 || id.LogicalSectorSize != 512 || id.PhysicalSectorSize != 4096 || !id.LBA48 {
		t.Fatalf("geometry %d %d %d", id.Sectors, id.LogicalSectorSize, id.PhysicalSectorSize)
	}
	if id.WWN != 0x5002538e40123456 || id.RotationRate != 1 || !id.TRIM || !id.DeterministicTrim || !id.TrimReadsZero {
		t.Fatalf("wwn %x", id.WWN)
	}
	if s := id.Sanitize; !s.Supported || !s.Crypto || !s.Overwrite || !s.BlockErase || !s.AntifreezeLock || s.ACS3Commands {
		t.Fatalf("sanitize %+v", s)
	}
	sec := id.Security
	if !sec.Supported || sec.Enabled || sec.Locked || sec.Frozen || sec.CountExpired || !sec.EnhancedErase {
		t.Fatalf("security %+v", sec)
	}
	if sec.EraseTime != 4*time.Minute || sec.EnhancedEraseTime != 256*time.Minute || sec.MasterPasswordID != 0xfffe {
		t.Fatalf("erase times %v %v", sec.EraseTime, sec.EnhancedEraseTime)
	}
	if !id.HPASupported || !id.HPAEnabled || !id.DCOSupported || id.Checksum != ChecksumValid {
		t.Fatal("HPA/DCO/checksum")
	}
	// Timeouts: 2x the estimate, at least estimate + 1 h, and never less
	// than 30 min + the capacity at 30 MiB/s (1 TB: 9h19m55s).
	floor := 30*time.Minute + time.Duration(1953525168*512>>20/30)*time.Second
	if got := id.SecurityEraseTimeout(false); got != floor || floor != 9*time.Hour+19*time.Minute+55*time.Second {
		t.Fatalf("normal erase timeout %v", got)
	}
	if got := id.SecurityEraseTimeout(true); got != floor {
		t.Fatalf("enhanced erase timeout %v", got)
	}
	small := *id
	small.Sectors = 1 << 21 // 1 GiB: the drive's 256 min figure wins
	if got := small.SecurityEraseTimeout(true); got != 512*time.Minute {
		t.Fatalf("enhanced erase timeout, 1 GiB %v", got)
	}
	// 8-bit format all ones: "more than 508 minutes".
	if d, longer := eraseTime(0x00ff); !longer || d != 510*time.Minute {
		t.Fatalf("0xff: %v %v", d, longer)
	}
}

// Words 89/90 = 0: the capacity floor, as hdparm 9.65 computes it
// (measured with testdata/capture's shim answering IDENTIFY: 2^21 sectors
// -> 1834000 ms, 2^28 sectors -> 6169000 ms, also with word 89 = 10).
// lethe's timeout must never be shorter than hdparm's.
func TestSecurityEraseTimeoutNoEstimate(t *testing.T) {
	for _, c := range []struct {
		sectors uint64
		w89     time.Duration
		hdparm  time.Duration
	}{
		{1 << 21, 0, 1834 * time.Second},
		{1 << 28, 0, 6169 * time.Second},
		{1 << 28, 20 * time.Minute, 6169 * time.Second},
		{1 << 21, 20 * time.Minute, 80 * time.Minute},
	} {
		id := &Identify{Sectors: c.sectors, LogicalSectorSize: 512, Security: SecurityInfo{EraseTime: c.w89}}
		got := id.SecurityEraseTimeout(false)
		if got < c.hdparm {
			t.Errorf("%d sectors, w89 %v: %v < hdparm's %v", c.sectors, c.w89, got, c.hdparm)
		}
		if c.w89 == 0 && got != c.hdparm {
			t.Errorf("%d sectors, no estimate: %v, want hdparm's %v", c.sectors, got, c.hdparm)
		}
	}
	// A large HDD without an estimate is no longer cut off at 12 hours:
	// 20 TB at 30 MiB/s is about a week.
	id := &Identify{Sectors: 20e12 / 512, LogicalSectorSize: 512}
	if got := id.SecurityEraseTimeout(true); got < 7*24*time.Hour {
		t.Fatalf("20 TB: %v", got)
	}
}

func TestParseIdentifyChecksum(t *testing.T) {
	b := identifyPage()
	b[100] ^= 0x01
	id, err := ParseIdentify(b)
	if !errors.Is(err, ErrChecksum) || id == nil || id.Checksum != ChecksumInvalid {
		t.Fatalf("%v %v", id, err)
	}
	b[510] = 0 // no signature: no checksum to check
	if id, err := ParseIdentify(b); err != nil || id.Checksum != ChecksumAbsent {
		t.Fatalf("%v %v", id, err)
	}
	b = identifyPage()
	binary.LittleEndian.PutUint16(b[0:], 0x8000)
	if _, err := ParseIdentify(b); err == nil {
		t.Fatal("ATAPI word 0 accepted")
	}
	if _, err := ParseIdentify(b[:100]); err == nil {
		t.Fatal("short data accepted")
	}
}

func TestSecurityStates(t *testing.T) {
	for _, c := range []struct {
		w128  uint16
		state string
		op    SecurityOp
		want  error
	}{
		{0x0001, "SEC1 (disabled, not frozen)", OpSetPassword, nil},
		{0x0009, "SEC2 (disabled, frozen)", OpSetPassword, ErrFrozen},
		{0x0007, "SEC4 (enabled, locked)", OpUnlock, nil},
		{0x0017, "SEC4 (enabled, locked)", OpErase, ErrCountExpired},
		{0x0003, "SEC5 (enabled, unlocked, not frozen)", OpErase, nil},
		{0x0003, "SEC5 (enabled, unlocked, not frozen)", OpEraseEnhanced, ErrNoEnhancedErase},
		{0x000b, "SEC6 (enabled, unlocked, frozen)", OpDisablePassword, ErrFrozen},
		{0x0000, "not supported", OpErase, ErrSecurityUnsupported},
	} {
		b := identifyPage()
		binary.LittleEndian.PutUint16(b[82*2:], 0x0400)
		binary.LittleEndian.PutUint16(b[128*2:], c.w128)
		b[510] = 0
		id, err := ParseIdentify(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := id.Security.State(); got != c.state {
			t.Errorf("w128 %04x: state %q, want %q", c.w128, got, c.state)
		}
		if err := SecurityCheck(id, c.op); !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			t.Errorf("w128 %04x op %d: %v, want %v", c.w128, c.op, err, c.want)
		}
	}
}

func TestParseDCO(t *testing.T) {
	b := make([]byte, 512)
	binary.LittleEndian.PutUint16(b[0:], 2)
	binary.LittleEndian.PutUint64(b[6:], 1953525167)
	binary.LittleEndian.PutUint16(b[14:], 0x0188)
	d, err := ParseDCO(b)
	if err != nil || d.MaxLBA != 1953525167 || !d.HPA || !d.Security || !d.LBA48 || d.Checksum != ChecksumAbsent {
		t.Fatalf("%+v %v", d, err)
	}
}

// fakeSATL answers every command with the given result.
type fakeSATL struct{ r *scsi.Result }

func (f fakeSATL) Exec(context.Context, *scsi.Command) (*scsi.Result, error) { return f.r, nil }

func TestExecErrors(t *testing.T) {
	abrt := scsi.SenseBuilder{Key: scsi.KeyAbortedCommand, ATA: &scsi.ATAReturn{Extend: true, Error: ErrorABRT, Status: 0x51, LBA: 3}}
	dev := New(fakeSATL{&scsi.Result{Status: scsi.StatusCheckCondition, Sense: abrt.Descriptor()}})
	err := dev.Sanitize(context.Background(), SanitizeBlockErase, SanitizeOptions{})
	if !IsAborted(err) || IsDeviceFault(err) {
		t.Fatalf("%v", err)
	}
	if r, ok := SanitizeErrorReason(err); !ok || r != ReasonFrozen {
		t.Fatalf("reason %v %v", r, ok)
	}
	df := scsi.SenseBuilder{Key: scsi.KeyAbortedCommand, ATA: &scsi.ATAReturn{Error: ErrorIDNF, Status: 0x61}}
	dev = New(fakeSATL{&scsi.Result{Status: scsi.StatusCheckCondition, Sense: df.Fixed()}})
	if err := dev.SetMaxAddress(context.Background(), 1, true); !IsDeviceFault(err) || !IsIDNotFound(err) {
		t.Fatalf("%v", err)
	}
	// A SCSI error whose registers claim success: the sense key wins.
	med := scsi.SenseBuilder{Key: scsi.KeyMediumError, ASC: scsi.ASCUnrecoveredReadError, ATA: &scsi.ATAReturn{Status: 0x50}}
	dev = New(fakeSATL{&scsi.Result{Status: scsi.StatusCheckCondition, Sense: med.Descriptor()}})
	if _, err := dev.ReadNativeMaxAddress(context.Background()); !scsi.IsMediumError(err) {
		t.Fatalf("medium error with clean registers: %v", err)
	}
	// A SATL that does not know ATA PASS-THROUGH (virtio-scsi, SAS).
	inv := scsi.SenseBuilder{Key: scsi.KeyIllegalRequest, ASC: scsi.ASCInvalidOpcode}
	dev = New(fakeSATL{&scsi.Result{Status: scsi.StatusCheckCondition, Sense: inv.Fixed()}})
	if _, err := dev.Identify(context.Background()); !IsPassThroughUnsupported(err) {
		t.Fatalf("%v", err)
	}
	// Transport failure (host status DID_TIME_OUT).
	dev = New(fakeSATL{&scsi.Result{HostStatus: 0x03}})
	var te *scsi.TransportError
	if _, err := dev.Identify(context.Background()); !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("%v", err)
	}
	if _, err := dev.Exec(context.Background(), &Command{Protocol: ProtoPIOIn, Data: make([]byte, 100)}); err == nil {
		t.Fatal("PIO data of 100 bytes accepted")
	}
}
