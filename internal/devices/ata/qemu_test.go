package ata

import (
	"testing"

	"github.com/lethe-project/lethe/internal/devices/internal/golden"
)

// QEMU's AHCI disk (ide-hd) as libata passed its IDENTIFY DEVICE through.
func TestParseQEMUIdentify(t *testing.T) {
	b, err := golden.QEMU("ata-identify")
	if err != nil {
		t.Fatal(err)
	}
	id, err := ParseIdentify(b)
	if err != nil {
		t.Fatal(err)
	}
	if id.Model != "QEMU HARDDISK" || id.Serial != "QM00001" || id.Firmware != "2.5+" || id.Sectors != 131072 || !id.LBA48 {
		t.Fatalf("%q %q %q %d", id.Model, id.Serial, id.Firmware, id.Sectors)
	}
	if id.Security.Supported || id.Sanitize.Supported || id.HPASupported || id.DCOSupported || !id.TRIM || id.RotationRate != 0 {
		t.Fatalf("capabilities %+v %+v", id.Security, id.Sanitize)
	}
	if id.Checksum != ChecksumAbsent {
		t.Fatalf("checksum %v: QEMU 7.2 leaves word 255 without the A5 signature", id.Checksum)
	}
}
