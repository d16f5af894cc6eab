// Package atasim is a SATA drive behind a SCSI/ATA Translation Layer,
// simulated behind scsi.Transport: it decodes ATA PASS-THROUGH(16) CDBs as
// libata would pass them on and implements the ACS-4 state machines lethe
// drives: the Security feature set (§4.18, states SEC1-SEC6, the password
// attempt counter), the Sanitize feature set (§4.17, states SD0-SD4), the
// Host Protected Area (READ NATIVE MAX / SET MAX ADDRESS EXT) and the Device
// Configuration Overlay, over a simdisk medium of 512-byte sectors so erase
// effects are real.
//
// # Knobs (Config)
//
// Capacity: Sectors (native max + 1), HPASectors (what IDENTIFY shows when
// an HPA hides the rest; non-volatile), DCOSectors (factory capacity when a
// DCO has reduced the native max), DCOFrozen. AMA makes it an ACS-3 drive:
// the Accessible Max Address Configuration feature set (IDENTIFY word 119
// bit 8; GET NATIVE MAX ADDRESS EXT / SET ACCESSIBLE MAX ADDRESS EXT, 78h)
// instead of the HPA feature set and DCO, whose commands it aborts.
// NativeMaxFails aborts both ways of reading the native max. NoRotationRate
// leaves IDENTIFY word 217 at 0 (not reported), as many SSDs do.
//
// Security: NoSecurity, EnhancedErase, EraseTime/EnhancedEraseTime (raw
// IDENTIFY words 89/90), UserPassword (set: the drive powers up locked,
// SEC4), MasterPassword/MasterID/MasterMaximum, FrozenAtPowerOn (the BIOS
// freezes the drive at every boot: SEC2/SEC6; SuspendResume unfreezes as a
// suspend/resume cycle does), EnhancedPattern.
//
// Sanitize: Sanitize plus Crypto/Block/Overwrite/Antifreeze support bits,
// SanitizeFrozenAtPowerOn (SD1), FailureReasonZero (STATUS EXT in SD3
// aborts with reason 0 rather than 1), PreviousSanitizeSucceeded (the trap: an
// idle drive whose STATUS EXT says "completed without error"), Steps,
// ManualProgress (only Advance moves it; otherwise each STATUS EXT reports
// then advances one step), FailAtStep (SD3; with the FAILURE MODE bit the
// failure can be cleared by STATUS EXT with CLEAR, otherwise only a new
// successful sanitize leaves SD3), BlockEraseFill.
//
// Lying accepts erase commands and reports success but changes no data.
// FixedSense makes the SATL start with D_SENSE=0 and return fixed-format
// sense data, which lacks COUNT 15:8 and LBA 47:24 (libata since Linux
// 6.10); MODE SELECT of the Control page (ata.Device.PreferDescriptorSense)
// switches to descriptor format.
//
// Host I/O (ReadAt/WriteAt) fails while the drive is locked or a sanitize
// runs or has failed, and beyond the current max address.
//
// PowerCycle and SuspendResume both lose the volatile state: a drive with a
// user password comes back locked (SEC4; ACS-4 §4.18.4: the power-on state
// of an enabled drive is locked), which a suspend/resume cycle also causes
// because the drive loses power in S3.
//
// Simplifications, documented so tests do not rely on them: SECURITY ERASE
// UNIT in SEC1 (no user password) is aborted; a normal erase covers LBA 0 to
// the current max, an enhanced erase and every sanitize the whole medium;
// the overwrite pattern is written little endian.
package atasim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/scsi"
	"github.com/lethe-project/lethe/internal/devices/simdisk"
)

// Config configures a Drive.
type Config struct {
	Model, Serial, Firmware string
	Sectors                 uint64 // native capacity (default 32768 = 16 MiB)
	HPASectors              uint64 // 0: no HPA
	DCOSectors              uint64 // 0: no DCO reduction
	DCOFrozen               bool
	RotationRate            uint16 // default 1 (solid state)
	NoRotationRate          bool   // word 217 = 0: not reported
	WWN                     uint64
	TRIM                    bool
	AMA                     bool // Accessible Max Address instead of HPA and DCO
	NativeMaxFails          bool

	NoSecurity        bool
	EnhancedErase     bool
	EraseTime         uint16 // raw word 89
	EnhancedEraseTime uint16 // raw word 90
	UserPassword      []byte // nil: security disabled
	UserMaximum       bool   // the user password was set with level Maximum
	MasterPassword    []byte
	MasterID          uint16
	FrozenAtPowerOn   bool
	EnhancedPattern   byte

	Sanitize                             bool
	Crypto, Block, Overwrite, Antifreeze bool
	SanitizeFrozenAtPowerOn              bool
	PreviousSanitizeSucceeded            bool
	FailureReasonZero                    bool
	Steps                                int // default 4
	ManualProgress                       bool
	FailAtStep                           int
	BlockEraseFill                       byte

	Lying      bool
	FixedSense bool
	Disk       *simdisk.Disk
}

type sanState int

const (
	sd0Idle sanState = iota
	sd1Frozen
	sd2InProgress
	sd3Failed
	sd4Succeeded
)

// Drive is the simulator. It is safe for concurrent use.
type Drive struct {
	mu   sync.Mutex
	cfg  Config
	disk *simdisk.Disk
	cmds []ata.TaskFile

	// security
	enabled, locked, frozen bool
	attempts                int
	user, master            [32]byte
	maximum                 bool
	masterID                uint16
	prepared                bool

	// sanitize
	san         sanState
	completed   bool // STATUS EXT bit 15
	antifreeze  bool
	op          *simdisk.Operation
	failureMode bool
	failAt      int
	seed        uint64

	fixedSense bool // D_SENSE=0 in the Control mode page

	// HPA / DCO
	factoryMax, nativeMax, curMax, nvMax uint64
	readNative, nvSetDone                bool
}

// New builds a drive and powers it on.
func New(cfg Config) (*Drive, error) {
	if cfg.Model == "" {
		cfg.Model = "lethe atasim"
	}
	if cfg.Serial == "" {
		cfg.Serial = "SIMATA0001"
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "1.0"
	}
	if cfg.Sectors == 0 {
		cfg.Sectors = 32768
	}
	if cfg.RotationRate == 0 {
		cfg.RotationRate = 1
	}
	if cfg.Steps <= 0 {
		cfg.Steps = 4
	}
	if cfg.Sanitize && !cfg.Crypto && !cfg.Block && !cfg.Overwrite {
		cfg.Crypto, cfg.Block, cfg.Overwrite = true, true, true
	}
	phys := max(cfg.Sectors, cfg.DCOSectors)
	d := &Drive{cfg: cfg, disk: cfg.Disk, failAt: cfg.FailAtStep, seed: 1}
	if d.disk == nil {
		d.disk = simdisk.NewMem(int64(phys)*512, 512)
	} else if uint64(d.disk.Blocks()) < phys || d.disk.BlockSize() != 512 {
		return nil, errors.New("atasim: the disk is smaller than the configured capacity or not 512-byte sectors")
	}
	d.factoryMax, d.nativeMax = phys-1, cfg.Sectors-1
	d.nvMax = d.nativeMax
	if cfg.HPASectors > 0 && cfg.HPASectors < cfg.Sectors {
		d.nvMax = cfg.HPASectors - 1
	}
	copy(d.master[:], cfg.MasterPassword)
	d.masterID = cfg.MasterID
	if cfg.UserPassword != nil {
		d.enabled = true
		copy(d.user[:], cfg.UserPassword)
		d.maximum = cfg.UserMaximum
	}
	d.completed = cfg.PreviousSanitizeSucceeded
	d.fixedSense = cfg.FixedSense
	d.powerOn()
	return d, nil
}

// MustNew is New for tests with a known-good config.
func MustNew(cfg Config) *Drive {
	d, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return d
}

// powerOn applies the power-on state (c.mu held or during New).
func (d *Drive) powerOn() {
	d.locked = d.enabled
	// The BIOS's SECURITY FREEZE LOCK is aborted by a locked drive (SEC4),
	// so only an unlocked one powers up frozen (SEC2).
	d.frozen = d.cfg.FrozenAtPowerOn && !d.locked
	d.attempts = 5
	d.prepared, d.readNative, d.nvSetDone = false, false, false
	d.curMax = d.nvMax
	d.antifreeze = false
	switch d.san {
	case sd4Succeeded:
		d.san = sd0Idle
	case sd0Idle, sd1Frozen:
		d.san = sd0Idle
		if d.cfg.SanitizeFrozenAtPowerOn {
			d.san = sd1Frozen
		}
	}
	// SD2 resumes and SD3 persists across power cycles (ACS-4 §4.17).
}

// PowerCycle simulates power loss and power on: security relocks, freeze
// and volatile HPA settings are lost, a running sanitize resumes.
func (d *Drive) PowerCycle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.powerOn()
}

// SuspendResume simulates a suspend/resume cycle the BIOS does not see:
// like a power cycle, but the drive is not frozen again afterwards (the
// unfreeze trick for SEC2/SEC6).
func (d *Drive) SuspendResume() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.powerOn()
	d.frozen = false
	if d.san == sd1Frozen {
		d.san = sd0Idle
	}
}

// WarmReboot simulates a reboot that keeps the drive powered (its security
// state survives) while the BIOS sends SECURITY FREEZE LOCK: an unlocked
// drive with a password ends in SEC6 (enabled, unlocked, frozen), a locked
// one aborts the freeze and stays SEC4.
func (d *Drive) WarmReboot() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prepared, d.readNative = false, false
	if !d.locked {
		d.frozen = true
	}
}

// Advance moves a running sanitize n steps.
func (d *Drive) Advance(n int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.advance(n)
}

// FailNextSanitize makes the next (or running) sanitize fail at step.
func (d *Drive) FailNextSanitize(step int) {
	d.mu.Lock()
	d.failAt = step
	d.mu.Unlock()
}

// Commands returns every ATA task file received, in order.
func (d *Drive) Commands() []ata.TaskFile {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ata.TaskFile(nil), d.cmds...)
}

// Disk is the medium, for raw inspection.
func (d *Drive) Disk() *simdisk.Disk { return d.disk }

// Medium is Disk, named as the other simulators name it.
func (d *Drive) Medium() *simdisk.Disk { return d.disk }

// Sanitizing reports whether a sanitize runs (SD2).
func (d *Drive) Sanitizing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.san == sd2InProgress
}

// CommandLog returns every ATA command received, one line each
// ("SANITIZE BLOCK ERASE EXT FEATURE=0x0012 COUNT=0x0000 LBA=0x0000426b4572").
func (d *Drive) CommandLog() []string {
	var out []string
	for _, tf := range d.Commands() {
		out = append(out, fmt.Sprintf("%s FEATURE=0x%04x COUNT=0x%04x LBA=0x%012x", (&ata.Command{TF: tf}).Name(), tf.Feature, tf.Count, tf.LBA))
	}
	return out
}

// Errors of host I/O.
var (
	ErrLocked   = errors.New("atasim: drive is security locked")
	ErrSanitize = errors.New("atasim: sanitize in progress or failed")
	ErrIDNF     = errors.New("atasim: address beyond the current max (ID not found)")
)

func (d *Drive) ioCheck(off int64, n int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.locked:
		return ErrLocked
	case d.san == sd2InProgress || d.san == sd3Failed:
		return ErrSanitize
	case off < 0 || uint64(off+int64(n)) > (d.curMax+1)*512:
		return ErrIDNF
	}
	return nil
}

// ReadAt is a host read of user data.
func (d *Drive) ReadAt(p []byte, off int64) (int, error) {
	if err := d.ioCheck(off, len(p)); err != nil {
		return 0, err
	}
	return d.disk.ReadAt(p, off)
}

// WriteAt is a host write of user data.
func (d *Drive) WriteAt(p []byte, off int64) (int, error) {
	if err := d.ioCheck(off, len(p)); err != nil {
		return 0, err
	}
	return d.disk.WriteAt(p, off)
}

// result is the outcome of one ATA command.
type result struct {
	err   uint8 // error register; non-zero means failure (ERR set)
	count uint16
	lba   uint64
}

func abort() result                          { return result{err: ata.ErrorABRT} }
func abortReason(r uint8) result             { return result{err: ata.ErrorABRT, lba: uint64(r)} }
func okWith(count uint16, lba uint64) result { return result{count: count, lba: lba} }

// Exec implements scsi.Transport.
func (d *Drive) Exec(ctx context.Context, c *scsi.Command) (*scsi.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(c.CDB) == 0 {
		return nil, errors.New("atasim: empty CDB")
	}
	switch c.CDB[0] {
	case scsi.OpATAPassThru16:
		return d.passThrough(c)
	case scsi.OpInquiry:
		return d.inquiry(c), nil
	case scsi.OpTestUnitReady:
		if d.san == sd2InProgress {
			p := d.op.Progress()
			return check(scsi.SenseBuilder{Key: scsi.KeyNotReady, ASC: scsi.ASCNotReadySanitize, Progress: &p}.Fixed()), nil
		}
		return &scsi.Result{}, nil
	case scsi.OpModeSense10:
		if len(c.CDB) == 10 && c.CDB[2]&0x3f == scsi.ModePageControl {
			return dataIn(c, scsi.ControlModePage(!d.fixedSense)), nil
		}
		return check(scsi.SenseBuilder{Key: scsi.KeyIllegalRequest, ASC: scsi.ASCInvalidFieldInCDB}.Fixed()), nil
	case scsi.OpModeSelect10:
		// Only the Control page's D_SENSE bit is changeable, as in libata.
		dsense, err := scsi.ParseControlModeSelect(c.Data)
		if c.Dir != scsi.DirOut || err != nil {
			return check(scsi.SenseBuilder{Key: scsi.KeyIllegalRequest, ASC: scsi.ASCInvalidFieldInParamList}.Fixed()), nil
		}
		d.fixedSense = !dsense
		return &scsi.Result{DataLen: len(c.Data)}, nil
	case scsi.OpServiceIn16:
		if len(c.CDB) == 16 && c.CDB[1]&0x1f == scsi.SAReadCapacity16 {
			b := make([]byte, 32)
			binary.BigEndian.PutUint64(b[0:], d.curMax)
			binary.BigEndian.PutUint32(b[8:], 512)
			return dataIn(c, b), nil
		}
	}
	return check(scsi.SenseBuilder{Key: scsi.KeyIllegalRequest, ASC: scsi.ASCInvalidOpcode}.Fixed()), nil
}

func check(sense []byte) *scsi.Result {
	return &scsi.Result{Status: scsi.StatusCheckCondition, Sense: sense}
}

func dataIn(c *scsi.Command, b []byte) *scsi.Result {
	n := copy(c.Data, b)
	return &scsi.Result{DataLen: n, Resid: len(c.Data) - n}
}

func (d *Drive) inquiry(c *scsi.Command) *scsi.Result {
	if len(c.CDB) < 6 || c.CDB[1]&1 != 0 {
		return check(scsi.SenseBuilder{Key: scsi.KeyIllegalRequest, ASC: scsi.ASCInvalidFieldInCDB}.Fixed())
	}
	b := make([]byte, 36)
	b[2], b[3], b[4] = 0x06, 0x02, 31
	copy(b[8:16], "ATA     ")
	copy(b[16:32], pad(d.cfg.Model, 16))
	copy(b[32:36], pad(d.cfg.Firmware, 4))
	return dataIn(c, b)
}

func pad(s string, n int) []byte {
	b := []byte(s + string(make([]byte, n)))[:n]
	for i := range b {
		if b[i] == 0 {
			b[i] = ' '
		}
	}
	return b
}

func (d *Drive) passThrough(c *scsi.Command) (*scsi.Result, error) {
	b := c.CDB
	invalid := func() *scsi.Result {
		return check(scsi.SenseBuilder{Key: scsi.KeyIllegalRequest, ASC: scsi.ASCInvalidFieldInCDB}.Fixed())
	}
	if len(b) != 16 {
		return invalid(), nil
	}
	proto := ata.Protocol(b[1] >> 1 & 0xf)
	extend := b[1]&1 != 0
	ckCond := b[2]&0x20 != 0
	tDirIn := b[2]&0x08 != 0
	tf := ata.TaskFile{
		Feature: uint16(b[3])<<8 | uint16(b[4]),
		Count:   uint16(b[5])<<8 | uint16(b[6]),
		LBA: uint64(b[8]) | uint64(b[10])<<8 | uint64(b[12])<<16 |
			uint64(b[7])<<24 | uint64(b[9])<<32 | uint64(b[11])<<40,
		Device:  b[13],
		Command: b[14],
	}
	if !extend {
		tf.Feature &= 0xff
		tf.Count &= 0xff
		tf.LBA &= 0xffffff
	}
	// The data phase must agree with the protocol and T_DIR, and PIO
	// transfers are counted in 512-byte blocks in COUNT (T_LENGTH=2).
	switch proto {
	case ata.ProtoNonData:
		if c.Dir != scsi.DirNone {
			return invalid(), nil
		}
	case ata.ProtoPIOIn, ata.ProtoPIOOut:
		wantDir := scsi.DirOut
		if proto == ata.ProtoPIOIn {
			wantDir = scsi.DirIn
		}
		if c.Dir != wantDir || tDirIn != (proto == ata.ProtoPIOIn) || b[2]&0x03 != 2 || b[2]&0x04 == 0 ||
			len(c.Data) != 512*int(tf.Count&0xff) || tf.Count == 0 {
			return invalid(), nil
		}
	default:
		return invalid(), nil
	}
	d.cmds = append(d.cmds, tf)
	r := d.execute(tf, proto, c.Data)
	regs := &scsi.ATAReturn{Extend: extend, Error: r.err, Count: r.count, LBA: r.lba, Device: tf.Device, Status: ata.StatusDRDY | 0x10}
	var sb scsi.SenseBuilder
	switch {
	case r.err != 0:
		regs.Status |= ata.StatusERR
		sb = scsi.SenseBuilder{Key: scsi.KeyAbortedCommand, ASC: scsi.ASCNoAdditionalSense, ATA: regs}
	case ckCond:
		sb = scsi.SenseBuilder{Key: scsi.KeyRecoveredError, ASC: scsi.ASCATAPassThroughInfo, ATA: regs}
	default:
		res := &scsi.Result{}
		if proto == ata.ProtoPIOIn || proto == ata.ProtoPIOOut {
			res.DataLen = len(c.Data)
		}
		return res, nil
	}
	if d.fixedSense {
		return check(sb.Fixed()), nil
	}
	return check(sb.Descriptor()), nil
}

func (d *Drive) execute(tf ata.TaskFile, proto ata.Protocol, data []byte) result {
	wasPrepared, wasReadNative := d.prepared, d.readNative
	d.prepared, d.readNative = false, false
	if tf.Command == ata.CmdIdentify {
		d.identify(data)
		return result{}
	}
	if tf.Command == ata.CmdSanitize {
		return d.sanitize(tf)
	}
	// Outside SANITIZE and IDENTIFY nothing runs during a sanitize, and
	// SD3 blocks everything but the same (ACS-4 §4.17.5).
	if d.san == sd2InProgress || d.san == sd3Failed {
		return abort()
	}
	switch tf.Command {
	case ata.CmdSecuritySetPass:
		return d.setPassword(data)
	case ata.CmdSecurityUnlock:
		return d.unlock(data)
	case ata.CmdSecurityDisablePwd:
		return d.disable(data)
	case ata.CmdSecurityErasePrep:
		if d.cfg.NoSecurity || d.frozen {
			return abort()
		}
		d.prepared = true
		return result{}
	case ata.CmdSecurityEraseUnit:
		return d.eraseUnit(data, wasPrepared)
	case ata.CmdReadNativeMaxExt:
		if d.cfg.AMA || d.cfg.NativeMaxFails {
			return abort() // obsolete on an ACS-3 AMA drive
		}
		d.readNative = true
		return okWith(0, d.nativeMax)
	case ata.CmdSetMaxExt:
		if d.cfg.AMA {
			return abort()
		}
		return d.setMax(tf, wasReadNative)
	case ata.CmdAMAConfig:
		return d.ama(tf)
	case ata.CmdDeviceConfig:
		if d.cfg.AMA {
			return abort()
		}
		return d.dco(tf, data)
	}
	return abort()
}

// ama implements the Accessible Max Address Configuration feature set
// (ACS-3 §7.6): GET NATIVE MAX ADDRESS EXT returns the native max; SET
// ACCESSIBLE MAX ADDRESS EXT changes the accessible max, non-volatile,
// with no preceding command; an address above the native max is ID NOT
// FOUND.
func (d *Drive) ama(tf ata.TaskFile) result {
	if !d.cfg.AMA {
		return abort()
	}
	switch tf.Feature {
	case ata.AMAGetNativeMax:
		if d.cfg.NativeMaxFails {
			return abort()
		}
		return okWith(0, d.nativeMax)
	case ata.AMASetAccessibleMax:
		if tf.LBA > d.nativeMax {
			return result{err: ata.ErrorIDNF}
		}
		d.nvMax, d.curMax = tf.LBA, tf.LBA
		return okWith(0, tf.LBA)
	}
	return abort()
}

// pw splits a Security data block: IDENTIFIER (master), control word, password.
func pw(data []byte) (master bool, w0 uint16, p [32]byte) {
	w0 = binary.LittleEndian.Uint16(data[0:2])
	copy(p[:], data[2:34])
	return w0&1 != 0, w0, p
}

func (d *Drive) setPassword(data []byte) result {
	if d.cfg.NoSecurity || d.frozen || d.locked {
		return abort()
	}
	master, w0, p := pw(data)
	if master {
		d.master = p
		if id := binary.LittleEndian.Uint16(data[34:36]); id != 0 && id != 0xffff {
			d.masterID = id
		}
		return result{}
	}
	d.user, d.enabled, d.maximum = p, true, w0&0x0100 != 0
	return result{}
}

// matches applies the password rules: the user password always; the
// master password for unlock/disable only at level High, for erase always.
func (d *Drive) matches(data []byte, forErase bool) bool {
	master, _, p := pw(data)
	if master {
		return p == d.master && (forErase || !d.maximum)
	}
	return d.enabled && p == d.user
}

func (d *Drive) failAttempt() result {
	if d.attempts > 0 {
		d.attempts--
	}
	return abort()
}

func (d *Drive) unlock(data []byte) result {
	switch {
	case d.cfg.NoSecurity || d.frozen || !d.enabled:
		return abort()
	case d.attempts == 0:
		return abort() // count expired
	case !d.matches(data, false):
		return d.failAttempt()
	}
	d.locked = false
	d.attempts = 5
	return result{}
}

func (d *Drive) disable(data []byte) result {
	if d.cfg.NoSecurity || d.frozen || d.locked || !d.enabled || !d.matches(data, false) {
		return abort()
	}
	d.enabled, d.user = false, [32]byte{}
	return result{}
}

func (d *Drive) eraseUnit(data []byte, prepared bool) result {
	switch {
	case d.cfg.NoSecurity || d.frozen || !prepared || !d.enabled:
		return abort()
	case d.attempts == 0:
		return abort()
	case !d.matches(data, true):
		return d.failAttempt()
	}
	_, w0, _ := pw(data)
	enhanced := w0&0x0002 != 0
	if enhanced && !d.cfg.EnhancedErase {
		return abort()
	}
	if !d.cfg.Lying {
		if enhanced {
			_ = d.disk.ApplyAll(simdisk.Pattern{Bytes: []byte{d.cfg.EnhancedPattern}})
		} else {
			_ = d.disk.Apply(simdisk.Zero, 0, int64(d.curMax)+1)
		}
	}
	d.enabled, d.locked, d.user, d.attempts = false, false, [32]byte{}, 5
	return result{}
}

func (d *Drive) setMax(tf ata.TaskFile, afterReadNative bool) result {
	switch {
	case !afterReadNative:
		return abort()
	case tf.LBA > d.nativeMax:
		return result{err: ata.ErrorIDNF}
	}
	if tf.Count&1 != 0 { // VV: non-volatile, once per power cycle
		if d.nvSetDone {
			return abort()
		}
		d.nvSetDone = true
		d.nvMax = tf.LBA
	}
	d.curMax = tf.LBA
	return okWith(0, tf.LBA)
}

func (d *Drive) dco(tf ata.TaskFile, data []byte) result {
	switch tf.Feature & 0xff {
	case ata.DCOIdentify:
		if data == nil {
			return abort()
		}
		clear(data)
		binary.LittleEndian.PutUint16(data[0:], 0x0002)
		binary.LittleEndian.PutUint64(data[6:], d.factoryMax)
		binary.LittleEndian.PutUint16(data[14:], 0x0100|0x0080|0x0008) // 48-bit, HPA, security
		checksum(data)
		return result{}
	case ata.DCORestore:
		if d.cfg.DCOFrozen || d.curMax < d.nativeMax || d.nvMax < d.nativeMax {
			return abort() // frozen, or an HPA is set (ACS-2 §7.10.4)
		}
		if !d.cfg.Lying {
			d.nativeMax, d.curMax, d.nvMax = d.factoryMax, d.factoryMax, d.factoryMax
		}
		return result{}
	}
	return abort()
}

// sanitize implements SANITIZE DEVICE (ACS-4 §7.36) and the SD states.
func (d *Drive) sanitize(tf ata.TaskFile) result {
	if !d.cfg.Sanitize {
		return abort()
	}
	f := ata.SanitizeFeature(tf.Feature)
	if f == ata.SanitizeStatusExt {
		return d.sanitizeStatus(tf)
	}
	if d.san == sd2InProgress {
		return abortReason(0)
	}
	var effects []simdisk.Effect
	var key uint64
	d.seed++
	switch f {
	case ata.SanitizeCryptoScramble:
		if !d.cfg.Crypto {
			return abortReason(uint8(ata.ReasonUnsupported))
		}
		key, effects = ata.KeyCryptoScramble, []simdisk.Effect{simdisk.Scramble{Seed: d.seed}}
	case ata.SanitizeBlockErase:
		if !d.cfg.Block {
			return abortReason(uint8(ata.ReasonUnsupported))
		}
		key, effects = ata.KeyBlockErase, []simdisk.Effect{simdisk.Pattern{Bytes: []byte{d.cfg.BlockEraseFill}}}
	case ata.SanitizeOverwrite:
		if !d.cfg.Overwrite {
			return abortReason(uint8(ata.ReasonUnsupported))
		}
		key = ata.KeyOverwrite<<32 | tf.LBA&0xffffffff
		passes := int(tf.Count & 0xf)
		if passes == 0 {
			passes = 16
		}
		for p := range passes {
			pat := simdisk.Uint32LE(uint32(tf.LBA))
			pat.Inverted = tf.Count&0x80 != 0 && p%2 == 1
			effects = append(effects, pat)
		}
	case ata.SanitizeAntifreezeLock:
		if !d.cfg.Antifreeze || tf.LBA != ata.KeyAntifreeze {
			return abortReason(uint8(ata.ReasonUnsupported))
		}
		if d.san == sd1Frozen {
			return abortReason(uint8(ata.ReasonFrozen))
		}
		d.antifreeze = true
		return result{}
	case ata.SanitizeFreezeLock:
		if tf.LBA != ata.KeyFreezeLock {
			return abort()
		}
		if d.antifreeze {
			return abortReason(uint8(ata.ReasonAntifreezeBlocked))
		}
		if d.san == sd0Idle || d.san == sd4Succeeded {
			d.san = sd1Frozen
		}
		return result{}
	default:
		return abortReason(uint8(ata.ReasonUnsupported))
	}
	switch {
	case tf.LBA != key:
		return abortReason(0)
	case d.san == sd1Frozen:
		return abortReason(uint8(ata.ReasonFrozen))
	case d.locked:
		return abort()
	}
	d.san, d.completed = sd2InProgress, false
	d.failureMode = tf.Count&0x10 != 0
	d.op = &simdisk.Operation{Disk: d.disk, Effects: effects, Steps: d.cfg.Steps, Lying: d.cfg.Lying}
	return result{}
}

func (d *Drive) sanitizeStatus(tf ata.TaskFile) result {
	if d.san == sd3Failed {
		if tf.Count&1 != 0 && d.failureMode {
			d.san = sd0Idle
			return okWith(0, 0)
		}
		if d.cfg.FailureReasonZero {
			return abortReason(0)
		}
		return abortReason(uint8(ata.ReasonUnsuccessful))
	}
	var count uint16
	var lba uint64 = 0xffff
	if d.completed {
		count |= 0x8000
	}
	if d.san == sd2InProgress {
		count |= 0x4000
		lba = uint64(d.op.Progress())
	}
	if d.san == sd1Frozen {
		count |= 0x2000
	}
	if d.antifreeze {
		count |= 0x1000
	}
	if d.san == sd4Succeeded {
		d.san = sd0Idle
	}
	if d.san == sd2InProgress && !d.cfg.ManualProgress {
		_ = d.advance(1)
	}
	return okWith(count, lba)
}

func (d *Drive) advance(n int) error {
	for ; n > 0 && d.san == sd2InProgress; n-- {
		if d.failAt > 0 && d.op.Done+1 >= d.failAt {
			d.san, d.op, d.failAt = sd3Failed, nil, 0
			return nil
		}
		done, err := d.op.Advance(1)
		if err != nil {
			return err
		}
		if done {
			d.san, d.completed, d.op = sd4Succeeded, true, nil
		}
	}
	return nil
}

func (d *Drive) identify(data []byte) {
	w := make([]uint16, 256)
	str := func(first, words int, s string) {
		b := pad(s, 2*words)
		for i := 0; i < words; i++ {
			w[first+i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
	}
	w[0] = 0x0040
	str(10, 10, d.cfg.Serial)
	str(23, 4, d.cfg.Firmware)
	str(27, 20, d.cfg.Model)
	w[47] = 0x8010
	w[49] = 0x0300
	w[53] = 0x0006
	sectors := d.curMax + 1
	s28 := min(sectors, 0x0fffffff)
	w[60], w[61] = uint16(s28), uint16(s28>>16)
	if d.cfg.Sanitize {
		w[59] |= 0x1000 | 0x0800
		if d.cfg.Crypto {
			w[59] |= 0x2000
		}
		if d.cfg.Overwrite {
			w[59] |= 0x4000
		}
		if d.cfg.Block {
			w[59] |= 0x8000
		}
		if d.cfg.Antifreeze {
			w[59] |= 0x0400
		}
	}
	if d.cfg.TRIM {
		w[69] |= 0x4000 | 0x0020
		w[169] = 1
	}
	w[80] = 0x07f0
	w[82] = 0x0400 // HPA
	w[83] = 0x4000 | 0x0400 | 0x0800
	w[84] = 0x4000
	w[85] = 0x0400
	w[86] = 0x0400 | 0x0800
	w[87] = 0x4000
	w[119] = 0x4000
	w[86] |= 0x8000 // words 119-120 valid (ACS-3 §7.12.7.41)
	w[120] = 0x4000
	if d.cfg.AMA {
		// ACS-3: Accessible Max Address instead of HPA and DCO.
		w[82] &^= 0x0400
		w[85] &^= 0x0400
		w[83] &^= 0x0800
		w[86] &^= 0x0800
		w[119] |= 0x0100
	}
	if !d.cfg.NoSecurity {
		w[82] |= 0x0002
		if d.enabled {
			w[85] |= 0x0002
		}
		w[89], w[90] = d.cfg.EraseTime, d.cfg.EnhancedEraseTime
		w[92] = d.masterID
		w[128] = 0x0001
		if d.enabled {
			w[128] |= 0x0002
		}
		if d.locked {
			w[128] |= 0x0004
		}
		if d.frozen {
			w[128] |= 0x0008
		}
		if d.attempts == 0 {
			w[128] |= 0x0010
		}
		if d.cfg.EnhancedErase {
			w[128] |= 0x0020
		}
		if d.maximum {
			w[128] |= 0x0100
		}
	}
	if d.cfg.WWN != 0 {
		w[84] |= 0x0100
		w[87] |= 0x0100
		w[108], w[109], w[110], w[111] = uint16(d.cfg.WWN>>48), uint16(d.cfg.WWN>>32), uint16(d.cfg.WWN>>16), uint16(d.cfg.WWN)
	}
	w[100], w[101], w[102], w[103] = uint16(sectors), uint16(sectors>>16), uint16(sectors>>32), uint16(sectors>>48)
	w[106] = 0x4000
	w[217] = d.cfg.RotationRate
	if d.cfg.NoRotationRate {
		w[217] = 0
	}
	for i, v := range w {
		binary.LittleEndian.PutUint16(data[2*i:], v)
	}
	checksum(data)
}

// checksum sets word 255: signature 0xA5 and the byte that makes the 512
// bytes sum to zero (ACS-4 §7.12.7.93).
func checksum(b []byte) {
	b[510] = 0xa5
	var s uint8
	for _, c := range b[:511] {
		s += c
	}
	b[511] = -s
}
