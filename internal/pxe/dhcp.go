package pxe

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// LeaseTime is how long a full DHCP server's addresses are valid.
const LeaseTime = time.Hour

// client is what a DHCP request says about the machine asking.
type client struct {
	pxe  bool      // option 60 "PXEClient...": PXE firmware or iPXE
	ipxe bool      // option 77 user class "iPXE": iPXE asking for its script
	arch iana.Arch // option 93, the first architecture given
	hw   net.HardwareAddr
}

func classify(m *dhcpv4.DHCPv4) client {
	c := client{hw: m.ClientHWAddr}
	c.pxe = strings.HasPrefix(m.ClassIdentifier(), "PXEClient")
	for _, uc := range m.UserClass() {
		if uc == "iPXE" {
			c.ipxe = true
		}
	}
	// iPXE sends the user class in RFC 3004 form; older clients send the
	// bare string.
	if raw := m.Options.Get(dhcpv4.OptionUserClassInformation); bytes.Contains(raw, []byte("iPXE")) {
		c.ipxe = true
	}
	if archs := m.ClientArch(); len(archs) > 0 {
		c.arch = archs[0]
	}
	return c
}

// bootFile is the file a client should load next, or "" if none fits.
func (s *Server) bootFile(c client) string {
	switch {
	case c.ipxe:
		return s.httpBase() + "/" + ScriptFile
	case c.arch == iana.INTEL_X86PC:
		return BIOSFile
	case c.arch == iana.EFI_X86_64 || c.arch == iana.EFI_BC:
		return UEFIFile
	}
	return ""
}

// leases is a full DHCP server's address book: one address per MAC.
type leases struct {
	mu    sync.Mutex
	r     *Range
	self  net.IP
	byMAC map[string]net.IP
	used  map[uint32]bool
}

func newLeases(r *Range, self net.IP) *leases {
	return &leases{r: r, self: self, byMAC: map[string]net.IP{}, used: map[uint32]bool{}}
}

// get returns the client's address, allocating the next free one.
func (l *leases) get(hw net.HardwareAddr) (net.IP, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ip, ok := l.byMAC[hw.String()]; ok {
		return ip, nil
	}
	for v := ip4(l.r.Start); v <= ip4(l.r.End) && v != 0; v++ {
		if l.used[v] || v == ip4(l.self) {
			continue
		}
		l.used[v] = true
		ip := fromU32(v)
		l.byMAC[hw.String()] = ip
		return ip, nil
	}
	return nil, fmt.Errorf("no free address left in %s-%s", l.r.Start, l.r.End)
}

// Reply answers one DHCP request received on port (67 or 4011), or
// returns nil when this server should stay silent. It is the whole DHCP
// policy of the server:
//
//   - proxy mode (no Range): only PXE clients get an answer, without an
//     address (yiaddr 0.0.0.0), with option 60 "PXEClient", this server as
//     next-server and server identifier, and the boot file (RFC 4578, PXE
//     2.1 §2.2.5 proxyDHCP); a DHCPREQUEST to port 4011 is acknowledged
//     with the same boot information;
//   - full mode (Range): every client gets an address from the range (an
//     OFFER for a DISCOVER, an ACK for a REQUEST of its own address, a NAK
//     for another of our addresses; requests naming another server are
//     ignored), PXE clients also the boot information.
func (s *Server) Reply(m *dhcpv4.DHCPv4, port int) (*dhcpv4.DHCPv4, error) {
	if m.OpCode != dhcpv4.OpcodeBootRequest {
		return nil, nil
	}
	c := classify(m)
	mt := m.MessageType()
	if s.cfg.Range == nil || port == 4011 {
		return s.proxyReply(m, c, mt, port)
	}
	var typ dhcpv4.MessageType
	switch mt {
	case dhcpv4.MessageTypeDiscover:
		typ = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		if sid := m.ServerIdentifier(); sid != nil && !sid.Equal(s.addr.ip) {
			return nil, nil // the client chose another server
		}
		typ = dhcpv4.MessageTypeAck
	default:
		return nil, nil
	}
	ip, err := s.leases.get(c.hw)
	if err != nil {
		return nil, err
	}
	if typ == dhcpv4.MessageTypeAck {
		want := m.RequestedIPAddress()
		if want == nil && !m.ClientIPAddr.Equal(net.IPv4zero) {
			want = m.ClientIPAddr
		}
		if want != nil && !want.Equal(ip) {
			return dhcpv4.NewReplyFromRequest(m, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak), dhcpv4.WithServerIP(s.addr.ip),
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.addr.ip)))
		}
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithYourIP(ip),
		dhcpv4.WithServerIP(s.addr.ip),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.addr.ip)),
		dhcpv4.WithOption(dhcpv4.OptSubnetMask(s.addr.net.Mask)),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(LeaseTime)),
	}
	if s.cfg.Router != nil {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRouter(s.cfg.Router)))
	}
	if len(s.cfg.DNS) > 0 {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDNS(s.cfg.DNS...)))
	}
	if c.pxe {
		if f := s.bootFile(c); f != "" {
			mods = append(mods, pxeOptions(c, f)...)
		}
	}
	reply, err := dhcpv4.NewReplyFromRequest(m, mods...)
	if err != nil {
		return nil, err
	}
	if c.pxe {
		if f := s.bootFile(c); f != "" {
			reply.BootFileName = f
		}
	}
	return reply, nil
}

// pxeOptions are the boot options for a PXE client: option 60
// "PXEClient" (a PXE server answers), the boot file (option 67 and the
// header's file field), and for PXE firmware the vendor option 43 with
// PXE_DISCOVERY_CONTROL (sub-option 6) = 0x08: download the boot file
// named here, no boot server discovery or menu (PXE 2.1 §2.4.4, Table
// 2-1). iPXE needs none of that.
func pxeOptions(c client, file string) []dhcpv4.Modifier {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient")),
		dhcpv4.WithOption(dhcpv4.OptBootFileName(file)),
	}
	if !c.ipxe {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, []byte{6, 1, 0x08, 0xff})))
	}
	return mods
}

func (s *Server) proxyReply(m *dhcpv4.DHCPv4, c client, mt dhcpv4.MessageType, port int) (*dhcpv4.DHCPv4, error) {
	if !c.pxe {
		return nil, nil
	}
	f := s.bootFile(c)
	if f == "" {
		return nil, nil // a PXE client of an architecture we have no binary for
	}
	var typ dhcpv4.MessageType
	switch {
	case mt == dhcpv4.MessageTypeDiscover && port == 67:
		typ = dhcpv4.MessageTypeOffer
	case mt == dhcpv4.MessageTypeRequest && port == 4011, mt == dhcpv4.MessageTypeInform:
		typ = dhcpv4.MessageTypeAck
	default:
		return nil, nil
	}
	reply, err := dhcpv4.NewReplyFromRequest(m, append([]dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithYourIP(net.IPv4zero),
		dhcpv4.WithServerIP(s.addr.ip),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.addr.ip)),
	}, pxeOptions(c, f)...)...)
	if err != nil {
		return nil, err
	}
	reply.BootFileName = f
	return reply, nil
}
