package qemutest_test

import (
	"testing"

	"github.com/lethe-project/lethe/internal/qemutest"
)

// BenchmarkBootImage measures the boot image under TCG (make bench-image):
// its size, and the guest's uptime (seconds since the kernel started) at
// three points: the uinit starts (where `lethe agent` starts in a released
// image), the default modules are loaded and the disks have settled, and a
// first 4 KiB write to the NVMe disk has completed. Until the agent exists
// the write is done by a step script right after `lethe modules load`, so
// it is the floor for the agent's "first write", not the agent's own.
func BenchmarkBootImage(b *testing.B) {
	qemutest.Require(b)
	img := qemutest.GetImage(b)
	var uinit, modules, write, wall float64
	for b.Loop() {
		res := qemutest.Boot(b, img, qemutest.Options{Disks: threeDisks},
			qemutest.Step{Name: "modules", Script: "lethe modules load >/dev/null"},
			// Inside the guest: the emulated NVMe disk the test created.
			qemutest.Step{Name: "write", Script: "dd if=/dev/zero of=/dev/nvme0n1 bs=4096 count=1 oflag=sync conv=notrunc"},
		)
		res.RequireOK(b)
		uinit += res.UptimeStart
		modules += res.Step("modules").End
		write += res.Step("write").End
		wall += res.Took.Seconds()
	}
	// After the loop: b.Loop's timer reset drops metrics reported before.
	b.ReportMetric(float64(img.Result.InitramfsSize)/(1<<20), "initramfs-MiB")
	b.ReportMetric(float64(img.Result.UncompressedSize)/(1<<20), "uncompressed-MiB")
	b.ReportMetric(float64(img.Result.KernelSize)/(1<<20), "kernel-MiB")
	n := float64(b.N)
	b.ReportMetric(uinit/n, "s-to-uinit")
	b.ReportMetric(modules/n, "s-to-disks")
	b.ReportMetric(write/n, "s-to-first-write")
	b.ReportMetric(wall/n, "s-qemu-wall")
}
