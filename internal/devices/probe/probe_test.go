package probe

import (
	"context"
	"testing"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/ata/atasim"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/nvme/nvmesim"
	"github.com/lethe-project/lethe/internal/devices/scsi/scsisim"
)

var ctx = context.Background()

func TestProbeNVMe(t *testing.T) {
	c := nvmesim.MustNew(nvmesim.Config{SANICAP: 0x3, FNA: 0x4, OACS: nvmesim.OACSFormat,
		Namespaces: []nvmesim.NamespaceConfig{{}, {SizeBytes: 1 << 20, Format: 1}}})
	in, err := NVMe(ctx, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	n := in.NVMe
	if in.Kind != KindNVMe || len(n.Namespaces) != 2 || n.Namespace().BlockSize() != 4096 || n.SanitizeLog == nil {
		t.Fatalf("%+v", in)
	}
	if !n.Controller.Sanitize().BlockErase || !n.Controller.Format().CryptoErase || n.SanitizeLog.Status != nvme.SanitizeNever {
		t.Fatalf("caps %+v log %+v", n.Controller.Sanitize(), n.SanitizeLog)
	}
	// QEMU-like: no sanitize log is a note, not a failure.
	q := nvmesim.MustNew(nvmesim.Config{OACS: nvmesim.OACSFormat})
	in, err = NVMe(ctx, q, 1)
	if err != nil || in.NVMe.SanitizeLog != nil || len(in.Notes) != 1 {
		t.Fatalf("%+v %v", in, err)
	}
	if _, err := NVMe(ctx, q, 9); err == nil {
		t.Fatal("inactive namespace accepted")
	}
}

func TestProbeATA(t *testing.T) {
	d := atasim.MustNew(atasim.Config{Sanitize: true, Sectors: 4096, HPASectors: 4000, FixedSense: true})
	in, err := SCSI(ctx, d, true)
	if err != nil {
		t.Fatal(err)
	}
	a := in.ATA
	if in.Kind != KindATA || a.Identify.Sectors != 4000 || a.HPA == nil || a.HPA.HiddenSectors() != 96 {
		t.Fatalf("%+v notes %v", a, in.Notes)
	}
	if a.DCO == nil || a.Capacity == nil || a.Capacity.Blocks != 4000 || a.SanitizeStatus == nil || len(in.Notes) != 0 {
		t.Fatalf("%+v notes %v", a, in.Notes)
	}
}

func TestProbeSCSIFallback(t *testing.T) {
	d := scsisim.MustNew(scsisim.Config{Sanitize: true, Serial: "ABC", RotationRate: 15000})
	in, err := SCSI(ctx, d, true) // tries ATA first, falls back
	if err != nil {
		t.Fatal(err)
	}
	s := in.SCSI
	if in.Kind != KindSCSI || s.Serial != "ABC" || s.BDC.RotationRate != 15000 || len(s.IDs) != 1 || s.Capacity == nil || s.Sanitize == nil {
		t.Fatalf("%+v notes %v", s, in.Notes)
	}
	old := scsisim.MustNew(scsisim.Config{NoReportOpcodes: true})
	in, err = SCSI(ctx, old, false)
	if err != nil || in.SCSI.Sanitize != nil || len(in.Notes) != 1 {
		t.Fatalf("%+v %v", in, err)
	}
}

func TestOpenRefusesWithoutPassthrough(t *testing.T) {
	for _, tr := range []devices.Transport{devices.TransportVirtio, devices.TransportLoop, devices.TransportFile, devices.TransportMMC} {
		_, err := Open(&devices.Device{Path: "/nonexistent/x", Kind: devices.KindDisk, Transport: tr})
		if _, ok := err.(*UnsupportedError); !ok {
			t.Errorf("%s: %v", tr, err)
		}
	}
	if _, err := Open(&devices.Device{Path: "/nonexistent/p1", Kind: devices.KindPartition, Transport: devices.TransportNVMe}); err == nil {
		t.Error("partition accepted")
	}
}
