// Package simdisk is the medium behind lethe's drive simulators (nvmesim,
// atasim, scsisim): logical blocks in memory or in a file, a deallocation
// map (deallocated blocks read as a fill byte, as after an NVMe sanitize),
// and the data effects of erase operations (fill, pattern, crypto
// scramble), applied block range by block range so that an interrupted
// operation leaves a partly erased medium.
//
// Tests write old data with WriteAt, run the erase through a simulator, and
// read back with ReadAt (what the host sees) or RawReadAt (what the flash
// holds under the deallocation map).
package simdisk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
)

// Store is where the bytes live: memory or a file.
type Store interface {
	io.ReaderAt
	io.WriterAt
}

// Disk is a simulated medium. Its methods are safe for concurrent use.
type Disk struct {
	mu        sync.Mutex
	store     Store
	size      int64
	blockSize int
	dealloc   []bool // per block
	fill      byte   // what a deallocated block reads as
	written   bool   // any write since ClearWritten
}

type memStore []byte

func (m memStore) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m memStore) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m)) {
		return 0, fmt.Errorf("write past the end of the medium")
	}
	return copy(m[off:], p), nil
}

// NewMem returns a zero-filled in-memory disk. size must be a multiple of
// blockSize.
func NewMem(size int64, blockSize int) *Disk {
	d, err := New(make(memStore, size), size, blockSize)
	if err != nil {
		panic(err)
	}
	return d
}

// NewFile returns a disk backed by f (its current size).
func NewFile(f *os.File, blockSize int) (*Disk, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return New(f, st.Size(), blockSize)
}

// New returns a disk over any store of size bytes.
func New(s Store, size int64, blockSize int) (*Disk, error) {
	if blockSize < 512 || blockSize&(blockSize-1) != 0 {
		return nil, fmt.Errorf("simdisk: block size %d is not a power of two >= 512", blockSize)
	}
	if size <= 0 || size%int64(blockSize) != 0 {
		return nil, fmt.Errorf("simdisk: size %d is not a positive multiple of %d", size, blockSize)
	}
	return &Disk{store: s, size: size, blockSize: blockSize, dealloc: make([]bool, size/int64(blockSize))}, nil
}

// Size is the medium size in bytes.
func (d *Disk) Size() int64 { return d.size }

// BlockSize is the logical block size.
func (d *Disk) BlockSize() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.blockSize
}

// Blocks is the number of logical blocks.
func (d *Disk) Blocks() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size / int64(d.blockSize)
}

// SetBlockSize changes the logical block size (an LBA format change); the
// contents are kept as bytes and every block is deallocated, as a
// reformatted namespace has no defined contents.
func (d *Disk) SetBlockSize(n int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n < 512 || n&(n-1) != 0 || d.size%int64(n) != 0 {
		return fmt.Errorf("simdisk: block size %d does not fit %d bytes", n, d.size)
	}
	d.blockSize = n
	d.dealloc = make([]bool, d.size/int64(n))
	for i := range d.dealloc {
		d.dealloc[i] = true
	}
	return nil
}

// SetDeallocFill sets what deallocated blocks read as (NVMe DLFEAT: 0x00
// or 0xFF).
func (d *Disk) SetDeallocFill(b byte) {
	d.mu.Lock()
	d.fill = b
	d.mu.Unlock()
}

// ReadAt reads what the host sees: deallocated blocks read as the fill.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off < 0 || off >= d.size {
		return 0, io.EOF
	}
	n := len(p)
	if off+int64(n) > d.size {
		n = int(d.size - off)
	}
	if _, err := d.store.ReadAt(p[:n], off); err != nil && err != io.EOF {
		return 0, err
	}
	bs := int64(d.blockSize)
	for b := off / bs; b*bs < off+int64(n); b++ {
		if !d.dealloc[b] {
			continue
		}
		lo, hi := max(b*bs, off), min((b+1)*bs, off+int64(n))
		for i := lo; i < hi; i++ {
			p[i-off] = d.fill
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// RawReadAt reads the stored bytes, ignoring deallocation: what the flash
// holds, which a host cannot see.
func (d *Disk) RawReadAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.store.ReadAt(p, off)
}

// WriteAt writes host data; written blocks become allocated.
func (d *Disk) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off < 0 || off+int64(len(p)) > d.size {
		return 0, fmt.Errorf("simdisk: write of %d bytes at %d past the end (%d)", len(p), off, d.size)
	}
	n, err := d.store.WriteAt(p, off)
	bs := int64(d.blockSize)
	for b := off / bs; b*bs < off+int64(n); b++ {
		d.dealloc[b] = false
	}
	if n > 0 {
		d.written = true
	}
	return n, err
}

// Written reports whether the host wrote since ClearWritten (the NVMe
// Global Data Erased bit is its negation after a sanitize).
func (d *Disk) Written() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.written
}

// ClearWritten resets the written flag.
func (d *Disk) ClearWritten() {
	d.mu.Lock()
	d.written = false
	d.mu.Unlock()
}

// Deallocated reports whether block b is deallocated.
func (d *Disk) Deallocated(b int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return b >= 0 && b < int64(len(d.dealloc)) && d.dealloc[b]
}

// Effect is what an erase does to a block range.
type Effect interface {
	// apply writes blocks [lo, hi) of d; called with d.mu held.
	apply(d *Disk, lo, hi int64) error
}

// Pattern fills every block with Bytes repeated from the start of each
// block (SCSI/NVMe/ATA overwrite, zero fill). Inverted writes ^Bytes.
type Pattern struct {
	Bytes    []byte
	Inverted bool
}

// Zero is the all-zero pattern.
var Zero = Pattern{Bytes: []byte{0}}

// Uint32LE is the pattern of a 32-bit value repeated little endian (NVMe
// CDW11 and ATA OVERWRITE EXT patterns in the simulators).
func Uint32LE(v uint32) Pattern {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, v)
	return Pattern{Bytes: b}
}

func (p Pattern) block(n int) []byte {
	if len(p.Bytes) == 0 {
		return make([]byte, n)
	}
	b := bytes.Repeat(p.Bytes, n/len(p.Bytes)+1)[:n]
	if p.Inverted {
		for i := range b {
			b[i] = ^b[i]
		}
	}
	return b
}

func (p Pattern) apply(d *Disk, lo, hi int64) error {
	blk := p.block(d.blockSize)
	for b := lo; b < hi; b++ {
		if _, err := d.store.WriteAt(blk, b*int64(d.blockSize)); err != nil {
			return err
		}
	}
	return nil
}

// Scramble replaces blocks with pseudorandom bytes from Seed: the data is
// unreadable as the old data, as after a crypto erase changes the key.
type Scramble struct{ Seed uint64 }

func (s Scramble) apply(d *Disk, lo, hi int64) error {
	blk := make([]byte, d.blockSize)
	for b := lo; b < hi; b++ {
		r := rand.New(rand.NewPCG(s.Seed, uint64(b)))
		for i := 0; i+8 <= len(blk); i += 8 {
			binary.LittleEndian.PutUint64(blk[i:], r.Uint64())
		}
		if _, err := d.store.WriteAt(blk, b*int64(d.blockSize)); err != nil {
			return err
		}
	}
	return nil
}

// Deallocate marks blocks deallocated without changing stored bytes.
type Deallocate struct{}

func (Deallocate) apply(d *Disk, lo, hi int64) error {
	for b := lo; b < hi; b++ {
		d.dealloc[b] = true
	}
	return nil
}

// Apply applies e to blocks [lo, hi).
func (d *Disk) Apply(e Effect, lo, hi int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	lo, hi = max(lo, 0), min(hi, int64(len(d.dealloc)))
	if lo >= hi {
		return nil
	}
	return e.apply(d, lo, hi)
}

// ApplyAll applies e to every block.
func (d *Disk) ApplyAll(e Effect) error { return d.Apply(e, 0, d.Blocks()) }

// Operation is a long erase (sanitize, format) that advances in Steps
// equal slices of the medium, so progress and an interruption are visible
// in the data. Effects run in order on each slice (e.g. several overwrite
// passes, then deallocation).
type Operation struct {
	Disk    *Disk
	Effects []Effect
	Steps   int
	Done    int
	// Lying operations report progress but change nothing.
	Lying bool
}

// Advance runs n more steps and reports whether the operation is complete.
func (o *Operation) Advance(n int) (bool, error) {
	if o.Steps <= 0 {
		o.Steps = 1
	}
	for ; n > 0 && o.Done < o.Steps; n-- {
		blocks := o.Disk.Blocks()
		lo := blocks * int64(o.Done) / int64(o.Steps)
		hi := blocks * int64(o.Done+1) / int64(o.Steps)
		if !o.Lying {
			for _, e := range o.Effects {
				if err := o.Disk.Apply(e, lo, hi); err != nil {
					return false, err
				}
			}
		}
		o.Done++
	}
	return o.Done >= o.Steps, nil
}

// Finished reports whether all steps ran.
func (o *Operation) Finished() bool { return o.Done >= o.Steps }

// Progress returns the fraction done as a numerator over 65536, capped at
// 0xFFFF (the encoding NVMe SPROG, ATA LBA 15:0 and SCSI progress share).
func (o *Operation) Progress() uint16 {
	if o.Steps <= 0 {
		return 0
	}
	return uint16(min(65535, 65536*o.Done/o.Steps))
}
