package probe

import (
	"context"
	"fmt"
	"io"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/scsi"
)

// UnsupportedError says a device has no command pass-through lethe can use
// (virtio-blk, MMC, loop, dm, files): only a host overwrite applies.
type UnsupportedError struct {
	Path      string
	Transport devices.Transport
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: no command pass-through for transport %s", e.Path, e.Transport)
}

// Handle is an open transport to one disk. Exactly one of NVMe and SCSI is
// set; ATA is set with SCSI when the drive is ATA behind a SATL (after
// Probe).
type Handle struct {
	Path string
	NVMe nvme.Transport
	NSID uint32 // namespace of an NVMe block device
	SCSI scsi.Transport
	// tryATA: the transport may carry ATA (SATA, USB, unknown).
	tryATA bool
	closer io.Closer
}

// Open opens the command transport for a whole disk described by
// devices.Describe. The device must stay open no longer than needed: the
// kernel may keep other users out of an SG_IO'd disk only while I/O runs,
// but lethe's guards assume it holds no descriptor during a wipe it does
// not drive.
func Open(d *devices.Device) (*Handle, error) {
	if d.Kind != devices.KindDisk {
		return nil, fmt.Errorf("%s: probe the whole disk, not a %s", d.Path, d.Kind)
	}
	switch d.Transport {
	case devices.TransportNVMe:
		t, err := nvme.OpenIoctl(d.Path)
		if err != nil {
			return nil, err
		}
		nsid, err := t.NamespaceID()
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("%s: %w", d.Path, err)
		}
		return &Handle{Path: d.Path, NVMe: t, NSID: nsid, closer: t}, nil
	case devices.TransportSATA, devices.TransportUSB, devices.TransportSAS, devices.TransportSCSI, devices.TransportUnknown:
		t, err := scsi.OpenSGIO(d.Path)
		if err != nil {
			return nil, err
		}
		try := d.Transport != devices.TransportSAS && d.Transport != devices.TransportSCSI || d.Vendor == "ATA"
		return &Handle{Path: d.Path, SCSI: t, tryATA: try, closer: t}, nil
	}
	return nil, &UnsupportedError{Path: d.Path, Transport: d.Transport}
}

// NewNVMeHandle wraps an NVMe transport opened elsewhere (a simulator, or a
// controller already open) as a Handle for namespace nsid. closer may be nil.
func NewNVMeHandle(path string, t nvme.Transport, nsid uint32, closer io.Closer) *Handle {
	return &Handle{Path: path, NVMe: t, NSID: nsid, closer: closer}
}

// NewSCSIHandle wraps a SCSI transport opened elsewhere; tryATA says the
// path may carry ATA PASS-THROUGH (a SATL). closer may be nil.
func NewSCSIHandle(path string, t scsi.Transport, tryATA bool, closer io.Closer) *Handle {
	return &Handle{Path: path, SCSI: t, tryATA: tryATA, closer: closer}
}

// Close closes the transport.
func (h *Handle) Close() error {
	if h.closer == nil {
		return nil
	}
	return h.closer.Close()
}

// Probe reads the drive's identity and capabilities.
func (h *Handle) Probe(ctx context.Context) (*Info, error) {
	if h.NVMe != nil {
		return NVMe(ctx, h.NVMe, h.NSID)
	}
	return SCSI(ctx, h.SCSI, h.tryATA)
}

// ATA returns an ATA device on the handle's SCSI transport.
func (h *Handle) ATA() *ata.Device { return ata.New(h.SCSI) }

// Device opens, probes and closes d.
func Device(ctx context.Context, d *devices.Device) (*Info, error) {
	h, err := Open(d)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.Probe(ctx)
}
