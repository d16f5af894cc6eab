// Package scsisim is a SCSI disk (SAS/virtio-scsi style, no ATA behind it)
// simulated behind scsi.Transport: INQUIRY and VPD pages, READ
// CAPACITY(16), REPORT SUPPORTED OPERATION CODES, TEST UNIT READY, REQUEST
// SENSE, MODE SENSE/SELECT of the Control page, SANITIZE (SBC-4 §4.11: all
// service actions, IMMED, AUSE, the failure state and EXIT FAILURE MODE)
// and FORMAT UNIT, over a simdisk medium so that erase effects are real.
//
// # Knobs (Config)
//
//   - Sanitize with Overwrite/Block/Crypto support bits (SANITIZE is an
//     invalid opcode when Sanitize is false); NoReportOpcodes makes REPORT
//     SUPPORTED OPERATION CODES an invalid opcode (many older disks).
//   - Steps, ManualProgress: a SANITIZE or FORMAT UNIT with IMMED advances
//     one step per REQUEST SENSE or TEST UNIT READY poll, after reporting
//     its progress (or only on Advance). Without IMMED it runs to the end
//     within the command.
//   - FailAtStep: the next sanitize fails there; the device then answers
//     medium access and TEST UNIT READY with MEDIUM ERROR / SANITIZE COMMAND
//     FAILED. EXIT FAILURE MODE clears it only if the failed SANITIZE had
//     AUSE=1 (else ILLEGAL REQUEST, INVALID FIELD IN CDB); a new successful
//     SANITIZE always does.
//   - FormatLying: FORMAT UNIT returns GOOD and erases nothing (QEMU's
//     scsi-hd). Lying: SANITIZE too reports success and changes nothing.
//   - DescriptorSense: start with D_SENSE=1 (default fixed format).
//   - UnitAttentionOnPowerCycle: after PowerCycle the next command other
//     than INQUIRY and REQUEST SENSE gets UNIT ATTENTION, POWER ON RESET.
//   - BlockEraseFill: what block erase leaves.
//   - ProtectionType (0-3) and PIExponent: the protection information the
//     medium is formatted with, reported by READ CAPACITY(16) (PROT_EN,
//     P_TYPE, P_I_EXPONENT). FORMAT UNIT formats with the type its
//     FMTPINFO and PROTECTION FIELD USAGE select (SBC-4 §5.4.2: 0/0 type 0,
//     2/0 type 1, 3/0 type 2, 3/1 type 3) and P_I_EXPONENT 0 (short
//     header), as a real drive does: a format without FMTPINFO drops the
//     drive's PI. A type the drive does not support (other than 0 and its
//     own) is INVALID FIELD IN CDB.
//   - RotationRate 0 or NoBlockDeviceCharacteristics: the drive does not
//     say whether it rotates.
//
// ATA PASS-THROUGH is an invalid opcode here, as on virtio-scsi and SAS.
package scsisim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lethe-project/lethe/internal/devices/scsi"
	"github.com/lethe-project/lethe/internal/devices/simdisk"
)

// Config configures a Disk.
type Config struct {
	Vendor, Product, Revision, Serial string
	NAA                               uint64 // default derived from Serial
	Blocks                            uint64 // default 32768
	BlockSize                         uint32 // default 512
	RotationRate                      uint16 // VPD 0xB1: default 1 (non-rotating)
	NoRotationRate                    bool   // VPD 0xB1 reports 0: not reported
	NoBlockDeviceCharacteristics      bool   // no VPD 0xB1 at all
	ProtectionType                    int    // 0 (none) .. 3
	PIExponent                        uint8

	Sanitize                 bool
	Overwrite, Block, Crypto bool
	NoReportOpcodes          bool
	// NominalTimeout and RecommendedTimeout, when set, are reported in a
	// command timeouts descriptor for SANITIZE and FORMAT UNIT when asked
	// with RCTD. RejectRCTD answers RCTD with INVALID FIELD IN CDB, as a
	// device older than SPC-4 may.
	NominalTimeout, RecommendedTimeout time.Duration
	RejectRCTD                         bool
	Steps                              int // default 4
	ManualProgress                     bool
	FailAtStep                         int
	BlockEraseFill                     byte
	Lying                              bool
	FormatLying                        bool
	DescriptorSense                    bool

	UnitAttentionOnPowerCycle bool
	Disk                      *simdisk.Disk
}

type state int

const (
	idle state = iota
	sanitizing
	formatting
	failed
)

// Disk is the simulator. It is safe for concurrent use.
type Disk struct {
	mu     sync.Mutex
	cfg    Config
	disk   *simdisk.Disk
	cdbs   [][]byte
	st     state
	op     *simdisk.Operation
	ause   bool
	failAt int
	seed   uint64
	dsense bool
	ua     bool
	ptype  int
	piexp  uint8
}

// New builds a disk.
func New(cfg Config) (*Disk, error) {
	if cfg.Vendor == "" {
		cfg.Vendor = "LETHE"
	}
	if cfg.Product == "" {
		cfg.Product = "scsisim"
	}
	if cfg.Revision == "" {
		cfg.Revision = "1.0"
	}
	if cfg.Serial == "" {
		cfg.Serial = "SIMSCSI0001"
	}
	if cfg.Blocks == 0 {
		cfg.Blocks = 32768
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 512
	}
	if cfg.RotationRate == 0 {
		cfg.RotationRate = 1
	}
	if cfg.Steps <= 0 {
		cfg.Steps = 4
	}
	if cfg.NAA == 0 {
		cfg.NAA = 0x5000c50000000000
		for _, c := range cfg.Serial {
			cfg.NAA = cfg.NAA ^ uint64(c)*0x100000001b3&0xffffffffff
		}
	}
	if cfg.Sanitize && !cfg.Overwrite && !cfg.Block && !cfg.Crypto {
		cfg.Overwrite, cfg.Block, cfg.Crypto = true, true, true
	}
	if cfg.ProtectionType < 0 || cfg.ProtectionType > 3 {
		return nil, errors.New("scsisim: protection type out of range")
	}
	d := &Disk{cfg: cfg, disk: cfg.Disk, failAt: cfg.FailAtStep, seed: 1, dsense: cfg.DescriptorSense, ptype: cfg.ProtectionType, piexp: cfg.PIExponent}
	if d.disk == nil {
		d.disk = simdisk.NewMem(int64(cfg.Blocks)*int64(cfg.BlockSize), int(cfg.BlockSize))
	} else if uint64(d.disk.Blocks()) != cfg.Blocks || d.disk.BlockSize() != int(cfg.BlockSize) {
		return nil, errors.New("scsisim: disk geometry differs from the config")
	}
	return d, nil
}

// MustNew is New for tests with a known-good config.
func MustNew(cfg Config) *Disk {
	d, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return d
}

// Medium is the simdisk, for raw inspection.
func (d *Disk) Medium() *simdisk.Disk { return d.disk }

// CDBs returns a copy of every CDB received, in order.
func (d *Disk) CDBs() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.cdbs...)
}

// ProtectionType is the protection type the medium is formatted with now.
func (d *Disk) ProtectionType() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ptype
}

// Sanitizing reports whether a SANITIZE runs.
func (d *Disk) Sanitizing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st == sanitizing
}

// CommandLog returns every CDB received, one line each ("SANITIZE CDB
// 4882000000000000000000"), for tests that read the three simulators alike.
func (d *Disk) CommandLog() []string {
	var out []string
	for _, c := range d.CDBs() {
		name := map[byte]string{scsi.OpTestUnitReady: "TEST UNIT READY", scsi.OpRequestSense: "REQUEST SENSE", scsi.OpFormatUnit: "FORMAT UNIT",
			scsi.OpInquiry: "INQUIRY", scsi.OpSanitize: "SANITIZE", scsi.OpServiceIn16: "SERVICE ACTION IN(16)", scsi.OpMaintenanceIn: "MAINTENANCE IN",
			scsi.OpModeSense10: "MODE SENSE(10)", scsi.OpModeSelect10: "MODE SELECT(10)"}[c[0]]
		if name == "" {
			name = fmt.Sprintf("opcode 0x%02x", c[0])
		}
		out = append(out, fmt.Sprintf("%s CDB %x", name, c))
	}
	return out
}

// Advance moves a running SANITIZE or FORMAT UNIT n steps.
func (d *Disk) Advance(n int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.advance(n)
}

// FailNextSanitize makes the next (or running) sanitize fail at step.
func (d *Disk) FailNextSanitize(step int) {
	d.mu.Lock()
	d.failAt = step
	d.mu.Unlock()
}

// PowerCycle simulates a power loss: a sanitize resumes afterwards (SBC-4
// §4.11.3), the failure state persists, D_SENSE returns to its default.
func (d *Disk) PowerCycle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dsense = d.cfg.DescriptorSense
	d.ua = d.cfg.UnitAttentionOnPowerCycle
}

// ErrNotReady is returned by host I/O during or after a failed sanitize or
// format.
var ErrNotReady = errors.New("scsisim: medium not accessible (sanitize/format in progress or sanitize failed)")

func (d *Disk) ioCheck() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st != idle {
		return ErrNotReady
	}
	return nil
}

// ReadAt is a host read.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if err := d.ioCheck(); err != nil {
		return 0, err
	}
	return d.disk.ReadAt(p, off)
}

// WriteAt is a host write.
func (d *Disk) WriteAt(p []byte, off int64) (int, error) {
	if err := d.ioCheck(); err != nil {
		return 0, err
	}
	return d.disk.WriteAt(p, off)
}

func (d *Disk) sense(sb scsi.SenseBuilder) []byte {
	if d.dsense {
		return sb.Descriptor()
	}
	return sb.Fixed()
}

func (d *Disk) check(key scsi.SenseKey, asc scsi.ASC) *scsi.Result {
	return &scsi.Result{Status: scsi.StatusCheckCondition, Sense: d.sense(scsi.SenseBuilder{Key: key, ASC: asc})}
}

// pending is the sense a poll reports for the current state.
func (d *Disk) pending() (scsi.SenseBuilder, bool) {
	switch d.st {
	case sanitizing, formatting:
		p := d.op.Progress()
		asc := scsi.ASCNotReadySanitize
		if d.st == formatting {
			asc = scsi.ASCNotReadyFormatInProgress
		}
		return scsi.SenseBuilder{Key: scsi.KeyNotReady, ASC: asc, Progress: &p}, true
	case failed:
		return scsi.SenseBuilder{Key: scsi.KeyMediumError, ASC: scsi.ASCSanitizeCommandFailed}, true
	}
	return scsi.SenseBuilder{}, false
}

func dataIn(c *scsi.Command, b []byte) *scsi.Result {
	n := copy(c.Data, b)
	return &scsi.Result{DataLen: n, Resid: len(c.Data) - n}
}

// Exec implements scsi.Transport.
func (d *Disk) Exec(ctx context.Context, c *scsi.Command) (*scsi.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(c.CDB) == 0 {
		return nil, errors.New("scsisim: empty CDB")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cdbs = append(d.cdbs, append([]byte(nil), c.CDB...))
	op := c.CDB[0]
	if (c.Dir == scsi.DirIn || c.Dir == scsi.DirOut) && len(c.Data) == 0 {
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
	}
	if d.ua && op != scsi.OpInquiry && op != scsi.OpRequestSense {
		d.ua = false
		return d.check(scsi.KeyUnitAttention, scsi.ASCPowerOnReset), nil
	}
	switch op {
	case scsi.OpInquiry:
		return d.inquiry(c), nil
	case scsi.OpRequestSense:
		if d.ua {
			d.ua = false
			return dataIn(c, d.sense(scsi.SenseBuilder{Key: scsi.KeyUnitAttention, ASC: scsi.ASCPowerOnReset})), nil
		}
		sb, _ := d.pending()
		r := dataIn(c, d.sense(sb))
		return r, d.poll()
	case scsi.OpTestUnitReady:
		if sb, busy := d.pending(); busy {
			r := &scsi.Result{Status: scsi.StatusCheckCondition, Sense: d.sense(sb)}
			return r, d.poll()
		}
		return &scsi.Result{}, nil
	case scsi.OpModeSense10:
		if len(c.CDB) == 10 && c.CDB[2]&0x3f == scsi.ModePageControl {
			return dataIn(c, scsi.ControlModePage(d.dsense)), nil
		}
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
	case scsi.OpModeSelect10:
		ds, err := scsi.ParseControlModeSelect(c.Data)
		if c.Dir != scsi.DirOut || err != nil {
			return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInParamList), nil
		}
		d.dsense = ds
		return &scsi.Result{DataLen: len(c.Data)}, nil
	case scsi.OpMaintenanceIn:
		if len(c.CDB) == 12 && c.CDB[1]&0x1f == scsi.SAReportOpcodes && !d.cfg.NoReportOpcodes {
			return d.reportOpcode(c), nil
		}
	}
	// The rest is refused while a sanitize or format runs (SBC-4 §4.11.4).
	if d.st == sanitizing {
		return d.check(scsi.KeyNotReady, scsi.ASCNotReadySanitize), nil
	}
	if d.st == formatting {
		return d.check(scsi.KeyNotReady, scsi.ASCNotReadyFormatInProgress), nil
	}
	switch op {
	case scsi.OpServiceIn16:
		if len(c.CDB) == 16 && c.CDB[1]&0x1f == scsi.SAReadCapacity16 {
			b := make([]byte, 32)
			binary.BigEndian.PutUint64(b[0:], uint64(d.disk.Blocks()-1))
			binary.BigEndian.PutUint32(b[8:], uint32(d.disk.BlockSize()))
			if d.ptype > 0 {
				b[12] = byte(d.ptype-1)<<1 | 0x01 // P_TYPE, PROT_EN
				b[13] = d.piexp << 4
			}
			return dataIn(c, b), nil
		}
	case scsi.OpSanitize:
		if d.cfg.Sanitize {
			return d.sanitize(c)
		}
	case scsi.OpFormatUnit:
		if d.st == failed {
			return d.check(scsi.KeyMediumError, scsi.ASCSanitizeCommandFailed), nil
		}
		return d.format(c)
	}
	return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidOpcode), nil
}

func (d *Disk) poll() error {
	if (d.st == sanitizing || d.st == formatting) && !d.cfg.ManualProgress {
		return d.advance(1)
	}
	return nil
}

func (d *Disk) advance(n int) error {
	for ; n > 0 && (d.st == sanitizing || d.st == formatting); n-- {
		if d.st == sanitizing && d.failAt > 0 && d.op.Done+1 >= d.failAt {
			d.st, d.op, d.failAt = failed, nil, 0
			return nil
		}
		done, err := d.op.Advance(1)
		if err != nil {
			return err
		}
		if done {
			d.st, d.op = idle, nil
		}
	}
	return nil
}

func (d *Disk) inquiry(c *scsi.Command) *scsi.Result {
	if len(c.CDB) < 6 {
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB)
	}
	if c.CDB[1]&1 == 0 {
		if c.CDB[2] != 0 {
			return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB)
		}
		b := make([]byte, 36)
		b[2], b[3], b[4] = 0x06, 0x02, 31 // SPC-4, response format 2
		copy(b[8:16], pad(d.cfg.Vendor, 8))
		copy(b[16:32], pad(d.cfg.Product, 16))
		copy(b[32:36], pad(d.cfg.Revision, 4))
		return dataIn(c, b)
	}
	var p []byte
	switch page := c.CDB[2]; page {
	case scsi.VPDSupportedPages:
		p = []byte{0x00, 0x80, 0x83, 0xb1}
		if d.cfg.NoBlockDeviceCharacteristics {
			p = p[:3]
		}
	case scsi.VPDUnitSerial:
		p = []byte(d.cfg.Serial)
	case scsi.VPDDeviceID:
		p = make([]byte, 12)
		p[0], p[1], p[3] = 0x01, 0x03, 8 // binary, LU, NAA
		binary.BigEndian.PutUint64(p[4:], d.cfg.NAA)
	case scsi.VPDBlockDeviceChar:
		if d.cfg.NoBlockDeviceCharacteristics {
			return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB)
		}
		p = make([]byte, 0x3c)
		if !d.cfg.NoRotationRate {
			binary.BigEndian.PutUint16(p[0:], d.cfg.RotationRate)
		}
	default:
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB)
	}
	b := append([]byte{0, c.CDB[2], 0, 0}, p...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(p)))
	return dataIn(c, b)
}

func pad(s string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
	return b
}

// reportOpcode answers the one-command forms (reporting options 1 and 2).
func (d *Disk) reportOpcode(c *scsi.Command) *scsi.Result {
	opt := c.CDB[2] & 0x07
	rctd := c.CDB[2]&0x80 != 0
	if rctd && d.cfg.RejectRCTD {
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB)
	}
	op := c.CDB[3]
	sa := binary.BigEndian.Uint16(c.CDB[4:6])
	hasSA := op == scsi.OpSanitize || op == scsi.OpServiceIn16 || op == scsi.OpMaintenanceIn
	if (opt == 1 && hasSA) || (opt == 2 && !hasSA) || (opt != 1 && opt != 2) {
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB)
	}
	var usage []byte
	switch {
	case op == scsi.OpTestUnitReady, op == scsi.OpRequestSense, op == scsi.OpInquiry:
		usage = []byte{op, 0xff, 0xff, 0xff, 0xff, 0x07}
	case op == scsi.OpFormatUnit:
		usage = []byte{op, 0xff, 0x00, 0x00, 0x03, 0x07}
	case op == scsi.OpServiceIn16 && sa == scsi.SAReadCapacity16:
		usage = []byte{op, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07}
	case op == scsi.OpSanitize && d.cfg.Sanitize:
		supported := sa == uint16(scsi.SanitizeOverwrite) && d.cfg.Overwrite ||
			sa == uint16(scsi.SanitizeBlockErase) && d.cfg.Block ||
			sa == uint16(scsi.SanitizeCryptoErase) && d.cfg.Crypto ||
			sa == uint16(scsi.SanitizeExitFailureMode)
		if supported {
			usage = []byte{op, 0xe0 | byte(sa), 0, 0, 0, 0, 0, 0xff, 0xff, 0x07}
		}
	}
	b := make([]byte, 4, 4+len(usage)+12)
	if usage == nil {
		b[1] = byte(scsi.SupportNo)
	} else {
		b[1] = byte(scsi.SupportStandard)
		binary.BigEndian.PutUint16(b[2:], uint16(len(usage)))
		b = append(b, usage...)
	}
	if rctd {
		// SPC-5 §6.35.4: CTDP, then the command timeouts descriptor
		// (length 10, reserved, command specific, nominal, recommended).
		b[1] |= 0x80
		var nominal, recommended uint32
		if usage != nil && (op == scsi.OpSanitize || op == scsi.OpFormatUnit) {
			nominal, recommended = uint32(d.cfg.NominalTimeout/time.Second), uint32(d.cfg.RecommendedTimeout/time.Second)
		}
		b = append(b, 0, 0x0a, 0, 0)
		b = binary.BigEndian.AppendUint32(b, nominal)
		b = binary.BigEndian.AppendUint32(b, recommended)
	}
	return dataIn(c, b)
}

func (d *Disk) sanitize(c *scsi.Command) (*scsi.Result, error) {
	if len(c.CDB) != 10 {
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
	}
	immed := c.CDB[1]&0x80 != 0
	ause := c.CDB[1]&0x20 != 0
	sa := scsi.SanitizeAction(c.CDB[1] & 0x1f)
	plen := int(binary.BigEndian.Uint16(c.CDB[7:9]))
	var effects []simdisk.Effect
	d.seed++
	switch {
	case sa == scsi.SanitizeExitFailureMode:
		if d.st == failed {
			if !d.ause {
				return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
			}
			d.st = idle
		}
		return &scsi.Result{}, nil
	case sa == scsi.SanitizeCryptoErase && d.cfg.Crypto:
		effects = []simdisk.Effect{simdisk.Scramble{Seed: d.seed}}
	case sa == scsi.SanitizeBlockErase && d.cfg.Block:
		effects = []simdisk.Effect{simdisk.Pattern{Bytes: []byte{d.cfg.BlockEraseFill}}}
	case sa == scsi.SanitizeOverwrite && d.cfg.Overwrite:
		// SBC-4 §5.30.2: parameter list checks.
		if c.Dir != scsi.DirOut || plen != len(c.Data) || plen < 5 {
			return d.check(scsi.KeyIllegalRequest, scsi.ASCParamListLengthError), nil
		}
		p := c.Data
		count := int(p[0] & 0x1f)
		ipl := int(binary.BigEndian.Uint16(p[2:4]))
		if count == 0 || ipl == 0 || ipl > d.disk.BlockSize() || 4+ipl != plen || p[0]&0x60 != 0 {
			return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInParamList), nil
		}
		for i := range count {
			effects = append(effects, simdisk.Pattern{Bytes: append([]byte(nil), p[4:4+ipl]...), Inverted: p[0]&0x80 != 0 && i%2 == 1})
		}
	default:
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
	}
	if sa != scsi.SanitizeOverwrite && plen != 0 {
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
	}
	d.st, d.ause = sanitizing, ause
	d.op = &simdisk.Operation{Disk: d.disk, Effects: effects, Steps: d.cfg.Steps, Lying: d.cfg.Lying}
	if immed {
		return &scsi.Result{}, nil
	}
	if err := d.advance(d.cfg.Steps); err != nil {
		return nil, err
	}
	if d.st == failed {
		return d.check(scsi.KeyMediumError, scsi.ASCSanitizeCommandFailed), nil
	}
	return &scsi.Result{}, nil
}

func (d *Disk) format(c *scsi.Command) (*scsi.Result, error) {
	if len(c.CDB) != 6 {
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
	}
	immed := false
	var pfu uint8
	if c.CDB[1]&0x10 != 0 { // FMTDATA: a parameter list header follows
		if c.Dir != scsi.DirOut || len(c.Data) < 4 {
			return d.check(scsi.KeyIllegalRequest, scsi.ASCParamListLengthError), nil
		}
		immed = c.Data[1]&0x02 != 0
		pfu = c.Data[0] & 0x07
	}
	// SBC-4 §5.4.2: FMTPINFO and PROTECTION FIELD USAGE select the type.
	var typ int
	switch fpi := c.CDB[1] >> 6; {
	case fpi == 0 && pfu == 0:
		typ = 0
	case fpi == 2 && pfu == 0:
		typ = 1
	case fpi == 3 && pfu == 0:
		typ = 2
	case fpi == 3 && pfu == 1:
		typ = 3
	default:
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
	}
	if typ != 0 && typ != d.cfg.ProtectionType {
		return d.check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
	}
	if !d.cfg.FormatLying {
		d.ptype, d.piexp = typ, 0
	}
	d.st = formatting
	d.op = &simdisk.Operation{Disk: d.disk, Effects: []simdisk.Effect{simdisk.Zero}, Steps: d.cfg.Steps, Lying: d.cfg.FormatLying}
	if immed {
		return &scsi.Result{}, nil
	}
	return &scsi.Result{}, d.advance(d.cfg.Steps)
}
