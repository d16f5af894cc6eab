package nvme

import (
	"testing"

	"github.com/lethe-project/lethe/internal/devices/internal/golden"
)

// QEMU 7.2's NVMe controller (-device nvme,serial=N0LETHE) and namespace.
func TestParseQEMUIdentify(t *testing.T) {
	b, err := golden.QEMU("nvme-identify-controller")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseController(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "QEMU NVMe Ctrl" || c.Serial != "N0LETHE" || c.Firmware != "7.2.22" || c.VID != 0x1b36 || c.NN != 256 {
		t.Fatalf("%+v", c)
	}
	if !c.SupportsFormat() || c.Sanitize().Any() || c.FNA != 0 || c.OACS != 0x010a {
		t.Fatalf("OACS %#x SANICAP %#x FNA %#x", c.OACS, c.SANICAP, c.FNA)
	}
	b, err = golden.QEMU("nvme-identify-namespace")
	if err != nil {
		t.Fatal(err)
	}
	n, err := ParseNamespace(b)
	if err != nil {
		t.Fatal(err)
	}
	if n.NSZE != 131072 || n.BlockSize() != 512 || len(n.Formats) != 8 || n.Formats[4].BlockSize() != 4096 || n.Formats[4].MS != 0 || !n.DeallocReadsZero() {
		t.Fatalf("%+v", n)
	}
	if n.ID() != "" {
		t.Fatalf("QEMU namespace without eui64/nguid reported %q", n.ID())
	}
}
