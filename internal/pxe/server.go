package pxe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/pin/tftp/v3"

	"github.com/lethe-project/lethe/internal/image/manifest"
)

// Server serves DHCP, TFTP and HTTP on one interface.
type Server struct {
	cfg    Config
	addr   addrInfo
	leases *leases
	logf   func(string, ...any)
}

// New checks the configuration against the interface. It sends nothing.
func New(cfg Config) (*Server, error) {
	if cfg.Interface == "" {
		return nil, errors.New("name the interface to serve on (--interface): DHCP is sent on it")
	}
	a, err := interfaceAddr(cfg.Interface)
	if err != nil {
		return nil, err
	}
	if cfg.IPXEDir == "" {
		cfg.IPXEDir = DefaultIPXEDir
	}
	if cfg.HTTPPort == 0 {
		cfg.HTTPPort = 8080
	}
	if err := cfg.check(a); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, addr: a, logf: cfg.Logf}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if cfg.Range != nil {
		s.leases = newLeases(cfg.Range, a.ip)
	}
	return s, nil
}

// Addr is the server's address on its interface.
func (s *Server) Addr() net.IP { return s.addr.ip }

func (s *Server) httpBase() string {
	return "http://" + net.JoinHostPort(s.addr.ip.String(), strconv.Itoa(s.cfg.HTTPPort))
}

// Serve runs until ctx ends or a listener fails.
func (s *Server) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)
	var closers []io.Closer

	for _, port := range []int{dhcpv4.ServerPort, 4011} {
		// Port 67 listens on any address (clients without an address
		// broadcast) but only on this interface (SO_BINDTODEVICE); the
		// proxyDHCP port 4011 gets unicast.
		laddr := &net.UDPAddr{Port: port}
		if port == 4011 {
			laddr.IP = s.addr.ip
		}
		srv, err := server4.NewServer(s.cfg.Interface, laddr, s.handler(port))
		if err != nil {
			return fmt.Errorf("DHCP port %d on %s: %w", port, s.cfg.Interface, err)
		}
		closers = append(closers, srv)
		go func() { errc <- srv.Serve() }()
	}

	ts := tftp.NewServer(s.tftpRead, nil)
	ts.SetTimeout(5 * time.Second)
	tconn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: s.addr.ip, Port: 69})
	if err != nil {
		return fmt.Errorf("TFTP on %s:69: %w", s.addr.ip, err)
	}
	go func() { errc <- ts.Serve(tconn) }()

	hl, err := net.Listen("tcp4", net.JoinHostPort(s.addr.ip.String(), strconv.Itoa(s.cfg.HTTPPort)))
	if err != nil {
		ts.Shutdown()
		return fmt.Errorf("HTTP: %w", err)
	}
	hs := &http.Server{Handler: s.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { errc <- hs.Serve(hl) }()

	mode := "proxyDHCP (addresses from the site's DHCP server)"
	if r := s.cfg.Range; r != nil {
		mode = fmt.Sprintf("DHCP server for %s-%s", r.Start, r.End)
	}
	s.logf("serving on %s (%s): %s, TFTP %s:69, HTTP %s", s.cfg.Interface, s.addr.ip, mode, s.addr.ip, s.httpBase())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	for _, c := range closers {
		c.Close()
	}
	ts.Shutdown()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	if ctx.Err() != nil {
		return nil
	}
	return serveErr
}

func (s *Server) handler(port int) server4.Handler {
	return func(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
		reply, err := s.Reply(m, port)
		if err != nil {
			s.logf("DHCP %s from %s: %v", m.MessageType(), m.ClientHWAddr, err)
			return
		}
		if reply == nil {
			return
		}
		dst := peer.(*net.UDPAddr)
		if port == dhcpv4.ServerPort && dst.IP.Equal(net.IPv4bcast) {
			dst = &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
		}
		if _, err := conn.WriteTo(reply.ToBytes(), dst); err != nil {
			s.logf("DHCP reply to %s: %v", dst, err)
			return
		}
		s.logf("DHCP %s -> %s %s to %s (address %s, boot file %q)", m.MessageType(), reply.MessageType(), m.ClientHWAddr, dst, reply.YourIPAddr, reply.BootFileName)
	}
}

// tftpFiles are the only files TFTP serves: the iPXE binaries, and the
// image's files for sites that want TFTP only.
func (s *Server) tftpPath(name string) (string, bool) {
	switch name = filepath.Base(filepath.Clean("/" + name)); name {
	case BIOSFile, UEFIFile, "snponly.efi":
		return filepath.Join(s.cfg.IPXEDir, name), true
	case manifest.IPXEFile, manifest.KernelFile, manifest.InitramfsFile:
		return filepath.Join(s.cfg.ImageDir, name), true
	}
	return "", false
}

func (s *Server) tftpRead(name string, rf io.ReaderFrom) error {
	p, ok := s.tftpPath(name)
	if !ok {
		s.logf("TFTP refused %q", name)
		return fmt.Errorf("%s: not served", name)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		if t, ok := rf.(tftp.OutgoingTransfer); ok {
			t.SetSize(st.Size())
		}
	}
	n, err := rf.ReadFrom(f)
	s.logf("TFTP %s: %d bytes (%v)", name, n, err)
	return err
}

// HTTPHandler serves lethe.ipxe and the image's three boot files.
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /"+ScriptFile, func(w http.ResponseWriter, r *http.Request) {
		s.logf("HTTP %s from %s", r.URL.Path, r.RemoteAddr)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, Script(s.httpBase(), s.cfg.Args))
	})
	for _, f := range []string{manifest.KernelFile, manifest.InitramfsFile, manifest.IPXEFile} {
		mux.HandleFunc("GET "+imagePrefix+f, func(w http.ResponseWriter, r *http.Request) {
			s.logf("HTTP %s from %s", r.URL.Path, r.RemoteAddr)
			http.ServeFile(w, r, filepath.Join(s.cfg.ImageDir, f))
		})
	}
	return mux
}
