package scsi

import (
	"context"
	"encoding/binary"
	"fmt"
)

// ModePage returns one mode page (current values) without its header.
func ModePage(ctx context.Context, t Transport, page uint8) ([]byte, error) {
	buf := make([]byte, 252)
	op := fmt.Sprintf("MODE SENSE(10) page 0x%02x", page)
	r, err := Run(ctx, t, op, &Command{CDB: ModeSense10CDB(page, uint16(len(buf))), Data: buf, Dir: DirIn})
	if err != nil {
		return nil, err
	}
	b := buf[:r.DataLen]
	if len(b) < modeHeader10Length {
		return nil, fmt.Errorf("%s: %d bytes", op, len(b))
	}
	bdl := int(binary.BigEndian.Uint16(b[6:8]))
	p := b[min(len(b), modeHeader10Length+bdl):]
	if len(p) < 2 || p[0]&0x3f != page {
		return nil, fmt.Errorf("%s: page missing from the answer", op)
	}
	n := 2 + int(p[1])
	if n > len(p) {
		return nil, fmt.Errorf("%s: page length %d exceeds %d bytes", op, n, len(p))
	}
	return p[:n], nil
}

// EnsureDescriptorSense sets D_SENSE in the Control mode page so the device
// (or a SAT layer such as libata) returns descriptor format sense data.
// lethe needs it for ATA PASS-THROUGH: fixed format carries only 24 bits of
// LBA and 8 of COUNT, which loses the SANITIZE STATUS EXT flags (COUNT
// 15:8) and large READ NATIVE MAX addresses; since Linux 6.10 libata honours
// D_SENSE=0 for pass-through results. It reports whether it changed the bit.
func EnsureDescriptorSense(ctx context.Context, t Transport) (bool, error) {
	p, err := ModePage(ctx, t, ModePageControl)
	if err != nil {
		return false, err
	}
	if len(p) < 3 {
		return false, fmt.Errorf("control mode page: %d bytes", len(p))
	}
	if p[2]&controlDSenseBit != 0 {
		return false, nil
	}
	data := make([]byte, modeHeader10Length+len(p))
	copy(data[modeHeader10Length:], p)
	data[modeHeader10Length] &= 0x3f // PS is reserved in MODE SELECT
	data[modeHeader10Length+2] |= controlDSenseBit
	_, err = Run(ctx, t, "MODE SELECT(10) Control page (D_SENSE=1)",
		&Command{CDB: ModeSelect10CDB(uint16(len(data))), Data: data, Dir: DirOut})
	return err == nil, err
}

// ControlModePage returns a MODE SENSE(10) answer holding the Control mode
// page with D_SENSE as given, for simulators.
func ControlModePage(dsense bool) []byte {
	b := make([]byte, modeHeader10Length+12)
	binary.BigEndian.PutUint16(b[0:], uint16(len(b)-2))
	b[8], b[9] = ModePageControl, 10
	if dsense {
		b[10] |= controlDSenseBit
	}
	return b
}

// ParseControlModeSelect returns the D_SENSE bit of a MODE SELECT(10)
// parameter list carrying the Control mode page, for simulators.
func ParseControlModeSelect(data []byte) (dsense bool, err error) {
	if len(data) < modeHeader10Length+3 {
		return false, fmt.Errorf("MODE SELECT(10): %d bytes", len(data))
	}
	bdl := int(binary.BigEndian.Uint16(data[6:8]))
	p := data[min(len(data), modeHeader10Length+bdl):]
	if len(p) < 3 || p[0]&0x3f != ModePageControl {
		return false, fmt.Errorf("MODE SELECT(10): not the Control page")
	}
	return p[2]&controlDSenseBit != 0, nil
}
