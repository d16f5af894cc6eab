package qemutest_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/lethe-project/lethe/internal/qemutest"
)

var (
	agentStartRE = regexp.MustCompile(`lethe agent \S+ starting at ([0-9.]+)s of uptime`)
	firstWriteRE = regexp.MustCompile(`LETHE-AGENT-FIRST-WRITE uptime=([0-9.]+)`)
)

func uptimeFrom(b *testing.B, re *regexp.Regexp, console string) float64 {
	b.Helper()
	m := re.FindStringSubmatch(console)
	if m == nil {
		b.Fatalf("console lacks %s", re)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkBootImage measures the boot image under TCG (make bench-image):
// its size, and the guest's uptime (seconds since the kernel started) at
// these points:
//
//   - s-to-uinit, s-to-disks, s-to-first-write: a test image whose steps
//     load the default modules and write 4 KiB to the NVMe disk with dd:
//     the floor for the agent;
//   - s-agent-start, s-agent-first-write: the released image, whose agent
//     (lethe.policy=purge, no network) loads the drivers, finds the disks
//     and starts wiping; the first write is when the kernel's counters
//     show the first completed write to a disk being wiped;
//   - s-agent-first-write-aesni: the same on QEMU's "max" CPU model, which
//     has AES-NI as every server does: the default TCG CPU has none, so
//     the first 4 MiB chunks of AES-CTR pattern are generated in software
//     under emulation, which alone takes seconds.
func BenchmarkBootImage(b *testing.B) {
	qemutest.Require(b)
	img := qemutest.GetImage(b)
	agentDisks := []qemutest.Disk{
		{Kind: qemutest.NVMe, Size: 32 << 20, Serial: "BENCHNVME0001"},
		{Kind: qemutest.AHCI, Size: 32 << 20, Serial: "BENCHSATA0001"},
		{Kind: qemutest.VirtioSCSI, Size: 32 << 20, Serial: "BENCHSCSI0001"},
	}
	agentCmdline := "lethe.policy=purge lethe.bootdev=none lethe.net=none lethe.end=poweroff lethe.wait=0"
	var uinit, modules, write, wall, agentStart, agentWrite, agentWriteAES float64
	for b.Loop() {
		res := qemutest.Boot(b, img, qemutest.Options{Disks: threeDisks},
			qemutest.Step{Name: "modules", Script: "lethe modules load >/dev/null"},
			// Inside the guest: the emulated NVMe disk the test created.
			qemutest.Step{Name: "write", Script: "dd if=/dev/zero of=/dev/nvme0n1 bs=4096 count=1 oflag=sync conv=notrunc"}, // inside the QEMU guest
		)
		res.RequireOK(b)
		uinit += res.UptimeStart
		modules += res.Step("modules").End
		write += res.Step("write").End
		wall += res.Took.Seconds()

		res = qemutest.Boot(b, img, qemutest.Options{Released: true, Disks: agentDisks, Cmdline: agentCmdline})
		agentStart += uptimeFrom(b, agentStartRE, res.Console)
		agentWrite += uptimeFrom(b, firstWriteRE, res.Console)

		res = qemutest.Boot(b, img, qemutest.Options{Released: true, Disks: agentDisks, Cmdline: agentCmdline, QEMUArgs: []string{"-cpu", "max"}})
		agentWriteAES += uptimeFrom(b, firstWriteRE, res.Console)
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
	b.ReportMetric(agentStart/n, "s-agent-start")
	b.ReportMetric(agentWrite/n, "s-agent-first-write")
	b.ReportMetric(agentWriteAES/n, "s-agent-first-write-aesni")
}
