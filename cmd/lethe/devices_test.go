//go:build linux

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// Fixtures: never opened.
func tableFixture() []deviceView {
	loop := func(name string) deviceView {
		return deviceView{Device: &devices.Device{Path: "/dev/" + name, Name: name, Transport: devices.TransportLoop, Media: devices.MediaVirtual, SizeBytes: 64 << 20, BackingFile: "/tmp/" + name + ".img"},
			Techniques: []techniqueView{{ID: wipe.TechOverwrite, Category: "clear", Available: true}},
			Notes:      []string{"no command pass-through for a loop device: only a host overwrite applies"}}
	}
	return []deviceView{
		loop("loop2"), loop("loop10"),
		{Device: &devices.Device{Path: "/dev/nvme10n1", Name: "nvme10n1", Transport: devices.TransportNVMe, Media: devices.MediaSSD, SizeBytes: 3840755982336, // fixture: the path is never opened
			Model: "SAMSUNG MZQL23T8HCLS-00A07 WITH A VERY LONG MODEL NAME", Serial: "S64HNE0R123456789012"},
			Techniques: []techniqueView{{ID: "nvme-sanitize-crypto", Category: "purge", Available: true}}, Interface: "nvme"},
		{Device: &devices.Device{Path: "/dev/sdq", Name: "sdq", Transport: devices.TransportSATA, Media: devices.MediaHDD, SizeBytes: 16 << 40, // fixture: the path is never opened
			Model: "WDC WD161KRYZ", Serial: "WD-WCC4N1234567"},
			Refusals: []refusalView{{Reason: "mounted", Detail: "is mounted: /srv/data (xfs) and this detail is long enough that it has to be wrapped onto a second line"}, {Reason: "swap", Detail: "active swap"}}},
	}
}

func TestDeviceTableFits80(t *testing.T) {
	var b bytes.Buffer
	if err := writeDeviceTable(&b, tableFixture()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 80 {
			t.Errorf("line of %d columns: %q", len(l), l)
		}
	}
	for _, want := range []string{"S64HNE0R123456789012", "WD-WCC4N1234567", "PURGE sanitize-crypto", "REFUSED mounted,swap", "16.0TiB", "wrapped onto a"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "no command pass-through"); n != 1 {
		t.Errorf("shared note printed %d times:\n%s", n, out)
	}
	if !strings.Contains(out, "loop2, loop10: no command pass-through") {
		t.Errorf("shared note does not name both devices:\n%s", out)
	}
	var wide bytes.Buffer
	if err := writeDeviceTableWide(&wide, tableFixture()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SAMSUNG MZQL23T8HCLS-00A07 WITH A VERY LONG MODEL NAME", "nvme-sanitize-crypto(purge)"} {
		if !strings.Contains(wide.String(), want) {
			t.Errorf("--wide lacks %q:\n%s", want, wide.String())
		}
	}
	if n := strings.Count(wide.String(), "no command pass-through"); n != 1 {
		t.Errorf("--wide: shared note printed %d times", n)
	}
}

func TestRangeSummary(t *testing.T) {
	var rs []wipe.Range
	for i := range 1000 {
		rs = append(rs, wipe.Range{LBA: int64(i) * 100, Count: 8})
	}
	var b bytes.Buffer
	writeRangeSummary(&b, "mismatched", rs[:256], 8000, 512, 8000*512, 5)
	out := b.String()
	if n := strings.Count(out, "\n"); n > 10 {
		t.Errorf("%d lines for 1000 ranges:\n%s", n, out)
	}
	for _, want := range []string{"8000 sector(s)", "100.0% of what was read", "256 range(s) between LBA 0 and LBA 25507", "first 256 range(s) were recorded", "LBA 0-7 (8 sector(s))", "251 more range(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
