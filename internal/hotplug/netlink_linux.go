package hotplug

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// kernelGroup is the multicast group the kernel sends uevents to (udev
// re-broadcasts its processed copies on group 2, which has no place here).
const kernelGroup = 1

// Conn is a netlink socket subscribed to the kernel's uevents.
type Conn struct {
	fd  int
	buf []byte
}

// ErrOverrun means the kernel dropped uevents because the socket buffer
// was full: the caller must rescan the state it follows.
var ErrOverrun = errors.New("uevent socket overrun: events were lost")

// Listen opens the uevent socket. Only root (CAP_NET_ADMIN is not needed
// to listen, but the devices are root's) sees the events of this machine;
// inside a network namespace the kernel still delivers untagged (block)
// uevents to sockets of the initial user namespace.
func Listen() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent socket: %w", err)
	}
	// A burst (a JBOD of 24 drives powering up) must not overflow the
	// default buffer; FORCE works as root, the plain option otherwise.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: kernelGroup}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent socket bind: %w", err)
	}
	return &Conn{fd: fd, buf: make([]byte, 64<<10)}, nil
}

// Read waits up to timeout (forever if <= 0) for the next kernel uevent.
// It returns os.ErrDeadlineExceeded on timeout and ErrOverrun when events
// were lost. Messages that are not kernel uevents, or not from the kernel
// (sender port id != 0: another process cannot inject events), are skipped.
func (c *Conn) Read(timeout time.Duration) (Uevent, error) {
	deadline := time.Now().Add(timeout)
	for {
		if timeout > 0 {
			ms := time.Until(deadline).Milliseconds()
			if ms <= 0 {
				return Uevent{}, os.ErrDeadlineExceeded
			}
			pfd := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
			n, err := unix.Poll(pfd, int(min(ms, 1<<30)))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return Uevent{}, fmt.Errorf("uevent poll: %w", err)
			}
			if n == 0 {
				return Uevent{}, os.ErrDeadlineExceeded
			}
		}
		n, from, err := unix.Recvfrom(c.fd, c.buf, 0)
		switch {
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue
		case errors.Is(err, unix.ENOBUFS):
			return Uevent{}, ErrOverrun
		case err != nil:
			return Uevent{}, fmt.Errorf("uevent read: %w", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue
		}
		u, err := ParseUevent(c.buf[:n])
		if err != nil {
			continue
		}
		return u, nil
	}
}

// Close closes the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }
