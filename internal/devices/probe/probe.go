// Package probe opens the right command transport for a disk (NVMe admin
// passthrough, or SG_IO carrying ATA PASS-THROUGH or SCSI commands) and
// reads what the drive says about itself: identity, capacity, and the
// erase capabilities the planner chooses from. It only reads; it never
// sends a command that changes the drive (the one exception is the SATL's
// D_SENSE mode bit, which changes how errors are reported, not the drive).
package probe

import (
	"context"
	"errors"
	"fmt"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/scsi"
)

// Kind is the command set a drive answers.
type Kind string

// Kinds.
const (
	KindNVMe Kind = "nvme"
	KindATA  Kind = "ata"  // ATA behind a SATL (libata, SAS HBA, USB bridge)
	KindSCSI Kind = "scsi" // SCSI without ATA pass-through
)

// Info is what a probe found.
type Info struct {
	Kind Kind      `json:"kind"`
	NVMe *NVMeInfo `json:"nvme,omitempty"`
	ATA  *ATAInfo  `json:"ata,omitempty"`
	SCSI *SCSIInfo `json:"scsi,omitempty"`
	// Notes are non-fatal problems, e.g. "Sanitize Status log: Invalid
	// Field in Command": the capability is then unknown or absent.
	Notes []string `json:"notes,omitempty"`
	// Unknown names the fields the source could not give, with why
	// (captured data replayed without a device: smartctl does not print
	// SANICAP, for example). A field named here reads as zero in the
	// parsed structures and must not be taken as "not supported". The
	// real probe never sets it.
	Unknown map[string]string `json:"unknown,omitempty"`
}

// Fields Info.Unknown names.
const (
	UnknownSANICAP  = "SANICAP"                    // NVMe Identify Controller bytes 331:328
	UnknownFNA      = "FNA"                        // NVMe Identify Controller byte 524
	UnknownCMIC     = "CMIC"                       // NVMe Identify Controller byte 76
	UnknownWord59   = "IDENTIFY w59"               // ATA sanitize feature set
	UnknownWord128  = "IDENTIFY w128"              // ATA security: enhanced erase, erase times (words 89/90)
	UnknownHidden   = "hidden areas"               // ATA HPA/AMA/DCO feature sets (words 82, 83, 119)
	UnknownOACS     = "OACS"                       // NVMe Identify Controller bytes 257:256
	UnknownSecurity = "IDENTIFY w82/w128 security" // ATA Security feature set and state
)

// IsUnknown returns why field is unknown, or "".
func (in *Info) IsUnknown(field string) string { return in.Unknown[field] }

// NVMeInfo is the NVMe side.
type NVMeInfo struct {
	Controller *nvme.Controller `json:"controller"`
	// NSID is the namespace of the probed block device (0 when the
	// controller character device was probed).
	NSID uint32 `json:"nsid"`
	// Namespaces are the active namespaces that Identify Namespace
	// described (NSZE > 0).
	Namespaces map[uint32]*nvme.Namespace `json:"namespaces"`
	// Active lists the active NSIDs (Identify CNS 02h, or 1..NN on NVMe
	// 1.0 controllers without it).
	Active []uint32 `json:"active,omitempty"`
	// Allocated lists every allocated namespace of the NVM subsystem,
	// attached here or not (Identify CNS 10h); nil when the controller
	// has no Namespace Management (OACS bit 3) or refused the question.
	Allocated []uint32 `json:"allocated,omitempty"`
	// AllocatedError says why Allocated is nil although the controller
	// advertises Namespace Management.
	AllocatedError string `json:"allocatedError,omitempty"`
	// Unidentified lists active NSIDs whose Identify Namespace failed:
	// namespaces lethe knows exist but cannot describe.
	Unidentified []uint32 `json:"unidentified,omitempty"`
	// SanitizeLog is nil when the controller has no Sanitize Status log.
	SanitizeLog *nvme.SanitizeLog `json:"sanitizeLog,omitempty"`
}

// Namespace returns the probed namespace, or nil.
func (n *NVMeInfo) Namespace() *nvme.Namespace { return n.Namespaces[n.NSID] }

// ATAInfo is the ATA side.
type ATAInfo struct {
	Identify *ata.Identify `json:"identify"`
	// HPA compares IDENTIFY's current max with the native max address
	// (GET NATIVE MAX ADDRESS EXT on an Accessible Max Address drive,
	// else READ NATIVE MAX ADDRESS EXT); nil when it could not be read,
	// and NativeMaxError says why.
	HPA            *ata.HPA `json:"hpa,omitempty"`
	NativeMaxError string   `json:"nativeMaxError,omitempty"`
	// DCO is nil when the drive has no DCO or refused DCO IDENTIFY
	// (DCOError says which).
	DCO      *ata.DCO `json:"dco,omitempty"`
	DCOError string   `json:"dcoError,omitempty"`
	// Capacity is the SATL's READ CAPACITY(16), to compare with IDENTIFY
	// and the OS view (old HBAs cap at 2^32 LBAs).
	Capacity *scsi.Capacity `json:"capacity,omitempty"`
	// SanitizeStatus is the drive's current sanitize state; by itself it
	// proves nothing about a past erase.
	SanitizeStatus *ata.SanitizeStatus `json:"sanitizeStatus,omitempty"`
}

// SCSIInfo is the SCSI side.
type SCSIInfo struct {
	Inquiry  *scsi.InquiryData                `json:"inquiry"`
	Serial   string                           `json:"serial,omitempty"`
	IDs      []scsi.Designator                `json:"ids,omitempty"`
	BDC      *scsi.BlockDeviceCharacteristics `json:"blockDeviceCharacteristics,omitempty"`
	Capacity *scsi.Capacity                   `json:"capacity,omitempty"`
	// Sanitize is nil when the device does not implement REPORT SUPPORTED
	// OPERATION CODES: support is then unknown, not absent.
	Sanitize *scsi.SanitizeSupport `json:"sanitize,omitempty"`
}

// NVMe probes an NVMe controller over t. nsid is the namespace of interest
// (0: none in particular); every active namespace is identified.
func NVMe(ctx context.Context, t nvme.Transport, nsid uint32) (*Info, error) {
	in := &Info{Kind: KindNVMe}
	c, err := nvme.IdentifyController(ctx, t)
	if err != nil {
		return nil, err
	}
	n := &NVMeInfo{Controller: c, NSID: nsid, Namespaces: map[uint32]*nvme.Namespace{}}
	in.NVMe = n
	ids, err := nvme.ActiveNamespaces(ctx, t)
	if err != nil {
		// NVMe 1.0 controllers lack CNS 2: fall back to 1..NN.
		in.note("active namespace list: %v", err)
		ids = nil
		for i := uint32(1); i <= c.NN && i <= 1024; i++ {
			ids = append(ids, i)
		}
	}
	n.Active = ids
	for _, id := range ids {
		ns, err := nvme.IdentifyNamespace(ctx, t, id)
		if err != nil {
			// It exists (it is in the active list) but cannot be
			// described: an erase of the subsystem must account for it.
			in.note("namespace %d: %v", id, err)
			n.Unidentified = append(n.Unidentified, id)
			continue
		}
		if ns.NSZE > 0 {
			n.Namespaces[id] = ns
		}
	}
	// Format with FNA bits 0/1 and every Sanitize act on the whole NVM
	// subsystem, including namespaces not attached to this controller:
	// with Namespace Management, CNS 10h lists them all.
	if c.SupportsNamespaceMgmt() {
		if all, err := nvme.AllocatedNamespaces(ctx, t); err == nil {
			n.Allocated = all
		} else {
			n.AllocatedError = err.Error()
			in.note("allocated namespace list: %v", err)
		}
	}
	if nsid != 0 && n.Namespaces[nsid] == nil {
		return nil, fmt.Errorf("namespace %d is not active on controller %s", nsid, c.Serial)
	}
	if l, err := nvme.GetSanitizeLog(ctx, t); err == nil {
		n.SanitizeLog = l
	} else {
		in.note("Sanitize Status log: %v", err)
	}
	return in, nil
}

// SCSI probes a drive behind a SCSI transport: as ATA when it answers ATA
// PASS-THROUGH (IDENTIFY DEVICE), else as SCSI. tryATA false skips the
// ATA attempt (SAS disks).
func SCSI(ctx context.Context, t scsi.Transport, tryATA bool) (*Info, error) {
	if tryATA {
		in, err := probeATA(ctx, t)
		if err == nil {
			return in, nil
		}
		if !ata.IsPassThroughUnsupported(err) {
			return nil, err
		}
	}
	return probeSCSI(ctx, t)
}

func probeATA(ctx context.Context, t scsi.Transport) (*Info, error) {
	in := &Info{Kind: KindATA}
	dev := ata.New(t)
	id, err := dev.Identify(ctx)
	if err != nil && !errors.Is(err, ata.ErrChecksum) {
		return nil, err
	}
	if err != nil {
		in.note("IDENTIFY DEVICE: %v", err)
	}
	a := &ATAInfo{Identify: id}
	in.ATA = a
	// Descriptor sense so 48-bit registers come back whole (see
	// scsi.EnsureDescriptorSense); a SATL that refuses keeps fixed format.
	if err := dev.PreferDescriptorSense(ctx); err != nil {
		in.note("descriptor sense: %v", err)
	}
	// The native max address: asked whatever IDENTIFY advertises (the
	// command only reads; QEMU's AHCI disk answers READ NATIVE MAX ADDRESS
	// EXT without advertising the HPA feature set). A drive that
	// advertises neither HPA nor Accessible Max Address and refuses
	// cannot have a hidden area of that kind; one that advertises a
	// feature set and refuses leaves the native capacity unknown.
	if h, err := dev.ReadHPA(ctx, id); err == nil {
		a.HPA = &h
	} else {
		a.NativeMaxError = err.Error()
		if id.HPASupported || id.AMASupported {
			in.note("native max address: %v", err)
		}
	}
	if id.DCOSupported {
		if d, err := dev.DCOIdentify(ctx); err == nil {
			a.DCO = d
		} else {
			a.DCOError = err.Error()
			in.note("DCO: %v", err)
		}
	}
	if c, err := scsi.ReadCapacity16(ctx, t); err == nil {
		a.Capacity = c
	} else {
		in.note("READ CAPACITY(16): %v", err)
	}
	if id.Sanitize.Supported {
		if s, err := dev.SanitizeStatus(ctx, false); err == nil {
			a.SanitizeStatus = s
		} else {
			in.note("SANITIZE STATUS EXT: %v", err)
		}
	}
	return in, nil
}

func probeSCSI(ctx context.Context, t scsi.Transport) (*Info, error) {
	in := &Info{Kind: KindSCSI}
	inq, err := scsi.Inquiry(ctx, t)
	if err != nil {
		return nil, err
	}
	s := &SCSIInfo{Inquiry: inq}
	in.SCSI = s
	pages := map[uint8]bool{}
	if p, err := scsi.VPD(ctx, t, scsi.VPDSupportedPages); err == nil {
		list, _ := scsi.ParseSupportedPages(p)
		for _, pg := range list {
			pages[pg] = true
		}
	} else {
		in.note("VPD pages: %v", err)
	}
	if pages[scsi.VPDUnitSerial] {
		if p, err := scsi.VPD(ctx, t, scsi.VPDUnitSerial); err == nil {
			s.Serial, _ = scsi.ParseUnitSerial(p)
		}
	}
	if pages[scsi.VPDDeviceID] {
		if p, err := scsi.VPD(ctx, t, scsi.VPDDeviceID); err == nil {
			s.IDs, _ = scsi.ParseDeviceID(p)
		}
	}
	if pages[scsi.VPDBlockDeviceChar] {
		if p, err := scsi.VPD(ctx, t, scsi.VPDBlockDeviceChar); err == nil {
			s.BDC, _ = scsi.ParseBlockDeviceCharacteristics(p)
		}
	}
	if c, err := scsi.ReadCapacity16(ctx, t); err == nil {
		s.Capacity = c
	} else {
		in.note("READ CAPACITY(16): %v", err)
	}
	if sup, err := scsi.ReportSanitizeSupport(ctx, t); err == nil {
		s.Sanitize = sup
	} else {
		in.note("REPORT SUPPORTED OPERATION CODES: %v", err)
	}
	return in, nil
}

func (in *Info) note(format string, args ...any) {
	in.Notes = append(in.Notes, fmt.Sprintf(format, args...))
}
