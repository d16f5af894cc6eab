package wipe

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

func unsafePointer(p *uint64) unsafe.Pointer { return unsafe.Pointer(p) }

// alignedBuffer returns n bytes of page-aligned memory outside the Go heap,
// as O_DIRECT requires buffers aligned to the logical block size.
func alignedBuffer(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("allocate %d-byte I/O buffer: %w", n, err)
	}
	return b, nil
}

func freeBuffer(b []byte) { _ = unix.Munmap(b) }
