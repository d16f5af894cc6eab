package scsi

import (
	"testing"

	"github.com/lethe-project/lethe/internal/devices/internal/golden"
)

func qemuPage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := golden.QEMU(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// QEMU 7.2's virtio-scsi scsi-hd, without serial or wwn set.
func TestParseQEMUSCSI(t *testing.T) {
	inq, err := ParseInquiry(qemuPage(t, "scsi-inquiry"))
	if err != nil || inq.Vendor != "QEMU" || inq.Product != "QEMU HARDDISK" || inq.Revision != "2.5+" || inq.DeviceType != 0 {
		t.Fatalf("%+v %v", inq, err)
	}
	pages, err := ParseSupportedPages(qemuPage(t, "scsi-vpd00"))
	if err != nil || len(pages) != 5 || pages[1] != VPDDeviceID {
		t.Fatalf("pages %x %v (no 0x80: QEMU has no serial without serial=)", pages, err)
	}
	ds, err := ParseDeviceID(qemuPage(t, "scsi-vpd83"))
	if err != nil || len(ds) != 1 || ds[0].Type != 0 || ds[0].CodeSet != 2 || string(ds[0].Value) != "s0" {
		t.Fatalf("%+v %v", ds, err)
	}
	if _, ok := PreferredID(ds); ok {
		t.Fatal("a vendor-specific designator is not a world wide ID")
	}
	b1, err := ParseBlockDeviceCharacteristics(qemuPage(t, "scsi-vpdb1"))
	if err != nil || b1.RotationKnown {
		t.Fatalf("%+v %v", b1, err)
	}
	c, err := ParseReadCapacity16(qemuPage(t, "scsi-readcap16"))
	if err != nil || c.Blocks != 131072 || c.BlockSize != 512 || !c.LBPME {
		t.Fatalf("%+v %v", c, err)
	}
}
