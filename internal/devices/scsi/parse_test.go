package scsi

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Sense buffers laid out byte by byte from SPC-5 Tables 48-55 and SAT-4
// Table 193.
func TestDecodeSense(t *testing.T) {
	t.Run("fixed, NOT READY sanitize in progress, 25%", func(t *testing.T) {
		s, err := DecodeSense(unhex("70 00 02 00 00 00 00 0a 00 00 00 00 04 1b 00 80 40 00"))
		if err != nil {
			t.Fatal(err)
		}
		f, raw, ok := s.Progress()
		if s.Key != KeyNotReady || s.ASC != ASCNotReadySanitize || !ok || raw != 0x4000 || f != 0.25 {
			t.Fatalf("%v %v %v %x %v", s.Key, s.ASC, ok, raw, f)
		}
		se := &SenseError{Op: "TEST UNIT READY", Sense: s}
		if !se.IsNotReadyInProgress() || !se.IsSanitizeInProgress() || se.IsMediumError() {
			t.Fatal("predicates")
		}
		if !strings.Contains(se.Error(), "SANITIZE IN PROGRESS") || !strings.Contains(se.Error(), "25.0%") {
			t.Fatalf("message %q", se.Error())
		}
	})
	t.Run("descriptor, MEDIUM ERROR with information", func(t *testing.T) {
		s, err := DecodeSense(unhex("72 03 11 00 00 00 00 14" +
			"00 0a 80 00 00 00 00 00 00 00 12 34" + // information, VALID
			"02 06 00 00 80 00 10 00")) // sense key specific (not progress for MEDIUM ERROR)
		if err != nil {
			t.Fatal(err)
		}
		if s.Key != KeyMediumError || s.ASC != ASCUnrecoveredReadError || !s.InformationValid || s.Information != 0x1234 {
			t.Fatalf("%+v", s)
		}
		if _, _, ok := s.Progress(); ok {
			t.Fatal("progress reported for MEDIUM ERROR")
		}
		if !IsMediumError(&SenseError{Sense: s}) {
			t.Fatal("IsMediumError")
		}
	})
	t.Run("descriptor, ATA Status Return", func(t *testing.T) {
		s, err := DecodeSense(unhex("72 01 00 1d 00 00 00 0e 09 0c 01 00 40 00 12 ff 34 ee 56 dd 40 50"))
		if err != nil {
			t.Fatal(err)
		}
		a := s.ATA
		if a == nil || !a.Extend || a.Count != 0x4000 || a.Device != 0x40 || a.Status != 0x50 || a.Partial {
			t.Fatalf("%+v", a)
		}
		// bytes 7/9/11 = LBA 7:0, 15:8, 23:16; 6/8/10 = 31:24, 39:32, 47:40
		if a.LBA != 0x5634_12dd_eeff {
			t.Fatalf("LBA %x", a.LBA)
		}
		if !bytes.Equal(EncodeATAReturn(a), s.Raw[8:22]) {
			t.Fatal("EncodeATAReturn does not round-trip")
		}
	})
	t.Run("fixed, libata ATA registers with ABRT", func(t *testing.T) {
		s, err := DecodeSense(unhex("70 00 0b 04 51 40 00 0a a0 01 02 03 00 00 00 00 00 00"))
		if err != nil {
			t.Fatal(err)
		}
		if s.ATA != nil {
			t.Fatal("ATA registers decoded without ASC 00/1D")
		}
		a := s.FixedATA()
		if a == nil || a.Error != 0x04 || a.Status != 0x51 || a.Device != 0x40 || !a.Extend || !a.LBAUpperNonZero || a.LBA != 0x030201 || !a.Partial {
			t.Fatalf("%+v", a)
		}
	})
	t.Run("deferred, invalid opcode", func(t *testing.T) {
		s, err := DecodeSense(unhex("71 00 05 00 00 00 00 0a 00 00 00 00 20 00 00 00 00 00"))
		if err != nil || !s.Deferred || !IsInvalidOpcode(&SenseError{Sense: s}) {
			t.Fatalf("%+v %v", s, err)
		}
	})
	t.Run("builder round trip", func(t *testing.T) {
		p, info := uint16(0x8000), uint64(77)
		for _, b := range [][]byte{
			SenseBuilder{Key: KeyNotReady, ASC: ASCNotReadyFormatInProgress, Progress: &p, Information: &info}.Fixed(),
			SenseBuilder{Key: KeyNotReady, ASC: ASCNotReadyFormatInProgress, Progress: &p, Information: &info}.Descriptor(),
		} {
			s, err := DecodeSense(b)
			if _, raw, ok := s.Progress(); err != nil || !ok || raw != p || s.Information != info || s.ASC != ASCNotReadyFormatInProgress {
				t.Fatalf("%x: %+v %v", b, s, err)
			}
		}
	})
	t.Run("garbage", func(t *testing.T) {
		if _, err := DecodeSense(nil); !errors.Is(err, ErrShortSense) {
			t.Fatal(err)
		}
		if _, err := DecodeSense([]byte{0x00, 1, 2}); err == nil {
			t.Fatal("response code 0 accepted")
		}
		// A descriptor claiming more bytes than there are.
		if _, err := DecodeSense(unhex("72 05 24 00 00 00 00 ff 09 0c 01")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestParseReadCapacity16(t *testing.T) {
	// SBC-4 Table 121: last LBA 0x1d1c0beaf (8 TB at 512), 512-byte blocks,
	// 8 logical per physical (exp 3), LBPME+LBPRZ, lowest aligned 0.
	c, err := ParseReadCapacity16(unhex("00 00 00 01 d1 c0 be af 00 00 02 00 00 03 c0 00"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Blocks != 0x1d1c0beb0 || c.BlockSize != 512 || c.PhysPerLogExp != 3 || !c.LBPME || !c.LBPRZ {
		t.Fatalf("%+v", c)
	}
	if _, err := ParseReadCapacity16(make([]byte, 8)); err == nil {
		t.Fatal("short data accepted")
	}
}

func TestParseVPD(t *testing.T) {
	// VPD 0x83 (SPC-5 §7.7.6): T10 vendor ID (ASCII), EUI-64, NAA (LU), NAA (port).
	p := unhex("00 83 00 30" +
		"02 01 00 08 41 54 41 20 20 20 20 20" + // t10 "ATA     "
		"01 02 00 08 00 11 22 33 44 55 66 77" + // EUI-64
		"01 03 00 08 50 00 c5 00 12 34 56 78" + // NAA, LU
		"61 93 00 08 50 00 c5 00 99 99 99 99") // NAA, target port (SAS)
	ds, err := ParseDeviceID(p)
	if err != nil || len(ds) != 4 {
		t.Fatalf("%v %v", ds, err)
	}
	if id, _ := PreferredID(ds); id.String() != "naa.5000c50012345678" {
		t.Fatalf("preferred %s", id)
	}
	if ds[0].String() != "t10.ATA" || ds[1].String() != "eui.0011223344556677" || ds[3].Association != 1 {
		t.Fatalf("%s %s %d", ds[0], ds[1], ds[3].Association)
	}
	if _, err := ParseDeviceID(unhex("00 83 00 08 01 03 00 08 50 00")); err == nil {
		t.Fatal("truncated page accepted")
	}
	b1, err := ParseBlockDeviceCharacteristics(unhex("00 b1 00 3c 1c 20 00 02" + strings.Repeat("00", 0x38)))
	if err != nil || b1.RotationRate != 7200 || !b1.RotationKnown || b1.FormFactor != 2 {
		t.Fatalf("%+v %v", b1, err)
	}
	inq, err := ParseInquiry(unhex("00 00 06 02 1f 00 00 00" + hex.EncodeToString([]byte("ATA     Samsung SSD 870 1B6Q"))))
	if err != nil || inq.Vendor != "ATA" || inq.Product != "Samsung SSD 870" || inq.Revision != "1B6Q" {
		t.Fatalf("%+v %v", inq, err)
	}
	os, err := ParseOpcodeSupport(unhex("00 03 00 0a 48 ff 00 00 00 00 00 ff ff 07"))
	if err != nil || !os.Support.Supported() || len(os.Usage) != 10 || os.Timeouts != nil {
		t.Fatalf("%+v %v", os, err)
	}
}

// The one-command answer with CTDP (SPC-5 §6.35.3 byte 1 bit 7) carries the
// command timeouts descriptor (§6.35.4) after the CDB usage data.
func TestParseOpcodeSupportTimeouts(t *testing.T) {
	const usage = "48 ff 00 00 00 00 00 ff ff 07"
	for _, c := range []struct {
		name, data      string
		nominal, recomm time.Duration
		err             string
	}{
		{"descriptor", "00 83 00 0a " + usage + " 00 0a 00 00 00 00 00 3c 00 00 0e 10", time.Minute, time.Hour, ""},
		{"zeros: not specified", "00 83 00 0a " + usage + " 00 0a 00 00 00 00 00 00 00 00 00 00", 0, 0, ""},
		{"not supported, descriptor only", "00 81 00 00 00 0a 00 00 00 00 00 00 00 00 00 00", 0, 0, ""},
		{"CTDP without descriptor", "00 83 00 0a " + usage, 0, 0, "CTDP set but 0 bytes"},
		{"short descriptor", "00 83 00 0a " + usage + " 00 0a 00 00 00 00", 0, 0, "CTDP set but 6 bytes"},
		{"wrong descriptor length", "00 83 00 0a " + usage + " 00 08 00 00 00 00 00 3c 00 00 0e 10", 0, 0, "descriptor length 8"},
		{"usage longer than data", "00 83 00 40 " + usage, 0, 0, "CTDP set but 0 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os, err := ParseOpcodeSupport(unhex(c.data))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrTimeoutsDescriptor) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || os.Timeouts == nil || os.Timeouts.Nominal != c.nominal || os.Timeouts.Recommended != c.recomm {
				t.Fatalf("%+v %+v %v", os, os.Timeouts, err)
			}
		})
	}
}

// brokenCTDP answers REPORT SUPPORTED OPERATION CODES with CTDP set and no
// descriptor when RCTD is asked for, and correctly without it.
type brokenCTDP struct{ cdbs [][]byte }

func (b *brokenCTDP) Exec(_ context.Context, c *Command) (*Result, error) {
	b.cdbs = append(b.cdbs, c.CDB)
	data := unhex("00 03 00 0a 48 ff 00 00 00 00 00 ff ff 07")
	if c.CDB[2]&0x80 != 0 {
		data[1] |= 0x80
	}
	return &Result{DataLen: copy(c.Data, data)}, nil
}

func TestReportOpcodeBrokenDescriptor(t *testing.T) {
	tr := &brokenCTDP{}
	os, err := ReportOpcode(context.Background(), tr, OpSanitize, uint16(SanitizeBlockErase), true)
	if err != nil || !os.Support.Supported() || os.Timeouts != nil {
		t.Fatalf("%+v %v", os, err)
	}
	if len(tr.cdbs) != 2 || tr.cdbs[0][2] != 0x82 || tr.cdbs[1][2] != 0x02 {
		t.Fatalf("want the question asked with RCTD, then without: % x", tr.cdbs)
	}
}

func TestSanitizeTimeout(t *testing.T) {
	c := &Capacity{Blocks: 1e9 / 512 * 100, BlockSize: 512} // 100 GB
	for _, tc := range []struct {
		name string
		r    SanitizeRequest
		rec  time.Duration
		want time.Duration
	}{
		{"crypto erase: the drive's figure alone", SanitizeRequest{Action: SanitizeCryptoErase}, 30 * time.Second, 60*time.Second + 10*time.Minute},
		{"overwrite: the drive's figure per pass, above the capacity floor", SanitizeRequest{Action: SanitizeOverwrite, Count: 3}, time.Hour, 6*time.Hour + 10*time.Minute},
		{"block erase: a short drive figure does not go below the capacity floor", SanitizeRequest{Action: SanitizeBlockErase}, time.Minute, 2000*time.Second + 30*time.Minute},
		{"block erase: a long drive figure wins", SanitizeRequest{Action: SanitizeBlockErase}, 2 * time.Hour, 4*time.Hour + 10*time.Minute},
		{"capacity at 50 MB/s", SanitizeRequest{Action: SanitizeBlockErase}, 0, 2000*time.Second + 30*time.Minute},
		{"capacity, two passes", SanitizeRequest{Action: SanitizeOverwrite, Count: 2}, 0, 4000*time.Second + 30*time.Minute},
		{"crypto erase without a drive figure", SanitizeRequest{Action: SanitizeCryptoErase}, 0, 2000*time.Second + 30*time.Minute},
	} {
		if got := SanitizeTimeout(c, tc.r, tc.rec); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if got := FormatTimeout(100e9, 0); got != 2000*time.Second+30*time.Minute {
		t.Errorf("format from capacity: %s", got)
	}
	if got := FormatTimeout(100e9, 5*time.Minute); got != 2000*time.Second+30*time.Minute {
		t.Errorf("format, short drive figure: %s", got)
	}
	if got := FormatTimeout(100e9, 3*time.Hour); got != 6*time.Hour+10*time.Minute {
		t.Errorf("format, long drive figure: %s", got)
	}
}

func TestProtectionFields(t *testing.T) {
	for _, c := range []struct {
		b12, b13    byte
		typ         int
		fpi, pfu    uint8
		errContains string
	}{
		{0x00, 0x00, 0, 0, 0, ""},
		{0x01, 0x00, 1, 2, 0, ""},
		{0x03, 0x00, 2, 3, 0, ""},
		{0x05, 0x00, 3, 3, 1, ""},
		{0x07, 0x00, 4, 0, 0, "reserved"},
		{0x03, 0x30, 2, 0, 0, "P_I_EXPONENT 3"},
	} {
		b := make([]byte, 32)
		b[7], b[11], b[12], b[13] = 0xff, 0x02, c.b12, c.b13
		cp, err := ParseReadCapacity16(b)
		if err != nil {
			t.Fatal(err)
		}
		if cp.ProtectionType() != c.typ {
			t.Errorf("byte 12 %02x: type %d, want %d", c.b12, cp.ProtectionType(), c.typ)
		}
		fpi, pfu, err := ProtectionFields(cp)
		switch {
		case c.errContains != "":
			if err == nil || !strings.Contains(err.Error(), c.errContains) {
				t.Errorf("byte 12 %02x: %v, want an error with %q", c.b12, err, c.errContains)
			}
		case err != nil || fpi != c.fpi || pfu != c.pfu:
			t.Errorf("byte 12 %02x: FMTPINFO %d PFU %d %v", c.b12, fpi, pfu, err)
		}
	}
	if _, _, err := ProtectionFields(nil); err == nil {
		t.Error("unknown capacity accepted")
	}
}
