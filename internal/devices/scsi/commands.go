package scsi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TestUnitReady sends TEST UNIT READY; nil means the unit is ready. During
// SANITIZE or FORMAT UNIT it returns a SenseError with IsNotReadyInProgress.
func TestUnitReady(ctx context.Context, t Transport) error {
	_, err := Run(ctx, t, "TEST UNIT READY", &Command{CDB: TestUnitReadyCDB(), Dir: DirNone})
	return err
}

// RequestSense sends REQUEST SENSE and decodes the returned sense data. A
// GOOD status with NO SENSE means nothing is pending; during SANITIZE or
// FORMAT UNIT the key is NOT READY with a progress indication.
func RequestSense(ctx context.Context, t Transport) (*Sense, error) {
	buf := make([]byte, 252)
	r, err := Run(ctx, t, "REQUEST SENSE", &Command{CDB: RequestSenseCDB(false, 252), Data: buf, Dir: DirIn})
	if err != nil {
		return nil, err
	}
	s, err := DecodeSense(buf[:r.DataLen])
	if err != nil {
		return nil, fmt.Errorf("REQUEST SENSE: %w", err)
	}
	return s, nil
}

// InquiryData is the standard INQUIRY data (SPC-5 §6.6.2).
type InquiryData struct {
	PeripheralQualifier uint8
	DeviceType          uint8 // 0x00 direct access block device
	Removable           bool
	Version             uint8
	Vendor              string
	Product             string
	Revision            string
	Raw                 []byte
}

// ParseInquiry parses standard INQUIRY data.
func ParseInquiry(b []byte) (*InquiryData, error) {
	if len(b) < 36 {
		return nil, fmt.Errorf("INQUIRY data: %d bytes, need 36", len(b))
	}
	return &InquiryData{
		PeripheralQualifier: b[0] >> 5,
		DeviceType:          b[0] & 0x1f,
		Removable:           b[1]&0x80 != 0,
		Version:             b[2],
		Vendor:              trimASCII(b[8:16]),
		Product:             trimASCII(b[16:32]),
		Revision:            trimASCII(b[32:36]),
		Raw:                 append([]byte(nil), b...),
	}, nil
}

// Inquiry sends a standard INQUIRY.
func Inquiry(ctx context.Context, t Transport) (*InquiryData, error) {
	buf := make([]byte, 36) // the standard part, as sg_inq asks
	r, err := Run(ctx, t, "INQUIRY", &Command{CDB: InquiryCDB(false, 0, 36), Data: buf, Dir: DirIn})
	if err != nil {
		return nil, err
	}
	return ParseInquiry(buf[:r.DataLen])
}

// VPD pages lethe reads.
const (
	VPDSupportedPages  = 0x00
	VPDUnitSerial      = 0x80
	VPDDeviceID        = 0x83
	VPDBlockDeviceChar = 0xB1
)

// VPD reads one VPD page and returns it whole (header included), checked
// against the page code it asked for.
func VPD(ctx context.Context, t Transport, page uint8) ([]byte, error) {
	op := fmt.Sprintf("INQUIRY VPD 0x%02x", page)
	buf := make([]byte, 252) // sg_inq's first read
	r, err := Run(ctx, t, op, &Command{CDB: InquiryCDB(true, page, uint16(len(buf))), Data: buf, Dir: DirIn})
	if err != nil {
		return nil, err
	}
	b := buf[:r.DataLen]
	if len(b) < 4 {
		return nil, fmt.Errorf("%s: %d bytes", op, len(b))
	}
	if b[1] != page {
		return nil, fmt.Errorf("%s: device returned page 0x%02x", op, b[1])
	}
	n := 4 + int(binary.BigEndian.Uint16(b[2:4]))
	if n > len(buf) {
		// Long page (device identification on multipath arrays): read it whole.
		buf = make([]byte, n)
		r, err = Run(ctx, t, op, &Command{CDB: InquiryCDB(true, page, uint16(n)), Data: buf, Dir: DirIn})
		if err != nil {
			return nil, err
		}
		b = buf[:r.DataLen]
	}
	return b[:min(n, len(b))], nil
}

// ParseSupportedPages parses VPD page 0x00.
func ParseSupportedPages(b []byte) ([]uint8, error) {
	p, err := vpdPayload(b, VPDSupportedPages)
	if err != nil {
		return nil, err
	}
	return append([]uint8(nil), p...), nil
}

// ParseUnitSerial parses VPD page 0x80 (SPC-5 §7.7.18).
func ParseUnitSerial(b []byte) (string, error) {
	p, err := vpdPayload(b, VPDUnitSerial)
	if err != nil {
		return "", err
	}
	return trimASCII(p), nil
}

func vpdPayload(b []byte, page uint8) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("VPD page 0x%02x: %d bytes", page, len(b))
	}
	if b[1] != page {
		return nil, fmt.Errorf("VPD page 0x%02x: got page 0x%02x", page, b[1])
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if 4+n > len(b) {
		return nil, fmt.Errorf("VPD page 0x%02x: length %d exceeds %d bytes", page, n, len(b)-4)
	}
	return b[4 : 4+n], nil
}

// Designator is one designation descriptor of VPD page 0x83 (SPC-5 §7.7.6).
type Designator struct {
	CodeSet     uint8 // 1 binary, 2 ASCII, 3 UTF-8
	Association uint8 // 0 logical unit, 1 target port, 2 target device
	Type        uint8 // 1 T10 vendor ID, 2 EUI-64, 3 NAA, 8 SCSI name string
	Value       []byte
}

// String renders the designator as sysfs's wwid does: "naa.<hex>",
// "eui.<hex>", "t10.<ascii>", or the name string itself.
func (d Designator) String() string {
	switch d.Type {
	case 2:
		return "eui." + hex.EncodeToString(d.Value)
	case 3:
		return "naa." + hex.EncodeToString(d.Value)
	case 1:
		return "t10." + trimASCII(d.Value)
	case 8:
		return trimASCII(d.Value)
	}
	return fmt.Sprintf("type%d.%s", d.Type, hex.EncodeToString(d.Value))
}

// ParseDeviceID parses VPD page 0x83 into its designation descriptors.
func ParseDeviceID(b []byte) ([]Designator, error) {
	p, err := vpdPayload(b, VPDDeviceID)
	if err != nil {
		return nil, err
	}
	var ds []Designator
	for off := 0; off+4 <= len(p); {
		n := int(p[off+3])
		if off+4+n > len(p) {
			return ds, fmt.Errorf("VPD page 0x83: descriptor at %d runs past the page", off)
		}
		ds = append(ds, Designator{
			CodeSet:     p[off] & 0x0f,
			Association: (p[off+1] >> 4) & 0x03,
			Type:        p[off+1] & 0x0f,
			Value:       append([]byte(nil), p[off+4:off+4+n]...),
		})
		off += 4 + n
	}
	return ds, nil
}

// PreferredID picks the logical unit's NAA, else EUI-64, else any other
// designator, the order the kernel uses for wwid.
func PreferredID(ds []Designator) (Designator, bool) {
	for _, typ := range []uint8{3, 2, 8, 1} {
		for _, d := range ds {
			if d.Association == 0 && d.Type == typ {
				return d, true
			}
		}
	}
	return Designator{}, false
}

// BlockDeviceCharacteristics is VPD page 0xB1 (SBC-4 §6.6.2).
type BlockDeviceCharacteristics struct {
	// RotationRate: 0 not reported, 1 non-rotating (solid state), else rpm.
	RotationRate  uint16
	ProductType   uint8
	FormFactor    uint8
	NonRotating   bool
	RotationKnown bool
}

// ParseBlockDeviceCharacteristics parses VPD page 0xB1.
func ParseBlockDeviceCharacteristics(b []byte) (*BlockDeviceCharacteristics, error) {
	p, err := vpdPayload(b, VPDBlockDeviceChar)
	if err != nil {
		return nil, err
	}
	if len(p) < 4 {
		return nil, fmt.Errorf("VPD page 0xb1: %d bytes of payload", len(p))
	}
	r := binary.BigEndian.Uint16(p[0:2])
	return &BlockDeviceCharacteristics{
		RotationRate:  r,
		ProductType:   p[2],
		FormFactor:    p[3] & 0x0f,
		NonRotating:   r == 1,
		RotationKnown: r == 1 || (r >= 0x401 && r <= 0xfffe),
	}, nil
}

// Capacity is READ CAPACITY(16) data (SBC-4 §5.20.2).
type Capacity struct {
	LastLBA    uint64
	BlockSize  uint32
	Blocks     uint64 // LastLBA + 1
	ProtEnable bool
	PType      uint8
	// PhysPerLogExp: 2^exp logical blocks per physical block.
	PhysPerLogExp uint8
	// PIExponent is P_I_EXPONENT (byte 13 bits 7:4): 2^n protection
	// intervals per logical block (types 2 and 3).
	PIExponent    uint8
	LBPME, LBPRZ  bool // thin provisioning enabled; unmapped blocks read zero
	LowestAligned uint16
}

// ProtectionType is the protection information type the device is
// formatted with: 0 when PROT_EN is clear, else P_TYPE + 1 (SBC-4 §5.20.2:
// P_TYPE 000b is type 1, 001b type 2, 010b type 3; others reserved).
func (c *Capacity) ProtectionType() int {
	if !c.ProtEnable {
		return 0
	}
	return int(c.PType) + 1
}

// Bytes is the capacity in bytes.
func (c *Capacity) Bytes() uint64 { return c.Blocks * uint64(c.BlockSize) }

// ParseReadCapacity16 parses READ CAPACITY(16) data.
func ParseReadCapacity16(b []byte) (*Capacity, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("READ CAPACITY(16) data: %d bytes, need 16", len(b))
	}
	c := &Capacity{
		LastLBA:       binary.BigEndian.Uint64(b[0:8]),
		BlockSize:     binary.BigEndian.Uint32(b[8:12]),
		ProtEnable:    b[12]&0x01 != 0,
		PType:         (b[12] >> 1) & 0x07,
		PhysPerLogExp: b[13] & 0x0f,
		PIExponent:    b[13] >> 4,
		LBPME:         b[14]&0x80 != 0,
		LBPRZ:         b[14]&0x40 != 0,
		LowestAligned: binary.BigEndian.Uint16(b[14:16]) & 0x3fff,
	}
	if c.LastLBA == ^uint64(0) {
		return nil, errors.New("READ CAPACITY(16): last LBA is 2^64-1")
	}
	c.Blocks = c.LastLBA + 1
	return c, nil
}

// ReadCapacity16 sends READ CAPACITY(16).
func ReadCapacity16(ctx context.Context, t Transport) (*Capacity, error) {
	buf := make([]byte, 32)
	r, err := Run(ctx, t, "READ CAPACITY(16)", &Command{CDB: ReadCapacity16CDB(32), Data: buf, Dir: DirIn})
	if err != nil {
		return nil, err
	}
	return ParseReadCapacity16(buf[:r.DataLen])
}

// Support is the SUPPORT field of a one-command REPORT SUPPORTED OPERATION
// CODES answer (SPC-5 §6.35.3, Table 256).
type Support uint8

// Support values.
const (
	SupportNotAvailable Support = 0 // device cannot say
	SupportNo           Support = 1
	SupportStandard     Support = 3
	SupportVendor       Support = 5
)

// Supported reports a definite "yes".
func (s Support) Supported() bool { return s == SupportStandard || s == SupportVendor }

func (s Support) String() string {
	switch s {
	case SupportNotAvailable:
		return "not reported"
	case SupportNo:
		return "not supported"
	case SupportStandard:
		return "supported"
	case SupportVendor:
		return "supported (vendor specific)"
	}
	return fmt.Sprintf("support %d", uint8(s))
}

// OpcodeSupport is a one-command REPORT SUPPORTED OPERATION CODES answer.
type OpcodeSupport struct {
	Support Support
	// Usage is the CDB usage data: a bitmap of the CDB bits the device
	// accepts (e.g. whether IMMED or AUSE may be set).
	Usage []byte
	// Timeouts is the command timeouts descriptor, nil when the device sent
	// none (CTDP clear).
	Timeouts *CommandTimeouts
}

// CommandTimeouts is the command timeouts descriptor (SPC-5 §6.35.4): the
// device's own figures for how long the command takes. Zero means "not
// specified".
type CommandTimeouts struct {
	// Nominal is the nominal command processing timeout: how long the
	// command usually takes.
	Nominal time.Duration
	// Recommended is the recommended command timeout: how long an
	// application client should wait before giving up.
	Recommended time.Duration
}

type commandTimeoutsJSON struct {
	NominalSeconds     uint32 `json:"nominalSeconds"`
	RecommendedSeconds uint32 `json:"recommendedSeconds"`
}

// MarshalJSON writes whole seconds, the unit the descriptor carries.
func (c CommandTimeouts) MarshalJSON() ([]byte, error) {
	return json.Marshal(commandTimeoutsJSON{uint32(c.Nominal / time.Second), uint32(c.Recommended / time.Second)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *CommandTimeouts) UnmarshalJSON(b []byte) error {
	var j commandTimeoutsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	c.Nominal, c.Recommended = time.Duration(j.NominalSeconds)*time.Second, time.Duration(j.RecommendedSeconds)*time.Second
	return nil
}

// ParseOpcodeSupport parses the one-command format (SPC-5 §6.35.3): byte 1
// bits 2:0 SUPPORT and bit 7 CTDP, bytes 2-3 the CDB size, the usage data,
// then with CTDP the 12-byte command timeouts descriptor (length 0x000A,
// reserved, command specific, nominal and recommended timeouts in seconds).
func ParseOpcodeSupport(b []byte) (*OpcodeSupport, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("REPORT SUPPORTED OPERATION CODES data: %d bytes", len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	os := &OpcodeSupport{Support: Support(b[1] & 0x07)}
	if 4+n <= len(b) {
		os.Usage = append([]byte(nil), b[4:4+n]...)
	}
	if b[1]&0x80 != 0 {
		d := b[min(4+n, len(b)):]
		if len(d) < 12 {
			return nil, fmt.Errorf("REPORT SUPPORTED OPERATION CODES data: CTDP set but %d bytes for the 12-byte timeouts descriptor: %w", len(d), ErrTimeoutsDescriptor)
		}
		if l := binary.BigEndian.Uint16(d[0:2]); l != 0x0a {
			return nil, fmt.Errorf("REPORT SUPPORTED OPERATION CODES data: timeouts descriptor length %d, want 10: %w", l, ErrTimeoutsDescriptor)
		}
		os.Timeouts = &CommandTimeouts{
			Nominal:     time.Duration(binary.BigEndian.Uint32(d[4:8])) * time.Second,
			Recommended: time.Duration(binary.BigEndian.Uint32(d[8:12])) * time.Second,
		}
	}
	return os, nil
}

// ErrTimeoutsDescriptor marks a malformed command timeouts descriptor.
var ErrTimeoutsDescriptor = errors.New("malformed command timeouts descriptor")

// ReportOpcode asks whether one command (with a service action when withSA)
// is supported, and for its timeouts. A device older than SPC-4 may reject
// RCTD as an invalid field, and a faulty one may send a broken descriptor;
// the question is then asked again without RCTD, so the support answer is
// not lost with the timeouts. A device that does not implement REPORT
// SUPPORTED OPERATION CODES yields a SenseError with IsInvalidOpcode;
// callers then fall back to trying the command's harmless form or to
// "unknown".
func ReportOpcode(ctx context.Context, t Transport, op uint8, sa uint16, withSA bool) (*OpcodeSupport, error) {
	os, err := reportOpcode(ctx, t, op, sa, withSA, true)
	if IsInvalidField(err) || errors.Is(err, ErrTimeoutsDescriptor) {
		os, err = reportOpcode(ctx, t, op, sa, withSA, false)
	}
	return os, err
}

func reportOpcode(ctx context.Context, t Transport, op uint8, sa uint16, withSA, rctd bool) (*OpcodeSupport, error) {
	buf := make([]byte, 8192) // as sg_opcodes asks
	name := fmt.Sprintf("REPORT SUPPORTED OPERATION CODES (0x%02x/0x%02x)", op, sa)
	r, err := Run(ctx, t, name, &Command{CDB: ReportOpcodeCDB(op, sa, withSA, rctd, uint32(len(buf))), Data: buf, Dir: DirIn})
	if err != nil {
		return nil, err
	}
	os, err := ParseOpcodeSupport(buf[:r.DataLen])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return os, nil
}

// SanitizeSupport is what REPORT SUPPORTED OPERATION CODES says about the
// SANITIZE service actions and FORMAT UNIT.
type SanitizeSupport struct {
	Overwrite, BlockErase, CryptoErase, ExitFailureMode, FormatUnit Support
	// Timeouts holds the device's timeouts descriptors, by service action
	// name ("overwrite", "block-erase", "crypto-erase", "format-unit"),
	// for the commands it reported one for.
	Timeouts map[string]CommandTimeouts `json:",omitempty"`
}

// Timeout keys of SanitizeSupport.Timeouts.
const (
	TimeoutKeyFormatUnit = "format-unit"
)

// TimeoutKey is the SanitizeSupport.Timeouts key of a sanitize action.
func (a SanitizeAction) TimeoutKey() string {
	switch a {
	case SanitizeOverwrite:
		return "overwrite"
	case SanitizeBlockErase:
		return "block-erase"
	case SanitizeCryptoErase:
		return "crypto-erase"
	case SanitizeExitFailureMode:
		return "exit-failure-mode"
	}
	return fmt.Sprintf("action-0x%02x", uint8(a))
}

// Recommended is the device's recommended timeout for key, 0 if it gave
// none. s may be nil.
func (s *SanitizeSupport) Recommended(key string) time.Duration {
	if s == nil {
		return 0
	}
	return s.Timeouts[key].Recommended
}

// ReportSanitizeSupport queries SANITIZE service actions 1, 2, 3, 0x1F and
// FORMAT UNIT, one command each. It returns the first transport error; an
// ILLEGAL REQUEST for REPORT SUPPORTED OPERATION CODES itself is returned
// as is so the caller can tell "cannot ask" from "not supported".
func ReportSanitizeSupport(ctx context.Context, t Transport) (*SanitizeSupport, error) {
	var s SanitizeSupport
	note := func(key string, os *OpcodeSupport) {
		if os.Timeouts == nil || *os.Timeouts == (CommandTimeouts{}) {
			return
		}
		if s.Timeouts == nil {
			s.Timeouts = map[string]CommandTimeouts{}
		}
		s.Timeouts[key] = *os.Timeouts
	}
	for _, q := range []struct {
		sa  SanitizeAction
		dst *Support
	}{{SanitizeOverwrite, &s.Overwrite}, {SanitizeBlockErase, &s.BlockErase}, {SanitizeCryptoErase, &s.CryptoErase}, {SanitizeExitFailureMode, &s.ExitFailureMode}} {
		os, err := ReportOpcode(ctx, t, OpSanitize, uint16(q.sa), true)
		if err != nil {
			return nil, err
		}
		*q.dst = os.Support
		note(q.sa.TimeoutKey(), os)
	}
	os, err := ReportOpcode(ctx, t, OpFormatUnit, 0, false)
	if err != nil {
		return nil, err
	}
	s.FormatUnit = os.Support
	note(TimeoutKeyFormatUnit, os)
	return &s, nil
}

// Sanitize sends SANITIZE. With Immed the command returns once accepted and
// the caller polls RequestSense; without it timeout must cover the whole
// operation.
func Sanitize(ctx context.Context, t Transport, r SanitizeRequest, timeout time.Duration) error {
	cdb, param, err := SanitizeCDB(r)
	if err != nil {
		return err
	}
	c := &Command{CDB: cdb, Timeout: timeout, Dir: DirNone}
	if len(param) > 0 {
		c.Data, c.Dir = param, DirOut
	}
	_, err = Run(ctx, t, "SANITIZE "+r.Action.String(), c)
	return err
}

// FormatUnit sends FORMAT UNIT; see Sanitize for Immed and timeout.
func FormatUnit(ctx context.Context, t Transport, r FormatRequest, timeout time.Duration) error {
	cdb, param := FormatUnitCDB(r)
	c := &Command{CDB: cdb, Data: param, Dir: DirOut, Timeout: timeout}
	_, err := Run(ctx, t, "FORMAT UNIT", c)
	return err
}

// OperationStatus is what REQUEST SENSE says about a long operation.
type OperationStatus struct {
	InProgress bool
	Progress   float64 // 0..1 when InProgress and reported
	Reported   bool    // the device gave a progress indication
	// Failed is set when the device reports SANITIZE COMMAND FAILED or
	// FORMAT COMMAND FAILED / MEDIUM FORMAT CORRUPTED.
	Failed bool
	Sense  *Sense
}

// PollOperation asks REQUEST SENSE how a SANITIZE or FORMAT UNIT started
// with IMMED is doing (SBC-4 §4.11.4, §5.4).
func PollOperation(ctx context.Context, t Transport) (*OperationStatus, error) {
	s, err := RequestSense(ctx, t)
	if err != nil {
		return nil, err
	}
	st := &OperationStatus{Sense: s}
	se := &SenseError{Sense: s}
	switch {
	case se.IsNotReadyInProgress() || s.ASC == ASCOperationInProgress:
		st.InProgress = true
		st.Progress, _, st.Reported = s.Progress()
	case s.ASC == ASCSanitizeCommandFailed || s.ASC == ASCFormatCommandFailed || s.ASC == ASCMediumFormatCorrupted:
		st.Failed = true
	}
	return st, nil
}

func trimASCII(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		sb.WriteByte(c)
	}
	return strings.TrimSpace(sb.String())
}

// SanitizeTimeout bounds a SANITIZE: the command timeout without IMMED, or
// how long to keep polling with it. recommended is the device's recommended
// command timeout for this service action (SPC-5 §6.35.4, 0 if none): lethe
// allows twice that plus 10 minutes, per pass of an overwrite, as it does
// with NVMe and ATA estimates. The capacity estimate (the time to write the
// capacity once per pass at 50 MB/s plus 30 minutes; sg_sanitize uses a
// fixed 15 h) applies without a device figure, and stays the floor for
// overwrite and block erase, whose time grows with the capacity: a device
// whose figure covers only the IMMED return must not make lethe give up on
// a long erase. A crypto erase takes the device's figure alone.
func SanitizeTimeout(c *Capacity, r SanitizeRequest, recommended time.Duration) time.Duration {
	passes := uint64(1)
	if r.Action == SanitizeOverwrite && r.Count > 0 {
		passes = uint64(r.Count)
	}
	var bytes uint64
	if c != nil {
		bytes = c.Bytes()
	}
	return opTimeout(bytes, passes, recommended, r.Action != SanitizeCryptoErase)
}

// FormatTimeout bounds a FORMAT UNIT the same way: the longer of the
// device's figure and the capacity estimate.
func FormatTimeout(capacityBytes uint64, recommended time.Duration) time.Duration {
	return opTimeout(capacityBytes, 1, recommended, true)
}

func opTimeout(bytes, passes uint64, recommended time.Duration, capacityFloor bool) time.Duration {
	fromCapacity := time.Duration(passes*bytes/50e6)*time.Second + 30*time.Minute
	if recommended <= 0 {
		return fromCapacity
	}
	fromDevice := time.Duration(passes)*2*recommended + 10*time.Minute
	if capacityFloor {
		return max(fromDevice, fromCapacity)
	}
	return fromDevice
}
