// Package ata sends ATA commands to a drive through SCSI ATA PASS-THROUGH(16)
// (SAT-4 §12.2.2) over a scsi.Transport, and decodes what comes back:
// IDENTIFY DEVICE, the Security feature set, SANITIZE DEVICE, HPA (READ
// NATIVE MAX ADDRESS EXT / SET MAX ADDRESS EXT) and DCO.
//
// The same code runs against Linux SG_IO (scsi.OpenSGIO on /dev/sdX behind
// libata or a SAT bridge) and against atasim, which decodes the CDBs and
// implements the ACS-4 state machines.
//
// lethe never sends SECURITY FREEZE LOCK, SANITIZE FREEZE LOCK EXT or DCO
// FREEZE LOCK: they would block a later erase until a power cycle.
package ata

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/internal/devices/scsi"
)

// Protocol is the ATA PASS-THROUGH PROTOCOL field (SAT-4 Table 173).
type Protocol uint8

// Protocols lethe uses.
const (
	ProtoNonData Protocol = 3
	ProtoPIOIn   Protocol = 4
	ProtoPIOOut  Protocol = 5
)

// ATA command opcodes (ACS-4 Table 47).
const (
	CmdReadNativeMaxExt   = 0x27
	CmdSetMaxExt          = 0x37
	CmdDeviceConfig       = 0xB1 // features 0xC0 RESTORE, 0xC2 IDENTIFY
	CmdSanitize           = 0xB4
	CmdIdentify           = 0xEC
	CmdSecuritySetPass    = 0xF1
	CmdSecurityUnlock     = 0xF2
	CmdSecurityErasePrep  = 0xF3
	CmdSecurityEraseUnit  = 0xF4
	CmdSecurityDisablePwd = 0xF6

	DCORestore  = 0xC0
	DCOIdentify = 0xC2
)

// Status register bits (ACS-4 §6.2).
const (
	StatusERR  = 0x01
	StatusDRQ  = 0x08
	StatusDF   = 0x20 // device fault
	StatusDRDY = 0x40
	StatusBSY  = 0x80
)

// Error register bits (ACS-4 §6.3).
const (
	ErrorABRT = 0x04 // command aborted
	ErrorIDNF = 0x10 // ID not found (address out of range)
	ErrorUNC  = 0x40 // uncorrectable data
	ErrorICRC = 0x80 // interface CRC
)

// DeviceLBA is the DEVICE field with the LBA bit set; hdparm sends it with
// every command and so does lethe.
const DeviceLBA = 0x40

// TaskFile is the ATA register input of one command (48-bit form).
type TaskFile struct {
	Feature uint16
	Count   uint16
	LBA     uint64 // 48 bits
	Device  uint8
	Command uint8
}

// Command is one ATA command for ATA PASS-THROUGH(16).
type Command struct {
	TF       TaskFile
	Protocol Protocol
	// Extend marks a 48-bit (EXT) command: the upper register bytes count.
	Extend bool
	// CheckCondition sets CK_COND: the SATL returns the ATA registers (in
	// sense data) even when the command succeeds.
	CheckCondition bool
	// Data is the PIO buffer, a multiple of 512 bytes.
	Data    []byte
	Timeout time.Duration
}

// Registers is the ATA register output of a command.
type Registers = scsi.ATAReturn

// CDB encodes ATA PASS-THROUGH(16) (SAT-4 §12.2.2.2, Table 171). PIO data
// is counted in 512-byte blocks in the COUNT field (T_LENGTH=2, BYT_BLOK=1,
// T_TYPE=0), as hdparm does.
func (c *Command) CDB() []byte {
	b := make([]byte, 16)
	b[0] = scsi.OpATAPassThru16
	b[1] = uint8(c.Protocol&0x0f) << 1
	if c.Extend {
		b[1] |= 0x01
	}
	switch c.Protocol {
	case ProtoPIOIn:
		b[2] = 0x08 | 0x04 | 0x02 // T_DIR=in, BYT_BLOK, T_LENGTH=COUNT
	case ProtoPIOOut:
		b[2] = 0x04 | 0x02
	}
	if c.CheckCondition {
		b[2] |= 0x20
	}
	tf := c.TF
	b[3], b[4] = byte(tf.Feature>>8), byte(tf.Feature)
	b[5], b[6] = byte(tf.Count>>8), byte(tf.Count)
	b[7], b[8] = byte(tf.LBA>>24), byte(tf.LBA)
	b[9], b[10] = byte(tf.LBA>>32), byte(tf.LBA>>8)
	b[11], b[12] = byte(tf.LBA>>40), byte(tf.LBA>>16)
	b[13], b[14] = tf.Device, tf.Command
	return b
}

// Name returns a readable command name for errors.
func (c *Command) Name() string { return commandName(c.TF.Command, c.TF.Feature) }

func commandName(cmd uint8, feature uint16) string {
	switch cmd {
	case CmdIdentify:
		return "IDENTIFY DEVICE"
	case CmdSecuritySetPass:
		return "SECURITY SET PASSWORD"
	case CmdSecurityUnlock:
		return "SECURITY UNLOCK"
	case CmdSecurityErasePrep:
		return "SECURITY ERASE PREPARE"
	case CmdSecurityEraseUnit:
		return "SECURITY ERASE UNIT"
	case CmdSecurityDisablePwd:
		return "SECURITY DISABLE PASSWORD"
	case CmdReadNativeMaxExt:
		return "READ NATIVE MAX ADDRESS EXT"
	case CmdSetMaxExt:
		return "SET MAX ADDRESS EXT"
	case CmdAMAConfig:
		switch feature {
		case AMAGetNativeMax:
			return "GET NATIVE MAX ADDRESS EXT"
		case AMASetAccessibleMax:
			return "SET ACCESSIBLE MAX ADDRESS EXT"
		case AMAFreeze:
			return "FREEZE ACCESSIBLE MAX ADDRESS EXT"
		}
		return fmt.Sprintf("ACCESSIBLE MAX ADDRESS CONFIGURATION (feature 0x%04x)", feature)
	case CmdDeviceConfig:
		switch feature {
		case DCORestore:
			return "DEVICE CONFIGURATION RESTORE"
		case DCOIdentify:
			return "DEVICE CONFIGURATION IDENTIFY"
		}
		return fmt.Sprintf("DEVICE CONFIGURATION (feature 0x%02x)", feature)
	case CmdSanitize:
		return "SANITIZE " + SanitizeFeature(feature).String()
	}
	return fmt.Sprintf("ATA command 0x%02x", cmd)
}

// Device sends ATA commands over a SCSI transport.
type Device struct {
	T scsi.Transport
}

// New returns a Device on t.
func New(t scsi.Transport) *Device { return &Device{T: t} }

// Exec sends c. It returns the output registers when the SATL returned them
// (always with CheckCondition; on errors when the SATL reports them), and
// an error when the command failed:
//   - *Error: the drive set ERR or DF (ABRT, IDNF, ...);
//   - *scsi.SenseError: the SATL refused the CDB (e.g. ILLEGAL REQUEST when
//     the bridge has no ATA pass-through) or reported a SCSI-level error;
//   - other errors: delivery failures from the transport.
func (d *Device) Exec(ctx context.Context, c *Command) (*Registers, error) {
	if (c.Protocol == ProtoPIOIn || c.Protocol == ProtoPIOOut) && (len(c.Data) == 0 || len(c.Data)%512 != 0) {
		return nil, fmt.Errorf("%s: PIO data length %d is not a positive multiple of 512", c.Name(), len(c.Data))
	}
	sc := &scsi.Command{CDB: c.CDB(), Data: c.Data, Timeout: c.Timeout}
	switch c.Protocol {
	case ProtoPIOIn:
		sc.Dir = scsi.DirIn
	case ProtoPIOOut:
		sc.Dir = scsi.DirOut
	default:
		sc.Dir, sc.Data = scsi.DirNone, nil
	}
	r, err := d.T.Exec(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	if r.Status == scsi.StatusGood && r.HostStatus == 0 {
		if c.Protocol == ProtoPIOIn && r.DataLen < len(c.Data) && r.DataLen >= 0 && r.Resid > 0 {
			return nil, fmt.Errorf("%s: short transfer, %d of %d bytes", c.Name(), r.DataLen, len(c.Data))
		}
		return nil, nil
	}
	if r.Status == scsi.StatusCheckCondition && len(r.Sense) > 0 && r.HostStatus == 0 {
		s, derr := scsi.DecodeSense(r.Sense)
		if derr == nil && s.Key != scsi.KeyIllegalRequest {
			regs := s.ATA
			if regs == nil {
				// Fixed format: libata puts the registers there for any
				// pass-through sense, whatever the ASC.
				regs = s.FixedATA()
			}
			switch {
			case regs == nil:
			case regs.Status&(StatusERR|StatusDF) != 0:
				return regs, &Error{Op: c.Name(), Regs: *regs}
			case s.Key == scsi.KeyNoSense || s.Key == scsi.KeyRecoveredError:
				// CK_COND success: ATA PASS THROUGH INFORMATION AVAILABLE.
				return regs, nil
			default:
				// A SCSI-level error (e.g. MEDIUM ERROR, NOT READY) with
				// registers that claim success: trust the sense key.
				return regs, &scsi.SenseError{Op: c.Name(), Sense: s}
			}
		}
	}
	return nil, r.Err(c.Name())
}

// ErrPartialRegisters says the SATL answered in fixed format sense data,
// which lacks COUNT 15:8 and LBA 47:24. Device.PreferDescriptorSense fixes
// that on Linux (libata) and most SAT bridges.
var ErrPartialRegisters = errors.New("the SATL returned fixed format sense data without the upper ATA registers; enable descriptor sense (D_SENSE)")

// PreferDescriptorSense asks the SATL for descriptor format sense data
// (scsi.EnsureDescriptorSense), so that 48-bit registers come back whole.
// Call it once after opening a drive; it changes only how errors are
// reported, not the drive.
func (d *Device) PreferDescriptorSense(ctx context.Context) error {
	_, err := scsi.EnsureDescriptorSense(ctx, d.T)
	return err
}

// Error is an ATA command that ended with ERR or DF set in the status
// register. Predicates name the error register bits.
type Error struct {
	Op   string
	Regs Registers
}

func (e *Error) Error() string {
	var what []string
	if e.Regs.Status&StatusDF != 0 {
		what = append(what, "device fault")
	}
	for _, b := range []struct {
		bit  uint8
		name string
	}{{ErrorABRT, "aborted"}, {ErrorIDNF, "ID not found"}, {ErrorUNC, "uncorrectable"}, {ErrorICRC, "interface CRC"}} {
		if e.Regs.Error&b.bit != 0 {
			what = append(what, b.name)
		}
	}
	if len(what) == 0 {
		what = append(what, "error")
	}
	return fmt.Sprintf("%s: %v (status 0x%02x, error 0x%02x)", e.Op, what, e.Regs.Status, e.Regs.Error)
}

// Aborted reports ABRT: the drive refused the command (unsupported, wrong
// state such as frozen or locked, wrong password, bad field).
func (e *Error) Aborted() bool { return e.Regs.Error&ErrorABRT != 0 }

// IDNotFound reports IDNF (e.g. SET MAX ADDRESS beyond native max).
func (e *Error) IDNotFound() bool { return e.Regs.Error&ErrorIDNF != 0 }

// DeviceFault reports DF in the status register.
func (e *Error) DeviceFault() bool { return e.Regs.Status&StatusDF != 0 }

// Uncorrectable reports UNC.
func (e *Error) Uncorrectable() bool { return e.Regs.Error&ErrorUNC != 0 }

// AsError returns the *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsAborted reports whether err is an ATA error with ABRT set.
func IsAborted(err error) bool { e, ok := AsError(err); return ok && e.Aborted() }

// IsIDNotFound reports whether err is an ATA error with IDNF set.
func IsIDNotFound(err error) bool { e, ok := AsError(err); return ok && e.IDNotFound() }

// IsDeviceFault reports whether err is an ATA error with DF set.
func IsDeviceFault(err error) bool { e, ok := AsError(err); return ok && e.DeviceFault() }

// IsPassThroughUnsupported reports whether the SATL itself refused ATA
// PASS-THROUGH(16): the path has no ATA behind it (virtio-scsi, most SAS,
// some USB bridges). The caller then treats the drive as SCSI.
func IsPassThroughUnsupported(err error) bool {
	return scsi.IsInvalidOpcode(err) || scsi.IsInvalidField(err)
}
