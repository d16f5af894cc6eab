package capture

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/scsi"
)

// nvmeReplay answers the probe's admin commands from captured pages.
type nvmeReplay struct{ d *nvmeData }

func (r *nvmeReplay) Admin(_ context.Context, c *nvme.Command) (*nvme.Completion, error) {
	switch c.Opcode {
	case nvme.OpIdentify:
		var page []byte
		switch uint8(c.CDW10) {
		case nvme.CNSController:
			page = r.d.ctrlRaw
		case nvme.CNSNamespace:
			page = r.d.nsRaw[c.NSID]
		case nvme.CNSActiveNSList:
			if r.d.active != nil {
				page = make([]byte, nvme.IdentifyDataBytes)
				o := 0
				for _, id := range r.d.active {
					if id > c.NSID && o+4 <= len(page) {
						binary.LittleEndian.PutUint32(page[o:], id)
						o += 4
					}
				}
			}
		}
		if page == nil {
			return nil, fmt.Errorf("identify CNS 0x%02x NSID %d: %w", uint8(c.CDW10), c.NSID, ErrNotCaptured)
		}
		copy(c.Data, page)
		return &nvme.Completion{}, nil
	case nvme.OpGetLogPage:
		if uint8(c.CDW10) == nvme.LogSanitizeStatus && r.d.log != nil {
			clear(c.Data)
			copy(c.Data, r.d.log)
			return &nvme.Completion{}, nil
		}
		return nil, fmt.Errorf("log page 0x%02x: %w", uint8(c.CDW10), ErrNotCaptured)
	}
	return nil, fmt.Errorf("opcode 0x%02x: a capture replays only what the probe reads", c.Opcode)
}

// ataAsSCSI is what a Linux SATL (libata) reports through SCSI for the
// captured ATA drive: INQUIRY "ATA" + model, and READ CAPACITY(16) from
// IDENTIFY (SAT-4 translates them).
func (c *Capture) ataAsSCSI() *scsiData {
	id := c.ata.id
	d := &scsiData{vendor: "ATA", product: id.Model, revision: id.Firmware, serial: id.Serial}
	_ = d.setCapacity(id.Sectors, id.LogicalSectorSize, 0, 0)
	if id.RotationRate != 0 {
		d.rotation, d.hasBDC = id.RotationRate, true
	}
	return d
}

// scsiReplay answers SCSI commands (and ATA PASS-THROUGH for an ATA
// capture) from captured data.
type scsiReplay struct {
	ata  *ataData
	scsi *scsiData
}

func check(key scsi.SenseKey, asc scsi.ASC) *scsi.Result {
	return &scsi.Result{Status: scsi.StatusCheckCondition, Sense: scsi.SenseBuilder{Key: key, ASC: asc}.Descriptor()}
}

func dataIn(c *scsi.Command, b []byte) *scsi.Result {
	n := copy(c.Data, b)
	return &scsi.Result{DataLen: n, Resid: len(c.Data) - n}
}

func pad(s string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
	return b
}

func (r *scsiReplay) Exec(_ context.Context, c *scsi.Command) (*scsi.Result, error) {
	if len(c.CDB) == 0 {
		return nil, fmt.Errorf("empty CDB")
	}
	s := r.scsi
	switch op := c.CDB[0]; {
	case op == scsi.OpATAPassThru16:
		if r.ata == nil {
			return check(scsi.KeyIllegalRequest, scsi.ASCInvalidOpcode), nil
		}
		return r.ataCmd(c)
	case op == scsi.OpInquiry && len(c.CDB) >= 3 && c.CDB[1]&1 == 0:
		b := make([]byte, 36)
		b[2], b[3], b[4] = 0x06, 0x02, 31
		copy(b[8:16], pad(s.vendor, 8))
		copy(b[16:32], pad(s.product, 16))
		copy(b[32:36], pad(s.revision, 4))
		return dataIn(c, b), nil
	case op == scsi.OpInquiry:
		var p []byte
		switch c.CDB[2] {
		case scsi.VPDSupportedPages:
			p = []byte{0x00}
			if s.serial != "" {
				p = append(p, 0x80)
			}
			if s.naa != 0 {
				p = append(p, 0x83)
			}
			if s.hasBDC {
				p = append(p, 0xb1)
			}
		case scsi.VPDUnitSerial:
			p = []byte(s.serial)
		case scsi.VPDDeviceID:
			p = make([]byte, 12)
			p[0], p[1], p[3] = 0x01, 0x03, 8
			binary.BigEndian.PutUint64(p[4:], s.naa)
		case scsi.VPDBlockDeviceChar:
			p = make([]byte, 0x3c)
			binary.BigEndian.PutUint16(p, s.rotation)
		default:
			return check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
		}
		b := append([]byte{0, c.CDB[2], 0, byte(len(p))}, p...)
		return dataIn(c, b), nil
	case op == scsi.OpServiceIn16 && len(c.CDB) == 16 && c.CDB[1]&0x1f == scsi.SAReadCapacity16:
		if s.rc16 == nil {
			return nil, fmt.Errorf("READ CAPACITY(16): %w", ErrNotCaptured)
		}
		return dataIn(c, s.rc16), nil
	case op == scsi.OpModeSense10:
		return dataIn(c, scsi.ControlModePage(true)), nil
	case op == scsi.OpModeSelect10:
		return &scsi.Result{DataLen: len(c.Data)}, nil
	case op == scsi.OpMaintenanceIn && len(c.CDB) == 12 && c.CDB[1]&0x1f == scsi.SAReportOpcodes:
		if s.opcodes == nil {
			return nil, fmt.Errorf("REPORT SUPPORTED OPERATION CODES: %w", ErrNotCaptured)
		}
		if c.CDB[2]&0x80 != 0 { // RCTD: sg_opcodes' list carries no timeouts
			return check(scsi.KeyIllegalRequest, scsi.ASCInvalidFieldInCDB), nil
		}
		key := fmt.Sprintf("%02x", c.CDB[3])
		if c.CDB[3] == scsi.OpSanitize {
			key += fmt.Sprintf("/%x", binary.BigEndian.Uint16(c.CDB[4:6]))
		}
		sup, ok := s.opcodes[key]
		if !ok {
			sup = scsi.SupportNotAvailable
		}
		return dataIn(c, []byte{0, byte(sup), 0, 0}), nil
	}
	return nil, fmt.Errorf("CDB %x: %w", c.CDB, ErrNotCaptured)
}

// ataCmd answers ATA PASS-THROUGH(16): IDENTIFY from the capture, the
// native max from `hdparm -N` when captured; nothing else was captured.
func (r *scsiReplay) ataCmd(c *scsi.Command) (*scsi.Result, error) {
	cmd, feature := c.CDB[14], uint16(c.CDB[3])<<8|uint16(c.CDB[4])
	switch {
	case cmd == ata.CmdIdentify:
		return dataIn(c, r.ata.raw), nil
	case r.ata.nativeMax != nil && (cmd == ata.CmdReadNativeMaxExt || cmd == ata.CmdAMAConfig && feature == ata.AMAGetNativeMax):
		regs := &scsi.ATAReturn{Extend: true, LBA: *r.ata.nativeMax, Device: 0x40, Status: ata.StatusDRDY}
		return &scsi.Result{Status: scsi.StatusCheckCondition,
			Sense: scsi.SenseBuilder{Key: scsi.KeyRecoveredError, ASC: scsi.ASCATAPassThroughInfo, ATA: regs}.Descriptor()}, nil
	}
	return nil, fmt.Errorf("ATA command 0x%02x: %w", cmd, ErrNotCaptured)
}
