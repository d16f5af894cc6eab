package devices

import (
	"os"
	"strings"
)

// HostIdentity identifies the machine the drives sit in, from SMBIOS as the
// kernel exposes it in /sys/class/dmi/id (DMTF DSP0134 types 1-3). NIST SP
// 800-88 Rev. 2 Appendix G asks for the media's location; for a returned
// server that is the server itself.
type HostIdentity struct {
	Hostname        string `json:"hostname,omitempty"`
	MachineID       string `json:"machineId,omitempty"`
	SystemVendor    string `json:"systemVendor,omitempty"`
	SystemProduct   string `json:"systemProduct,omitempty"`
	SystemSerial    string `json:"systemSerial,omitempty"`
	SystemUUID      string `json:"systemUUID,omitempty"`
	BoardVendor     string `json:"boardVendor,omitempty"`
	BoardProduct    string `json:"boardProduct,omitempty"`
	BoardSerial     string `json:"boardSerial,omitempty"`
	ChassisSerial   string `json:"chassisSerial,omitempty"`
	ChassisAssetTag string `json:"chassisAssetTag,omitempty"`
	BIOSVersion     string `json:"biosVersion,omitempty"`
	Kernel          string `json:"kernel,omitempty"`
	// TPMKey is the public key (PKIX PEM) of the host's TPM-resident key
	// that co-signed the certificate (lethe agent on a host with a TPM):
	// the same TPM gives the same key on every boot.
	TPMKey string `json:"tpmKey,omitempty"`
}

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
