// Package power ends a boot image session: it syncs filesystems, waits for
// the consoles to transmit what was written to them, and powers the machine
// off or reboots it.
//
// Draining matters: the uinit's last lines (the PASS/FAIL screen, a test's
// end marker) sit in the serial driver's buffer when reboot(2) is called,
// and the kernel does not flush user-space tty output before powering off.
// tcdrain (TCSBRK with a non-zero argument) waits until it is sent.
package power

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DrainTimeout bounds the wait for each console; a wedged serial line must
// not keep the machine from powering off.
const DrainTimeout = 2 * time.Second

// Consoles lists the kernel's console devices from /proc/consoles (e.g.
// "/dev/ttyS0", "/dev/tty0").
func Consoles() []string {
	f, err := os.Open("/proc/consoles")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, _, ok := strings.Cut(strings.TrimSpace(sc.Text()), " "); ok && name != "" {
			out = append(out, filepath.Join("/dev", name))
		}
	}
	return out
}

// DrainConsoles waits until standard output, standard error, /dev/console
// and every kernel console have transmitted their buffered output.
func DrainConsoles() {
	for _, f := range []*os.File{os.Stdout, os.Stderr} {
		drainFd(int(f.Fd()))
	}
	for _, p := range append([]string{"/dev/console"}, Consoles()...) {
		f, err := os.OpenFile(p, os.O_WRONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		drainFd(int(f.Fd()))
		f.Close()
	}
}

func drainFd(fd int) {
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return // not a terminal
	}
	done := make(chan struct{})
	go func() {
		// TCSBRK with arg != 0 is tcdrain(3): wait until all output is sent.
		_ = unix.IoctlSetInt(fd, unix.TCSBRK, 1)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(DrainTimeout):
	}
}

// Off syncs, drains the consoles and powers off. It returns only on error.
func Off() error { return halt(unix.LINUX_REBOOT_CMD_POWER_OFF) }

// Reboot syncs, drains the consoles and reboots. It returns only on error.
func Reboot() error { return halt(unix.LINUX_REBOOT_CMD_RESTART) }

func halt(cmd int) error {
	unix.Sync()
	DrainConsoles()
	if err := unix.Reboot(cmd); err != nil {
		return fmt.Errorf("reboot(2): %w", err)
	}
	return nil
}
