package image

import (
	"fmt"
	"strings"
)

// IPXEOptions fill in boot.ipxe.
type IPXEOptions struct {
	// Base is the URL prefix of the kernel and initramfs when the script
	// is not given ${lethe-base}; default tftp://${next-server}.
	Base string
	// Cmdline is the kernel command line.
	Cmdline string
	// Digest, InitramfsSHA256 and KernelSHA256 go into comments so an
	// operator can tell which image a script belongs to.
	Digest, InitramfsSHA256, KernelSHA256 string
}

// NetbootCmdline tells the agent that the kernel and initramfs came over
// the network, so no local disk is the boot medium (a disk labelled
// LETHE-BOOT, or named by lethe.bootdev=SERIAL in lethe-args, is still
// kept: iPXE itself may have come from a USB stick).
const NetbootCmdline = "lethe.bootdev=none"

// IPXEScript returns the iPXE script that boots the image. A site can
// chain it from its own script after `set lethe-base http://...` to fetch
// the files over HTTP (much faster than TFTP), and append agent settings
// with `set lethe-args ...`.
func IPXEScript(o IPXEOptions) string {
	base := o.Base
	if base == "" {
		base = "tftp://${next-server}"
	}
	base = strings.TrimSuffix(base, "/")
	var b strings.Builder
	fmt.Fprintf(&b, "#!ipxe\n")
	fmt.Fprintf(&b, "# lethe boot image %s\n", o.Digest)
	fmt.Fprintf(&b, "# sha256 %s  %s\n", o.KernelSHA256, KernelFile)
	fmt.Fprintf(&b, "# sha256 %s  %s\n", o.InitramfsSHA256, InitramfsFile)
	fmt.Fprintf(&b, "isset ${lethe-base} || set lethe-base %s\n", base)
	fmt.Fprintf(&b, ":retry\n")
	fmt.Fprintf(&b, "echo lethe: booting the wipe image from ${lethe-base}\n")
	// initrd= names the initramfs for the kernel's EFI stub loader; BIOS
	// boots ignore it.
	fmt.Fprintf(&b, "kernel ${lethe-base}/%s initrd=%s %s %s ${lethe-args} || goto failed\n", KernelFile, InitramfsFile, o.Cmdline, NetbootCmdline)
	fmt.Fprintf(&b, "initrd ${lethe-base}/%s || goto failed\n", InitramfsFile)
	fmt.Fprintf(&b, "boot || goto failed\n")
	fmt.Fprintf(&b, ":failed\n")
	fmt.Fprintf(&b, "echo lethe: could not boot the wipe image from ${lethe-base}; retrying in 10 seconds\n")
	fmt.Fprintf(&b, "sleep 10\n")
	fmt.Fprintf(&b, "goto retry\n")
	return b.String()
}
