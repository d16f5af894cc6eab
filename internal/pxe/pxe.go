// Package pxe is a small network-boot server for sites without PXE
// infrastructure: DHCP (as a proxyDHCP server next to an existing DHCP
// server, or as the only DHCP server of an isolated wipe network), TFTP
// for the iPXE binaries, and HTTP for the iPXE script, the kernel and the
// initramfs, all on one interface the operator names.
//
// The boot chain: the machine's PXE firmware gets an address (from the
// site's DHCP server, or from this one) and, from this server, the name of
// an iPXE binary (undionly.kpxe for BIOS, ipxe.efi for x86-64 UEFI), which
// it fetches over TFTP. iPXE asks DHCP again, identifying itself with the
// user class "iPXE", and is told to fetch http://SERVER/lethe.ipxe, which
// sets lethe-base and lethe-args and chains the image's own boot.ipxe; that
// loads the kernel and initramfs over HTTP.
package pxe

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/lethe-project/lethe/internal/image/manifest"
)

// Config configures a Server.
type Config struct {
	// Interface is the network interface to serve on (required). DHCP
	// packets are sent and received on it only.
	Interface string
	// ImageDir holds the boot image (vmlinuz, initramfs.cpio.zst,
	// boot.ipxe: the output of lethe image build).
	ImageDir string
	// IPXEDir holds the iPXE binaries (Debian's ipxe package:
	// /usr/lib/ipxe/undionly.kpxe and ipxe.efi).
	IPXEDir string
	// HTTPPort serves the script and the image (default 8080).
	HTTPPort int
	// Args are appended to the kernel command line (lethe-args): the
	// agent's settings, e.g. "lethe.policy=purge lethe.audit=https://...".
	Args string
	// Range makes the server hand out addresses (a full DHCP server for a
	// wipe network without one). Without it, the server is a proxyDHCP
	// server: it answers only PXE clients, only with boot information,
	// and leaves addresses to the site's DHCP server.
	Range *Range
	// Router and DNS are given to clients with Range (optional).
	Router net.IP
	DNS    []net.IP
	// Logf receives one line per event (default: discarded).
	Logf func(format string, args ...any)
}

// Range is the pool of addresses a full DHCP server hands out.
type Range struct {
	Start, End net.IP
}

// ParseRange parses "START-END" (IPv4 addresses).
func ParseRange(s string) (*Range, error) {
	a, b, ok := strings.Cut(s, "-")
	start, end := net.ParseIP(strings.TrimSpace(a)).To4(), net.ParseIP(strings.TrimSpace(b)).To4()
	if !ok || start == nil || end == nil || ip4(end) < ip4(start) {
		return nil, fmt.Errorf("range %q: want START-END, two IPv4 addresses in order", s)
	}
	return &Range{Start: start, End: end}, nil
}

// Files the server serves.
const (
	ScriptFile  = "lethe.ipxe" // over HTTP: sets lethe-base and lethe-args, chains boot.ipxe
	BIOSFile    = "undionly.kpxe"
	UEFIFile    = "ipxe.efi"
	imagePrefix = "/image/"
)

// DefaultIPXEDir is where Debian's ipxe package puts the binaries.
const DefaultIPXEDir = "/usr/lib/ipxe"

// addrInfo is the interface's IPv4 address and network.
type addrInfo struct {
	ip  net.IP
	net *net.IPNet
}

func interfaceAddr(name string) (addrInfo, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return addrInfo{}, fmt.Errorf("interface %q: %w", name, err)
	}
	if ifi.Flags&net.FlagLoopback != 0 {
		return addrInfo{}, fmt.Errorf("interface %q is a loopback interface: name the interface of the wipe network", name)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return addrInfo{}, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return addrInfo{ip: n.IP.To4(), net: &net.IPNet{IP: n.IP.Mask(n.Mask).To4(), Mask: n.Mask}}, nil
		}
	}
	return addrInfo{}, fmt.Errorf("interface %q has no IPv4 address: configure one (e.g. ip addr add 10.0.0.1/24 dev %s)", name, name)
}

// check validates the configuration against the interface.
func (c *Config) check(a addrInfo) error {
	if c.Interface == "" {
		return errors.New("name the interface to serve on (--interface): DHCP is sent on it")
	}
	for _, f := range []string{manifest.KernelFile, manifest.InitramfsFile, manifest.IPXEFile} {
		if _, err := os.Stat(filepath.Join(c.ImageDir, f)); err != nil {
			return fmt.Errorf("image directory %s lacks %s (build it with lethe image build --out DIR)", c.ImageDir, f)
		}
	}
	found := false
	for _, f := range []string{BIOSFile, UEFIFile} {
		if _, err := os.Stat(filepath.Join(c.IPXEDir, f)); err == nil {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("no iPXE binaries (%s, %s) in %s: apt-get install ipxe", BIOSFile, UEFIFile, c.IPXEDir)
	}
	if r := c.Range; r != nil {
		if !a.net.Contains(r.Start) || !a.net.Contains(r.End) {
			return fmt.Errorf("range %s-%s is outside %s, the network of %s", r.Start, r.End, a.net, c.Interface)
		}
		if ip4(r.Start) <= ip4(a.ip) && ip4(a.ip) <= ip4(r.End) {
			return fmt.Errorf("range %s-%s contains this server's own address %s", r.Start, r.End, a.ip)
		}
	}
	return nil
}

func ip4(ip net.IP) uint32 {
	v := ip.To4()
	if v == nil {
		return 0
	}
	return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
}

func fromU32(v uint32) net.IP {
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4()
}

// Script is lethe.ipxe: it points lethe-base at this server's HTTP
// image directory, sets the agent's arguments, and chains boot.ipxe.
func Script(httpBase, args string) string {
	var b strings.Builder
	b.WriteString("#!ipxe\n")
	b.WriteString("# served by lethe pxe serve\n")
	fmt.Fprintf(&b, "set lethe-base %s\n", strings.TrimRight(httpBase, "/")+strings.TrimRight(imagePrefix, "/"))
	if args != "" {
		fmt.Fprintf(&b, "set lethe-args %s\n", args)
	}
	fmt.Fprintf(&b, "chain ${lethe-base}/%s\n", manifest.IPXEFile)
	return b.String()
}
