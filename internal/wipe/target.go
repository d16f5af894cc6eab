package wipe

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Target is what the overwrite engine writes to and reads back from: a
// block device, an image file, or a test wrapper that injects faults.
// ReadAt and WriteAt take offsets and lengths that are multiples of
// SectorSize, except for the tail of an image file whose size is not.
type Target interface {
	io.ReaderAt
	io.WriterAt
	// Size is the number of bytes to overwrite.
	Size() int64
	// SectorSize is the logical sector size: the unit of I/O and of the
	// LBA ranges recorded for errors.
	SectorSize() int
	// Direct reports whether I/O bypasses the page cache (O_DIRECT), so a
	// read-back comes from the medium rather than from memory.
	Direct() bool
	// Sync makes written data durable (fdatasync).
	Sync() error
	Close() error
}

// OpenOptions controls how a device is opened.
type OpenOptions struct {
	// Shared opens without O_EXCL. Only for devices whose holders the
	// operator forced past (dm/md stacked on top claim the device, so an
	// exclusive open fails even with nothing mounted).
	Shared bool
	// ReadOnly opens for verification only.
	ReadOnly bool
}

// BusyError is returned when the kernel refuses the exclusive open: another
// program, a mount or a holder has the device.
type BusyError struct{ Path string }

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s is open exclusively by another program (O_EXCL open: device busy)", e.Path)
}

// fileTarget is a block device or a regular file opened for direct I/O.
type fileTarget struct {
	path   string
	f      *os.File // O_DIRECT when direct
	tail   *os.File // buffered, for an image file's unaligned tail
	size   int64
	sector int
	direct bool
	block  bool
}

// Open opens path for overwriting: O_DIRECT and, for a block device,
// O_EXCL so that nobody mounts or claims it while lethe writes.
func Open(path string, opt OpenOptions) (Target, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	flags := unix.O_RDWR
	if opt.ReadOnly {
		flags = unix.O_RDONLY
	}
	flags |= unix.O_CLOEXEC
	t := &fileTarget{path: path, block: st.Mode()&os.ModeDevice != 0}
	if t.block && !opt.Shared {
		flags |= unix.O_EXCL
	}
	if !t.block && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("open %s: not a block device or regular file", path)
	}
	fd, err := unix.Open(path, flags|unix.O_DIRECT, 0)
	if errors.Is(err, unix.EINVAL) && !t.block {
		// tmpfs and some other filesystems have no O_DIRECT: fall back
		// to buffered I/O with fdatasync and page-cache eviction.
		fd, err = unix.Open(path, flags, 0)
	} else {
		t.direct = err == nil
	}
	if errors.Is(err, unix.EBUSY) {
		return nil, &BusyError{Path: path}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	t.f = os.NewFile(uintptr(fd), path)
	if t.block {
		if t.size, err = blockSize(fd); err != nil {
			t.f.Close()
			return nil, fmt.Errorf("open %s: size: %w", path, err)
		}
		ss, err := unix.IoctlGetInt(fd, unix.BLKSSZGET)
		if err != nil {
			t.f.Close()
			return nil, fmt.Errorf("open %s: sector size: %w", path, err)
		}
		t.sector = ss
		return t, nil
	}
	t.size = st.Size()
	t.sector = 512
	if t.size%int64(t.sector) != 0 || !t.direct {
		tailFlags := unix.O_RDWR
		if opt.ReadOnly {
			tailFlags = unix.O_RDONLY
		}
		tf, err := os.OpenFile(path, tailFlags|unix.O_CLOEXEC, 0)
		if err != nil {
			t.f.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		t.tail = tf
	}
	return t, nil
}

func blockSize(fd int) (int64, error) {
	var size uint64
	// BLKGETSIZE64 returns the size in bytes (linux/fs.h).
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKGETSIZE64, uintptr(unsafePointer(&size))); errno != 0 {
		return 0, errno
	}
	return int64(size), nil
}

func (t *fileTarget) Size() int64     { return t.size }
func (t *fileTarget) SectorSize() int { return t.sector }
func (t *fileTarget) Direct() bool    { return t.direct }

// useTail reports whether an I/O must go through the buffered descriptor:
// the filesystem has no O_DIRECT, or the I/O ends in a partial sector.
func (t *fileTarget) useTail(off int64, n int) bool {
	return t.tail != nil && (!t.direct || off+int64(n) == t.size && int64(n)%int64(t.sector) != 0)
}

func (t *fileTarget) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > t.size {
		return 0, fmt.Errorf("write %s: [%d, %d) beyond end %d", t.path, off, off+int64(len(p)), t.size)
	}
	if t.useTail(off, len(p)) {
		aligned := len(p) - len(p)%t.sector
		if !t.direct {
			aligned = 0
		}
		if aligned > 0 {
			if n, err := t.f.WriteAt(p[:aligned], off); err != nil {
				return n, err
			}
		}
		n, err := t.tail.WriteAt(p[aligned:], off+int64(aligned))
		return aligned + n, err
	}
	return t.f.WriteAt(p, off)
}

func (t *fileTarget) ReadAt(p []byte, off int64) (int, error) {
	if t.useTail(off, len(p)) {
		aligned := len(p) - len(p)%t.sector
		if !t.direct {
			aligned = 0
		}
		if aligned > 0 {
			if n, err := t.f.ReadAt(p[:aligned], off); err != nil {
				return n, err
			}
		}
		n, err := t.tail.ReadAt(p[aligned:], off+int64(aligned))
		return aligned + n, err
	}
	return t.f.ReadAt(p, off)
}

// Sync flushes written data to the medium and, where I/O went through the
// page cache, evicts it so that a read-back has to come from the medium.
func (t *fileTarget) Sync() error {
	if err := unix.Fdatasync(int(t.f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", t.path, err)
	}
	if t.tail != nil {
		if err := unix.Fdatasync(int(t.tail.Fd())); err != nil {
			return fmt.Errorf("sync %s: %w", t.path, err)
		}
		_ = unix.Fadvise(int(t.tail.Fd()), 0, 0, unix.FADV_DONTNEED)
	}
	if t.block {
		// Drop any page-cache copy left by other (buffered) openers.
		_ = unix.IoctlSetInt(int(t.f.Fd()), unix.BLKFLSBUF, 0)
	}
	return nil
}

func (t *fileTarget) Close() error {
	err := t.f.Close()
	if t.tail != nil {
		if e := t.tail.Close(); err == nil {
			err = e
		}
	}
	return err
}
