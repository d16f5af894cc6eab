package pxe

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

func testServer(rng *Range) *Server {
	_, n, _ := net.ParseCIDR("10.99.0.0/24")
	s := &Server{cfg: Config{Interface: "test0", HTTPPort: 8080, Range: rng}, addr: addrInfo{ip: net.IPv4(10, 99, 0, 1).To4(), net: n}, logf: func(string, ...any) {}}
	if rng != nil {
		s.leases = newLeases(rng, s.addr.ip)
	}
	return s
}

var mac = net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}

// request builds what a client sends: PXE firmware (class PXEClient and an
// architecture), iPXE (also user class iPXE), or a plain DHCP client.
func request(t *testing.T, typ dhcpv4.MessageType, kind string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(typ), dhcpv4.WithBroadcast(true))
	if err != nil {
		t.Fatal(err)
	}
	m.OpCode = dhcpv4.OpcodeBootRequest
	switch kind {
	case "bios":
		m.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001"))
		m.UpdateOption(dhcpv4.OptClientArch(iana.INTEL_X86PC))
	case "efi":
		m.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016"))
		m.UpdateOption(dhcpv4.OptClientArch(iana.EFI_X86_64))
	case "arm":
		m.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00011:UNDI:003016"))
		m.UpdateOption(dhcpv4.OptClientArch(iana.EFI_ARM64))
	case "ipxe":
		m.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001"))
		m.UpdateOption(dhcpv4.OptClientArch(iana.INTEL_X86PC))
		m.UpdateOption(dhcpv4.OptUserClass("iPXE"))
	}
	for _, mod := range mods {
		mod(m)
	}
	return m
}

func TestProxyReply(t *testing.T) {
	s := testServer(nil)
	for _, tc := range []struct {
		name, kind string
		typ        dhcpv4.MessageType
		port       int
		want       dhcpv4.MessageType // 0: no reply
		file       string
	}{
		{"BIOS PXE firmware", "bios", dhcpv4.MessageTypeDiscover, 67, dhcpv4.MessageTypeOffer, BIOSFile},
		{"UEFI PXE firmware", "efi", dhcpv4.MessageTypeDiscover, 67, dhcpv4.MessageTypeOffer, UEFIFile},
		{"iPXE", "ipxe", dhcpv4.MessageTypeDiscover, 67, dhcpv4.MessageTypeOffer, "http://10.99.0.1:8080/lethe.ipxe"},
		{"proxyDHCP request on 4011", "bios", dhcpv4.MessageTypeRequest, 4011, dhcpv4.MessageTypeAck, BIOSFile},
		{"plain DHCP client: the site's server answers", "", dhcpv4.MessageTypeDiscover, 67, 0, ""},
		{"request on 67: not ours to acknowledge", "bios", dhcpv4.MessageTypeRequest, 67, 0, ""},
		{"no binary for ARM", "arm", dhcpv4.MessageTypeDiscover, 67, 0, ""},
	} {
		r, err := s.Reply(request(t, tc.typ, tc.kind), tc.port)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.want == 0 {
			if r != nil {
				t.Errorf("%s: replied %s", tc.name, r.Summary())
			}
			continue
		}
		if r == nil {
			t.Errorf("%s: no reply", tc.name)
			continue
		}
		if r.MessageType() != tc.want || !r.YourIPAddr.Equal(net.IPv4zero) || r.BootFileName != tc.file ||
			r.GetOneOption(dhcpv4.OptionBootfileName) == nil || string(r.GetOneOption(dhcpv4.OptionBootfileName)) != tc.file ||
			!r.ServerIPAddr.Equal(s.addr.ip) || !r.ServerIdentifier().Equal(s.addr.ip) || r.ClassIdentifier() != "PXEClient" {
			t.Errorf("%s: %s", tc.name, r.Summary())
		}
		// PXE firmware is told to load the file without discovery; iPXE
		// gets no option 43.
		opt43 := r.GetOneOption(dhcpv4.OptionVendorSpecificInformation)
		if tc.kind == "ipxe" && opt43 != nil || tc.kind != "ipxe" && string(opt43) != "\x06\x01\x08\xff" {
			t.Errorf("%s: option 43 = % x", tc.name, opt43)
		}
	}
}

func TestFullDHCP(t *testing.T) {
	r, err := ParseRange("10.99.0.100-10.99.0.101")
	if err != nil {
		t.Fatal(err)
	}
	s := testServer(r)
	s.cfg.Router = net.IPv4(10, 99, 0, 254)
	offer, err := s.Reply(request(t, dhcpv4.MessageTypeDiscover, ""), 67)
	if err != nil || offer == nil {
		t.Fatalf("offer: %v %v", offer, err)
	}
	if offer.MessageType() != dhcpv4.MessageTypeOffer || !offer.YourIPAddr.Equal(net.IPv4(10, 99, 0, 100)) || offer.BootFileName != "" ||
		offer.SubnetMask().String() != "ffffff00" || !offer.Router()[0].Equal(s.cfg.Router) || offer.IPAddressLeaseTime(0) != LeaseTime {
		t.Errorf("offer to a plain client: %s", offer.Summary())
	}
	// The same machine, now as PXE firmware: same address, and a boot file.
	pxeOffer, _ := s.Reply(request(t, dhcpv4.MessageTypeDiscover, "bios"), 67)
	if !pxeOffer.YourIPAddr.Equal(offer.YourIPAddr) || pxeOffer.BootFileName != BIOSFile {
		t.Errorf("offer to PXE firmware: %s", pxeOffer.Summary())
	}
	ack, _ := s.Reply(request(t, dhcpv4.MessageTypeRequest, "ipxe", dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.addr.ip))), 67)
	if ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.Equal(offer.YourIPAddr) || !strings.HasSuffix(ack.BootFileName, "/lethe.ipxe") {
		t.Errorf("ack: %s", ack.Summary())
	}
	nak, _ := s.Reply(request(t, dhcpv4.MessageTypeRequest, "", dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 99, 0, 101)))), 67)
	if nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("request for another client's address: %s", nak.Summary())
	}
	other, _ := s.Reply(request(t, dhcpv4.MessageTypeRequest, "", dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 99, 0, 2)))), 67)
	if other != nil {
		t.Errorf("answered a request addressed to another server: %s", other.Summary())
	}
	// A second machine gets the second address; a third none.
	m2 := request(t, dhcpv4.MessageTypeDiscover, "")
	m2.ClientHWAddr = net.HardwareAddr{2, 0, 0, 0, 0, 2}
	o2, _ := s.Reply(m2, 67)
	m3 := request(t, dhcpv4.MessageTypeDiscover, "")
	m3.ClientHWAddr = net.HardwareAddr{2, 0, 0, 0, 0, 3}
	if _, err := s.Reply(m3, 67); o2 == nil || !o2.YourIPAddr.Equal(net.IPv4(10, 99, 0, 101)) || err == nil {
		t.Errorf("pool of two: second %v, third error %v", o2, err)
	}
}

func TestParseRangeAndCheck(t *testing.T) {
	for _, bad := range []string{"10.0.0.9-10.0.0.1", "10.0.0.1", "a-b", "::1-::2"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) accepted", bad)
		}
	}
	s := testServer(nil)
	for _, tc := range []struct{ r, want string }{
		{"10.98.0.10-10.98.0.20", "outside"},
		{"10.99.0.0-10.99.0.20", "own address"},
	} {
		r, _ := ParseRange(tc.r)
		cfg := Config{Interface: "x", ImageDir: fakeDir(t, "vmlinuz", "initramfs.cpio.zst", "boot.ipxe"), IPXEDir: fakeDir(t, BIOSFile), Range: r}
		if err := cfg.check(s.addr); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("range %s: %v, want %q", tc.r, err, tc.want)
		}
	}
	cfg := Config{Interface: "x", ImageDir: fakeDir(t, "vmlinuz"), IPXEDir: fakeDir(t, BIOSFile)}
	if err := cfg.check(s.addr); err == nil || !strings.Contains(err.Error(), "lacks initramfs.cpio.zst") {
		t.Errorf("incomplete image directory: %v", err)
	}
	cfg = Config{Interface: "x", ImageDir: fakeDir(t, "vmlinuz", "initramfs.cpio.zst", "boot.ipxe"), IPXEDir: t.TempDir()}
	if err := cfg.check(s.addr); err == nil || !strings.Contains(err.Error(), "apt-get install ipxe") {
		t.Errorf("no iPXE binaries: %v", err)
	}
}

func fakeDir(t *testing.T, files ...string) string {
	d := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(d, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestScript(t *testing.T) {
	got := Script("http://10.99.0.1:8080", "lethe.policy=purge lethe.site=dc1")
	want := "#!ipxe\n# served by lethe pxe serve\nset lethe-base http://10.99.0.1:8080/image\nset lethe-args lethe.policy=purge lethe.site=dc1\nchain ${lethe-base}/boot.ipxe\n"
	if got != want {
		t.Errorf("script:\n%s\nwant:\n%s", got, want)
	}
}
