//go:build linux && !lethe_guest

package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/pxe"
)

func newPXECmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pxe",
		Short: "Network-boot machines into the wipe image (for sites without PXE infrastructure)",
	}
	cmd.AddCommand(newPXEServeCmd())
	return cmd
}

func newPXEServeCmd() *cobra.Command {
	var cfg pxe.Config
	var rng, router string
	var dns []string
	cmd := &cobra.Command{
		Use:   "serve --interface IFACE --image DIR [--range START-END] [--args 'lethe.policy=purge ...']",
		Short: "Serve proxyDHCP (or DHCP), TFTP and HTTP so machines on IFACE boot the wipe image",
		Long: `Serve the boot image on one network interface: DHCP answers that point PXE
firmware at iPXE (undionly.kpxe for BIOS, ipxe.efi for UEFI, over TFTP from
--ipxe-dir) and iPXE at this server's lethe.ipxe script (over HTTP), which
boots the image in --image with --args appended to the kernel command line.

Without --range this is a proxyDHCP server: it answers only PXE clients,
with boot information and no address, next to the network's own DHCP
server. With --range START-END it is the DHCP server of an isolated wipe
network and hands out addresses too. Either way it sends and answers DHCP
only on --interface: every machine that boots from it will be wiped, so
use a dedicated wipe network.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rng != "" {
				r, err := pxe.ParseRange(rng)
				if err != nil {
					return usageErr("--range: %v", err)
				}
				cfg.Range = r
			}
			if router != "" {
				if cfg.Router = net.ParseIP(router).To4(); cfg.Router == nil {
					return usageErr("--router %q: not an IPv4 address", router)
				}
			}
			for _, d := range dns {
				ip := net.ParseIP(d).To4()
				if ip == nil {
					return usageErr("--dns %q: not an IPv4 address", d)
				}
				cfg.DNS = append(cfg.DNS, ip)
			}
			if cfg.ImageDir == "" {
				return usageErr("--image DIR is required (the output of lethe image build)")
			}
			errOut := cmd.ErrOrStderr()
			cfg.Logf = func(f string, a ...any) { fmt.Fprintf(errOut, "pxe: "+f+"\n", a...) }
			srv, err := pxe.New(cfg)
			if err != nil {
				return usageErr("%v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return srv.Serve(ctx)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Interface, "interface", "", "network interface of the wipe network (required)")
	fl.StringVar(&cfg.ImageDir, "image", "", "boot image directory (lethe image build --out DIR)")
	fl.StringVar(&cfg.IPXEDir, "ipxe-dir", pxe.DefaultIPXEDir, "directory with undionly.kpxe and ipxe.efi (Debian: apt-get install ipxe)")
	fl.IntVar(&cfg.HTTPPort, "http-port", 8080, "HTTP port for the script, kernel and initramfs")
	fl.StringVar(&cfg.Args, "args", "", "agent settings appended to the kernel command line (lethe.policy=purge lethe.audit=...)")
	fl.StringVar(&rng, "range", "", "hand out addresses START-END (a DHCP server for a network without one); default: proxyDHCP only")
	fl.StringVar(&router, "router", "", "with --range: default gateway to hand out")
	fl.StringSliceVar(&dns, "dns", nil, "with --range: DNS servers to hand out")
	return cmd
}
