package image

// What goes into the image. Keep tools.go in step with Commands: a test
// checks that they list the same u-root packages.

// LetheCommand is the package of the lethe CLI, relative to the module root.
const LetheCommand = "./cmd/lethe"

// Commands are the u-root commands compiled into the image's busybox
// binary besides lethe: init, the gosh shell, DHCP and network setup, and
// the core tools an operator needs in a rescue shell to look at disks,
// logs, the network and the kernel.
var Commands = []string{
	"github.com/u-root/u-root/cmds/core/init",
	"github.com/u-root/u-root/cmds/core/gosh",
	"github.com/u-root/u-root/cmds/core/dhclient",
	"github.com/u-root/u-root/cmds/core/ip",
	"github.com/u-root/u-root/cmds/core/cat",
	"github.com/u-root/u-root/cmds/core/cmp",
	"github.com/u-root/u-root/cmds/core/cp",
	"github.com/u-root/u-root/cmds/core/date",
	"github.com/u-root/u-root/cmds/core/dd",
	"github.com/u-root/u-root/cmds/core/df",
	"github.com/u-root/u-root/cmds/core/dmesg",
	"github.com/u-root/u-root/cmds/core/echo",
	"github.com/u-root/u-root/cmds/core/false",
	"github.com/u-root/u-root/cmds/core/find",
	"github.com/u-root/u-root/cmds/core/free",
	"github.com/u-root/u-root/cmds/core/grep",
	"github.com/u-root/u-root/cmds/core/head",
	"github.com/u-root/u-root/cmds/core/hexdump",
	"github.com/u-root/u-root/cmds/core/hwclock",
	"github.com/u-root/u-root/cmds/core/kill",
	"github.com/u-root/u-root/cmds/core/ln",
	"github.com/u-root/u-root/cmds/core/losetup",
	"github.com/u-root/u-root/cmds/core/ls",
	"github.com/u-root/u-root/cmds/core/lsmod",
	"github.com/u-root/u-root/cmds/core/mkdir",
	"github.com/u-root/u-root/cmds/core/more",
	"github.com/u-root/u-root/cmds/core/mount",
	"github.com/u-root/u-root/cmds/core/mv",
	"github.com/u-root/u-root/cmds/core/netcat",
	"github.com/u-root/u-root/cmds/core/pci",
	"github.com/u-root/u-root/cmds/core/ping",
	"github.com/u-root/u-root/cmds/core/poweroff",
	"github.com/u-root/u-root/cmds/core/printenv",
	"github.com/u-root/u-root/cmds/core/ps",
	"github.com/u-root/u-root/cmds/core/pwd",
	"github.com/u-root/u-root/cmds/core/readlink",
	"github.com/u-root/u-root/cmds/core/rm",
	"github.com/u-root/u-root/cmds/core/shasum",
	"github.com/u-root/u-root/cmds/core/shutdown",
	"github.com/u-root/u-root/cmds/core/sleep",
	"github.com/u-root/u-root/cmds/core/strings",
	"github.com/u-root/u-root/cmds/core/sync",
	"github.com/u-root/u-root/cmds/core/tail",
	"github.com/u-root/u-root/cmds/core/tee",
	"github.com/u-root/u-root/cmds/core/touch",
	"github.com/u-root/u-root/cmds/core/true",
	"github.com/u-root/u-root/cmds/core/umount",
	"github.com/u-root/u-root/cmds/core/uname",
	"github.com/u-root/u-root/cmds/core/uptime",
	"github.com/u-root/u-root/cmds/core/wc",
	"github.com/u-root/u-root/cmds/core/wget",
	"github.com/u-root/u-root/cmds/core/which",
}

// DefaultModules are loaded at boot (`lethe modules load` with no names):
// every storage path a returned server may have and the NICs it may
// network-boot through, with what they need. Debian builds all of them as
// modules.
var DefaultModules = []string{
	// NVMe, AHCI/SATA (and legacy IDE-mode SATA), SCSI disks and generic SCSI.
	"nvme", "ahci", "ata_piix", "sd_mod", "sg",
	// SAS HBAs and RAID controllers the kernel ships drivers for
	// (Broadcom/LSI, HPE Smart Array, Microchip SmartPQI, Adaptec, PMC).
	"mpt3sas", "megaraid_sas", "hpsa", "smartpqi", "aacraid", "pm80xx",
	// USB mass storage (a stick, or an enclosure) on every host controller.
	"xhci_pci", "ehci_pci", "ohci_pci", "uhci_hcd", "usb_storage", "uas",
	// Keyboards for the rescue shell on a USB-only console.
	"usbhid", "hid_generic",
	// Virtual machines; virtio_rng seeds the kernel's random pool where
	// the CPU has no RDRAND (QEMU TCG), or crypto/rand blocks for minutes.
	"virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net", "virtio_rng",
	// device-mapper (its core carries the "error" target).
	"dm_mod",
	// NICs for DHCP and the audit store: Intel, Broadcom, Mellanox/NVIDIA
	// families that need no firmware files (the image carries none).
	"e1000", "e1000e", "igb", "ixgbe", "i40e", "tg3", "bnxt_en", "mlx5_core",
}

// ExtraModules are shipped but load only by name: fault injection and the
// 9p share the QEMU tests use.
var ExtraModules = []string{
	"dm_flakey", "dm_delay", "dm_zero",
	"scsi_debug",
	"9p", "9pnet_virtio",
}
