// Command dmhelper creates and removes device-mapper devices with the DM
// ioctls (linux/dm-ioctl.h), for the QEMU guest tests: the boot image has
// no dmsetup. It is built statically by the test and put into the guest's
// share; it is never part of lethe or its image.
//
//	dmhelper create NAME "START LEN TARGET ARGS" ...   prints /dev/dm-N
//	dmhelper remove NAME
//
// Example (in a guest): dmhelper create bad "0 8192 linear /dev/vda 0" "8192 256 error"
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// struct dm_ioctl (linux/dm-ioctl.h): version[3], data_size, data_start,
// target_count, open_count, flags, event_nr, padding, dev (u64),
// name[128], uuid[129], data[7] = 312 bytes.
const (
	dmIoctlSize  = 312
	dmNameLen    = 128
	dmTypeLen    = 16
	specSize     = 40 // struct dm_target_spec: sector_start, length, status, next, target_type[16]
	dmDevCreate  = 3
	dmDevRemove  = 4
	dmDevSuspend = 6
	dmTableLoad  = 9
	controlPath  = "/dev/mapper/control"
)

// cmd is _IOWR(0xfd, nr, struct dm_ioctl).
func cmd(nr uintptr) uintptr { return 3<<30 | dmIoctlSize<<16 | 0xfd<<8 | nr }

func header(name string, size int) []byte {
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(b[0:], 4) // interface version 4.0.0
	le.PutUint32(b[12:], uint32(size))
	le.PutUint32(b[16:], dmIoctlSize)
	copy(b[48:48+dmNameLen-1], name)
	return b
}

func ioctl(nr uintptr, b []byte) error {
	f, err := os.OpenFile(controlPath, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), cmd(nr), uintptr(unsafe.Pointer(&b[0]))); errno != 0 {
		return errno
	}
	return nil
}

type target struct {
	start, length uint64
	typ, args     string
}

func parseTarget(s string) (target, error) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return target{}, fmt.Errorf("target %q: want START LEN TYPE [ARGS]", s)
	}
	start, err1 := strconv.ParseUint(f[0], 10, 64)
	length, err2 := strconv.ParseUint(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil || len(f[2]) >= dmTypeLen {
		return target{}, fmt.Errorf("target %q: %v", s, err)
	}
	return target{start, length, f[2], strings.Join(f[3:], " ")}, nil
}

func create(name string, ts []target) (string, error) {
	h := header(name, dmIoctlSize)
	if err := ioctl(dmDevCreate, h); err != nil {
		return "", fmt.Errorf("DM_DEV_CREATE: %w", err)
	}
	dev := binary.LittleEndian.Uint64(h[40:])
	// Table: dm_target_spec followed by its NUL-terminated parameters,
	// each spec 8-byte aligned; next is the offset to the following spec.
	var table []byte
	for _, t := range ts {
		n := (specSize + len(t.args) + 1 + 7) &^ 7
		spec := make([]byte, n)
		binary.LittleEndian.PutUint64(spec[0:], t.start)
		binary.LittleEndian.PutUint64(spec[8:], t.length)
		binary.LittleEndian.PutUint32(spec[20:], uint32(n))
		copy(spec[24:24+dmTypeLen], t.typ)
		copy(spec[specSize:], t.args)
		table = append(table, spec...)
	}
	b := header(name, dmIoctlSize+len(table))
	binary.LittleEndian.PutUint32(b[20:], uint32(len(ts)))
	copy(b[dmIoctlSize:], table)
	if err := ioctl(dmTableLoad, b); err != nil {
		_ = ioctl(dmDevRemove, header(name, dmIoctlSize))
		return "", fmt.Errorf("DM_TABLE_LOAD: %w", err)
	}
	// DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes: the loaded table
	// becomes live.
	if err := ioctl(dmDevSuspend, header(name, dmIoctlSize)); err != nil {
		_ = ioctl(dmDevRemove, header(name, dmIoctlSize))
		return "", fmt.Errorf("DM_DEV_SUSPEND (resume): %w", err)
	}
	return fmt.Sprintf("/dev/dm-%d", unix.Minor(dev)), nil
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: dmhelper create NAME TARGET... | dmhelper remove NAME")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "create":
		var ts []target
		for _, a := range os.Args[3:] {
			t, err := parseTarget(a)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			ts = append(ts, t)
		}
		path, err := create(os.Args[2], ts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dmhelper:", err)
			os.Exit(1)
		}
		fmt.Println(path)
	case "remove":
		if err := ioctl(dmDevRemove, header(os.Args[2], dmIoctlSize)); err != nil {
			fmt.Fprintln(os.Stderr, "dmhelper: DM_DEV_REMOVE:", err)
			os.Exit(1)
		}
	default:
		os.Exit(2)
	}
}
