package scsi

import "testing"

func FuzzDecodeSense(f *testing.F) {
	f.Add(unhex("70 00 02 00 00 00 00 0a 00 00 00 00 04 1b 00 80 40 00"))
	f.Add(unhex("72 01 00 1d 00 00 00 0e 09 0c 01 00 40 00 12 ff 34 ee 56 dd 40 50"))
	f.Add(unhex("72 03 11 00 00 00 00 14 00 0a 80 00 00 00 00 00 00 00 12 34 02 06 00 00 80 00 10 00"))
	f.Add([]byte{0x72})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSense(b)
		if err != nil {
			return
		}
		_ = s.String()
		s.Progress()
		s.FixedATA()
		_ = (&SenseError{Op: "x", Sense: s}).Error()
	})
}

func FuzzParseVPD(f *testing.F) {
	f.Add(unhex("00 83 00 0c 01 03 00 08 50 00 c5 00 12 34 56 78"))
	f.Add(unhex("00 80 00 04 41 42 43 44"))
	f.Add(unhex("00 b1 00 04 00 01 00 00"))
	f.Add(unhex("00 83 00 0a 48 ff 00 00 00 00 00 ff ff 07 00 0a 00 00 00 00 00 3c 00 00 0e 10")) // REPORT SUPPORTED OPERATION CODES with CTDP
	f.Fuzz(func(t *testing.T, b []byte) {
		if ds, err := ParseDeviceID(b); err == nil {
			for _, d := range ds {
				_ = d.String()
			}
			PreferredID(ds)
		}
		_, _ = ParseUnitSerial(b)
		_, _ = ParseSupportedPages(b)
		_, _ = ParseBlockDeviceCharacteristics(b)
		_, _ = ParseInquiry(b)
		_, _ = ParseReadCapacity16(b)
		_, _ = ParseOpcodeSupport(b)
	})
}
