package wipe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/probe"
	"github.com/lethe-project/lethe/internal/devices/scsi"
)

// DefaultStateDir is where firmware jobs are persisted unless
// FirmwareOptions.StateDir says otherwise.
const DefaultStateDir = "/var/lib/lethe"

// FirmwareOptions are the settings of firmware techniques, shared by the
// probe (what is available) and Execute (how it runs).
type FirmwareOptions struct {
	// StateDir holds the persisted job state of firmware operations (a
	// sanitize outlives lethe and power loss; an ATA erase needs its
	// temporary password back after an interruption). Default
	// DefaultStateDir.
	StateDir string
	// AllowUnfreeze lets lethe suspend and resume the machine to unfreeze
	// an ATA drive the BIOS froze (--allow-unfreeze).
	AllowUnfreeze bool
	// Unfreezer does the suspend/resume cycle (default SystemSuspend).
	Unfreezer Unfreezer
	// Open opens the drive's command transport (default probe.Open);
	// tests put a simulator behind it.
	Open func(*devices.Device) (*probe.Handle, error)
	// PollInterval is the pause between status polls of a running
	// operation (default 1 s).
	PollInterval time.Duration
	// AllNamespaces lets an NVMe Sanitize, or a Format NVM whose FNA
	// makes it act on the whole NVM subsystem, run where it erases more
	// than the namespace being wiped, or namespaces lethe cannot
	// enumerate (--all-namespaces). The record lists every namespace.
	AllNamespaces bool
	// UnrestrictedExit sends sanitize commands with AUSE (NVMe, SCSI) or
	// FAILURE MODE (ATA) set, so a failed sanitize can be left with Exit
	// Failure Mode and lethe does so. The default is the restricted mode:
	// a drive whose sanitize failed stays unusable until a sanitize
	// succeeds, so a half-erased drive cannot slip back into service.
	UnrestrictedExit bool
	// Notify receives messages for the operator while a firmware
	// operation runs (e.g. that the drive keeps sanitizing after Ctrl-C).
	Notify func(string)
	// Proof sizes the canary/fingerprint proof; ProofSeed (32 bytes)
	// fixes its positions (random when nil).
	Proof     ProofOptions
	ProofSeed []byte
}

func (o FirmwareOptions) stateDir() string {
	if o.StateDir == "" {
		return DefaultStateDir
	}
	return o.StateDir
}

func (o FirmwareOptions) open(d *devices.Device) (*probe.Handle, error) {
	if o.Open != nil {
		return o.Open(d)
	}
	return probe.Open(d)
}

// Probe asks the drive which firmware techniques it supports, with the
// default options. It only reads: it never sends a command that changes
// data or security state.
func Probe(ctx context.Context, d *devices.Device) Capabilities {
	return ProbeWith(ctx, d, FirmwareOptions{})
}

// ProbeWith is Probe with options: AllowUnfreeze makes frozen ATA
// techniques available (Execute unfreezes first), StateDir lets a drive
// locked by an interrupted lethe run count as recoverable.
func ProbeWith(ctx context.Context, d *devices.Device, opt FirmwareOptions) Capabilities {
	if d.Kind != devices.KindDisk {
		return Capabilities{}
	}
	h, err := opt.open(d)
	var ue *probe.UnsupportedError
	switch {
	case errors.As(err, &ue):
		return Capabilities{Notes: []string{fmt.Sprintf("no command pass-through for a %s device: only a host overwrite applies", d.Transport)}}
	case err != nil:
		return Capabilities{Interface: interfaceOf(d), ProbeError: fmt.Sprintf("open the command transport: %v", err)}
	}
	defer h.Close()
	info, err := h.Probe(ctx)
	if err != nil {
		return Capabilities{Interface: interfaceOf(d), ProbeError: err.Error()}
	}
	job, _ := loadJob(opt.stateDir(), d)
	return CapabilitiesOf(d, info, opt, job != nil && job.Password != "")
}

// interfaceOf guesses the command set from the transport when the probe
// itself failed, so the plan can say which techniques it could not check.
func interfaceOf(d *devices.Device) string {
	switch d.Transport {
	case devices.TransportNVMe:
		return "nvme"
	case devices.TransportSATA:
		return "ata"
	case devices.TransportSAS, devices.TransportSCSI:
		return "scsi"
	}
	return ""
}

// CapabilitiesOf maps what a probe read into techniques, each available or
// not with the reason, and the notes a certificate should carry (capacity
// comparison, hidden areas, frozen and failure states). ownPassword says
// the state directory holds the password of an interrupted lethe run, so a
// drive locked by it can be recovered.
func CapabilitiesOf(d *devices.Device, in *probe.Info, opt FirmwareOptions, ownPassword bool) Capabilities {
	c := Capabilities{Notes: append([]string(nil), in.Notes...)}
	switch in.Kind {
	case probe.KindNVMe:
		c.Interface = "nvme"
		nvmeCaps(&c, d, in.NVMe, opt, in.Unknown)
	case probe.KindATA:
		c.Interface = "ata"
		ataCaps(&c, d, in.ATA, opt, ownPassword, in.Unknown)
	case probe.KindSCSI:
		c.Interface = "scsi"
		scsiCaps(&c, d, in.SCSI)
	}
	// A host overwrite reaches only what the OS sees.
	ow := Capability{Technique: TechOverwrite, Available: true}
	for _, cc := range c.Capacity {
		if !cc.Match {
			c.Notes = append(c.Notes, "capacity: "+cc.Note)
			if cc.OSBytes < cc.DeviceBytes {
				ow.Available, ow.Reason = false, cc.Note
			}
		}
	}
	switch {
	case c.Hidden != nil && c.Hidden.Hidden() > 0:
		c.Notes = append(c.Notes, "hidden areas: "+c.Hidden.String())
		ow.Available = false
		ow.Reason = fmt.Sprintf("%s: a host overwrite cannot reach them (a firmware technique removes them first)", c.Hidden.String())
	case c.Hidden != nil && c.Hidden.Unknown():
		// Not read is unknown, never none: the overwrite may run, but its
		// certificate cannot claim the whole medium (it says PARTIAL).
		c.Notes = append(c.Notes, "hidden areas: "+c.Hidden.String())
		if ow.Available {
			ow.Reason = "the drive's native capacity is unknown (" + c.Hidden.String() + "): a host overwrite cannot be certified as covering the whole medium, so its certificate says PARTIAL"
		}
	}
	if !ow.Available || ow.Reason != "" {
		c.Items = append(c.Items, ow)
	}
	return c
}

func addCap(c *Capabilities, id TechniqueID, available bool, reason string, est time.Duration) {
	c.Items = append(c.Items, Capability{Technique: id, Available: available, Reason: reason, Estimate: est})
}

func nvmeCaps(c *Capabilities, d *devices.Device, n *probe.NVMeInfo, opt FirmwareOptions, unknown map[string]string) {
	ctrl, ns, log := n.Controller, n.Namespace(), n.SanitizeLog
	sc, fa := ctrl.Sanitize(), ctrl.Format()
	if ns != nil {
		c.Capacity = append(c.Capacity, checkCapacity("NVMe Identify Namespace (NSZE x LBA data size)", d.SizeBytes, int64(ns.SizeBytes())))
	}
	// Every Sanitize acts on the whole NVM subsystem (NVMe Base 2.0
	// §5.24, §8.21): lethe must account for every namespace it erases.
	sanScope := nvmeScope(n, true, opt.AllNamespaces)
	noDealloc := !sc.NoDeallocInhibited
	for _, s := range []struct {
		id   TechniqueID
		act  nvme.SanitizeAction
		has  bool
		what string
	}{
		{TechNVMeSanitizeCrypto, nvme.SanitizeCryptoErase, sc.Crypto, "Crypto Erase (SANICAP bit 0)"},
		{TechNVMeSanitizeBlock, nvme.SanitizeBlockErase, sc.BlockErase, "Block Erase (SANICAP bit 1)"},
		{TechNVMeSanitizeOverw, nvme.SanitizeOverwrite, sc.Overwrite, "Overwrite (SANICAP bit 2)"},
	} {
		switch {
		case unknown[probe.UnknownSANICAP] != "":
			addCap(c, s.id, false, "SANICAP unknown: "+unknown[probe.UnknownSANICAP], 0)
		case !sc.Any():
			addCap(c, s.id, false, "the controller supports no Sanitize action (SANICAP = 0)", 0)
		case !s.has:
			addCap(c, s.id, false, fmt.Sprintf("SANICAP 0x%08x: %s not supported", ctrl.SANICAP, s.what), 0)
		case log == nil:
			addCap(c, s.id, false, "Sanitize is advertised but the Sanitize Status log (0x81) cannot be read: lethe could not observe the operation", 0)
		case !sanScope.allowed:
			addCap(c, s.id, false, "a sanitize erases the whole NVM subsystem: "+sanScope.why, 0)
		default:
			req := nvme.SanitizeRequest{Action: s.act, NoDeallocate: noDealloc, OverwritePasses: 1}
			est, _ := log.Estimate(req, sc.NODMMAS)
			why := "no-deallocate (NDAS): read-back shows the medium, not deallocated blocks"
			if !noDealloc {
				why = "the controller inhibits no-deallocate (SANICAP NDI): it deallocates afterwards, so read-back shows what deallocated blocks return"
			}
			if sanScope.why != "" {
				why += "; " + sanScope.why
			}
			addCap(c, s.id, true, why, est)
		}
	}
	for _, f := range []struct {
		id  TechniqueID
		ses uint8
	}{{TechNVMeFormatCrypto, nvme.SESCrypto}, {TechNVMeFormatUserData, nvme.SESUserData}} {
		// FNA bit 0 (any format) or bit 1 (a secure erase) makes the
		// format act on every namespace of the NVM subsystem.
		all := formatAll(ctrl, f.ses)
		scope := nvmeScope(n, all, opt.AllNamespaces)
		switch {
		case unknown[probe.UnknownOACS] != "":
			addCap(c, f.id, false, "Format NVM support unknown (OACS): "+unknown[probe.UnknownOACS], 0)
		case !ctrl.SupportsFormat():
			addCap(c, f.id, false, "Format NVM not supported (OACS bit 1 clear)", 0)
		case unknown[probe.UnknownFNA] != "":
			addCap(c, f.id, false, "FNA unknown: "+unknown[probe.UnknownFNA]+"; without it lethe cannot tell whether a format erases every namespace or supports crypto erase", 0)
		case f.ses == nvme.SESCrypto && !fa.CryptoErase:
			addCap(c, f.id, false, "FNA bit 2 clear: the controller does not advertise cryptographic erase for Format NVM (some, like QEMU, accept SES=2 anyway; lethe never relies on that)", 0)
		case ns == nil:
			addCap(c, f.id, false, "no namespace: probe a namespace block device", 0)
		case !scope.allowed && all:
			addCap(c, f.id, false, fmt.Sprintf("FNA 0x%02x: the format acts on the whole NVM subsystem: %s", ctrl.FNA, scope.why), 0)
		case !scope.allowed:
			addCap(c, f.id, false, scope.why, 0)
		default:
			why := fmt.Sprintf("namespace %d, keeping LBA format %d (%d-byte blocks)", n.NSID, ns.FormatIndex(), ns.BlockSize())
			if all {
				why = fmt.Sprintf("the whole NVM subsystem (FNA 0x%02x), keeping LBA format %d", ctrl.FNA, ns.FormatIndex())
			}
			if scope.why != "" {
				why += "; " + scope.why
			}
			addCap(c, f.id, true, why, 0)
		}
	}
	if log != nil {
		switch log.Status {
		case nvme.SanitizeInProgress:
			c.Notes = append(c.Notes, fmt.Sprintf("a sanitize is running (%.1f%%, SANACT %s)", log.Progress*100, log.Action()))
		case nvme.SanitizeFailed:
			c.Notes = append(c.Notes, "the controller is in sanitize failure mode from an earlier operation: only a sanitize (or Exit Failure Mode after AUSE=1) clears it")
		}
	}
}

// formatAll reports whether a Format NVM with secure erase setting ses acts
// on every namespace of the NVM subsystem (FNA bit 0; bit 1 for a secure
// erase; NVMe Base 2.0 Figure 275).
func formatAll(ctrl *nvme.Controller, ses uint8) bool {
	fa := ctrl.Format()
	return fa.AllNamespaces || ses != nvme.SESNone && fa.SecureEraseAllNamespaces
}

// ataRotational reads IDENTIFY word 217: 1 is solid state, 0401h-FFFEh
// rpm; 0 (not reported) and reserved values give nil, which the planner
// treats as flash, the weaker category.
func ataRotational(rate uint16) *bool {
	switch {
	case rate == 1:
		f := false
		return &f
	case rate >= 0x401 && rate < 0xffff:
		t := true
		return &t
	}
	return nil
}

func ataCaps(c *Capabilities, d *devices.Device, a *probe.ATAInfo, opt FirmwareOptions, ownPassword bool, unknown map[string]string) {
	id := a.Identify
	c.Rotational = ataRotational(id.RotationRate)
	if c.Rotational == nil {
		c.Notes = append(c.Notes, fmt.Sprintf("the drive does not report its rotation rate (IDENTIFY word 217 = 0x%04x): categories follow flash media, the weaker ones", id.RotationRate))
	}
	c.Capacity = append(c.Capacity, checkCapacity("ATA IDENTIFY (user addressable sectors)", d.SizeBytes, int64(id.Sectors)*int64(id.LogicalSectorSize)))
	if a.Capacity != nil {
		c.Capacity = append(c.Capacity, checkCapacity("READ CAPACITY(16) through the SATL", d.SizeBytes, int64(a.Capacity.Bytes())))
	}
	h := hiddenFromProbe(a)
	if why := unknown[probe.UnknownHidden]; why != "" && a.HPA == nil {
		h.NativeMaxUnknown, h.NativeMaxSource = true, ""
		c.Notes = append(c.Notes, "hidden-area feature sets unknown: "+why)
	}
	c.Hidden = &h
	sec := id.Security
	locked := sec.Supported && sec.Locked
	lockReason := "locked (SEC4) by a user password lethe did not set: unlock it with the owner's password first"
	ownLock := "locked by an interrupted lethe run: lethe unlocks it and disables its recorded password first"
	ss := a.SanitizeStatus
	for _, s := range []struct {
		id   TechniqueID
		has  bool
		what string
	}{
		{TechATASanitizeCrypto, id.Sanitize.Crypto, "CRYPTO SCRAMBLE EXT (IDENTIFY word 59 bit 13)"},
		{TechATASanitizeBlock, id.Sanitize.BlockErase, "BLOCK ERASE EXT (IDENTIFY word 59 bit 15)"},
		{TechATASanitizeOverw, id.Sanitize.Overwrite, "OVERWRITE EXT (IDENTIFY word 59 bit 14)"},
	} {
		switch {
		case unknown[probe.UnknownWord59] != "":
			addCap(c, s.id, false, "SANITIZE support unknown: "+unknown[probe.UnknownWord59], 0)
		case !id.Sanitize.Supported:
			addCap(c, s.id, false, "SANITIZE feature set not supported (IDENTIFY word 59 bit 12)", 0)
		case !s.has:
			addCap(c, s.id, false, s.what+" not supported", 0)
		case locked && !ownPassword:
			addCap(c, s.id, false, lockReason, 0)
		case ss != nil && ss.Frozen && !opt.AllowUnfreeze:
			addCap(c, s.id, false, "sanitize frozen (SD1: the BIOS sent SANITIZE FREEZE LOCK): rerun with --allow-unfreeze (lethe suspends to RAM and resumes) or power-cycle the drive", 0)
		default:
			var why []string
			if locked {
				why = append(why, ownLock)
			}
			if ss != nil && ss.Frozen {
				why = append(why, "frozen: lethe suspends and resumes the machine to unfreeze it (--allow-unfreeze)")
			}
			if ss != nil && ss.Failed {
				why = append(why, "the drive is in the sanitize failure state (SD3) from an earlier operation: a successful sanitize clears it")
			}
			addCap(c, s.id, true, joinReasons(why), 0)
		}
	}
	if ss != nil && ss.InProgress {
		c.Notes = append(c.Notes, fmt.Sprintf("a sanitize is running (%.1f%%)", ss.Progress*100))
	}
	for _, e := range []struct {
		id       TechniqueID
		enhanced bool
		est      time.Duration
	}{{TechATASecurityEnhanced, true, sec.EnhancedEraseTime}, {TechATASecurityNormal, false, sec.EraseTime}} {
		switch {
		case unknown[probe.UnknownSecurity] != "":
			addCap(c, e.id, false, "Security feature set support and state unknown: "+unknown[probe.UnknownSecurity], 0)
		case !sec.Supported:
			addCap(c, e.id, false, "Security feature set not supported (IDENTIFY word 82 bit 1)", 0)
		case e.enhanced && unknown[probe.UnknownWord128] != "":
			addCap(c, e.id, false, "enhanced security erase support unknown: "+unknown[probe.UnknownWord128], 0)
		case e.enhanced && !sec.EnhancedErase:
			addCap(c, e.id, false, "enhanced security erase not supported (IDENTIFY word 128 bit 5)", 0)
		case sec.CountExpired:
			addCap(c, e.id, false, "the password attempt counter expired (IDENTIFY word 128 bit 4): power-cycle the drive first", 0)
		case locked && !ownPassword:
			addCap(c, e.id, false, lockReason, 0)
		case sec.Frozen && !opt.AllowUnfreeze:
			addCap(c, e.id, false, "security frozen (SEC2/SEC6, IDENTIFY word 128 bit 3): the BIOS froze the drive at boot; rerun with --allow-unfreeze (lethe suspends to RAM and resumes) or hot-plug the drive", 0)
		default:
			var why []string
			switch {
			case locked:
				why = append(why, ownLock)
			case sec.Enabled:
				why = append(why, "a user password is set but the drive is unlocked (SEC5): lethe replaces it with its own temporary password")
			}
			if sec.Frozen {
				why = append(why, "frozen: lethe suspends and resumes the machine to unfreeze it (--allow-unfreeze)")
			}
			if e.est > 0 {
				w := "word 89"
				if e.enhanced {
					w = "word 90"
				}
				why = append(why, fmt.Sprintf("the drive estimates %s (IDENTIFY %s)", e.est, w))
			}
			addCap(c, e.id, true, joinReasons(why), e.est)
		}
	}
}

func hiddenFromProbe(a *probe.ATAInfo) HiddenState {
	return hiddenState(a.Identify, a.HPA, a.DCO)
}

// noHiddenFeature is the record when the drive supports neither way of
// hiding sectors at the end of the medium.
const noHiddenFeature = "the drive supports neither the HPA nor the Accessible Max Address feature set (IDENTIFY word 82 bit 10, word 119 bit 8) and does not answer READ NATIVE MAX ADDRESS EXT"

// hiddenState is the hidden-area state from IDENTIFY and what the drive
// answered: hpa nil means the native max could not be read, which is
// unknown when IDENTIFY advertises the HPA or Accessible Max Address
// feature set; dco nil with the DCO advertised is unknown too.
func hiddenState(id *ata.Identify, hpa *ata.HPA, dco *ata.DCO) HiddenState {
	h := HiddenState{}
	if id.Sectors > 0 {
		h.CurrentMaxLBA = id.Sectors - 1
	}
	switch {
	case hpa != nil:
		h.CurrentMaxLBA, h.NativeMaxLBA, h.NativeMaxSource = hpa.CurrentMaxLBA, hpa.NativeMaxLBA, hpa.Method
		h.HPASectors = hpa.HiddenSectors()
	case id.HPASupported || id.AMASupported:
		h.NativeMaxUnknown = true
	default:
		h.NativeMaxSource = noHiddenFeature
	}
	switch {
	case dco != nil:
		h.DCOMaxLBA = dco.MaxLBA
		native := max(h.NativeMaxLBA, h.CurrentMaxLBA)
		if dco.MaxLBA > native {
			h.DCOSectors = dco.MaxLBA - native
		}
	case id.DCOSupported:
		h.DCOUnknown = true
	}
	return h
}

func scsiCaps(c *Capabilities, d *devices.Device, s *probe.SCSIInfo) {
	switch {
	case s.BDC != nil && s.BDC.RotationKnown:
		r := !s.BDC.NonRotating
		c.Rotational = &r
	case s.BDC != nil:
		c.Notes = append(c.Notes, fmt.Sprintf("the device does not report its rotation rate (VPD B1h MEDIUM ROTATION RATE 0x%04x): categories follow flash media, the weaker ones", s.BDC.RotationRate))
	default:
		c.Notes = append(c.Notes, "the device has no Block Device Characteristics page (VPD B1h): its rotation is unknown, so categories follow flash media, the weaker ones")
	}
	if s.Capacity != nil {
		c.Capacity = append(c.Capacity, checkCapacity("READ CAPACITY(16)", d.SizeBytes, int64(s.Capacity.Bytes())))
	}
	sup := s.Sanitize
	for _, a := range []struct {
		id  TechniqueID
		get func(*scsi.SanitizeSupport) scsi.Support
		sa  string
		act scsi.SanitizeAction
	}{
		{TechSCSISanitizeCrypto, func(s *scsi.SanitizeSupport) scsi.Support { return s.CryptoErase }, "CRYPTOGRAPHIC ERASE", scsi.SanitizeCryptoErase},
		{TechSCSISanitizeBlock, func(s *scsi.SanitizeSupport) scsi.Support { return s.BlockErase }, "BLOCK ERASE", scsi.SanitizeBlockErase},
		{TechSCSISanitizeOverw, func(s *scsi.SanitizeSupport) scsi.Support { return s.Overwrite }, "OVERWRITE", scsi.SanitizeOverwrite},
	} {
		switch {
		case sup == nil:
			addCap(c, a.id, false, "REPORT SUPPORTED OPERATION CODES gave no answer (see the notes): SANITIZE support is unknown, and lethe does not send it blind", 0)
		case !a.get(sup).Supported():
			addCap(c, a.id, false, fmt.Sprintf("REPORT SUPPORTED OPERATION CODES: SANITIZE %s %s", a.sa, a.get(sup)), 0)
		default:
			// The estimate is the device's nominal processing time from
			// its command timeouts descriptor (SPC-5 §6.35.4), if given.
			addCap(c, a.id, true, "", sup.Timeouts[a.act.TimeoutKey()].Nominal)
		}
	}
	// FORMAT UNIT must keep the drive's protection information type
	// (READ CAPACITY(16) PROT_EN/P_TYPE -> FMTPINFO/PROTECTION FIELD
	// USAGE, SBC-4 §5.4.2), or lethe does not send it.
	_, _, piErr := scsi.ProtectionFields(s.Capacity)
	pi := ""
	if s.Capacity != nil && s.Capacity.ProtectionType() > 0 {
		pi = fmt.Sprintf("keeps protection information type %d", s.Capacity.ProtectionType())
	}
	switch {
	case piErr != nil:
		addCap(c, TechSCSIFormatUnit, false, "FORMAT UNIT would change the drive's protection information: "+piErr.Error(), 0)
	case sup == nil:
		addCap(c, TechSCSIFormatUnit, true, joinReasons(append([]string{"support not reported (no REPORT SUPPORTED OPERATION CODES); FORMAT UNIT is mandatory in SBC-4; the proof shows whether it erased anything"}, nonEmpty(pi)...)), 0)
	case !sup.FormatUnit.Supported() && sup.FormatUnit != 0:
		addCap(c, TechSCSIFormatUnit, false, "REPORT SUPPORTED OPERATION CODES: FORMAT UNIT "+sup.FormatUnit.String(), 0)
	default:
		addCap(c, TechSCSIFormatUnit, true, pi, sup.Timeouts[scsi.TimeoutKeyFormatUnit].Nominal)
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func joinReasons(rs []string) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += "; "
		}
		out += r
	}
	return out
}
