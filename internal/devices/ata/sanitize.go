package ata

import (
	"context"
	"fmt"
	"time"
)

// SanitizeFeature is the FEATURE field of SANITIZE DEVICE (0xB4), ACS-4 §7.36.
type SanitizeFeature uint16

// SANITIZE DEVICE subcommands. SanitizeFreezeLock is defined for the
// simulator and for naming; lethe never sends it.
const (
	SanitizeStatusExt      SanitizeFeature = 0x0000
	SanitizeCryptoScramble SanitizeFeature = 0x0011
	SanitizeBlockErase     SanitizeFeature = 0x0012
	SanitizeOverwrite      SanitizeFeature = 0x0014
	SanitizeFreezeLock     SanitizeFeature = 0x0020
	SanitizeAntifreezeLock SanitizeFeature = 0x0040
)

// LBA field keys that guard each subcommand against accidental use (ACS-4
// §7.36.2 - §7.36.7): "Cryp", "BkEr", "OW" (LBA 47:32, pattern in 31:0),
// "FrLk", "Anti".
const (
	KeyCryptoScramble = 0x43727970
	KeyBlockErase     = 0x426B4572
	KeyOverwrite      = 0x4F57
	KeyFreezeLock     = 0x46724C6B
	KeyAntifreeze     = 0x416E7469
)

func (f SanitizeFeature) String() string {
	switch f {
	case SanitizeStatusExt:
		return "STATUS EXT"
	case SanitizeCryptoScramble:
		return "CRYPTO SCRAMBLE EXT"
	case SanitizeBlockErase:
		return "BLOCK ERASE EXT"
	case SanitizeOverwrite:
		return "OVERWRITE EXT"
	case SanitizeFreezeLock:
		return "FREEZE LOCK EXT"
	case SanitizeAntifreezeLock:
		return "ANTIFREEZE LOCK EXT"
	}
	return fmt.Sprintf("feature 0x%04x", uint16(f))
}

// SanitizeOptions are the COUNT/LBA options of the erase subcommands.
type SanitizeOptions struct {
	// FailureMode (COUNT bit 4): if the operation fails, SANITIZE STATUS
	// EXT with ClearFailure may leave the failed state. Without it only a
	// successful sanitize does (the ATA analogue of NVMe AUSE).
	FailureMode bool
	// ZoneNoReset (COUNT bit 15, ACS-4) is for zoned devices.
	ZoneNoReset bool
	// Overwrite only:
	Pattern uint32 // written to every sector, repeated
	Passes  uint8  // 1..16 (sent as 0 for 16)
	Invert  bool   // invert the pattern between passes (COUNT bit 7)
}

// sanitizeTimeout bounds the erase subcommands themselves: the drive
// completes them as soon as the operation starts (progress is polled with
// STATUS EXT), so this is short; hdparm uses 10 s.
const sanitizeTimeout = 30 * time.Second

// SanitizeCmd builds a SANITIZE DEVICE command (48-bit, non-data, CK_COND).
func SanitizeCmd(f SanitizeFeature, o SanitizeOptions) (*Command, error) {
	c := &Command{
		TF:       TaskFile{Feature: uint16(f), Device: DeviceLBA, Command: CmdSanitize},
		Protocol: ProtoNonData, Extend: true, CheckCondition: true, Timeout: sanitizeTimeout,
	}
	var count uint16
	if o.FailureMode {
		count |= 0x0010
	}
	if o.ZoneNoReset {
		count |= 0x8000
	}
	switch f {
	case SanitizeCryptoScramble:
		c.TF.LBA = KeyCryptoScramble
	case SanitizeBlockErase:
		c.TF.LBA = KeyBlockErase
	case SanitizeOverwrite:
		if o.Passes == 0 || o.Passes > 16 {
			return nil, fmt.Errorf("SANITIZE OVERWRITE EXT: %d passes, need 1..16", o.Passes)
		}
		count |= uint16(o.Passes & 0x0f) // 16 is sent as 0
		if o.Invert {
			count |= 0x0080
		}
		c.TF.LBA = KeyOverwrite<<32 | uint64(o.Pattern)
	case SanitizeAntifreezeLock:
		c.TF.LBA, count = KeyAntifreeze, 0
	case SanitizeStatusExt:
		count = 0
	default:
		return nil, fmt.Errorf("SANITIZE: feature 0x%04x is not sent by lethe", uint16(f))
	}
	c.TF.Count = count
	return c, nil
}

// SanitizeStatusCmd builds SANITIZE STATUS EXT; clearFailure sets COUNT
// bit 0 (CLEAR SANITIZE OPERATION FAILED).
func SanitizeStatusCmd(clearFailure bool) *Command {
	c, _ := SanitizeCmd(SanitizeStatusExt, SanitizeOptions{})
	if clearFailure {
		c.TF.Count = 0x0001
	}
	return c
}

// SanitizeReason is the SANITIZE DEVICE ERROR REASON returned in LBA 7:0
// with ABRT (ACS-4 §7.36.1, Table 82).
type SanitizeReason uint8

// Error reasons.
const (
	ReasonNotReported       SanitizeReason = 0
	ReasonUnsuccessful      SanitizeReason = 1 // the sanitize operation failed
	ReasonUnsupported       SanitizeReason = 2 // invalid or unsupported FEATURE value
	ReasonFrozen            SanitizeReason = 3 // device in the Sanitize Frozen state
	ReasonAntifreezeBlocked SanitizeReason = 4 // FREEZE LOCK refused: antifreeze set
)

func (r SanitizeReason) String() string {
	switch r {
	case ReasonNotReported:
		return "reason not reported"
	case ReasonUnsuccessful:
		return "sanitize command unsuccessful"
	case ReasonUnsupported:
		return "invalid or unsupported value in the FEATURE field"
	case ReasonFrozen:
		return "device is in the Sanitize Frozen state"
	case ReasonAntifreezeBlocked:
		return "SANITIZE FREEZE LOCK refused: antifreeze lock set"
	}
	return fmt.Sprintf("reason %d", uint8(r))
}

// SanitizeStatus is what SANITIZE STATUS EXT returned (ACS-4 §7.36.8).
type SanitizeStatus struct {
	// CompletedWithoutError (COUNT bit 15) is set after the last sanitize
	// operation succeeded. It stays set on an idle drive: by itself it does
	// not prove that the operation lethe started has run.
	CompletedWithoutError bool
	InProgress            bool // COUNT bit 14
	Frozen                bool // COUNT bit 13: Sanitize Frozen state (SD1)
	Antifreeze            bool // COUNT bit 12
	// Progress is LBA 15:0 / 65536 while in progress.
	Progress    float64
	ProgressRaw uint16
	// Failed is set when STATUS EXT was aborted with reason
	// ReasonUnsuccessful, or with no reason (0): the drive is in the
	// failed state (SD3). openSeaChest (opensea-operations
	// src/sanitize.c, get_ATA_Sanitize_Progress) treats both as a failed
	// sanitize; a drive that does not report the reason must not pass
	// for one that has nothing to report.
	Failed bool
	Reason SanitizeReason
	Regs   Registers
}

// SanitizeStatus sends SANITIZE STATUS EXT. A drive in the failed state
// aborts it with reason 1 (ACS-4 §7.36.8), some with reason 0; both are
// reported as Failed, not as an error.
func (d *Device) SanitizeStatus(ctx context.Context, clearFailure bool) (*SanitizeStatus, error) {
	regs, err := d.Exec(ctx, SanitizeStatusCmd(clearFailure))
	if err != nil {
		if e, ok := AsError(err); ok && e.Aborted() {
			r := SanitizeReason(e.Regs.LBA & 0xff)
			if r == ReasonUnsuccessful || r == ReasonNotReported {
				return &SanitizeStatus{Failed: true, Reason: r, Regs: e.Regs}, nil
			}
		}
		return nil, err
	}
	if regs == nil {
		return nil, fmt.Errorf("SANITIZE STATUS EXT: the SATL returned no registers despite CK_COND")
	}
	if regs.Partial && regs.CountUpperNonZero {
		return nil, fmt.Errorf("SANITIZE STATUS EXT: %w", ErrPartialRegisters)
	}
	p := uint16(regs.LBA)
	return &SanitizeStatus{
		CompletedWithoutError: regs.Count&0x8000 != 0,
		InProgress:            regs.Count&0x4000 != 0,
		Frozen:                regs.Count&0x2000 != 0,
		Antifreeze:            regs.Count&0x1000 != 0,
		Progress:              float64(p) / 65536,
		ProgressRaw:           p,
		Regs:                  *regs,
	}, nil
}

// Sanitize starts a sanitize operation (crypto scramble, block erase or
// overwrite). The command completes when the operation has started; poll
// SanitizeStatus. An ABRT carries the reason: see SanitizeErrorReason.
func (d *Device) Sanitize(ctx context.Context, f SanitizeFeature, o SanitizeOptions) error {
	switch f {
	case SanitizeCryptoScramble, SanitizeBlockErase, SanitizeOverwrite:
	default:
		return fmt.Errorf("Sanitize: %s is not an erase operation", f)
	}
	c, err := SanitizeCmd(f, o)
	if err != nil {
		return err
	}
	_, err = d.Exec(ctx, c)
	return err
}

// SanitizeAntifreezeLock sets the antifreeze lock so the BIOS/OS cannot put
// the sanitize feature set into the frozen state until a power cycle.
func (d *Device) SanitizeAntifreezeLock(ctx context.Context) error {
	c, _ := SanitizeCmd(SanitizeAntifreezeLock, SanitizeOptions{})
	_, err := d.Exec(ctx, c)
	return err
}

// SanitizeErrorReason extracts the SANITIZE DEVICE ERROR REASON from an
// aborted SANITIZE command's error.
func SanitizeErrorReason(err error) (SanitizeReason, bool) {
	e, ok := AsError(err)
	if !ok || !e.Aborted() {
		return 0, false
	}
	return SanitizeReason(e.Regs.LBA & 0xff), true
}

// SanitizeCheck tells from IDENTIFY word 59 whether f is supported.
func SanitizeCheck(id *Identify, f SanitizeFeature) error {
	s := id.Sanitize
	ok := s.Supported && (f == SanitizeStatusExt ||
		f == SanitizeCryptoScramble && s.Crypto ||
		f == SanitizeBlockErase && s.BlockErase ||
		f == SanitizeOverwrite && s.Overwrite ||
		f == SanitizeAntifreezeLock && s.AntifreezeLock)
	if !ok {
		return &StateError{Op: "SANITIZE " + f.String(), Reason: ErrSanitizeUnsupported}
	}
	return nil
}

// SanitizeTimeout is how long lethe waits for an ATA sanitize operation to
// end (polling STATUS EXT). ATA reports no sanitize time estimate, so it is
// the time to write every sector once per pass at 50 MB/s plus 30 minutes;
// a crypto scramble usually ends in seconds but gets the same bound, since
// giving up early only loses track of an operation that cannot be aborted.
func SanitizeTimeout(id *Identify, f SanitizeFeature, o SanitizeOptions) time.Duration {
	passes := uint64(1)
	if f == SanitizeOverwrite && o.Passes > 0 {
		passes = uint64(o.Passes)
	}
	bytes := id.Sectors * uint64(id.LogicalSectorSize)
	return time.Duration(passes*bytes/50e6)*time.Second + 30*time.Minute
}
