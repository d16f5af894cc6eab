package wipe

import (
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

func unsafePointer(p *uint64) unsafe.Pointer { return unsafe.Pointer(p) }

const hugePage = 2 << 20

// alignedBuffer returns n bytes of memory outside the Go heap, aligned to a
// 2 MiB boundary, as O_DIRECT requires buffers aligned to the logical block
// size. The 2 MiB alignment and MADV_HUGEPAGE let the kernel back large
// buffers with huge pages: fewer pages to pin per direct I/O and fewer TLB
// misses while generating and checking patterns.
func alignedBuffer(n int) ([]byte, error) {
	if n < hugePage {
		b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			return nil, fmt.Errorf("allocate %d-byte I/O buffer: %w", n, err)
		}
		return b, nil
	}
	size := (n + hugePage - 1) / hugePage * hugePage
	raw, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("allocate %d-byte I/O buffer: %w", n, err)
	}
	off := 0
	if r := int(uintptr(unsafe.Pointer(&raw[0])) % hugePage); r != 0 {
		off = hugePage - r
	}
	b := raw[off : off+size]
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // advice only: without THP it is a no-op
	buffersMu.Lock()
	buffers[&b[0]] = raw
	buffersMu.Unlock()
	return b[:n:n], nil
}

// buffers maps an aligned buffer to the mapping it was cut from; drives
// are wiped in parallel, so it is guarded.
var (
	buffersMu sync.Mutex
	buffers   = map[*byte][]byte{}
)

func freeBuffer(b []byte) {
	buffersMu.Lock()
	raw, ok := buffers[&b[0]]
	delete(buffers, &b[0])
	buffersMu.Unlock()
	if ok {
		_ = unix.Munmap(raw)
		return
	}
	_ = unix.Munmap(b)
}
