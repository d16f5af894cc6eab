package scsi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// SenseKey is the 4-bit sense key (SPC-5 §4.4.2, Table 49).
type SenseKey uint8

// Sense keys.
const (
	KeyNoSense        SenseKey = 0x0
	KeyRecoveredError SenseKey = 0x1
	KeyNotReady       SenseKey = 0x2
	KeyMediumError    SenseKey = 0x3
	KeyHardwareError  SenseKey = 0x4
	KeyIllegalRequest SenseKey = 0x5
	KeyUnitAttention  SenseKey = 0x6
	KeyDataProtect    SenseKey = 0x7
	KeyBlankCheck     SenseKey = 0x8
	KeyVendorSpecific SenseKey = 0x9
	KeyCopyAborted    SenseKey = 0xA
	KeyAbortedCommand SenseKey = 0xB
	KeyVolumeOverflow SenseKey = 0xD
	KeyMiscompare     SenseKey = 0xE
	KeyCompleted      SenseKey = 0xF
)

var senseKeyNames = [16]string{
	"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR", "HARDWARE ERROR",
	"ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT", "BLANK CHECK", "VENDOR SPECIFIC",
	"COPY ABORTED", "ABORTED COMMAND", "reserved (0xC)", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED",
}

func (k SenseKey) String() string { return senseKeyNames[k&0xF] }

// ASC is an additional sense code and qualifier pair, ASC in the high byte.
type ASC uint16

// Additional sense codes lethe branches on or reports (SPC-5 Annex D).
const (
	ASCNoAdditionalSense        ASC = 0x0000
	ASCOperationInProgress      ASC = 0x0016
	ASCATAPassThroughInfo       ASC = 0x001D
	ASCNotReadyCauseNotReport   ASC = 0x0400
	ASCNotReadyBecomingReady    ASC = 0x0401
	ASCNotReadyInitRequired     ASC = 0x0402
	ASCNotReadyFormatInProgress ASC = 0x0404
	ASCNotReadyOpInProgress     ASC = 0x0407
	ASCNotReadySelfTest         ASC = 0x0409
	ASCNotReadySanitize         ASC = 0x041B
	ASCWriteError               ASC = 0x0C00
	ASCUnrecoveredReadError     ASC = 0x1100
	ASCInvalidOpcode            ASC = 0x2000
	ASCAccessDenied             ASC = 0x2002
	ASCLBAOutOfRange            ASC = 0x2100
	ASCInvalidFieldInCDB        ASC = 0x2400
	ASCLUNNotSupported          ASC = 0x2500
	ASCInvalidFieldInParamList  ASC = 0x2600
	ASCParamListLengthError     ASC = 0x1A00
	ASCWriteProtected           ASC = 0x2700
	ASCPowerOnReset             ASC = 0x2900
	ASCParametersChanged        ASC = 0x2A00
	ASCCapacityChanged          ASC = 0x2A09
	ASCCommandSequenceError     ASC = 0x2C00
	ASCMediumFormatCorrupted    ASC = 0x3100
	ASCFormatCommandFailed      ASC = 0x3101
	ASCSanitizeCommandFailed    ASC = 0x3103
	ASCMediumNotPresent         ASC = 0x3A00
	ASCInternalTargetFailure    ASC = 0x4400
	ASCFailurePrediction        ASC = 0x5D00
)

var ascNames = map[ASC]string{
	ASCNoAdditionalSense:        "NO ADDITIONAL SENSE INFORMATION",
	ASCOperationInProgress:      "OPERATION IN PROGRESS",
	ASCATAPassThroughInfo:       "ATA PASS THROUGH INFORMATION AVAILABLE",
	ASCNotReadyCauseNotReport:   "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE",
	ASCNotReadyBecomingReady:    "LOGICAL UNIT IS IN PROCESS OF BECOMING READY",
	ASCNotReadyInitRequired:     "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED",
	ASCNotReadyFormatInProgress: "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS",
	ASCNotReadyOpInProgress:     "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS",
	ASCNotReadySelfTest:         "LOGICAL UNIT NOT READY, SELF-TEST IN PROGRESS",
	ASCNotReadySanitize:         "LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS",
	ASCWriteError:               "WRITE ERROR",
	ASCUnrecoveredReadError:     "UNRECOVERED READ ERROR",
	ASCInvalidOpcode:            "INVALID COMMAND OPERATION CODE",
	ASCAccessDenied:             "ACCESS DENIED - NO ACCESS RIGHTS",
	ASCLBAOutOfRange:            "LOGICAL BLOCK ADDRESS OUT OF RANGE",
	ASCInvalidFieldInCDB:        "INVALID FIELD IN CDB",
	ASCLUNNotSupported:          "LOGICAL UNIT NOT SUPPORTED",
	ASCInvalidFieldInParamList:  "INVALID FIELD IN PARAMETER LIST",
	ASCParamListLengthError:     "PARAMETER LIST LENGTH ERROR",
	ASCWriteProtected:           "WRITE PROTECTED",
	ASCPowerOnReset:             "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED",
	ASCParametersChanged:        "PARAMETERS CHANGED",
	ASCCapacityChanged:          "CAPACITY DATA HAS CHANGED",
	ASCCommandSequenceError:     "COMMAND SEQUENCE ERROR",
	ASCMediumFormatCorrupted:    "MEDIUM FORMAT CORRUPTED",
	ASCFormatCommandFailed:      "FORMAT COMMAND FAILED",
	ASCSanitizeCommandFailed:    "SANITIZE COMMAND FAILED",
	ASCMediumNotPresent:         "MEDIUM NOT PRESENT",
	ASCInternalTargetFailure:    "INTERNAL TARGET FAILURE",
	ASCFailurePrediction:        "FAILURE PREDICTION THRESHOLD EXCEEDED",
}

// Code returns the additional sense code (high byte).
func (a ASC) Code() uint8 { return uint8(a >> 8) }

// Qualifier returns the additional sense code qualifier (low byte).
func (a ASC) Qualifier() uint8 { return uint8(a) }

func (a ASC) String() string {
	if n, ok := ascNames[a]; ok {
		return n
	}
	if a.Code() == 0x29 {
		return ascNames[ASCPowerOnReset]
	}
	return fmt.Sprintf("ASC 0x%02x ASCQ 0x%02x", a.Code(), a.Qualifier())
}

// ATAReturn is the ATA register set a SAT layer returns after ATA
// PASS-THROUGH with CK_COND set or after an ATA error: the ATA Status Return
// sense data descriptor (SAT-4 §12.2.2.7, code 0x09), or its fixed-format
// equivalent (SAT-4 §12.2.2.6).
type ATAReturn struct {
	Extend bool
	Error  uint8
	Count  uint16
	LBA    uint64 // 48 bits
	Device uint8
	Status uint8
	// Partial is set when the registers came from fixed-format sense data,
	// which carries only COUNT(7:0) and LBA(23:0) plus flags saying whether
	// the upper bytes were non-zero.
	Partial bool
	// UpperNonZero reports the COUNT UPPER NONZERO and LBA UPPER NONZERO
	// flags of fixed-format sense data.
	CountUpperNonZero, LBAUpperNonZero bool
}

// Sense is decoded sense data (SPC-5 §4.4).
type Sense struct {
	ResponseCode uint8 // 0x70/0x71 fixed, 0x72/0x73 descriptor
	Deferred     bool  // 0x71/0x73: the error belongs to an earlier command
	Key          SenseKey
	ASC          ASC
	// Information is the INFORMATION field (e.g. the failing LBA) when
	// InformationValid is set.
	Information      uint64
	InformationValid bool
	// CommandSpecific is the COMMAND-SPECIFIC INFORMATION field.
	CommandSpecific uint64
	// SKSV says SenseKeySpecific holds valid sense-key-specific data (3
	// bytes, bit 7 of the first byte is SKSV itself).
	SKSV             bool
	SenseKeySpecific [3]byte
	// ATA holds the ATA registers when the device returned them (SAT).
	ATA *ATAReturn
	// Raw is the sense data as returned.
	Raw []byte
}

// ErrShortSense is returned for sense data too short to hold a sense key.
var ErrShortSense = errors.New("sense data too short")

// DecodeSense decodes fixed or descriptor format sense data. It never
// panics: malformed input returns an error, and a descriptor that runs past
// the end is ignored.
func DecodeSense(b []byte) (*Sense, error) {
	if len(b) == 0 {
		return nil, ErrShortSense
	}
	s := &Sense{ResponseCode: b[0] & 0x7f, Raw: append([]byte(nil), b...)}
	switch s.ResponseCode {
	case 0x70, 0x71:
		return s, s.decodeFixed(b)
	case 0x72, 0x73:
		return s, s.decodeDescriptor(b)
	}
	return nil, fmt.Errorf("unknown sense response code 0x%02x", s.ResponseCode)
}

// decodeFixed decodes fixed format sense data (SPC-5 §4.4.3, Table 48).
func (s *Sense) decodeFixed(b []byte) error {
	s.Deferred = s.ResponseCode == 0x71
	if len(b) < 3 {
		return ErrShortSense
	}
	s.Key = SenseKey(b[2] & 0x0f)
	s.InformationValid = b[0]&0x80 != 0
	if len(b) >= 7 {
		s.Information = uint64(binary.BigEndian.Uint32(b[3:7]))
	}
	// ADDITIONAL SENSE LENGTH (byte 7) bounds the rest; trust the shorter.
	end := len(b)
	if len(b) >= 8 && 8+int(b[7]) < end {
		end = 8 + int(b[7])
	}
	if end >= 12 {
		s.CommandSpecific = uint64(binary.BigEndian.Uint32(b[8:12]))
	}
	if end >= 14 {
		s.ASC = ASC(uint16(b[12])<<8 | uint16(b[13]))
	} else if end >= 13 {
		s.ASC = ASC(uint16(b[12]) << 8)
	}
	if end >= 18 {
		copy(s.SenseKeySpecific[:], b[15:18])
		s.SKSV = b[15]&0x80 != 0
	}
	if s.ASC == ASCATAPassThroughInfo {
		s.ATA = s.FixedATA()
	}
	return nil
}

// FixedATA interprets fixed format sense data as the answer to an ATA
// PASS-THROUGH command (SAT-4 §12.2.2.6): ERROR, STATUS, DEVICE and
// COUNT(7:0) in the INFORMATION field, the EXTEND/UPPER NONZERO flags and
// LBA(23:0) in the COMMAND-SPECIFIC INFORMATION field. Linux libata fills
// them this way for every pass-through sense in fixed format, whatever the
// ASC, so only the caller, who knows the command, can ask for it. It
// returns nil for descriptor format or short data.
func (s *Sense) FixedATA() *ATAReturn {
	b := s.Raw
	if (s.ResponseCode != 0x70 && s.ResponseCode != 0x71) || len(b) < 12 {
		return nil
	}
	return &ATAReturn{
		Partial:           true,
		Error:             b[3],
		Status:            b[4],
		Device:            b[5],
		Count:             uint16(b[6]),
		Extend:            b[8]&0x80 != 0,
		CountUpperNonZero: b[8]&0x40 != 0,
		LBAUpperNonZero:   b[8]&0x20 != 0,
		LBA:               uint64(b[9]) | uint64(b[10])<<8 | uint64(b[11])<<16,
	}
}

// decodeDescriptor decodes descriptor format sense data (SPC-5 §4.4.2).
func (s *Sense) decodeDescriptor(b []byte) error {
	s.Deferred = s.ResponseCode == 0x73
	if len(b) < 2 {
		return ErrShortSense
	}
	s.Key = SenseKey(b[1] & 0x0f)
	if len(b) >= 4 {
		s.ASC = ASC(uint16(b[2])<<8 | uint16(b[3]))
	} else if len(b) == 3 {
		s.ASC = ASC(uint16(b[2]) << 8)
	}
	if len(b) < 8 {
		return nil
	}
	end := 8 + int(b[7])
	if end > len(b) {
		end = len(b)
	}
	for off := 8; off+2 <= end; {
		typ, n := b[off], int(b[off+1])
		d := b[off:min(off+2+n, end)]
		off += 2 + n
		switch typ {
		case 0x00: // Information (SPC-5 §4.4.2.2): VALID bit, 8-byte field
			if len(d) >= 12 {
				s.InformationValid = d[2]&0x80 != 0
				s.Information = binary.BigEndian.Uint64(d[4:12])
			}
		case 0x01: // Command-specific information
			if len(d) >= 12 {
				s.CommandSpecific = binary.BigEndian.Uint64(d[4:12])
			}
		case 0x02: // Sense key specific (SPC-5 §4.4.2.4)
			if len(d) >= 7 {
				copy(s.SenseKeySpecific[:], d[4:7])
				s.SKSV = d[4]&0x80 != 0
			}
		case 0x09: // ATA Status Return (SAT-4 §12.2.2.7)
			if len(d) >= 14 {
				s.ATA = &ATAReturn{
					Extend: d[2]&0x01 != 0,
					Error:  d[3],
					Count:  uint16(d[4])<<8 | uint16(d[5]),
					LBA: uint64(d[7]) | uint64(d[9])<<8 | uint64(d[11])<<16 |
						uint64(d[6])<<24 | uint64(d[8])<<32 | uint64(d[10])<<40,
					Device: d[12],
					Status: d[13],
				}
			}
		}
	}
	return nil
}

// Progress returns the progress indication of a NOT READY or NO SENSE
// sense (SPC-5 §4.4.2.4.2): done/65536 of the operation (FORMAT UNIT,
// SANITIZE, ...) has completed. ok is false when the device reported none.
func (s *Sense) Progress() (fraction float64, raw uint16, ok bool) {
	if !s.SKSV || (s.Key != KeyNotReady && s.Key != KeyNoSense) {
		return 0, 0, false
	}
	raw = binary.BigEndian.Uint16(s.SenseKeySpecific[1:3])
	return float64(raw) / 65536, raw, true
}

func (s *Sense) String() string {
	str := fmt.Sprintf("%s, %s", s.Key, s.ASC)
	if f, _, ok := s.Progress(); ok {
		str += fmt.Sprintf(" (progress %.1f%%)", f*100)
	}
	if s.InformationValid {
		str += fmt.Sprintf(" (information 0x%x)", s.Information)
	}
	if s.Deferred {
		str += " (deferred)"
	}
	return str
}

// SenseError is a command that ended in CHECK CONDITION.
type SenseError struct {
	Op    string
	Sense *Sense
}

func (e *SenseError) Error() string { return fmt.Sprintf("%s: %s", e.Op, e.Sense) }

// IsInvalidOpcode reports an ILLEGAL REQUEST for an unsupported command.
func (e *SenseError) IsInvalidOpcode() bool {
	return e.Sense.Key == KeyIllegalRequest && e.Sense.ASC == ASCInvalidOpcode
}

// IsInvalidField reports an ILLEGAL REQUEST for a field in the CDB or the
// parameter list the device does not support (e.g. an unsupported SANITIZE
// service action).
func (e *SenseError) IsInvalidField() bool {
	return e.Sense.Key == KeyIllegalRequest &&
		(e.Sense.ASC == ASCInvalidFieldInCDB || e.Sense.ASC == ASCInvalidFieldInParamList ||
			e.Sense.ASC == ASCParamListLengthError)
}

// IsNotReadyInProgress reports NOT READY because a format, sanitize or other
// long operation is still running; Sense.Progress says how far it is.
func (e *SenseError) IsNotReadyInProgress() bool {
	if e.Sense.Key != KeyNotReady {
		return false
	}
	switch e.Sense.ASC {
	case ASCNotReadyFormatInProgress, ASCNotReadySanitize, ASCNotReadyOpInProgress,
		ASCNotReadySelfTest, ASCNotReadyBecomingReady:
		return true
	}
	return false
}

// IsSanitizeInProgress reports NOT READY, SANITIZE IN PROGRESS.
func (e *SenseError) IsSanitizeInProgress() bool {
	return e.Sense.Key == KeyNotReady && e.Sense.ASC == ASCNotReadySanitize
}

// IsSanitizeFailed reports SANITIZE COMMAND FAILED: the device is in the
// sanitize failure state (SBC-4 §4.11).
func (e *SenseError) IsSanitizeFailed() bool { return e.Sense.ASC == ASCSanitizeCommandFailed }

// IsMediumError reports a MEDIUM ERROR (unrecovered read/write, corrupted
// format, failed sanitize or format).
func (e *SenseError) IsMediumError() bool { return e.Sense.Key == KeyMediumError }

// IsUnitAttention reports a UNIT ATTENTION (reset, capacity changed, ...);
// the command was not executed and may be retried.
func (e *SenseError) IsUnitAttention() bool { return e.Sense.Key == KeyUnitAttention }

// IsDataProtect reports DATA PROTECT (write protected, access denied).
func (e *SenseError) IsDataProtect() bool { return e.Sense.Key == KeyDataProtect }

// AsSenseError returns the *SenseError in err's chain, if any.
func AsSenseError(err error) (*SenseError, bool) {
	var se *SenseError
	ok := errors.As(err, &se)
	return se, ok
}

// IsInvalidOpcode reports whether err is a SenseError for an unsupported
// command. The package-level predicates accept any wrapped error.
func IsInvalidOpcode(err error) bool {
	se, ok := AsSenseError(err)
	return ok && se.IsInvalidOpcode()
}

// IsInvalidField reports whether err is an invalid field in CDB/parameters.
func IsInvalidField(err error) bool {
	se, ok := AsSenseError(err)
	return ok && se.IsInvalidField()
}

// IsNotReadyInProgress reports whether err is NOT READY, operation in progress.
func IsNotReadyInProgress(err error) bool {
	se, ok := AsSenseError(err)
	return ok && se.IsNotReadyInProgress()
}

// IsMediumError reports whether err is a MEDIUM ERROR.
func IsMediumError(err error) bool {
	se, ok := AsSenseError(err)
	return ok && se.IsMediumError()
}

// IsSanitizeFailed reports whether err is SANITIZE COMMAND FAILED.
func IsSanitizeFailed(err error) bool {
	se, ok := AsSenseError(err)
	return ok && se.IsSanitizeFailed()
}
