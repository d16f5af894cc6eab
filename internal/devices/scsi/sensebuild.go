package scsi

import "encoding/binary"

// SenseBuilder builds sense data the way a device does. Simulators use it to
// answer commands; tests use it to build spec-shaped sense buffers.
type SenseBuilder struct {
	Key SenseKey
	ASC ASC
	// Progress, when set, fills the sense-key-specific progress indication
	// (SKSV=1, done/65536).
	Progress *uint16
	// Information, when set, fills the INFORMATION field (VALID=1).
	Information *uint64
	// ATA, when set, adds the ATA Status Return descriptor (descriptor
	// format) or the fixed-format ATA registers.
	ATA *ATAReturn
}

// Fixed returns fixed format sense data (SPC-5 §4.4.3), 18 bytes.
func (sb SenseBuilder) Fixed() []byte {
	b := make([]byte, 18)
	b[0] = 0x70
	b[2] = byte(sb.Key & 0x0f)
	b[7] = 10
	b[12], b[13] = sb.ASC.Code(), sb.ASC.Qualifier()
	if sb.Information != nil {
		b[0] |= 0x80
		binary.BigEndian.PutUint32(b[3:7], uint32(*sb.Information))
	}
	if sb.Progress != nil {
		b[15] = 0x80
		binary.BigEndian.PutUint16(b[16:18], *sb.Progress)
	}
	if a := sb.ATA; a != nil {
		// SAT-4 §12.2.2.6
		b[3], b[4], b[5], b[6] = a.Error, a.Status, a.Device, byte(a.Count)
		if a.Extend {
			b[8] |= 0x80
		}
		if a.Count>>8 != 0 {
			b[8] |= 0x40
		}
		if a.LBA>>24 != 0 {
			b[8] |= 0x20
		}
		b[9], b[10], b[11] = byte(a.LBA), byte(a.LBA>>8), byte(a.LBA>>16)
	}
	return b
}

// Descriptor returns descriptor format sense data (SPC-5 §4.4.2).
func (sb SenseBuilder) Descriptor() []byte {
	b := make([]byte, 8, 8+12+8+14)
	b[0] = 0x72
	b[1] = byte(sb.Key & 0x0f)
	b[2], b[3] = sb.ASC.Code(), sb.ASC.Qualifier()
	if sb.Information != nil {
		d := make([]byte, 12)
		d[0], d[1], d[2] = 0x00, 0x0a, 0x80
		binary.BigEndian.PutUint64(d[4:], *sb.Information)
		b = append(b, d...)
	}
	if sb.Progress != nil {
		d := make([]byte, 8)
		d[0], d[1], d[4] = 0x02, 0x06, 0x80
		binary.BigEndian.PutUint16(d[5:7], *sb.Progress)
		b = append(b, d...)
	}
	if a := sb.ATA; a != nil {
		b = append(b, EncodeATAReturn(a)...)
	}
	b[7] = byte(len(b) - 8)
	return b
}

// EncodeATAReturn encodes the ATA Status Return sense data descriptor
// (SAT-4 §12.2.2.7, Table 193): 14 bytes, the 48-bit LBA split so that
// bytes 7/9/11 hold LBA 7:0, 15:8, 23:16 and bytes 6/8/10 hold 31:24,
// 39:32, 47:40.
func EncodeATAReturn(a *ATAReturn) []byte {
	d := make([]byte, 14)
	d[0], d[1] = 0x09, 0x0c
	if a.Extend {
		d[2] = 0x01
	}
	d[3] = a.Error
	d[4], d[5] = byte(a.Count>>8), byte(a.Count)
	d[6], d[7] = byte(a.LBA>>24), byte(a.LBA)
	d[8], d[9] = byte(a.LBA>>32), byte(a.LBA>>8)
	d[10], d[11] = byte(a.LBA>>40), byte(a.LBA>>16)
	d[12], d[13] = a.Device, a.Status
	return d
}
