// Package nvmesim is an NVMe controller simulator behind nvme.Transport: it
// decodes the admin commands lethe sends (Identify, Get Log Page, Format
// NVM, Sanitize) and implements the NVMe Base 2.0 sanitize state machine
// (§8.21) and Format NVM over simdisk media, so the data effects of an
// erase are real and can be read back.
//
// # Knobs (Config)
//
//   - SANICAP, FNA, OACS: the capability bits the controller advertises and
//     enforces (Sanitize actions outside SANICAP fail with Invalid Field,
//     Format SES=2 without FNA bit 2 fails with Invalid Field, no OACS bit 1
//     means Format NVM is an Invalid Opcode). SANICAP 0 makes Sanitize an
//     Invalid Opcode and log 0x81 an Invalid Field, both with DNR, as QEMU.
//   - Steps: how many progress steps a sanitize takes. By default every Get
//     Log Page 0x81 first reports the current state and then advances one
//     step, so a poller always sees "in progress" at least once;
//     ManualProgress stops that and only Advance moves the operation.
//   - FailAtStep: the sanitize fails when it reaches that step (the medium
//     is then partly erased). With AUSE=0 the controller enters the
//     restricted failure mode (only a new sanitize clears it; Exit Failure
//     Mode is refused with Sanitize Failed), with AUSE=1 the unrestricted
//     one (Exit Failure Mode accepted). Other commands and host I/O fail with
//     Sanitize Failed. FailAtStep applies to the next sanitize only
//     (FailNextSanitize sets it again).
//   - InitialState / InitialSCDW10: the log an idle controller reports on
//     power-up. InitialState = nvme.SanitizeSuccess is the trap "never
//     sanitized by us but the log says success".
//   - Lying: Sanitize and Format are accepted and report success, progress
//     included, but the medium is untouched (and not deallocated).
//   - IgnoreSES: Format behaves as QEMU: any SES is accepted without
//     checking FNA, and every format zeroes the namespace.
//   - DeallocateDespiteNDAS: a sanitize with No-Deallocate After Sanitize
//     still deallocates, and the log reports SSTAT 100b (NVMe Base 2.1
//     Figure 291). Without it a no-deallocate sanitize leaves the media
//     readable and reports 001b, as any success.
//   - Estimates: ETO/ETBE/ETCE (and ND variants) reported in the log.
//   - Namespaces: size, LBA formats, current format, DLFEAT read behaviour,
//     Shared (NMIC bit 0), Detached (allocated in the NVM subsystem but
//     not attached to this controller: listed by Identify CNS 10h, not by
//     CNS 02h; every sanitize still erases it), IdentifyError (Identify
//     Namespace fails with that status).
//   - CMIC: the controller capabilities the subsystem advertises (bit 1:
//     more than one controller). Identify CNS 10h answers only with OACS
//     bit 3 (Namespace Management).
//   - FormatSteps, FPI: a Format NVM that runs in the background in steps
//     (host I/O refused meanwhile), reported by Identify Namespace's
//     Format Progress Indicator when FPI is set; each Identify Namespace
//     of a formatting namespace reports, then advances one step. Without
//     CancelNext the command waits for all the steps.
//   - CancelNext(opcode): the controller carries out the next command with
//     that opcode, but the host gets nvme.ErrCancelled, as the Linux ioctl
//     returns EINTR for a request that timed out and was aborted or was
//     outstanding across a controller reset.
//
// PowerCycle simulates power loss: an in-progress sanitize resumes from
// where it was (NVMe: a sanitize continues after a reset or power loss),
// the failure modes persist.
package nvmesim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/simdisk"
)

// NamespaceConfig describes one namespace.
type NamespaceConfig struct {
	// SizeBytes is the namespace capacity (default 16 MiB); it must be a
	// multiple of every LBA format's block size.
	SizeBytes int64
	// Formats is the LBA format table (default 512 B and 4 KiB, no metadata).
	Formats []nvme.LBAFormat
	// Format is the current format index.
	Format uint8
	// DLFEAT read behaviour (default 1: deallocated blocks read 0x00; 2
	// reads 0xFF).
	DLFEAT uint8
	// Disk, when set, is used as the medium (its block size must match the
	// format); otherwise an in-memory disk is created.
	Disk *simdisk.Disk
	// Shared sets NMIC bit 0: the namespace may be attached to other
	// controllers.
	Shared bool
	// Detached: allocated but not attached to this controller.
	Detached bool
	// IdentifyError, when non-zero, is the status Identify Namespace of
	// this namespace fails with.
	IdentifyError uint16
}

// Config configures a Controller.
type Config struct {
	Serial, Model, Firmware string
	SANICAP                 uint32
	FNA                     uint8
	OACS                    uint16
	CMIC                    uint8
	Namespaces              []NamespaceConfig // default: one

	// DeallocateDespiteNDAS: see the package comment.
	DeallocateDespiteNDAS bool
	// FormatSteps > 0 runs Format NVM in the background in that many
	// steps; FPI reports its progress in Identify Namespace.
	FormatSteps int
	FPI         bool

	Steps          int // sanitize steps, default 4
	ManualProgress bool
	FailAtStep     int // 0: no failure

	InitialState  nvme.SanitizeState
	InitialSCDW10 uint32

	Lying     bool
	IgnoreSES bool

	// BlockEraseFill is what block erase leaves in the cells (default 0x00;
	// visible with no-deallocate or RawReadAt).
	BlockEraseFill byte

	ETO, ETBE, ETCE, ETOND, ETBEND, ETCEND nvme.Estimate
}

// Default capability values.
const (
	SANICAPAll   = 0x7 // crypto, block, overwrite
	OACSFormat   = 0x2
	OACSNSMgmt   = 0x8 // Namespace Management: Identify CNS 10h answers
	CMICMultiCtl = 0x2 // the NVM subsystem may contain two or more controllers
)

// Namespace is one simulated namespace.
type Namespace struct {
	ID       uint32
	Formats  []nvme.LBAFormat
	Format   uint8
	DLFEAT   uint8
	Disk     *simdisk.Disk
	Shared   bool
	Detached bool
	idErr    uint16
	ctrl     *Controller
	// fmtOp is a background format of this namespace.
	fmtOp *simdisk.Operation
}

// ErrBusy is returned by host I/O while a sanitize runs or has failed.
var ErrBusy = errors.New("nvmesim: namespace not accessible (sanitize in progress or failed)")

// ReadAt is a host read (what the OS block device would return).
func (n *Namespace) ReadAt(p []byte, off int64) (int, error) {
	if err := n.ctrl.ioAllowed(n); err != nil {
		return 0, err
	}
	return n.Disk.ReadAt(p, off)
}

// WriteAt is a host write.
func (n *Namespace) WriteAt(p []byte, off int64) (int, error) {
	if err := n.ctrl.ioAllowed(n); err != nil {
		return 0, err
	}
	return n.Disk.WriteAt(p, off)
}

type failMode int

const (
	noFailure failMode = iota
	restrictedFailure
	unrestrictedFailure
)

// Controller is the simulator. It is safe for concurrent use.
type Controller struct {
	mu   sync.Mutex
	cfg  Config
	ns   []*Namespace
	cmds []nvme.Command

	sstat       nvme.SanitizeState
	scdw10      uint32
	passes      uint8
	op          *simdisk.Operation   // the running sanitize (namespace 1)
	others      []*simdisk.Operation // the same sanitize on the other namespaces
	opAUSE      bool
	failAt      int
	fail        failMode
	seed        uint64
	gdeAllowed  bool // a sanitize completed and nothing was written since
	powerCycles int
	cancel      map[uint8]bool // opcodes whose next command the host sees cancelled
}

// New builds a controller.
func New(cfg Config) (*Controller, error) {
	if cfg.Serial == "" {
		cfg.Serial = "SIM0001"
	}
	if cfg.Model == "" {
		cfg.Model = "lethe nvmesim"
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "1.0"
	}
	if cfg.Steps <= 0 {
		cfg.Steps = 4
	}
	if len(cfg.Namespaces) == 0 {
		cfg.Namespaces = []NamespaceConfig{{}}
	}
	c := &Controller{cfg: cfg, sstat: cfg.InitialState, scdw10: cfg.InitialSCDW10, failAt: cfg.FailAtStep, seed: 1}
	for i, nc := range cfg.Namespaces {
		if nc.SizeBytes == 0 {
			nc.SizeBytes = 16 << 20
		}
		if len(nc.Formats) == 0 {
			nc.Formats = []nvme.LBAFormat{{LBADS: 9}, {LBADS: 12, RP: 1}}
		}
		if int(nc.Format) >= len(nc.Formats) {
			return nil, fmt.Errorf("nvmesim: namespace %d: format %d of %d", i+1, nc.Format, len(nc.Formats))
		}
		if nc.DLFEAT == 0 {
			nc.DLFEAT = 1
		}
		for j, f := range nc.Formats {
			if f.BlockSize() == 0 || nc.SizeBytes%int64(f.BlockSize()) != 0 {
				return nil, fmt.Errorf("nvmesim: namespace %d: size %d does not fit LBA format %d", i+1, nc.SizeBytes, j)
			}
		}
		bs := int(nc.Formats[nc.Format].BlockSize())
		d := nc.Disk
		if d == nil {
			d = simdisk.NewMem(nc.SizeBytes, bs)
		} else if d.BlockSize() != bs {
			return nil, fmt.Errorf("nvmesim: namespace %d: disk block size %d, format says %d", i+1, d.BlockSize(), bs)
		}
		if nc.DLFEAT&0x7 == 2 {
			d.SetDeallocFill(0xff)
		}
		c.ns = append(c.ns, &Namespace{ID: uint32(i + 1), Formats: nc.Formats, Format: nc.Format, DLFEAT: nc.DLFEAT, Disk: d,
			Shared: nc.Shared, Detached: nc.Detached, idErr: nc.IdentifyError, ctrl: c})
	}
	return c, nil
}

// MustNew is New for tests with a known-good config.
func MustNew(cfg Config) *Controller {
	c, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return c
}

// Namespace returns namespace nsid (1-based), or nil.
func (c *Controller) Namespace(nsid uint32) *Namespace {
	if nsid == 0 || int(nsid) > len(c.ns) {
		return nil
	}
	return c.ns[nsid-1]
}

// attached returns namespace nsid if it is attached to this controller.
func (c *Controller) attached(nsid uint32) *Namespace {
	if ns := c.Namespace(nsid); ns != nil && !ns.Detached {
		return ns
	}
	return nil
}

// Commands returns a copy of every admin command received, in order.
func (c *Controller) Commands() []nvme.Command {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]nvme.Command(nil), c.cmds...)
}

// CommandLog returns every admin command received, one line each
// ("Sanitize CDW10=0x00000204"), for tests that read the three
// simulators alike.
func (c *Controller) CommandLog() []string {
	var out []string
	for _, cmd := range c.Commands() {
		name := map[uint8]string{nvme.OpIdentify: "Identify", nvme.OpGetLogPage: "Get Log Page", nvme.OpFormatNVM: "Format NVM", nvme.OpSanitize: "Sanitize"}[cmd.Opcode]
		if name == "" {
			name = fmt.Sprintf("opcode 0x%02x", cmd.Opcode)
		}
		out = append(out, fmt.Sprintf("%s NSID=0x%x CDW10=0x%08x CDW11=0x%08x", name, cmd.NSID, cmd.CDW10, cmd.CDW11))
	}
	return out
}

// CancelNext makes the next command with this opcode be carried out by the
// controller while the host gets nvme.ErrCancelled.
func (c *Controller) CancelNext(opcode uint8) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel == nil {
		c.cancel = map[uint8]bool{}
	}
	c.cancel[opcode] = true
}

// Medium is namespace 1's medium.
func (c *Controller) Medium() *simdisk.Disk { return c.ns[0].Disk }

// Formatting reports whether a background format runs.
func (c *Controller) Formatting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ns := range c.ns {
		if ns.fmtOp != nil {
			return true
		}
	}
	return false
}

// Advance moves a running sanitize (or background format) n steps.
func (c *Controller) Advance(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ns := range c.ns {
		if err := ns.advanceFormat(n); err != nil {
			return err
		}
	}
	return c.advance(n)
}

func (n *Namespace) advanceFormat(steps int) error {
	if n.fmtOp == nil {
		return nil
	}
	done, err := n.fmtOp.Advance(steps)
	if err != nil {
		return err
	}
	if done {
		n.fmtOp = nil
		return n.Disk.ApplyAll(simdisk.Deallocate{})
	}
	return nil
}

// FailNextSanitize makes the next (or the running) sanitize fail at step.
func (c *Controller) FailNextSanitize(step int) {
	c.mu.Lock()
	c.failAt = step
	c.mu.Unlock()
}

// PowerCycle simulates a power loss and restart. The sanitize state is
// non-volatile (NVMe Base 2.0 §8.21: a sanitize interrupted by a reset or
// power loss resumes), so a running sanitize keeps its progress and
// continues, and a failure mode persists. It returns how many power cycles
// the controller has seen.
func (c *Controller) PowerCycle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.powerCycles++
}

// PowerCycles returns how many power cycles the controller has seen.
func (c *Controller) PowerCycles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.powerCycles
}

// Sanitizing reports whether a sanitize is running.
func (c *Controller) Sanitizing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.op != nil
}

func (c *Controller) ioAllowed(n *Namespace) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.op != nil || c.fail != noFailure || n.fmtOp != nil {
		return ErrBusy
	}
	return nil
}

// advance runs n steps of the current operation (c.mu held).
func (c *Controller) advance(n int) error {
	for ; n > 0 && c.op != nil; n-- {
		if c.failAt > 0 && c.op.Done+1 >= c.failAt {
			c.sstat, c.op, c.others = nvme.SanitizeFailed, nil, nil
			c.fail = restrictedFailure
			if c.opAUSE {
				c.fail = unrestrictedFailure
			}
			c.failAt = 0
			return nil
		}
		for _, o := range c.others {
			if _, err := o.Advance(1); err != nil {
				return err
			}
		}
		done, err := c.op.Advance(1)
		if err != nil {
			return err
		}
		if done {
			c.finishSanitize()
		}
	}
	return nil
}

// finishSanitize ends a successful sanitize. NVMe Base 2.1 Figure 291:
// SSTAT 001b is any successful completion (with NDAS honoured, the media
// stays readable); 100b says NDAS was requested and the controller
// deallocated anyway.
func (c *Controller) finishSanitize() {
	noDealloc := c.scdw10&(1<<9) != 0
	dealloc := !noDealloc || c.cfg.DeallocateDespiteNDAS
	if !c.cfg.Lying && dealloc {
		for _, ns := range c.ns {
			_ = ns.Disk.ApplyAll(simdisk.Deallocate{})
		}
	}
	c.sstat = nvme.SanitizeSuccess
	if noDealloc && c.cfg.DeallocateDespiteNDAS {
		c.sstat = nvme.SanitizeSuccessDeallocated
	}
	c.op, c.others = nil, nil
	c.fail = noFailure
	c.gdeAllowed = true
	for _, ns := range c.ns {
		ns.Disk.ClearWritten()
	}
}

func status(code uint16, dnr bool) *nvme.Completion {
	s := nvme.Status(code)
	if dnr {
		s |= 0x4000
	}
	return &nvme.Completion{Status: s}
}

var ok = &nvme.Completion{}

// Admin implements nvme.Transport.
func (c *Controller) Admin(ctx context.Context, cmd *nvme.Command) (*nvme.Completion, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := *cmd
	rec.Data = nil
	c.cmds = append(c.cmds, rec)
	cpl, err := c.admin(cmd)
	if err == nil && c.cancel[cmd.Opcode] {
		delete(c.cancel, cmd.Opcode)
		return nil, fmt.Errorf("nvmesim: %w", nvme.ErrCancelled)
	}
	return cpl, err
}

func (c *Controller) admin(cmd *nvme.Command) (*nvme.Completion, error) {
	switch cmd.Opcode {
	case nvme.OpIdentify:
		return c.identify(cmd), nil
	case nvme.OpGetLogPage:
		return c.getLog(cmd)
	}
	// Everything else is refused while a sanitize runs (NVMe Base 2.0
	// §8.21.1: only Identify, Get Log Page and a few others proceed).
	if c.op != nil {
		return status(nvme.StatusSanitizeInProgress, false), nil
	}
	switch cmd.Opcode {
	case nvme.OpSanitize:
		for _, ns := range c.ns {
			if ns.fmtOp != nil {
				return status(nvme.StatusFormatInProgress, false), nil
			}
		}
		return c.sanitize(cmd)
	case nvme.OpFormatNVM:
		if c.fail != noFailure {
			return status(nvme.StatusSanitizeFailed, false), nil
		}
		for _, ns := range c.ns {
			if ns.fmtOp != nil {
				return status(nvme.StatusFormatInProgress, false), nil
			}
		}
		return c.format(cmd)
	}
	if c.fail != noFailure {
		return status(nvme.StatusSanitizeFailed, false), nil
	}
	return status(nvme.StatusInvalidOpcode, true), nil
}

func (c *Controller) identify(cmd *nvme.Command) *nvme.Completion {
	if len(cmd.Data) < nvme.IdentifyDataBytes {
		return status(nvme.StatusInvalidField, true)
	}
	b := cmd.Data[:nvme.IdentifyDataBytes]
	clear(b)
	switch uint8(cmd.CDW10) {
	case nvme.CNSController:
		binary.LittleEndian.PutUint16(b[0:], 0x1b36) // QEMU's PCI vendor, a harmless value
		b[76] = c.cfg.CMIC
		putASCII(b[4:24], c.cfg.Serial)
		putASCII(b[24:64], c.cfg.Model)
		putASCII(b[64:72], c.cfg.Firmware)
		binary.LittleEndian.PutUint32(b[80:], 0x00020000) // VER 2.0
		binary.LittleEndian.PutUint16(b[256:], c.cfg.OACS)
		b[261] = 0x02 // LPA: extended data for Get Log Page
		binary.LittleEndian.PutUint32(b[328:], c.cfg.SANICAP)
		binary.LittleEndian.PutUint32(b[516:], uint32(len(c.ns)))
		binary.LittleEndian.PutUint16(b[520:], 0x0004) // ONCS: Dataset Management
		b[524] = c.cfg.FNA
		var total uint64
		for _, ns := range c.ns {
			total += uint64(ns.Disk.Size())
		}
		binary.LittleEndian.PutUint64(b[280:], total)
		putASCII(b[768:1024], "nqn.2026-01.org.lethe:nvmesim:"+c.cfg.Serial)
	case nvme.CNSNamespace:
		ns := c.Namespace(cmd.NSID)
		if ns == nil {
			if cmd.NSID == nvme.BroadcastNSID {
				return ok // common capabilities: leave zeros
			}
			return status(nvme.StatusInvalidNamespace, true)
		}
		if ns.idErr != 0 {
			return status(ns.idErr, false)
		}
		if ns.Detached {
			return ok // an inactive NSID: zero filled (NVMe Base 2.0 §5.17.2.1)
		}
		blocks := uint64(ns.Disk.Blocks())
		binary.LittleEndian.PutUint64(b[0:], blocks)
		binary.LittleEndian.PutUint64(b[8:], blocks)
		binary.LittleEndian.PutUint64(b[16:], blocks)
		b[25] = uint8(len(ns.Formats) - 1)
		b[26] = ns.Format&0xf | (ns.Format>>4)<<5
		b[33] = ns.DLFEAT
		if ns.Shared {
			b[30] = 0x01
		}
		if c.cfg.FPI {
			b[32] = 0x80
			if ns.fmtOp != nil {
				b[32] |= uint8(100 - int(ns.fmtOp.Progress())*100/65536)
			}
		}
		binary.LittleEndian.PutUint64(b[48:], uint64(ns.Disk.Size()))
		// NGUID/EUI64 derived from serial and NSID so they are stable.
		for i := range 16 {
			b[104+i] = byte(i) ^ byte(ns.ID) ^ hashByte(c.cfg.Serial, i)
		}
		for i := range 8 {
			b[120+i] = hashByte(c.cfg.Serial, 16+i) ^ byte(ns.ID)
		}
		for i, f := range ns.Formats {
			binary.LittleEndian.PutUint32(b[128+4*i:], uint32(f.MS)|uint32(f.LBADS)<<16|uint32(f.RP&3)<<24)
		}
	case nvme.CNSActiveNSList, nvme.CNSAllocatedNSList:
		if uint8(cmd.CDW10) == nvme.CNSAllocatedNSList && c.cfg.OACS&OACSNSMgmt == 0 {
			return status(nvme.StatusInvalidField, true)
		}
		o := 0
		for _, ns := range c.ns {
			if ns.ID > cmd.NSID && (!ns.Detached || uint8(cmd.CDW10) == nvme.CNSAllocatedNSList) {
				binary.LittleEndian.PutUint32(b[o:], ns.ID)
				o += 4
			}
		}
	default:
		return status(nvme.StatusInvalidField, true)
	}
	// Report first, then move: a poller of the format progress always
	// sees the state it caused.
	if uint8(cmd.CDW10) == nvme.CNSNamespace && !c.cfg.ManualProgress {
		if ns := c.Namespace(cmd.NSID); ns != nil {
			_ = ns.advanceFormat(1)
		}
	}
	return ok
}

func (c *Controller) getLog(cmd *nvme.Command) (*nvme.Completion, error) {
	lid := uint8(cmd.CDW10)
	numd := (cmd.CDW10>>16 | (cmd.CDW11&0xffff)<<16) + 1
	if int(numd)*4 > len(cmd.Data) {
		return status(nvme.StatusInvalidField, true), nil
	}
	if lid != nvme.LogSanitizeStatus {
		return status(nvme.StatusInvalidLogPage, true), nil
	}
	if c.cfg.SANICAP&SANICAPAll == 0 {
		return status(nvme.StatusInvalidField, true), nil // QEMU: 0x4002
	}
	page := make([]byte, nvme.SanitizeLogBytes)
	sprog := uint16(0xffff)
	if c.op != nil {
		sprog = c.op.Progress()
	}
	binary.LittleEndian.PutUint16(page[0:], sprog)
	st := c.sstat
	if c.op != nil {
		st = nvme.SanitizeInProgress
	}
	sstat := uint16(st) | uint16(c.passes&0x1f)<<3
	if c.gdeAllowed && !c.anyWritten() && !c.cfg.Lying {
		sstat |= 0x100
	}
	binary.LittleEndian.PutUint16(page[2:], sstat)
	binary.LittleEndian.PutUint32(page[4:], c.scdw10)
	for i, e := range []nvme.Estimate{c.cfg.ETO, c.cfg.ETBE, c.cfg.ETCE, c.cfg.ETOND, c.cfg.ETBEND, c.cfg.ETCEND} {
		if e == 0 {
			e = nvme.NotReported
		}
		binary.LittleEndian.PutUint32(page[8+4*i:], uint32(e))
	}
	off := uint64(cmd.CDW12) | uint64(cmd.CDW13)<<32
	clear(cmd.Data[:numd*4])
	if off < uint64(len(page)) {
		copy(cmd.Data[:numd*4], page[off:])
	}
	// Report first, then move: a poller always sees the state it caused.
	if c.op != nil && !c.cfg.ManualProgress {
		if err := c.advance(1); err != nil {
			return nil, err
		}
	}
	return ok, nil
}

func (c *Controller) anyWritten() bool {
	for _, ns := range c.ns {
		if ns.Disk.Written() {
			return true
		}
	}
	return false
}

func (c *Controller) sanitize(cmd *nvme.Command) (*nvme.Completion, error) {
	caps := c.cfg.SANICAP
	if caps&SANICAPAll == 0 {
		return status(nvme.StatusInvalidOpcode, true), nil // QEMU: 0x4001
	}
	cdw10 := cmd.CDW10
	act := nvme.SanitizeAction(cdw10 & 0x7)
	ause := cdw10&(1<<3) != 0
	ndas := cdw10&(1<<9) != 0
	var effects []simdisk.Effect
	c.seed++
	switch act {
	case nvme.SanitizeExitFailureMode:
		switch c.fail {
		case restrictedFailure:
			return status(nvme.StatusSanitizeFailed, false), nil
		case unrestrictedFailure:
			c.fail = noFailure
		}
		return ok, nil
	case nvme.SanitizeCryptoErase:
		if caps&0x1 == 0 {
			return status(nvme.StatusInvalidField, true), nil
		}
		effects = []simdisk.Effect{simdisk.Scramble{Seed: c.seed}}
	case nvme.SanitizeBlockErase:
		if caps&0x2 == 0 {
			return status(nvme.StatusInvalidField, true), nil
		}
		effects = []simdisk.Effect{simdisk.Pattern{Bytes: []byte{c.cfg.BlockEraseFill}}}
	case nvme.SanitizeOverwrite:
		if caps&0x4 == 0 {
			return status(nvme.StatusInvalidField, true), nil
		}
		passes := int(cdw10>>4) & 0xf
		if passes == 0 {
			passes = 16
		}
		for p := range passes {
			pat := simdisk.Uint32LE(cmd.CDW11)
			pat.Inverted = cdw10&(1<<8) != 0 && p%2 == 1
			effects = append(effects, pat)
		}
		c.passes = uint8(passes)
	default:
		return status(nvme.StatusInvalidField, true), nil
	}
	if ndas && caps&(1<<29) != 0 {
		return status(nvme.StatusInvalidField, true), nil // NDI set
	}
	if act != nvme.SanitizeOverwrite {
		c.passes = 0
	}
	c.scdw10 = cdw10
	c.opAUSE = ause
	c.gdeAllowed = false
	c.fail = noFailure
	// The sanitize acts on the whole NVM subsystem: one operation per
	// namespace, advanced together; the first one reports progress.
	c.op, c.others = nil, nil
	for _, ns := range c.ns {
		op := &simdisk.Operation{Disk: ns.Disk, Effects: effects, Steps: c.cfg.Steps, Lying: c.cfg.Lying}
		if c.op == nil {
			c.op = op
		} else {
			c.others = append(c.others, op)
		}
	}
	return ok, nil
}

func (c *Controller) format(cmd *nvme.Command) (*nvme.Completion, error) {
	if c.cfg.OACS&OACSFormat == 0 {
		return status(nvme.StatusInvalidOpcode, true), nil
	}
	cdw10 := cmd.CDW10
	lbaf := uint8(cdw10&0xf) | uint8(cdw10>>12&0x3)<<4
	ses := uint8(cdw10>>9) & 0x7
	var targets []*Namespace
	switch {
	case cmd.NSID == nvme.BroadcastNSID:
		if c.cfg.FNA&0x8 != 0 {
			return status(nvme.StatusInvalidField, true), nil
		}
		targets = c.ns
	case c.attached(cmd.NSID) == nil:
		return status(nvme.StatusInvalidNamespace, true), nil
	case c.cfg.FNA&0x1 != 0 || ses != 0 && c.cfg.FNA&0x2 != 0:
		targets = c.ns // FNA: format / secure erase applies to all namespaces of the subsystem
	default:
		targets = []*Namespace{c.Namespace(cmd.NSID)}
	}
	if !c.cfg.IgnoreSES {
		switch {
		case ses > 2:
			return status(nvme.StatusInvalidField, true), nil
		case ses == 2 && c.cfg.FNA&0x4 == 0:
			return status(nvme.StatusInvalidField, true), nil
		}
	}
	for _, ns := range targets {
		if int(lbaf) >= len(ns.Formats) || ns.Formats[lbaf].BlockSize() == 0 {
			return status(nvme.StatusInvalidFormat, true), nil
		}
	}
	if c.cfg.Lying {
		return ok, nil
	}
	c.seed++
	for _, ns := range targets {
		if lbaf != ns.Format {
			if err := ns.Disk.SetBlockSize(int(ns.Formats[lbaf].BlockSize())); err != nil {
				return nil, err
			}
			ns.Format = lbaf
		}
		var e simdisk.Effect
		switch {
		case c.cfg.IgnoreSES:
			e = simdisk.Zero
		case ses == 1:
			e = simdisk.Zero
		case ses == 2:
			e = simdisk.Scramble{Seed: c.seed}
		}
		if c.cfg.FormatSteps > 0 && e != nil {
			// A format that takes time: it runs in steps, and the
			// command waits for them unless the host's request is
			// cancelled (CancelNext), when it goes on in the background.
			ns.fmtOp = &simdisk.Operation{Disk: ns.Disk, Effects: []simdisk.Effect{e}, Steps: c.cfg.FormatSteps}
			continue
		}
		if e != nil {
			if err := ns.Disk.ApplyAll(e); err != nil {
				return nil, err
			}
		}
		if ses != 0 || c.cfg.IgnoreSES {
			if err := ns.Disk.ApplyAll(simdisk.Deallocate{}); err != nil {
				return nil, err
			}
		}
	}
	if c.cfg.FormatSteps > 0 && !c.cancel[nvme.OpFormatNVM] {
		for _, ns := range targets {
			if err := ns.advanceFormat(c.cfg.FormatSteps); err != nil {
				return nil, err
			}
		}
	}
	return ok, nil
}

func putASCII(b []byte, s string) {
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
}

func hashByte(s string, i int) byte {
	h := byte(0x5a)
	for j := 0; j < len(s); j++ {
		h = h*31 + s[j]
	}
	return h ^ byte(i*17)
}
