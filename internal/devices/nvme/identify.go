package nvme

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// Identify CNS values (NVMe Base 2.0 §5.17.1, Figure 273).
const (
	CNSNamespace    = 0x00
	CNSController   = 0x01
	CNSActiveNSList = 0x02
	// CNSAllocatedNSList lists every allocated namespace of the NVM
	// subsystem, attached to this controller or not (controllers that
	// support Namespace Management, OACS bit 3).
	CNSAllocatedNSList = 0x10
	IdentifyDataBytes  = 4096
)

// IdentifyCmd builds Identify (opcode 0x06): CNS in CDW10 7:0, 4096 bytes.
func IdentifyCmd(cns uint8, nsid uint32, buf []byte) *Command {
	return &Command{Opcode: OpIdentify, NSID: nsid, CDW10: uint32(cns), Data: buf}
}

// Controller is the Identify Controller data structure (NVMe Base 2.0
// §5.17.2.1, Figure 275), the fields lethe uses.
type Controller struct {
	VID, SSVID uint16
	Serial     string // SN, bytes 4-23
	Model      string // MN, bytes 24-63
	Firmware   string // FR, bytes 64-71
	IEEE       uint32 // OUI, bytes 73-75
	// CMIC (byte 76): bit 0 the NVM subsystem may have more than one
	// port, bit 1 more than one controller, bit 2 this is an SR-IOV
	// virtual function's controller, bit 3 ANA reporting.
	CMIC    uint8
	CNTLID  uint16
	Version uint32 // VER, bytes 80-83
	OACS    uint16 // bytes 256-257
	FRMW    uint8  // byte 260
	LPA     uint8  // byte 261
	SANICAP uint32 // bytes 328-331
	NN      uint32 // bytes 516-519: number of namespaces
	ONCS    uint16 // bytes 520-521
	FNA     uint8  // byte 524
	VWC     uint8  // byte 525
	// TNVMCAP and UNVMCAP are 128-bit byte counts; the low 64 bits here
	// (no drive is larger), HighNonZero set otherwise.
	TNVMCAP, UNVMCAP uint64
	CapHighNonZero   bool
	SubNQN           string // bytes 768-1023
	Raw              []byte
}

// SupportsFormat reports OACS bit 1: Format NVM supported.
func (c *Controller) SupportsFormat() bool { return c.OACS&0x0002 != 0 }

// SupportsFirmware reports OACS bit 2: Firmware Commit/Download supported.
func (c *Controller) SupportsFirmware() bool { return c.OACS&0x0004 != 0 }

// SupportsNamespaceMgmt reports OACS bit 3.
func (c *Controller) SupportsNamespaceMgmt() bool { return c.OACS&0x0008 != 0 }

// MultiController reports CMIC bit 1: the NVM subsystem may contain two
// or more controllers, so namespaces this controller cannot see may exist
// (NVMe Base 2.0 Figure 275).
func (c *Controller) MultiController() bool { return c.CMIC&0x02 != 0 }

// MultiPort reports CMIC bit 0: the NVM subsystem may have two or more ports.
func (c *Controller) MultiPort() bool { return c.CMIC&0x01 != 0 }

// VirtualFunction reports CMIC bit 2: this controller belongs to an SR-IOV
// virtual function.
func (c *Controller) VirtualFunction() bool { return c.CMIC&0x04 != 0 }

// SupportsDeallocate reports ONCS bit 2: Dataset Management (deallocate).
func (c *Controller) SupportsDeallocate() bool { return c.ONCS&0x0004 != 0 }

// SanitizeCaps decodes SANICAP (NVMe Base 2.0 Figure 275, bytes 328-331).
type SanitizeCaps struct {
	Crypto, BlockErase, Overwrite bool // CES bit 0, BES bit 1, OWS bit 2
	// NoDeallocInhibited (NDI, bit 29): the controller refuses No-Deallocate
	// After Sanitize, so media is always deallocated after a sanitize.
	NoDeallocInhibited bool
	// NODMMAS (bits 31:30): 0 not reported, 1 media not additionally
	// modified after a no-deallocate sanitize, 2 media additionally
	// modified (e.g. the controller writes a pattern).
	NODMMAS uint8
}

// Any reports whether any sanitize action is supported.
func (s SanitizeCaps) Any() bool { return s.Crypto || s.BlockErase || s.Overwrite }

// Sanitize returns the decoded SANICAP.
func (c *Controller) Sanitize() SanitizeCaps {
	return SanitizeCaps{
		Crypto:             c.SANICAP&0x1 != 0,
		BlockErase:         c.SANICAP&0x2 != 0,
		Overwrite:          c.SANICAP&0x4 != 0,
		NoDeallocInhibited: c.SANICAP&(1<<29) != 0,
		NODMMAS:            uint8(c.SANICAP >> 30),
	}
}

// FormatAttrs decodes FNA (byte 524).
type FormatAttrs struct {
	// AllNamespaces (bit 0): a format of one namespace formats them all.
	AllNamespaces bool
	// SecureEraseAllNamespaces (bit 1): a secure erase applies to all.
	SecureEraseAllNamespaces bool
	// CryptoErase (bit 2): Format NVM with SES=2 is supported.
	CryptoErase bool
	// NoBroadcastFormat (bit 3, NVMe 2.0): NSID FFFFFFFFh is not accepted.
	NoBroadcastFormat bool
}

// Format returns the decoded FNA.
func (c *Controller) Format() FormatAttrs {
	return FormatAttrs{
		AllNamespaces:            c.FNA&0x1 != 0,
		SecureEraseAllNamespaces: c.FNA&0x2 != 0,
		CryptoErase:              c.FNA&0x4 != 0,
		NoBroadcastFormat:        c.FNA&0x8 != 0,
	}
}

// ParseController parses Identify Controller data.
func ParseController(b []byte) (*Controller, error) {
	if len(b) < IdentifyDataBytes {
		return nil, fmt.Errorf("identify controller data: %d bytes, need %d", len(b), IdentifyDataBytes)
	}
	le16 := func(o int) uint16 { return binary.LittleEndian.Uint16(b[o:]) }
	le32 := func(o int) uint32 { return binary.LittleEndian.Uint32(b[o:]) }
	le64 := func(o int) uint64 { return binary.LittleEndian.Uint64(b[o:]) }
	c := &Controller{
		VID:      le16(0),
		SSVID:    le16(2),
		Serial:   asciiField(b[4:24]),
		Model:    asciiField(b[24:64]),
		Firmware: asciiField(b[64:72]),
		IEEE:     uint32(b[73]) | uint32(b[74])<<8 | uint32(b[75])<<16,
		CMIC:     b[76],
		CNTLID:   le16(78),
		Version:  le32(80),
		OACS:     le16(256),
		FRMW:     b[260],
		LPA:      b[261],
		TNVMCAP:  le64(280),
		UNVMCAP:  le64(296),
		SANICAP:  le32(328),
		NN:       le32(516),
		ONCS:     le16(520),
		FNA:      b[524],
		VWC:      b[525],
		SubNQN:   asciiField(b[768:1024]),
		Raw:      append([]byte(nil), b[:IdentifyDataBytes]...),
	}
	c.CapHighNonZero = le64(288) != 0 || le64(304) != 0
	return c, nil
}

// LBAFormat is one LBA Format Data Structure (NVMe Base 2.0 Figure 276).
type LBAFormat struct {
	MS    uint16 // metadata bytes per LBA
	LBADS uint8  // LBA data size, a power of two (9 = 512 B)
	RP    uint8  // relative performance, 0 best
}

// BlockSize returns 2^LBADS, or 0 for an unused entry.
func (f LBAFormat) BlockSize() uint32 {
	if f.LBADS < 9 || f.LBADS > 31 {
		return 0
	}
	return 1 << f.LBADS
}

// Namespace is the Identify Namespace data structure (NVM Command Set
// Specification 1.0 §4.1.5.1, Figure 97), the fields lethe uses.
type Namespace struct {
	NSZE, NCAP, NUSE uint64 // in logical blocks
	NSFEAT           uint8
	NLBAF            uint8 // number of LBA formats, 0-based
	FLBAS            uint8
	MC               uint8
	DPC, DPS         uint8
	// NMIC (byte 30) bit 0: the namespace may be attached to two or more
	// controllers (a shared namespace).
	NMIC uint8
	// FPI (byte 32): bit 7 the Format Progress Indicator is supported,
	// bits 6:0 the percentage of the namespace that remains to be
	// formatted.
	FPI uint8
	// DLFEAT (byte 33) bits 2:0: what deallocated blocks read as: 0 not
	// reported, 1 all zeros, 2 all ones (0xFF).
	DLFEAT  uint8
	NVMCAP  uint64 // low 64 bits of bytes 48-63
	NGUID   [16]byte
	EUI64   [8]byte
	Formats []LBAFormat // NLBAF+1 entries (at most 64)
	Raw     []byte
}

// FormatIndex is the current LBA format: FLBAS bits 3:0, plus bits 6:5 as
// the upper bits when the namespace has more than 16 formats.
func (n *Namespace) FormatIndex() uint8 {
	i := n.FLBAS & 0x0f
	if n.NLBAF >= 16 {
		i |= (n.FLBAS >> 5 & 0x3) << 4
	}
	return i
}

// MetadataExtended reports FLBAS bit 4: metadata transferred at the end of
// each LBA (else in a separate buffer).
func (n *Namespace) MetadataExtended() bool { return n.FLBAS&0x10 != 0 }

// Current returns the LBA format in use.
func (n *Namespace) Current() (LBAFormat, bool) {
	i := int(n.FormatIndex())
	if i >= len(n.Formats) {
		return LBAFormat{}, false
	}
	return n.Formats[i], true
}

// BlockSize is the logical block size in use (0 if the format is invalid).
func (n *Namespace) BlockSize() uint32 {
	f, _ := n.Current()
	return f.BlockSize()
}

// SizeBytes is NSZE times the block size.
func (n *Namespace) SizeBytes() uint64 { return n.NSZE * uint64(n.BlockSize()) }

// Shared reports NMIC bit 0: the namespace may be attached to other
// controllers (other hosts may use it).
func (n *Namespace) Shared() bool { return n.NMIC&0x01 != 0 }

// FormatProgress decodes FPI: whether the controller reports format
// progress, and the percentage that remains to be formatted.
func (n *Namespace) FormatProgress() (supported bool, remainingPct uint8) {
	return n.FPI&0x80 != 0, n.FPI & 0x7f
}

// DeallocReadsZero reports DLFEAT read behaviour "all bytes 0x00".
func (n *Namespace) DeallocReadsZero() bool { return n.DLFEAT&0x7 == 1 }

// DeallocReadsOnes reports DLFEAT read behaviour "all bytes 0xFF".
func (n *Namespace) DeallocReadsOnes() bool { return n.DLFEAT&0x7 == 2 }

// ID returns the namespace's globally unique identifier: "eui.<NGUID>" or
// "eui.<EUI64>", the form Linux uses for wwid, or "" if both are zero.
func (n *Namespace) ID() string {
	if n.NGUID != [16]byte{} {
		return "eui." + hex.EncodeToString(n.NGUID[:])
	}
	if n.EUI64 != [8]byte{} {
		return "eui." + hex.EncodeToString(n.EUI64[:])
	}
	return ""
}

// ParseNamespace parses Identify Namespace data. An all-zero structure (an
// inactive NSID) parses to a Namespace with NSZE 0.
func ParseNamespace(b []byte) (*Namespace, error) {
	if len(b) < IdentifyDataBytes {
		return nil, fmt.Errorf("identify namespace data: %d bytes, need %d", len(b), IdentifyDataBytes)
	}
	le64 := func(o int) uint64 { return binary.LittleEndian.Uint64(b[o:]) }
	n := &Namespace{
		NSZE: le64(0), NCAP: le64(8), NUSE: le64(16),
		NSFEAT: b[24], NLBAF: b[25], FLBAS: b[26], MC: b[27], DPC: b[28], DPS: b[29],
		NMIC: b[30], FPI: b[32], DLFEAT: b[33],
		NVMCAP: le64(48),
		Raw:    append([]byte(nil), b[:IdentifyDataBytes]...),
	}
	copy(n.NGUID[:], b[104:120])
	copy(n.EUI64[:], b[120:128])
	count := int(n.NLBAF) + 1
	if count > 64 {
		return nil, fmt.Errorf("identify namespace: NLBAF %d exceeds 63", n.NLBAF)
	}
	for i := 0; i < count; i++ {
		v := binary.LittleEndian.Uint32(b[128+4*i:])
		n.Formats = append(n.Formats, LBAFormat{MS: uint16(v), LBADS: uint8(v >> 16), RP: uint8(v>>24) & 0x3})
	}
	return n, nil
}

// ParseNSList parses a namespace ID list (CNS 02h active, 10h allocated): up to 1024
// ascending NSIDs, ended by the first zero.
func ParseNSList(b []byte) []uint32 {
	var ids []uint32
	for o := 0; o+4 <= len(b) && o < IdentifyDataBytes; o += 4 {
		id := binary.LittleEndian.Uint32(b[o:])
		if id == 0 {
			break
		}
		ids = append(ids, id)
	}
	return ids
}

// IdentifyController sends Identify CNS 1.
func IdentifyController(ctx context.Context, t Transport) (*Controller, error) {
	buf := make([]byte, IdentifyDataBytes)
	if _, err := Run(ctx, t, "Identify Controller", IdentifyCmd(CNSController, 0, buf)); err != nil {
		return nil, err
	}
	return ParseController(buf)
}

// IdentifyNamespace sends Identify CNS 0 for nsid.
func IdentifyNamespace(ctx context.Context, t Transport, nsid uint32) (*Namespace, error) {
	buf := make([]byte, IdentifyDataBytes)
	if _, err := Run(ctx, t, fmt.Sprintf("Identify Namespace %d", nsid), IdentifyCmd(CNSNamespace, nsid, buf)); err != nil {
		return nil, err
	}
	return ParseNamespace(buf)
}

// ActiveNamespaces sends Identify CNS 2 and returns the active NSIDs (the
// first 1024; a controller with more is not a lethe target).
func ActiveNamespaces(ctx context.Context, t Transport) ([]uint32, error) {
	buf := make([]byte, IdentifyDataBytes)
	if _, err := Run(ctx, t, "Identify Active Namespace List", IdentifyCmd(CNSActiveNSList, 0, buf)); err != nil {
		return nil, err
	}
	return ParseNSList(buf), nil
}

// AllocatedNamespaces sends Identify CNS 10h: every allocated namespace of
// the NVM subsystem, attached to this controller or not. Controllers
// without Namespace Management (OACS bit 3) refuse it.
func AllocatedNamespaces(ctx context.Context, t Transport) ([]uint32, error) {
	buf := make([]byte, IdentifyDataBytes)
	if _, err := Run(ctx, t, "Identify Allocated Namespace List", IdentifyCmd(CNSAllocatedNSList, 0, buf)); err != nil {
		return nil, err
	}
	return ParseNSList(buf), nil
}

func asciiField(b []byte) string {
	s := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		s = append(s, c)
	}
	return strings.TrimSpace(string(s))
}
