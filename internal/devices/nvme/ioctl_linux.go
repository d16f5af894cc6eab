package nvme

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux NVMe ioctls (include/uapi/linux/nvme_ioctl.h), not in x/sys/unix.
const (
	ioctlAdminCmd = 0xC0484E41 // _IOWR('N', 0x41, struct nvme_passthru_cmd)
	ioctlID       = 0x4E40     // _IO('N', 0x40)
)

// passthruCmd is struct nvme_passthru_cmd (72 bytes).
type passthruCmd struct {
	Opcode      uint8
	Flags       uint8
	Rsvd1       uint16
	NSID        uint32
	CDW2        uint32
	CDW3        uint32
	Metadata    uint64
	Addr        uint64
	MetadataLen uint32
	DataLen     uint32
	CDW10       uint32
	CDW11       uint32
	CDW12       uint32
	CDW13       uint32
	CDW14       uint32
	CDW15       uint32
	TimeoutMs   uint32
	Result      uint32
}

// Ioctl is a Transport over NVME_IOCTL_ADMIN_CMD, on the controller
// character device (/dev/nvmeN) or a namespace block device (/dev/nvmeNnM).
type Ioctl struct {
	f *os.File
}

// OpenIoctl opens path for admin passthrough (needs CAP_SYS_ADMIN).
func OpenIoctl(path string) (*Ioctl, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s for NVMe passthrough: %w", path, err)
	}
	return &Ioctl{f: f}, nil
}

// Close closes the device.
func (d *Ioctl) Close() error { return d.f.Close() }

// Name returns the path the transport was opened with.
func (d *Ioctl) Name() string { return d.f.Name() }

// NamespaceID returns the NSID of a namespace block device (NVME_IOCTL_ID).
// It fails on the controller character device.
func (d *Ioctl) NamespaceID() (uint32, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, d.f.Fd(), ioctlID, 0)
	runtime.KeepAlive(d.f)
	if errno != 0 {
		return 0, &os.SyscallError{Syscall: "ioctl NVME_IOCTL_ID", Err: errno}
	}
	return uint32(r), nil
}

// Admin sends one admin command. The ioctl's positive return value is the
// NVMe status; a negative one (errno) is a delivery failure.
func (d *Ioctl) Admin(ctx context.Context, c *Command) (*Completion, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		timeout = min(timeout, left)
	}
	p := passthruCmd{
		Opcode: c.Opcode, NSID: c.NSID, CDW2: c.CDW2, CDW3: c.CDW3,
		CDW10: c.CDW10, CDW11: c.CDW11, CDW12: c.CDW12, CDW13: c.CDW13, CDW14: c.CDW14, CDW15: c.CDW15,
		TimeoutMs: uint32(min(timeout.Milliseconds(), int64(^uint32(0)))),
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	if len(c.Data) > 0 {
		pin.Pin(&c.Data[0])
		p.Addr = uint64(uintptr(unsafe.Pointer(&c.Data[0])))
		p.DataLen = uint32(len(c.Data))
	}
	var r uintptr
	var errno unix.Errno
	// EINTR from this ioctl means the kernel cancelled the request (timed
	// out and aborted, or a controller reset), not a signal: the command
	// may have run. Only reads are asked again, a few times; a Format NVM
	// or Sanitize is never re-sent (see ErrCancelled).
	for attempt := 0; ; attempt++ {
		r, _, errno = unix.Syscall(unix.SYS_IOCTL, d.f.Fd(), ioctlAdminCmd, uintptr(unsafe.Pointer(&p)))
		if errno != unix.EINTR {
			break
		}
		if !RetryAfterCancel(c.Opcode) || attempt >= 2 {
			runtime.KeepAlive(d.f)
			return nil, fmt.Errorf("ioctl NVME_IOCTL_ADMIN_CMD (opcode 0x%02x): %w", c.Opcode, ErrCancelled)
		}
	}
	runtime.KeepAlive(d.f)
	if errno != 0 {
		return nil, &os.SyscallError{Syscall: "ioctl NVME_IOCTL_ADMIN_CMD", Err: errno}
	}
	return &Completion{Result: p.Result, Status: Status(r)}, nil
}
