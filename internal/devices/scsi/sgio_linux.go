package scsi

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SG_IO and its header (include/scsi/sg.h). Laid out by hand because
// x/sys/unix does not carry them; sgIOHdr matches struct sg_io_hdr on both
// 32- and 64-bit Linux (pointers are uintptr), 88 bytes on 64-bit.
const (
	sgIO           = 0x2285
	sgDxferNone    = -1
	sgDxferToDev   = -2
	sgDxferFromDev = -3
	sgInfoOKMask   = 0x1
	maxSense       = 64
)

type sgIOHdr struct {
	InterfaceID    int32   // 'S'
	DxferDirection int32   // SG_DXFER_*
	CmdLen         uint8   // CDB length
	MxSbLen        uint8   // sense buffer size
	IovecCount     uint16  // 0: no scatter/gather
	DxferLen       uint32  // data length
	Dxferp         uintptr // data buffer
	Cmdp           uintptr // CDB
	Sbp            uintptr // sense buffer
	Timeout        uint32  // milliseconds
	Flags          uint32
	PackID         int32
	UsrPtr         uintptr
	Status         uint8 // SCSI status
	MaskedStatus   uint8
	MsgStatus      uint8
	SbLenWr        uint8 // sense bytes written
	HostStatus     uint16
	DriverStatus   uint16
	Resid          int32
	Duration       uint32 // milliseconds
	Info           uint32
}

// SGIO is a Transport over Linux SG_IO on a SCSI block device (/dev/sdX) or
// a SCSI generic node (/dev/sgN). SG_IO is synchronous: one command at a
// time per SGIO value.
type SGIO struct {
	f *os.File
}

// OpenSGIO opens path for SG_IO. The device is opened read-write without
// O_EXCL (the caller's guards decide whether the device may be written;
// commands such as SANITIZE need write access), and O_NONBLOCK so a
// not-ready device still opens.
func OpenSGIO(path string) (*SGIO, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s for SG_IO: %w", path, err)
	}
	return &SGIO{f: f}, nil
}

// Close closes the device.
func (s *SGIO) Close() error { return s.f.Close() }

// Name returns the path the transport was opened with.
func (s *SGIO) Name() string { return s.f.Name() }

// Exec sends one command with SG_IO.
func (s *SGIO) Exec(ctx context.Context, c *Command) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(c.CDB) == 0 || len(c.CDB) > 255 {
		return nil, fmt.Errorf("SG_IO: CDB length %d", len(c.CDB))
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			if left <= 0 {
				return nil, context.DeadlineExceeded
			}
			timeout = left
		}
	}
	ms := timeout.Milliseconds()
	if ms > int64(^uint32(0)-1) { // UINT_MAX means "no timeout" to sg: avoid it
		ms = int64(^uint32(0) - 1)
	}

	cdb := append([]byte(nil), c.CDB...)
	sense := make([]byte, maxSense)
	h := sgIOHdr{
		InterfaceID: 'S',
		CmdLen:      uint8(len(cdb)),
		MxSbLen:     uint8(len(sense)),
		Timeout:     uint32(ms),
		Cmdp:        uintptr(unsafe.Pointer(&cdb[0])),
		Sbp:         uintptr(unsafe.Pointer(&sense[0])),
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&cdb[0])
	pin.Pin(&sense[0])
	switch c.Dir {
	case DirNone:
		h.DxferDirection = sgDxferNone
	case DirIn, DirOut:
		if len(c.Data) == 0 {
			return nil, fmt.Errorf("SG_IO: direction %s without a data buffer", c.Dir)
		}
		h.DxferDirection = sgDxferFromDev
		if c.Dir == DirOut {
			h.DxferDirection = sgDxferToDev
		}
		h.DxferLen = uint32(len(c.Data))
		pin.Pin(&c.Data[0])
		h.Dxferp = uintptr(unsafe.Pointer(&c.Data[0]))
	default:
		return nil, fmt.Errorf("SG_IO: bad direction %d", c.Dir)
	}
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, s.f.Fd(), sgIO, uintptr(unsafe.Pointer(&h)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return nil, &os.SyscallError{Syscall: "ioctl SG_IO", Err: errno}
		}
		break
	}
	runtime.KeepAlive(s.f)
	r := &Result{
		Status:       Status(h.Status),
		HostStatus:   h.HostStatus,
		DriverStatus: h.DriverStatus,
		Resid:        int(h.Resid),
		Duration:     time.Duration(h.Duration) * time.Millisecond,
	}
	if h.SbLenWr > 0 {
		r.Sense = append([]byte(nil), sense[:min(int(h.SbLenWr), len(sense))]...)
	}
	if c.Dir != DirNone {
		r.DataLen = max(0, len(c.Data)-r.Resid)
	}
	// Some HBAs report sense without setting the status byte.
	if r.Status == StatusGood && h.Info&sgInfoOKMask != 0 && len(r.Sense) > 0 && h.DriverStatus&0x0f == driverSense {
		r.Status = StatusCheckCondition
	}
	return r, nil
}
