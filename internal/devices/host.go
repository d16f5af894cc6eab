package devices

import (
	"os"
	"strings"

	"github.com/lethe-project/lethe/cert"
)

// HostIdentity identifies the machine the drives sit in (the certificate's
// cert.Host), from SMBIOS as the kernel exposes it in /sys/class/dmi/id.
type HostIdentity = cert.Host

// Host returns the identity of the machine described by e. Fields the
// firmware leaves empty or fills with placeholders stay empty.
func (e Env) Host() HostIdentity {
	dmi := func(name string) string {
		s := strings.TrimSpace(readString(e.path("/sys/class/dmi/id/" + name)))
		switch strings.ToLower(s) {
		case "", "default string", "to be filled by o.e.m.", "not specified", "none", "0", "system serial number", "chassis serial number":
			return ""
		}
		return s
	}
	h := HostIdentity{
		MachineID:       strings.TrimSpace(readString(e.path("/etc/machine-id"))),
		SystemVendor:    dmi("sys_vendor"),
		SystemProduct:   dmi("product_name"),
		SystemSerial:    dmi("product_serial"),
		SystemUUID:      dmi("product_uuid"),
		BoardVendor:     dmi("board_vendor"),
		BoardProduct:    dmi("board_name"),
		BoardSerial:     dmi("board_serial"),
		ChassisSerial:   dmi("chassis_serial"),
		ChassisAssetTag: dmi("chassis_asset_tag"),
		BIOSVersion:     dmi("bios_version"),
		Kernel:          strings.TrimSpace(readString(e.path("/proc/sys/kernel/osrelease"))),
	}
	if e.Root == "/" || e.Root == "" {
		h.Hostname, _ = os.Hostname()
	} else {
		h.Hostname = strings.TrimSpace(readString(e.path("/etc/hostname")))
	}
	return h
}
