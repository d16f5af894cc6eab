package cert

// Transport is how the host talks to the medium.
type Transport string

// Transports. The firmware techniques that apply depend on it (NVMe admin
// commands, ATA or SCSI pass-through).
const (
	TransportNVMe    Transport = "nvme"
	TransportSATA    Transport = "sata"
	TransportSAS     Transport = "sas"
	TransportSCSI    Transport = "scsi" // SCSI, but neither SAS nor SATA behind it
	TransportVirtio  Transport = "virtio"
	TransportUSB     Transport = "usb"
	TransportMMC     Transport = "mmc"
	TransportLoop    Transport = "loop"
	TransportVirtual Transport = "virtual" // zram, dm, md, nbd, ...
	TransportOptical Transport = "optical"
	TransportFile    Transport = "file"
	TransportUnknown Transport = "unknown"
)

// Known reports whether t is one of the transports above.
func (t Transport) Known() bool {
	switch t {
	case TransportNVMe, TransportSATA, TransportSAS, TransportSCSI, TransportVirtio, TransportUSB, TransportMMC,
		TransportLoop, TransportVirtual, TransportOptical, TransportFile, TransportUnknown:
		return true
	}
	return false
}

// MediaType is the storage medium as far as the host can tell.
type MediaType string

// Media types. Flash and rotating media differ in what an overwrite proves
// (NIST SP 800-88 Rev. 2: overwrite is Clear on both, never Purge on
// flash).
const (
	MediaHDD     MediaType = "hdd"
	MediaSSD     MediaType = "ssd"
	MediaFile    MediaType = "file"
	MediaVirtual MediaType = "virtual"
	MediaUnknown MediaType = "unknown"
)

// Known reports whether m is one of the media types above.
func (m MediaType) Known() bool {
	switch m {
	case MediaHDD, MediaSSD, MediaFile, MediaVirtual, MediaUnknown:
		return true
	}
	return false
}

// Identity is the canonical identity of a drive: what names the physical
// medium rather than how it is attached today. The certificate's subject
// digest is computed over it (SubjectDigest). Fields added in later schema
// versions must be optional (omitempty), so that an identity without them
// keeps its digest.
type Identity struct {
	Vendor    string    `json:"vendor"`
	Model     string    `json:"model"`
	Serial    string    `json:"serial"`
	WWN       string    `json:"wwn"`
	Firmware  string    `json:"firmware"`
	Transport Transport `json:"transport"`
	SizeBytes int64     `json:"sizeBytes"`
	// RawIdentify is the drive's raw IDENTIFY / INQUIRY data when lethe
	// could read it, so an auditor can check the fields above against it.
	RawIdentify []byte `json:"rawIdentify,omitempty"`
	// BackingFile identifies loop devices and image files, which have no
	// serial number.
	BackingFile string `json:"backingFile,omitempty"`
	// BackingOffset and BackingSizeLimit are a loop device's offset into
	// its backing file and its size limit (losetup -o, --sizelimit), when
	// set: such a device is the window [BackingOffset,
	// BackingOffset+SizeBytes) of the file, not the file (schema 2).
	BackingOffset    int64 `json:"backingOffset,omitempty"`
	BackingSizeLimit int64 `json:"backingSizeLimit,omitempty"`
}

// Host identifies the machine the drives sit in, from SMBIOS (DMTF DSP0134
// types 1-3) as the kernel exposes it in /sys/class/dmi/id. NIST SP 800-88
// Rev. 2 Appendix G asks for the media's location; for a returned server
// that is the server itself.
type Host struct {
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
	// BootKey is the public key (PKIX PEM, ed25519) of the boot agent's
	// per-boot key that signed this certificate (schema version 2). It
	// lets an auditor check the signature offline; the certificate naming
	// its own key proves only integrity, so trust comes from the audit
	// store's receipt (the store accepted the certificate under a key it
	// enrolled with a token) or from a key the auditor holds.
	BootKey string `json:"bootKey,omitempty"`
}
