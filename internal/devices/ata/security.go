package ata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Password is the 32-byte password of a Security feature set command and
// which password it names (ACS-4 §7.45 - §7.50).
type Password struct {
	Master bool     // IDENTIFIER bit: master (1) or user (0) password
	Value  [32]byte // sent byte for byte, as hdparm does
	// For SECURITY SET PASSWORD only:
	Maximum  bool   // user password with MASTER PASSWORD CAPABILITY = Maximum (else High)
	MasterID uint16 // master password identifier (word 17) when setting the master password
}

// NewPassword returns a user password from s, zero padded to 32 bytes. An
// empty s is the all-zero password (hdparm's "NULL").
func NewPassword(s string) (Password, error) {
	var p Password
	if len(s) > len(p.Value) {
		return p, fmt.Errorf("ATA password is %d bytes, the limit is 32", len(s))
	}
	copy(p.Value[:], s)
	return p, nil
}

// payload builds the 512-byte data block shared by SET PASSWORD, UNLOCK,
// ERASE UNIT and DISABLE PASSWORD: word 0 control bits, words 1-16 the
// password (ACS-4 Table 187 and following).
func (p Password) payload(word0 uint16) []byte {
	b := make([]byte, 512)
	if p.Master {
		word0 |= 0x0001
	}
	binary.LittleEndian.PutUint16(b[0:2], word0)
	copy(b[2:34], p.Value[:])
	return b
}

// SetPasswordData is the SECURITY SET PASSWORD data block (ACS-4 §7.49.2,
// Table 191): word 0 bit 0 IDENTIFIER, bit 8 MASTER PASSWORD CAPABILITY;
// words 1-16 password; word 17 master password identifier.
func (p Password) SetPasswordData() []byte {
	var w0 uint16
	if !p.Master && p.Maximum {
		w0 |= 0x0100
	}
	b := p.payload(w0)
	if p.Master {
		binary.LittleEndian.PutUint16(b[34:36], p.MasterID)
	}
	return b
}

// EraseUnitData is the SECURITY ERASE UNIT data block (ACS-4 §7.47.2):
// word 0 bit 0 IDENTIFIER, bit 1 ENHANCED.
func (p Password) EraseUnitData(enhanced bool) []byte {
	var w0 uint16
	if enhanced {
		w0 |= 0x0002
	}
	return p.payload(w0)
}

// UnlockData is the data block of SECURITY UNLOCK and SECURITY DISABLE
// PASSWORD: word 0 bit 0 IDENTIFIER.
func (p Password) UnlockData() []byte { return p.payload(0) }

// Security command constructors, exported for the golden tests.

// SecuritySetPasswordCmd is SECURITY SET PASSWORD (0xF1, PIO out).
func SecuritySetPasswordCmd(p Password) *Command {
	return pioOut(CmdSecuritySetPass, p.SetPasswordData(), 0)
}

// SecurityUnlockCmd is SECURITY UNLOCK (0xF2, PIO out).
func SecurityUnlockCmd(p Password) *Command { return pioOut(CmdSecurityUnlock, p.UnlockData(), 0) }

// SecurityDisablePasswordCmd is SECURITY DISABLE PASSWORD (0xF6, PIO out).
func SecurityDisablePasswordCmd(p Password) *Command {
	return pioOut(CmdSecurityDisablePwd, p.UnlockData(), 0)
}

// SecurityErasePrepareCmd is SECURITY ERASE PREPARE (0xF3, non-data).
func SecurityErasePrepareCmd() *Command {
	return &Command{TF: TaskFile{Device: DeviceLBA, Command: CmdSecurityErasePrep}, Protocol: ProtoNonData, CheckCondition: true}
}

// SecurityEraseUnitCmd is SECURITY ERASE UNIT (0xF4, PIO out).
func SecurityEraseUnitCmd(p Password, enhanced bool, timeout time.Duration) *Command {
	return pioOut(CmdSecurityEraseUnit, p.EraseUnitData(enhanced), timeout)
}

func pioOut(cmd uint8, data []byte, timeout time.Duration) *Command {
	return &Command{TF: TaskFile{Count: 1, Device: DeviceLBA, Command: cmd}, Protocol: ProtoPIOOut, Data: data, Timeout: timeout}
}

// SecuritySetPassword sets the user password (enabling security: SEC1 ->
// SEC5) or changes the master password.
func (d *Device) SecuritySetPassword(ctx context.Context, p Password) error {
	_, err := d.Exec(ctx, SecuritySetPasswordCmd(p))
	return err
}

// SecurityUnlock unlocks a locked drive (SEC4 -> SEC5). Each wrong password
// decrements the drive's attempt counter; after 5 it needs a power cycle.
func (d *Device) SecurityUnlock(ctx context.Context, p Password) error {
	_, err := d.Exec(ctx, SecurityUnlockCmd(p))
	return err
}

// SecurityDisablePassword removes the user password (SEC5 -> SEC1).
func (d *Device) SecurityDisablePassword(ctx context.Context, p Password) error {
	_, err := d.Exec(ctx, SecurityDisablePasswordCmd(p))
	return err
}

// SecurityErasePrepare must immediately precede SecurityEraseUnit.
func (d *Device) SecurityErasePrepare(ctx context.Context) error {
	_, err := d.Exec(ctx, SecurityErasePrepareCmd())
	return err
}

// SecurityEraseUnit erases the drive; it blocks for the whole erase, so
// timeout should come from Identify.SecurityEraseTimeout. On success the
// drive is in SEC1 (user password cleared).
func (d *Device) SecurityEraseUnit(ctx context.Context, p Password, enhanced bool, timeout time.Duration) error {
	_, err := d.Exec(ctx, SecurityEraseUnitCmd(p, enhanced, timeout))
	return err
}

// StateError says the drive's Security or Sanitize state forbids a command,
// as read from IDENTIFY, before anything was sent.
type StateError struct {
	Op     string
	Reason error // one of the Err* sentinels below
}

func (e *StateError) Error() string { return e.Op + ": " + e.Reason.Error() }
func (e *StateError) Unwrap() error { return e.Reason }

// Reasons a Security or Sanitize command cannot be sent.
var (
	ErrSecurityUnsupported = errors.New("the drive does not support the Security feature set")
	ErrFrozen              = errors.New("the drive is security frozen (by the BIOS or OS); a suspend/resume or power cycle unfreezes it")
	ErrLocked              = errors.New("the drive is locked; unlock it with its password first")
	ErrCountExpired        = errors.New("the drive's password attempt counter expired (5 failures); it needs a power cycle")
	ErrNotEnabled          = errors.New("security is not enabled (no user password is set)")
	ErrEnabled             = errors.New("security is already enabled (a user password is set)")
	ErrNoEnhancedErase     = errors.New("the drive does not support enhanced security erase")
	ErrSanitizeUnsupported = errors.New("the drive does not support this SANITIZE operation")
)

// SecurityOp names a Security command for SecurityCheck.
type SecurityOp int

// Security operations.
const (
	OpSetPassword SecurityOp = iota
	OpUnlock
	OpDisablePassword
	OpErase
	OpEraseEnhanced
)

// SecurityCheck tells from IDENTIFY word 128 whether op can succeed
// (ACS-4 §4.18.11, Table 27), so a frozen or locked drive is reported as
// such instead of as a bare "aborted". It returns a *StateError or nil.
func SecurityCheck(id *Identify, op SecurityOp) error {
	s := id.Security
	name := [...]string{"SECURITY SET PASSWORD", "SECURITY UNLOCK", "SECURITY DISABLE PASSWORD",
		"SECURITY ERASE UNIT", "SECURITY ERASE UNIT (enhanced)"}[op]
	fail := func(r error) error { return &StateError{Op: name, Reason: r} }
	switch {
	case !s.Supported:
		return fail(ErrSecurityUnsupported)
	case op == OpEraseEnhanced && !s.EnhancedErase:
		return fail(ErrNoEnhancedErase)
	case s.CountExpired && (op == OpUnlock || op == OpErase || op == OpEraseEnhanced):
		return fail(ErrCountExpired)
	case s.Frozen:
		// SEC2 and SEC6 abort every Security command but FREEZE LOCK.
		return fail(ErrFrozen)
	case s.Locked && (op == OpSetPassword || op == OpDisablePassword):
		return fail(ErrLocked)
	case !s.Enabled && (op == OpUnlock || op == OpDisablePassword || op == OpErase || op == OpEraseEnhanced):
		return fail(ErrNotEnabled)
	}
	return nil
}
