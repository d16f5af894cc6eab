//go:build linux && !lethe_guest

package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/image"
)

func newImageBuildCmd() *cobra.Command {
	var o image.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "build --out DIR",
		Short: "Build the boot image: kernel, u-root initramfs with lethe as the agent, iPXE script",
		Long: `Build the network boot image from lethe's source tree (run from a checkout,
or pass --source) and Debian's kernel package (resolved and downloaded with
apt, cached in --cache). Writes vmlinuz, initramfs.cpio.zst, boot.ipxe,
image.json, SHA256SUMS and README.txt (how to serve it with dnsmasq or ISC
DHCP) into DIR, and prints the image digest that certificates record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Out == "" {
				return usageErr("--out DIR is required")
			}
			if o.Version == "" {
				o.Version = version
			}
			o.Log = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			res, err := image.Build(ctx, o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, res)
			}
			fmt.Fprintf(out, "image digest:  %s\n", res.Digest)
			fmt.Fprintf(out, "initramfs:     %s (%s, sha256 %s)\n", res.Initramfs, humanMiB(res.InitramfsSize), res.InitramfsSHA256)
			fmt.Fprintf(out, "kernel:        %s (%s %s, sha256 %s)\n", res.Kernel, res.Build.Kernel.Package, res.Build.Kernel.Version, res.KernelSHA256)
			fmt.Fprintf(out, "ipxe script:   %s\n", res.IPXE)
			fmt.Fprintf(out, "modules:       %d\n", len(res.Modules.Modules))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "output directory")
	f.StringVar(&o.Source, "source", "", "lethe source tree (default: found from the working directory)")
	f.StringVar(&o.CacheDir, "cache", "", "download cache (default $XDG_CACHE_HOME/lethe)")
	f.StringVar(&o.KernelPackage, "kernel-package", "", "Debian kernel package or metapackage (default "+image.DefaultKernelPackage+")")
	f.StringVar(&o.KernelDeb, "kernel-deb", "", "build from this kernel .deb instead of asking apt")
	f.StringVar(&o.Cmdline, "cmdline", "", "extra kernel command line for boot.ipxe (agent settings)")
	f.StringVar(&o.IPXEBase, "ipxe-base", "", "URL boot.ipxe fetches the files from (default tftp://${next-server})")
	f.StringVar(&o.GOROOT, "goroot", "", "Go toolchain to compile the image with (default $GOROOT, else the go command on PATH)")
	f.StringVar(&o.Version, "version", "", "version stamped into the image's lethe (default: this lethe's)")
	f.BoolVar(&asJSON, "json", false, "print the build manifest as JSON")
	return cmd
}

func humanMiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
