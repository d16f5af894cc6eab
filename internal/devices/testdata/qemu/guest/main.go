// Command guest is the throwaway QEMU guest init that produced the files in
// devices/testdata/qemu: it loads the storage modules, probes every disk
// with lethe's real transports, prints the raw pages as "RAW name base64"
// lines and the outcome of the unsupported-command checks, and powers off.
// It lives in testdata so it is never built by ./...; build it with
// CGO_ENABLED=0 go build ./devices/testdata/qemu/guest, put it at /init of a
// cpio with the modules under /mods, and boot as README.md says. Every
// device path in it is inside the QEMU guest. The project's QEMU harness
// (image/, tests/) supersedes it.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/probe"
	"github.com/lethe-project/lethe/internal/devices/scsi"
	"golang.org/x/sys/unix"
)

var ctx = context.Background()

func p(format string, a ...any) { fmt.Printf(format+"\n", a...) }

func main() {
	defer func() {
		if r := recover(); r != nil {
			p("PANIC: %v", r)
		}
		p("QEMU-CHECK-DONE")
		unix.Sync()
		time.Sleep(200 * time.Millisecond)
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}()
	os.MkdirAll("/dev", 0755)
	os.MkdirAll("/proc", 0755)
	os.MkdirAll("/sys", 0755)
	unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	unix.Mount("proc", "/proc", "proc", 0, "")
	unix.Mount("sysfs", "/sys", "sysfs", 0, "")
	for _, m := range []string{"crct10dif_common", "crct10dif_generic", "crc-t10dif", "crc64", "crc64_rocksoft_generic", "crc64-rocksoft", "t10-pi", "nvme-core", "nvme", "scsi_common", "scsi_mod", "libata", "libahci", "ahci", "sd_mod", "sg", "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_scsi"} {
		f, err := os.Open("/mods/" + m + ".ko")
		if err != nil {
			p("module %s: %v", m, err)
			continue
		}
		if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
			p("load %s: %v", m, err)
		}
		f.Close()
	}
	for i := 0; i < 100; i++ {
		a, _ := filepath.Glob("/sys/block/sd*")
		n, _ := filepath.Glob("/sys/block/nvme*")
		if len(a) >= 2 && len(n) >= 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	names, _ := filepath.Glob("/sys/block/*")
	for _, n := range names {
		name := filepath.Base(n)
		d, err := devices.Host.DescribeName(name)
		if err != nil {
			p("describe %s: %v", name, err)
			continue
		}
		d.Path = "/dev/" + name // guest path
		in, err := probe.Device(ctx, d)
		if err != nil {
			p("probe %s (%s): %v", name, d.Transport, err)
			continue
		}
		js, _ := json.Marshal(summary(in))
		p("probe %s (%s): %s notes=%q", name, d.Transport, js, in.Notes)
		switch in.Kind {
		case probe.KindNVMe:
			raw("nvme-identify-controller", in.NVMe.Controller.Raw)
			raw("nvme-identify-namespace", in.NVMe.Namespace().Raw)
			checkNVMe(d, in)
		case probe.KindATA:
			raw("ata-identify", in.ATA.Identify.Raw)
			checkATA(d, in)
		case probe.KindSCSI:
			raw("scsi-inquiry", in.SCSI.Inquiry.Raw)
			if t, err := scsi.OpenSGIO(d.Path); err == nil {
				for _, pg := range []uint8{0x00, 0x80, 0x83, 0xb1} {
					b, err := scsi.VPD(ctx, t, pg)
					if err == nil {
						raw(fmt.Sprintf("scsi-vpd%02x", pg), b)
					} else {
						p("vpd %02x: %v", pg, err)
					}
				}
				b := make([]byte, 32)
				if r, err := scsi.Run(ctx, t, "rc16", &scsi.Command{CDB: scsi.ReadCapacity16CDB(32), Data: b, Dir: scsi.DirIn}); err == nil {
					raw("scsi-readcap16", b[:r.DataLen])
				}
				t.Close()
			}
			checkSCSI(d, in)
		}
	}
}

func raw(name string, b []byte) { p("RAW %s %s", name, base64.StdEncoding.EncodeToString(b)) }

func summary(in *probe.Info) any {
	switch in.Kind {
	case probe.KindNVMe:
		c := in.NVMe.Controller
		ns := in.NVMe.Namespace()
		var fmts []uint32
		for _, f := range ns.Formats {
			fmts = append(fmts, f.BlockSize())
		}
		return map[string]any{"model": c.Model, "serial": c.Serial, "fw": c.Firmware, "oacs": c.OACS, "sanicap": c.SANICAP, "fna": c.FNA, "nn": c.NN,
			"nsid": in.NVMe.NSID, "nsze": ns.NSZE, "bs": ns.BlockSize(), "formats": fmts, "flbas": ns.FLBAS, "dlfeat": ns.DLFEAT, "id": ns.ID(), "sanlog": in.NVMe.SanitizeLog != nil}
	case probe.KindATA:
		id := in.ATA.Identify
		return map[string]any{"model": id.Model, "serial": id.Serial, "fw": id.Firmware, "sectors": id.Sectors, "lss": id.LogicalSectorSize, "pss": id.PhysicalSectorSize,
			"security": id.Security, "secstate": id.Security.State(), "sanitize": id.Sanitize, "hpa": in.ATA.HPA, "hpaSup": id.HPASupported, "dco": id.DCOSupported, "cap": in.ATA.Capacity,
			"rot": id.RotationRate, "trim": id.TRIM, "wwn": fmt.Sprintf("%x", id.WWN), "checksum": id.Checksum, "sanstatus": in.ATA.SanitizeStatus}
	case probe.KindSCSI:
		s := in.SCSI
		ids := []string{}
		for _, d := range s.IDs {
			ids = append(ids, d.String())
		}
		return map[string]any{"inq": s.Inquiry.Vendor + "/" + s.Inquiry.Product + "/" + s.Inquiry.Revision, "serial": s.Serial, "ids": ids, "bdc": s.BDC, "cap": s.Capacity, "sanitize": s.Sanitize}
	}
	return nil
}

func checkNVMe(d *devices.Device, in *probe.Info) {
	t, err := nvme.OpenIoctl(d.Path)
	if err != nil {
		p("nvme open: %v", err)
		return
	}
	defer t.Close()
	nsid := in.NVMe.NSID
	bs := int64(in.NVMe.Namespace().BlockSize())
	err = nvme.Sanitize(ctx, t, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase})
	p("nvme sanitize block: %v invalidOpcode=%v dnr=%v", err, nvme.IsInvalidOpcode(err), nvme.IsDNR(err))
	_, err = nvme.GetSanitizeLog(ctx, t)
	p("nvme sanitize log: %v", err)
	for _, ses := range []uint8{0, 1, 2} {
		writePattern(d.Path, bs)
		err := nvme.Format(ctx, t, nvme.FormatRequest{NSID: nsid, SES: ses, LBAF: in.NVMe.Namespace().FormatIndex(), Timeout: 5 * time.Minute})
		p("nvme format SES=%d: err=%v readback-zero=%v", ses, err, readZero(d.Path))
	}
	err = nvme.Format(ctx, t, nvme.FormatRequest{NSID: nsid, LBAF: 60})
	p("nvme format LBAF 60: %v invalidFormat=%v invalidField=%v", err, nvme.IsInvalidFormat(err), nvme.IsInvalidField(err))
	ns := in.NVMe.Namespace()
	for i, f := range ns.Formats {
		if f.BlockSize() == 4096 && f.MS == 0 {
			err := nvme.Format(ctx, t, nvme.FormatRequest{NSID: nsid, LBAF: uint8(i), SES: 1, Timeout: 5 * time.Minute})
			n2, err2 := nvme.IdentifyNamespace(ctx, t, nsid)
			p("nvme format to LBAF %d (4096): err=%v -> bs=%d nsze=%d (%v)", i, err, n2.BlockSize(), n2.NSZE, err2)
			err = nvme.Format(ctx, t, nvme.FormatRequest{NSID: nsid, LBAF: ns.FormatIndex(), SES: 1, Timeout: 5 * time.Minute})
			n2, _ = nvme.IdentifyNamespace(ctx, t, nsid)
			p("nvme format back to LBAF %d: err=%v -> bs=%d", ns.FormatIndex(), err, n2.BlockSize())
			break
		}
	}
	err = nvme.Format(ctx, t, nvme.FormatRequest{NSID: nvme.BroadcastNSID, LBAF: ns.FormatIndex(), SES: 1, Timeout: 5 * time.Minute})
	p("nvme format broadcast: %v", err)
}

func writePattern(path string, bs int64) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		p("open %s: %v", path, err)
		return
	}
	defer f.Close()
	f.WriteAt(bytes.Repeat([]byte{0xab}, 1<<20), 0)
	f.Sync()
}

func readZero(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 1<<20+4096)
	off := 4096 - int(uintptrOf(buf)%4096)
	b := buf[off : off+1<<20]
	if _, err := f.ReadAt(b, 0); err != nil {
		p("read %s: %v", path, err)
		return false
	}
	return len(bytes.Trim(b, "\x00")) == 0
}

func checkATA(d *devices.Device, in *probe.Info) {
	t, err := scsi.OpenSGIO(d.Path)
	if err != nil {
		p("sgio open: %v", err)
		return
	}
	defer t.Close()
	dev := ata.New(t)
	pw, _ := ata.NewPassword("lethe")
	p("ata set password: %v aborted=%v", dev.SecuritySetPassword(ctx, pw), ata.IsAborted(dev.SecuritySetPassword(ctx, pw)))
	p("ata erase prepare: %v", dev.SecurityErasePrepare(ctx))
	st, err := dev.SanitizeStatus(ctx, false)
	p("ata sanitize status: %+v %v", st, err)
	err = dev.Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{})
	p("ata sanitize block: %v aborted=%v", err, ata.IsAborted(err))
	n, err := dev.ReadNativeMaxAddress(ctx)
	p("ata read native max: %d %v", n, err)
	dco, err := dev.DCOIdentify(ctx)
	p("ata dco identify: %+v %v", dco, err)
	changed, err := scsi.EnsureDescriptorSense(ctx, t)
	p("ata ensure D_SENSE: changed=%v %v", changed, err)
	caps, err := scsi.ReadCapacity16(ctx, t)
	p("ata readcap16 via SATL: %+v %v", caps, err)
}

func checkSCSI(d *devices.Device, in *probe.Info) {
	t, err := scsi.OpenSGIO(d.Path)
	if err != nil {
		p("sgio open: %v", err)
		return
	}
	defer t.Close()
	err = scsi.Sanitize(ctx, t, scsi.SanitizeRequest{Action: scsi.SanitizeBlockErase, Immed: true}, 0)
	p("scsi sanitize: %v invalidOpcode=%v invalidField=%v", err, scsi.IsInvalidOpcode(err), scsi.IsInvalidField(err))
	_, err = ata.New(t).Identify(ctx)
	p("scsi ata identify: %v passthroughUnsupported=%v", err, ata.IsPassThroughUnsupported(err))
	writePattern(d.Path, 512)
	err = scsi.FormatUnit(ctx, t, scsi.FormatRequest{}, 10*time.Minute)
	p("scsi format unit: %v readback-zero=%v", err, readZero(d.Path))
	st, err := scsi.PollOperation(ctx, t)
	p("scsi request sense: %+v %v", st, err)
	p("scsi TUR: %v", scsi.TestUnitReady(ctx, t))
	changed, err := scsi.EnsureDescriptorSense(ctx, t)
	p("scsi ensure D_SENSE: changed=%v %v", changed, err)
	err = scsi.Sanitize(ctx, t, scsi.SanitizeRequest{Action: scsi.SanitizeBlockErase, Immed: true}, 0)
	if se, ok := scsi.AsSenseError(err); ok {
		p("scsi sanitize after D_SENSE: response code 0x%02x %v", se.Sense.ResponseCode, err)
	}
}
