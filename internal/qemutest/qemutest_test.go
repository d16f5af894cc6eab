package qemutest_test

import (
	"encoding/json"
	"testing"

	"github.com/lethe-project/lethe/internal/qemutest"
)

// guestDevice is the part of `lethe devices --json` the tests check.
type guestDevice struct {
	Path      string `json:"path"`
	Name      string `json:"name"`
	Transport string `json:"transport"`
	SizeBytes int64  `json:"sizeBytes"`
	Serial    string `json:"serial"`
	Model     string `json:"model"`
}

var threeDisks = []qemutest.Disk{
	{Kind: qemutest.NVMe, Size: 96 << 20, Serial: "LETHENVME0001"},
	{Kind: qemutest.AHCI, Size: 80 << 20, Serial: "LETHESATA0001"},
	{Kind: qemutest.VirtioSCSI, Size: 72 << 20, Serial: "LETHESCSI0001"},
}

// wantTransport maps each disk kind to the transport lethe must report.
var wantTransport = map[qemutest.DiskKind]string{
	qemutest.NVMe:       "nvme",
	qemutest.AHCI:       "sata",
	qemutest.VirtioSCSI: "scsi",
	qemutest.VirtioBlk:  "virtio",
}

func checkDevices(t *testing.T, data []byte, disks []qemutest.Disk) {
	t.Helper()
	var got []guestDevice
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("lethe devices --json: %v\n%s", err, data)
	}
	for _, d := range disks {
		var found *guestDevice
		for i := range got {
			if got[i].Serial == d.Serial {
				found = &got[i]
			}
		}
		if found == nil {
			t.Errorf("disk %s (%s) not found by lethe devices in the guest: %s", d.Serial, d.Kind, data)
			continue
		}
		if found.Transport != wantTransport[d.Kind] {
			t.Errorf("%s (%s): transport %q, want %q", found.Path, d.Serial, found.Transport, wantTransport[d.Kind])
		}
		if found.SizeBytes != d.Size {
			t.Errorf("%s (%s): size %d, want %d", found.Path, d.Serial, found.SizeBytes, d.Size)
		}
	}
	if len(got) != len(disks) {
		t.Errorf("lethe devices found %d disks, want %d: %s", len(got), len(disks), data)
	}
}

func TestGuestDevicesDirectBoot(t *testing.T) {
	qemutest.Require(t)
	img := qemutest.GetImage(t)
	res := qemutest.Boot(t, img, qemutest.Options{Disks: threeDisks},
		qemutest.Step{Name: "modules", Script: "lethe modules load --json > $OUT/modules.json"},
		qemutest.Step{Name: "devices", Script: "lethe devices --json > $OUT/devices.json"},
		qemutest.Step{Name: "digest", Script: "lethe image digest --json > $OUT/digest.json"},
	)
	res.RequireOK(t)
	checkDevices(t, res.ReadFile(t, "devices.json"), threeDisks)
}
