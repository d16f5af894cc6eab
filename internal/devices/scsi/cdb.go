package scsi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Operation codes lethe sends (SPC-5, SBC-4).
const (
	OpTestUnitReady  = 0x00
	OpRequestSense   = 0x03
	OpFormatUnit     = 0x04
	OpInquiry        = 0x12
	OpSanitize       = 0x48
	OpATAPassThru16  = 0x85
	OpServiceIn16    = 0x9E // READ CAPACITY(16) is service action 0x10
	OpMaintenanceIn  = 0xA3 // REPORT SUPPORTED OPERATION CODES is service action 0x0C
	SAReadCapacity16 = 0x10
	SAReportOpcodes  = 0x0C
)

// SanitizeAction is the SANITIZE service action (SBC-4 §5.30, Table 137).
type SanitizeAction uint8

// SANITIZE service actions.
const (
	SanitizeOverwrite       SanitizeAction = 0x01
	SanitizeBlockErase      SanitizeAction = 0x02
	SanitizeCryptoErase     SanitizeAction = 0x03
	SanitizeExitFailureMode SanitizeAction = 0x1F
)

func (a SanitizeAction) String() string {
	switch a {
	case SanitizeOverwrite:
		return "OVERWRITE"
	case SanitizeBlockErase:
		return "BLOCK ERASE"
	case SanitizeCryptoErase:
		return "CRYPTOGRAPHIC ERASE"
	case SanitizeExitFailureMode:
		return "EXIT FAILURE MODE"
	}
	return fmt.Sprintf("service action 0x%02x", uint8(a))
}

// TestUnitReadyCDB is TEST UNIT READY (SPC-5 §6.47).
func TestUnitReadyCDB() []byte { return make([]byte, 6) }

// RequestSenseCDB is REQUEST SENSE (SPC-5 §6.39); desc asks for descriptor
// format sense data.
func RequestSenseCDB(desc bool, alloc uint8) []byte {
	c := []byte{OpRequestSense, 0, 0, 0, alloc, 0}
	if desc {
		c[1] = 0x01
	}
	return c
}

// InquiryCDB is INQUIRY (SPC-5 §6.6); evpd selects a VPD page.
func InquiryCDB(evpd bool, page uint8, alloc uint16) []byte {
	c := []byte{OpInquiry, 0, page, 0, 0, 0}
	if evpd {
		c[1] = 0x01
	}
	binary.BigEndian.PutUint16(c[3:5], alloc)
	return c
}

// ReadCapacity16CDB is READ CAPACITY(16) (SBC-4 §5.20).
func ReadCapacity16CDB(alloc uint32) []byte {
	c := make([]byte, 16)
	c[0], c[1] = OpServiceIn16, SAReadCapacity16
	binary.BigEndian.PutUint32(c[10:14], alloc)
	return c
}

// ReportOpcodeCDB is REPORT SUPPORTED OPERATION CODES (SPC-5 §6.35) in the
// one-command form: reporting option 1 (opcode without service action) or
// 2 (opcode and service action). rctd sets RCTD (byte 2 bit 7), asking for
// the command timeouts descriptor (SPC-5 §6.35.4) after the usage data.
func ReportOpcodeCDB(op uint8, sa uint16, withSA, rctd bool, alloc uint32) []byte {
	c := make([]byte, 12)
	c[0], c[1] = OpMaintenanceIn, SAReportOpcodes
	c[2] = 0x01
	if withSA {
		c[2] = 0x02
	}
	if rctd {
		c[2] |= 0x80
	}
	c[3] = op
	binary.BigEndian.PutUint16(c[4:6], sa)
	binary.BigEndian.PutUint32(c[6:10], alloc)
	return c
}

// SanitizeRequest describes one SANITIZE command (SBC-4 §5.30).
type SanitizeRequest struct {
	Action SanitizeAction
	// Immed returns status as soon as the CDB is validated; progress is
	// then polled with REQUEST SENSE. Without it the command blocks for the
	// whole operation and needs a timeout that long.
	Immed bool
	// AUSE (allow unrestricted sanitize exit) lets EXIT FAILURE MODE leave
	// the failure state; without it only a successful SANITIZE does.
	AUSE bool
	// ZNR (zoned no reset) is for zoned devices; lethe leaves it clear.
	ZNR bool
	// Overwrite only:
	Pattern []byte // initialization pattern, 1..block length bytes
	Count   uint8  // overwrite passes, 1..31
	Invert  bool   // invert the pattern between passes
}

// SanitizeCDB returns the CDB and, for OVERWRITE, the parameter list
// (SBC-4 §5.30.2, Table 139).
func SanitizeCDB(r SanitizeRequest) (cdb, param []byte, err error) {
	switch r.Action {
	case SanitizeOverwrite:
		if len(r.Pattern) == 0 || len(r.Pattern) > 0xffff {
			return nil, nil, fmt.Errorf("sanitize overwrite: pattern length %d out of range", len(r.Pattern))
		}
		if r.Count == 0 || r.Count > 31 {
			return nil, nil, fmt.Errorf("sanitize overwrite: pass count %d out of range 1..31", r.Count)
		}
		param = make([]byte, 4+len(r.Pattern))
		param[0] = r.Count & 0x1f
		if r.Invert {
			param[0] |= 0x80
		}
		binary.BigEndian.PutUint16(param[2:4], uint16(len(r.Pattern)))
		copy(param[4:], r.Pattern)
	case SanitizeBlockErase, SanitizeCryptoErase, SanitizeExitFailureMode:
	default:
		return nil, nil, fmt.Errorf("sanitize: unknown service action 0x%02x", uint8(r.Action))
	}
	cdb = make([]byte, 10)
	cdb[0] = OpSanitize
	cdb[1] = uint8(r.Action) & 0x1f
	if r.Immed {
		cdb[1] |= 0x80
	}
	if r.ZNR {
		cdb[1] |= 0x40
	}
	if r.AUSE {
		cdb[1] |= 0x20
	}
	binary.BigEndian.PutUint16(cdb[7:9], uint16(len(param)))
	return cdb, param, nil
}

// FormatRequest describes a FORMAT UNIT (SBC-4 §5.4). It is sent as
// `sg_format --format` sends it: FMTDATA=1 and CMPLST=1 with a 4-byte short
// parameter list header and no defect list.
type FormatRequest struct {
	// Immed sets IMMED in the header so the command returns at once;
	// progress then comes from REQUEST SENSE. Without it the command
	// blocks for the whole format.
	Immed bool
	// FFMT is the fast-format field of the CDB (SBC-4: 0 = full format).
	FFMT uint8
	// FMTPINFO (CDB byte 1 bits 7:6) and PFU (PROTECTION FIELD USAGE,
	// parameter list header byte 0 bits 2:0) select the protection type
	// the device is formatted with; ProtectionFields derives them from
	// READ CAPACITY(16) so a format keeps the type the drive has.
	FMTPINFO, PFU uint8
}

// FormatUnitCDB returns the CDB and the parameter list header.
func FormatUnitCDB(r FormatRequest) (cdb, param []byte) {
	cdb = []byte{OpFormatUnit, (r.FMTPINFO&0x03)<<6 | 0x10 | 0x08, 0, 0, r.FFMT & 0x03, 0} // FMTDATA, CMPLST
	param = []byte{r.PFU & 0x07, 0, 0, 0}
	if r.Immed {
		param[1] = 0x02
	}
	return cdb, param
}

// ProtectionFields returns the FMTPINFO and PROTECTION FIELD USAGE values
// that format a device with the protection information type its READ
// CAPACITY(16) reports (SBC-4 §5.4.2, the FMTPINFO / PROTECTION FIELD USAGE
// table; sg_format(8) "PROTECTION INFORMATION": type 0 -> 0/0, type 1 ->
// 2/0, type 2 -> 3/0, type 3 -> 3/1). FORMAT UNIT with FMTPINFO 0 formats a
// PI drive without protection information, silently changing its format,
// so an unknown or unkeepable type is an error: lethe sends the short
// parameter list header, which has no PROTECTION INTERVAL EXPONENT, so a
// non-zero P_I_EXPONENT cannot be kept either.
func ProtectionFields(c *Capacity) (fmtpinfo, pfu uint8, err error) {
	if c == nil {
		return 0, 0, errors.New("READ CAPACITY(16) was not read: the protection information type is unknown, and FORMAT UNIT would set one")
	}
	switch t := c.ProtectionType(); {
	case c.PIExponent != 0 && t >= 2:
		return 0, 0, fmt.Errorf("the drive is formatted with protection type %d and P_I_EXPONENT %d, which the short FORMAT UNIT parameter header lethe sends cannot keep", t, c.PIExponent)
	case t == 0:
		return 0, 0, nil
	case t == 1:
		return 2, 0, nil
	case t == 2:
		return 3, 0, nil
	case t == 3:
		return 3, 1, nil
	default:
		return 0, 0, fmt.Errorf("READ CAPACITY(16) reports PROT_EN=1 with P_TYPE %d, a reserved protection type", c.PType)
	}
}

// Mode page handling (SPC-5 §6.13, §6.15, §7.5.10).
const (
	OpModeSelect10     = 0x55
	OpModeSense10      = 0x5A
	ModePageControl    = 0x0A
	controlDSenseBit   = 0x04 // Control mode page byte 2 bit 2: D_SENSE
	modeHeader10Length = 8
)

// ModeSense10CDB is MODE SENSE(10) for the current values of one page,
// without block descriptors.
func ModeSense10CDB(page uint8, alloc uint16) []byte {
	c := make([]byte, 10)
	c[0], c[1], c[2] = OpModeSense10, 0x08, page&0x3f // DBD=1, PC=current
	binary.BigEndian.PutUint16(c[7:9], alloc)
	return c
}

// ModeSelect10CDB is MODE SELECT(10) with PF=1 (pages in SPC format).
func ModeSelect10CDB(length uint16) []byte {
	c := make([]byte, 10)
	c[0], c[1] = OpModeSelect10, 0x10
	binary.BigEndian.PutUint16(c[7:9], length)
	return c
}
