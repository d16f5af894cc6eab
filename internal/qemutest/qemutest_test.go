package qemutest_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/image"
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
		qemutest.Step{Name: "version", Script: "lethe --version"},
		// A module loaded by name, with parameters: a 16 MiB scsi_debug disk.
		qemutest.Step{Name: "scsi_debug", Script: "lethe modules load 'scsi_debug dev_size_mb=16' && lethe devices --json > $OUT/devices2.json"},
	)
	res.RequireOK(t)
	checkDevices(t, res.ReadFile(t, "devices.json"), threeDisks)
	prev := res.UptimeReady
	for _, s := range res.Steps {
		if s.Start < prev || s.End < s.Start {
			t.Errorf("step %s ran from %.2fs to %.2fs of uptime, after %.2fs", s.Name, s.Start, s.End, prev)
		}
		prev = s.End
	}

	var mods struct {
		Modules []struct {
			Name, Status string
			Optional     bool
		}
		BlockDevices []string
	}
	if err := json.Unmarshal(res.ReadFile(t, "modules.json"), &mods); err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, m := range mods.Modules {
		status[m.Name] = m.Status
		if m.Status != "loaded" && m.Status != "already" && !m.Optional {
			t.Errorf("module %s: %s", m.Name, m.Status)
		}
	}
	for _, n := range []string{"nvme", "ahci", "sd_mod", "virtio_scsi", "mpt3sas", "megaraid_sas", "usb_storage", "dm_mod"} {
		if status[n] != "loaded" {
			t.Errorf("module %s: %q, want loaded", n, status[n])
		}
	}
	if len(mods.BlockDevices) != len(threeDisks) {
		t.Errorf("after settling: block devices %v, want %d", mods.BlockDevices, len(threeDisks))
	}

	// The running image reports the released image's digest: this is
	// what certificates record.
	var dg struct {
		Image struct{ Digest string }
		Build struct{ Lethe struct{ Version string } }
	}
	if err := json.Unmarshal(res.ReadFile(t, "digest.json"), &dg); err != nil {
		t.Fatal(err)
	}
	if dg.Image.Digest != img.Digest || dg.Build.Lethe.Version != "test" {
		t.Errorf("lethe image digest in the guest: %+v, want %s", dg, img.Digest)
	}
	if v := res.Step("version").Stdout; !strings.Contains(v, "test") {
		t.Errorf("lethe --version in the image: %q, want the version the build stamped (test)", v)
	}

	var all []guestDevice
	if err := json.Unmarshal(res.ReadFile(t, "devices2.json"), &all); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range all {
		if d.SizeBytes == 16<<20 && d.Transport == "scsi" {
			found = true
		}
	}
	if !found || len(all) != len(threeDisks)+1 {
		t.Errorf("after loading scsi_debug dev_size_mb=16: %+v", all)
	}
}

// TestGuestPXEBoot boots the released boot.ipxe through the NIC's iPXE ROM
// over QEMU user networking, fetching the kernel and initramfs over HTTP
// from the host's loopback (10.0.2.2 in the guest), then checks the guest
// reaches the same point as a direct boot, and that the guest's own
// network reaches a host loopback service after DHCP.
func TestGuestPXEBoot(t *testing.T) {
	qemutest.Require(t)
	img := qemutest.GetImage(t)
	disks := []qemutest.Disk{{Kind: qemutest.VirtioBlk, Size: 64 << 20, Serial: "LETHEVBLK0001"}}

	// A service on the host's loopback only, as the audit store will be.
	token := fmt.Sprintf("token-%d", time.Now().UnixNano())
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, token) }), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := fmt.Sprintf("http://10.0.2.2:%d/token", ln.Addr().(*net.TCPAddr).Port)

	res := qemutest.Boot(t, img, qemutest.Options{PXE: true, Disks: disks},
		qemutest.Step{Name: "modules", Script: "lethe modules load > $OUT/modules.txt"},
		qemutest.Step{Name: "devices", Script: "lethe devices --json > $OUT/devices.json"},
		qemutest.Step{Name: "network", Script: "dhclient -ipv6=false -timeout 10 eth0 && wget -O $OUT/token " + url},
		qemutest.Step{Name: "cmdline", Script: "cat /proc/cmdline"},
	)
	res.RequireOK(t)
	checkDevices(t, res.ReadFile(t, "devices.json"), disks)
	if !strings.Contains(res.Console, "iPXE") {
		t.Error("console shows no iPXE: the guest did not boot over the network")
	}
	// The released boot.ipxe put the image's default command line in.
	if cl := res.Step("cmdline").Stdout; !strings.Contains(cl, image.DefaultCmdline) || !strings.Contains(cl, "initrd="+image.InitramfsFile) {
		t.Errorf("kernel command line %q lacks boot.ipxe's defaults", cl)
	}
	if got := string(res.ReadFile(t, "token")); got != token {
		t.Errorf("guest fetched %q from the host's loopback, want %q", got, token)
	}
}
