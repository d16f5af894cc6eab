package ata

import (
	"context"
	"encoding/binary"
	"fmt"
)

// ReadNativeMaxCmd is READ NATIVE MAX ADDRESS EXT (0x27, ACS-3 §7.30).
func ReadNativeMaxCmd() *Command {
	return &Command{TF: TaskFile{Device: DeviceLBA, Command: CmdReadNativeMaxExt},
		Protocol: ProtoNonData, Extend: true, CheckCondition: true}
}

// SetMaxCmd is SET MAX ADDRESS EXT (0x37, ACS-3 §7.51.2): maxLBA is the
// highest addressable LBA; COUNT bit 0 (VALUE VOLATILE, "VV") set to one
// makes the new maximum survive a power cycle, so volatile=false sets it.
func SetMaxCmd(maxLBA uint64, volatile bool) *Command {
	c := &Command{TF: TaskFile{LBA: maxLBA & 0xffffffffffff, Device: DeviceLBA, Command: CmdSetMaxExt},
		Protocol: ProtoNonData, Extend: true, CheckCondition: true}
	if !volatile {
		c.TF.Count = 1
	}
	return c
}

// Accessible Max Address Configuration (ACS-3 §7.6, command 78h): FEATURE
// selects the function.
const (
	CmdAMAConfig        = 0x78
	AMAGetNativeMax     = 0x0000 // GET NATIVE MAX ADDRESS EXT
	AMASetAccessibleMax = 0x0001 // SET ACCESSIBLE MAX ADDRESS EXT
	AMAFreeze           = 0x0002 // FREEZE ACCESSIBLE MAX ADDRESS EXT (never sent)
)

// GetNativeMaxCmd is GET NATIVE MAX ADDRESS EXT (78h/0000h, ACS-3
// §7.6.2): the native max address comes back in LBA 47:0 (CK_COND).
func GetNativeMaxCmd() *Command {
	return &Command{TF: TaskFile{Feature: AMAGetNativeMax, Device: DeviceLBA, Command: CmdAMAConfig},
		Protocol: ProtoNonData, Extend: true, CheckCondition: true}
}

// SetAccessibleMaxCmd is SET ACCESSIBLE MAX ADDRESS EXT (78h/0001h, ACS-3
// §7.6.3): maxLBA becomes the highest accessible LBA. The change is
// non-volatile, and the drive needs no preceding command.
func SetAccessibleMaxCmd(maxLBA uint64) *Command {
	return &Command{TF: TaskFile{Feature: AMASetAccessibleMax, LBA: maxLBA & 0xffffffffffff, Device: DeviceLBA, Command: CmdAMAConfig},
		Protocol: ProtoNonData, Extend: true, CheckCondition: true}
}

// GetNativeMaxAddress sends GET NATIVE MAX ADDRESS EXT.
func (d *Device) GetNativeMaxAddress(ctx context.Context) (uint64, error) {
	regs, err := d.Exec(ctx, GetNativeMaxCmd())
	if err != nil {
		return 0, err
	}
	if regs == nil || regs.Partial && regs.LBAUpperNonZero {
		return 0, fmt.Errorf("GET NATIVE MAX ADDRESS EXT: %w", ErrPartialRegisters)
	}
	return regs.LBA, nil
}

// SetAccessibleMaxAddress sends SET ACCESSIBLE MAX ADDRESS EXT.
func (d *Device) SetAccessibleMaxAddress(ctx context.Context, maxLBA uint64) error {
	_, err := d.Exec(ctx, SetAccessibleMaxCmd(maxLBA))
	return err
}

// Native max address methods, for records.
const (
	MethodAMA         = "GET NATIVE MAX ADDRESS EXT (Accessible Max Address, IDENTIFY word 119 bit 8)"
	MethodReadNative  = "READ NATIVE MAX ADDRESS EXT (HPA feature set)"
	MethodSetAMA      = "SET ACCESSIBLE MAX ADDRESS EXT"
	MethodSetMaxNonVV = "SET MAX ADDRESS EXT (non-volatile)"
)

// NativeMax asks the drive for its native max address the way IDENTIFY
// says it understands: GET NATIVE MAX ADDRESS EXT when it supports the
// Accessible Max Address feature set (ACS-3 made READ NATIVE MAX ADDRESS
// obsolete; hdparm 9.65 -N does the same), else READ NATIVE MAX ADDRESS
// EXT. It returns the LBA and the method used.
func (d *Device) NativeMax(ctx context.Context, id *Identify) (uint64, string, error) {
	if id.AMASupported {
		n, err := d.GetNativeMaxAddress(ctx)
		return n, MethodAMA, err
	}
	n, err := d.ReadNativeMaxAddress(ctx)
	return n, MethodReadNative, err
}

// SetNativeMax makes maxLBA the highest accessible LBA, non-volatile, with
// the command IDENTIFY says the drive understands. It returns the method.
func (d *Device) SetNativeMax(ctx context.Context, id *Identify, maxLBA uint64) (string, error) {
	if id.AMASupported {
		return MethodSetAMA, d.SetAccessibleMaxAddress(ctx, maxLBA)
	}
	return MethodSetMaxNonVV, d.SetMaxAddress(ctx, maxLBA, false)
}

// ReadNativeMaxAddress returns the native max address: the highest LBA the
// drive has when no HPA is set.
func (d *Device) ReadNativeMaxAddress(ctx context.Context) (uint64, error) {
	regs, err := d.Exec(ctx, ReadNativeMaxCmd())
	if err != nil {
		return 0, err
	}
	if regs == nil || regs.Partial && regs.LBAUpperNonZero {
		return 0, fmt.Errorf("READ NATIVE MAX ADDRESS EXT: %w", ErrPartialRegisters)
	}
	return regs.LBA, nil
}

// SetMaxAddress sets the max address. The drive requires READ NATIVE MAX
// ADDRESS EXT immediately before it (ACS-3 §4.11.2), so this sends both.
// A non-volatile change is accepted once per power cycle.
func (d *Device) SetMaxAddress(ctx context.Context, maxLBA uint64, volatile bool) error {
	if _, err := d.ReadNativeMaxAddress(ctx); err != nil {
		return err
	}
	_, err := d.Exec(ctx, SetMaxCmd(maxLBA, volatile))
	return err
}

// HPA describes a Host Protected Area: the sectors between the current max
// (what IDENTIFY reports) and the native max, which an OS cannot see and a
// host overwrite would miss.
type HPA struct {
	CurrentMaxLBA uint64 // Identify.Sectors - 1
	NativeMaxLBA  uint64
	// Method is the command that read NativeMaxLBA.
	Method string `json:"method,omitempty"`
}

// Present reports whether sectors are hidden.
func (h HPA) Present() bool { return h.NativeMaxLBA > h.CurrentMaxLBA }

// HiddenSectors is the number of sectors in the HPA.
func (h HPA) HiddenSectors() uint64 {
	if !h.Present() {
		return 0
	}
	return h.NativeMaxLBA - h.CurrentMaxLBA
}

// ReadHPA compares IDENTIFY's current max with the native max address
// (see NativeMax for the command used).
func (d *Device) ReadHPA(ctx context.Context, id *Identify) (HPA, error) {
	native, method, err := d.NativeMax(ctx, id)
	if err != nil {
		return HPA{}, err
	}
	cur := uint64(0)
	if id.Sectors > 0 {
		cur = id.Sectors - 1
	}
	return HPA{CurrentMaxLBA: cur, NativeMaxLBA: native, Method: method}, nil
}

// DCOIdentifyCmd is DEVICE CONFIGURATION IDENTIFY (0xB1/0xC2, PIO in).
func DCOIdentifyCmd(buf []byte) *Command {
	return &Command{TF: TaskFile{Feature: DCOIdentify, Count: 1, Device: DeviceLBA, Command: CmdDeviceConfig},
		Protocol: ProtoPIOIn, Data: buf}
}

// DCORestoreCmd is DEVICE CONFIGURATION RESTORE (0xB1/0xC0, non-data).
func DCORestoreCmd() *Command {
	return &Command{TF: TaskFile{Feature: DCORestore, Device: DeviceLBA, Command: CmdDeviceConfig},
		Protocol: ProtoNonData, CheckCondition: true}
}

// DCO is the DEVICE CONFIGURATION IDENTIFY data (ACS-2 §7.10.3, Table 38).
type DCO struct {
	Revision uint16
	// MaxLBA is the highest LBA the drive could be configured to expose
	// (words 3-6): the factory capacity, above a DCO-reduced native max.
	MaxLBA uint64
	// Feature bits that a DCO SET may have hidden (word 7).
	HPA, Security, LBA48 bool
	Checksum             ChecksumState
	Raw                  []byte
}

// ParseDCO parses 512 bytes of DEVICE CONFIGURATION IDENTIFY data.
func ParseDCO(b []byte) (*DCO, error) {
	if len(b) < 512 {
		return nil, fmt.Errorf("DCO IDENTIFY data: %d bytes, need 512", len(b))
	}
	b = b[:512]
	w7 := binary.LittleEndian.Uint16(b[14:16])
	d := &DCO{
		Revision: binary.LittleEndian.Uint16(b[0:2]),
		MaxLBA:   binary.LittleEndian.Uint64(b[6:14]),
		HPA:      w7&0x0080 != 0,
		Security: w7&0x0008 != 0,
		LBA48:    w7&0x0100 != 0,
		Raw:      append([]byte(nil), b...),
	}
	if b[510] == 0xa5 {
		var sum uint8
		for _, c := range b {
			sum += c
		}
		if sum != 0 {
			d.Checksum = ChecksumInvalid
			return d, fmt.Errorf("DCO IDENTIFY: %w", ErrChecksum)
		}
		d.Checksum = ChecksumValid
	}
	return d, nil
}

// DCOIdentify reads the DCO data.
func (d *Device) DCOIdentify(ctx context.Context) (*DCO, error) {
	buf := make([]byte, 512)
	if _, err := d.Exec(ctx, DCOIdentifyCmd(buf)); err != nil {
		return nil, err
	}
	return ParseDCO(buf)
}

// DCORestore restores the factory configuration (capacity and features).
// The drive aborts it while an HPA is set: remove the HPA first.
func (d *Device) DCORestore(ctx context.Context) error {
	_, err := d.Exec(ctx, DCORestoreCmd())
	return err
}
