package ata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Identify is the parsed IDENTIFY DEVICE data (ACS-4 §7.12.7, Table 45).
type Identify struct {
	Model, Serial, Firmware string

	// Sectors is the number of user-addressable logical sectors (the
	// current max address + 1, i.e. what is left outside an HPA).
	Sectors            uint64
	LogicalSectorSize  uint32
	PhysicalSectorSize uint32
	LBA48              bool

	// WWN is the 64-bit world wide name (words 108-111), 0 if absent.
	WWN uint64

	// RotationRate is word 217: 0 not reported, 1 non-rotating, else rpm.
	RotationRate uint16
	TRIM         bool // word 169 bit 0: DATA SET MANAGEMENT / TRIM
	// DeterministicTrim / TrimReadsZero: word 69 bits 14 and 5.
	DeterministicTrim, TrimReadsZero bool

	Sanitize SanitizeCaps
	Security SecurityInfo
	// HPA and DCO feature sets (words 82/85 bit 10, 83/86 bit 11).
	HPASupported, HPAEnabled bool
	DCOSupported             bool
	// AMASupported is word 119 bit 8: the Accessible Max Address
	// Configuration feature set (ACS-3 §4.4), which replaces the HPA's
	// READ NATIVE MAX ADDRESS / SET MAX ADDRESS with GET NATIVE MAX
	// ADDRESS EXT / SET ACCESSIBLE MAX ADDRESS EXT (78h).
	AMASupported bool

	// Checksum is the state of word 255 (ACS-4 §7.12.7.93).
	Checksum ChecksumState
	Raw      []byte
}

// SanitizeCaps is IDENTIFY word 59 bits 10-15 (ACS-4 §7.12.7.26).
type SanitizeCaps struct {
	Supported, Crypto, Overwrite, BlockErase, AntifreezeLock, ACS3Commands bool
}

// SecurityInfo is the Security feature set state: words 82/85 bit 1, 89,
// 90, 92 and 128 (ACS-4 §7.12.7.31, .45-.46, .57).
type SecurityInfo struct {
	Supported        bool   // word 82 bit 1 / word 128 bit 0
	Enabled          bool   // a user password is set (word 85 bit 1 / 128 bit 1)
	Locked           bool   // word 128 bit 2
	Frozen           bool   // word 128 bit 3
	CountExpired     bool   // word 128 bit 4: 5 failed unlocks, power cycle needed
	EnhancedErase    bool   // word 128 bit 5
	MasterMaximum    bool   // word 128 bit 8: master password capability maximum (else high)
	MasterPasswordID uint16 // word 92 (0 and 0xFFFF: not supported)
	// EraseTime and EnhancedEraseTime are the drive's estimates (words 89
	// and 90); zero means not reported. LongerThan is set when the drive
	// only says "more than" (the all-ones value).
	EraseTime, EnhancedEraseTime                 time.Duration
	EraseTimeLongerThan, EnhancedEraseLongerThan bool
}

// State returns the ACS-4 §4.18 security state, SEC1 .. SEC6 (SEC0 and
// SEC3 are power-down states a running drive is never in).
func (s SecurityInfo) State() string {
	switch {
	case !s.Supported:
		return "not supported"
	case !s.Enabled && !s.Frozen:
		return "SEC1 (disabled, not frozen)"
	case !s.Enabled && s.Frozen:
		return "SEC2 (disabled, frozen)"
	case s.Locked:
		return "SEC4 (enabled, locked)"
	case !s.Frozen:
		return "SEC5 (enabled, unlocked, not frozen)"
	}
	return "SEC6 (enabled, unlocked, frozen)"
}

// ChecksumState is the state of IDENTIFY word 255.
type ChecksumState int

// Checksum states.
const (
	ChecksumAbsent  ChecksumState = iota // signature byte is not 0xA5
	ChecksumValid                        // all 512 bytes sum to 0 mod 256
	ChecksumInvalid                      // signature present, sum wrong
)

// ErrChecksum is returned (wrapped) with the parsed data when word 255
// carries the 0xA5 signature but the checksum does not match.
var ErrChecksum = errors.New("IDENTIFY data integrity checksum mismatch (word 255)")

func word(b []byte, w int) uint16 { return binary.LittleEndian.Uint16(b[2*w:]) }

// ataString decodes an ATA string: two characters per word, the first in
// the high byte (ACS-4 §3.4.9), trailing spaces trimmed.
func ataString(b []byte, first, words int) string {
	s := make([]byte, 0, 2*words)
	for i := 0; i < words; i++ {
		w := word(b, first+i)
		s = append(s, byte(w>>8), byte(w))
	}
	for i, c := range s {
		if c < 0x20 || c > 0x7e {
			s[i] = ' '
		}
	}
	return strings.TrimSpace(string(s))
}

// eraseTime decodes words 89/90 (ACS-4 §7.12.7.45): bit 15 set means the
// time is in bits 14:0 (extended format), else in bits 7:0; the unit is 2
// minutes and the all-ones value means "longer than".
func eraseTime(w uint16) (time.Duration, bool) {
	var v, maxv uint16
	if w&0x8000 != 0 {
		v, maxv = w&0x7fff, 0x7fff
	} else {
		v, maxv = w&0x00ff, 0x00ff
	}
	return time.Duration(v) * 2 * time.Minute, v == maxv
}

// ParseIdentify parses 512 bytes of IDENTIFY DEVICE data. When word 255
// holds the signature but a wrong checksum it returns the parsed data and
// an error wrapping ErrChecksum: the caller decides whether to trust it.
func ParseIdentify(b []byte) (*Identify, error) {
	if len(b) < 512 {
		return nil, fmt.Errorf("IDENTIFY data: %d bytes, need 512", len(b))
	}
	b = b[:512]
	if word(b, 0)&0x8000 != 0 {
		return nil, errors.New("IDENTIFY data: word 0 bit 15 set (not an ATA device)")
	}
	id := &Identify{
		Serial:   ataString(b, 10, 10),
		Firmware: ataString(b, 23, 4),
		Model:    ataString(b, 27, 20),
		Raw:      append([]byte(nil), b...),
	}
	w := func(n int) uint16 { return word(b, n) }
	// Feature words 83/86/84/87 are valid only when bits 15:14 read 01.
	valid := func(n int) bool { return w(n)&0xc000 == 0x4000 }

	id.LBA48 = valid(83) && w(83)&0x0400 != 0
	id.Sectors = uint64(w(60)) | uint64(w(61))<<16
	if id.LBA48 {
		if n := uint64(w(100)) | uint64(w(101))<<16 | uint64(w(102))<<32 | uint64(w(103))<<48; n != 0 {
			id.Sectors = n
		}
	}
	// Word 69 bit 3: extended number of user addressable sectors (words 230-233).
	if w(69)&0x0008 != 0 {
		if n := uint64(w(230)) | uint64(w(231))<<16 | uint64(w(232))<<32 | uint64(w(233))<<48; n != 0 {
			id.Sectors = n
		}
	}
	id.LogicalSectorSize, id.PhysicalSectorSize = 512, 512
	if w106 := w(106); w106&0xc000 == 0x4000 {
		if w106&0x1000 != 0 {
			if words := uint32(w(117)) | uint32(w(118))<<16; words >= 256 {
				id.LogicalSectorSize = 2 * words
			}
		}
		if w106&0x2000 != 0 {
			id.PhysicalSectorSize = id.LogicalSectorSize << (w106 & 0x0f)
		}
	}
	if valid(84) && w(84)&0x0100 != 0 || valid(87) && w(87)&0x0100 != 0 {
		id.WWN = uint64(w(108))<<48 | uint64(w(109))<<32 | uint64(w(110))<<16 | uint64(w(111))
	}
	id.RotationRate = w(217)
	id.TRIM = w(169)&0x0001 != 0
	id.DeterministicTrim = w(69)&0x4000 != 0
	id.TrimReadsZero = w(69)&0x0020 != 0

	w59 := w(59)
	id.Sanitize = SanitizeCaps{
		Supported:      w59&0x1000 != 0,
		Crypto:         w59&0x2000 != 0,
		Overwrite:      w59&0x4000 != 0,
		BlockErase:     w59&0x8000 != 0,
		AntifreezeLock: w59&0x0400 != 0,
		ACS3Commands:   w59&0x0800 != 0,
	}

	w128 := w(128)
	sec := SecurityInfo{
		Supported:        w(82)&0x0002 != 0 || w128&0x0001 != 0,
		Enabled:          w128&0x0002 != 0 || (valid(87) && w(85)&0x0002 != 0),
		Locked:           w128&0x0004 != 0,
		Frozen:           w128&0x0008 != 0,
		CountExpired:     w128&0x0010 != 0,
		EnhancedErase:    w128&0x0020 != 0,
		MasterMaximum:    w128&0x0100 != 0,
		MasterPasswordID: w(92),
	}
	sec.EraseTime, sec.EraseTimeLongerThan = eraseTime(w(89))
	sec.EnhancedEraseTime, sec.EnhancedEraseLongerThan = eraseTime(w(90))
	id.Security = sec

	id.HPASupported = w(82)&0x0400 != 0
	// Words 119-120 are valid when word 86 bit 15 says so and their
	// bits 15:14 read 01b (ACS-3 §7.12.7.41); hdparm 9.65 identify.c
	// checks word 86 bit 15 too.
	id.AMASupported = w(86)&0x8000 != 0 && valid(119) && w(119)&0x0100 != 0
	id.HPAEnabled = w(85)&0x0400 != 0
	id.DCOSupported = valid(83) && w(83)&0x0800 != 0

	if b[510] == 0xa5 {
		var sum uint8
		for _, c := range b {
			sum += c
		}
		if sum != 0 {
			id.Checksum = ChecksumInvalid
			return id, fmt.Errorf("%w: bytes sum to 0x%02x", ErrChecksum, sum)
		}
		id.Checksum = ChecksumValid
	}
	return id, nil
}

// Identify sends IDENTIFY DEVICE and parses the answer.
func (d *Device) Identify(ctx context.Context) (*Identify, error) {
	buf := make([]byte, 512)
	_, err := d.Exec(ctx, &Command{
		TF:       TaskFile{Count: 1, Device: DeviceLBA, Command: CmdIdentify},
		Protocol: ProtoPIOIn, Data: buf,
	})
	if err != nil {
		return nil, err
	}
	return ParseIdentify(buf)
}

// SecurityEraseTimeout is the SECURITY ERASE UNIT timeout lethe uses: the
// larger of the drive's figure with a margin (twice the estimate in word 89
// or 90, at least the estimate plus an hour; 2x the largest encodable
// value when the drive only says "longer than") and a floor from the
// capacity: 30 minutes plus the time to write it at 30 MiB/s. hdparm 9.65
// computes the same floor and takes the larger of it and its own
// estimate + 1 h (measured with testdata/capture's shim: words 89/90 = 0
// on 1 GiB gives 1834 s, on 128 GiB 6169 s, and 6169 s with word 89 = 10
// too). An SG_IO timeout aborts a running erase and leaves the drive
// locked with lethe's password, so it errs long.
func (id *Identify) SecurityEraseTimeout(enhanced bool) time.Duration {
	est, longer := id.Security.EraseTime, id.Security.EraseTimeLongerThan
	if enhanced {
		est, longer = id.Security.EnhancedEraseTime, id.Security.EnhancedEraseLongerThan
	}
	mib := id.Sectors * uint64(max(id.LogicalSectorSize, 512)) >> 20
	floor := 30*time.Minute + time.Duration(mib/30)*time.Second
	if est == 0 {
		return floor
	}
	if longer {
		est *= 2
	}
	return max(2*est, est+time.Hour, floor)
}
