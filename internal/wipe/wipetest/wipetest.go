// Package wipetest provides targets for testing the overwrite engine: an
// in-memory disk and a wrapper that injects I/O faults at given offsets.
package wipetest

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/lethe-project/lethe/internal/wipe"
)

// Mem is an in-memory target.
type Mem struct {
	mu     sync.Mutex
	Data   []byte
	Sector int
}

// NewMem returns an in-memory disk of size bytes filled with fill.
func NewMem(size int64, sector int, fill byte) *Mem {
	d := make([]byte, size)
	for i := range d {
		d[i] = fill
	}
	return &Mem{Data: d, Sector: sector}
}

func (m *Mem) check(p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > int64(len(m.Data)) {
		return fmt.Errorf("mem: [%d, %d) outside [0, %d)", off, off+int64(len(p)), len(m.Data))
	}
	return nil
}

// ReadAt implements wipe.Target.
func (m *Mem) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(p, off); err != nil {
		return 0, err
	}
	return copy(p, m.Data[off:]), nil
}

// WriteAt implements wipe.Target.
func (m *Mem) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(p, off); err != nil {
		return 0, err
	}
	return copy(m.Data[off:], p), nil
}

// Size implements wipe.Target.
func (m *Mem) Size() int64 { return int64(len(m.Data)) }

// SectorSize implements wipe.Target.
func (m *Mem) SectorSize() int { return m.Sector }

// Direct implements wipe.Target: memory has no page cache to bypass.
func (m *Mem) Direct() bool { return true }

// Sync implements wipe.Target.
func (m *Mem) Sync() error { return nil }

// Close implements wipe.Target.
func (m *Mem) Close() error { return nil }

// Fault makes I/O that overlaps [Off, Off+Len) fail.
type Fault struct {
	Off, Len int64
	// Times is how many overlapping I/Os fail before the region heals;
	// 0 means it never heals.
	Times int
	// Err is the error returned (default EIO).
	Err error
}

// Faulty wraps a target and injects faults. It also counts attempts so
// tests can see the engine's retries.
type Faulty struct {
	wipe.Target
	WriteFaults []Fault
	ReadFaults  []Fault
	// Lose makes writes overlapping these ranges report success without
	// storing the data, as a drive that silently drops writes does.
	Lose []Fault

	mu            sync.Mutex
	failedW       []int // per write fault: times it has failed so far
	failedR       []int
	WriteAttempts int
	ReadAttempts  int
	FailedWrites  int
	FailedReads   int
}

func overlaps(f Fault, off int64, n int) bool {
	return off < f.Off+f.Len && f.Off < off+int64(n)
}

func fault(list []Fault, counts *[]int, off int64, n int) error {
	for i, ft := range list {
		if !overlaps(ft, off, n) {
			continue
		}
		for len(*counts) <= i {
			*counts = append(*counts, 0)
		}
		if ft.Times > 0 && (*counts)[i] >= ft.Times {
			continue
		}
		(*counts)[i]++
		if ft.Err != nil {
			return ft.Err
		}
		return &wrapErr{op: "injected fault", err: syscall.EIO}
	}
	return nil
}

type wrapErr struct {
	op  string
	err error
}

func (e *wrapErr) Error() string { return e.op + ": " + e.err.Error() }
func (e *wrapErr) Unwrap() error { return e.err }

// WriteAt implements wipe.Target.
func (f *Faulty) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	f.WriteAttempts++
	err := fault(f.WriteFaults, &f.failedW, off, len(p))
	if err != nil {
		f.FailedWrites++
	}
	var lost []Fault
	for _, l := range f.Lose {
		if overlaps(l, off, len(p)) {
			lost = append(lost, l)
		}
	}
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if len(lost) == 0 {
		return f.Target.WriteAt(p, off)
	}
	// Write everything except the lost ranges.
	for i := int64(0); i < int64(len(p)); {
		pos := off + i
		inLost := false
		for _, l := range lost {
			if pos >= l.Off && pos < l.Off+l.Len {
				inLost = true
				i = min(l.Off+l.Len-off, int64(len(p)))
				break
			}
		}
		if inLost {
			continue
		}
		end := int64(len(p))
		for _, l := range lost {
			if l.Off > pos && l.Off-off < end {
				end = l.Off - off
			}
		}
		if _, err := f.Target.WriteAt(p[i:end], pos); err != nil {
			return int(i), err
		}
		i = end
	}
	return len(p), nil
}

// ReadAt implements wipe.Target.
func (f *Faulty) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	f.ReadAttempts++
	err := fault(f.ReadFaults, &f.failedR, off, len(p))
	if err != nil {
		f.FailedReads++
	}
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.Target.ReadAt(p, off)
}

// IsEIO reports whether err is an injected or real EIO.
func IsEIO(err error) bool { return errors.Is(err, syscall.EIO) }

// ReadWriterAt is host I/O to a drive: what a simulator (nvmesim,
// atasim, scsisim) offers as the OS block device's view.
type ReadWriterAt interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
}

// Over is a wipe.Target over a simulator's host I/O, so firmware erase tests
// plant and check their proof through the same path as on a real drive.
type Over struct {
	RW     ReadWriterAt
	Bytes  int64
	Sector int
}

// ReadAt implements wipe.Target.
func (o *Over) ReadAt(p []byte, off int64) (int, error) { return o.RW.ReadAt(p, off) }

// WriteAt implements wipe.Target.
func (o *Over) WriteAt(p []byte, off int64) (int, error) { return o.RW.WriteAt(p, off) }

// Size implements wipe.Target.
func (o *Over) Size() int64 { return o.Bytes }

// SectorSize implements wipe.Target.
func (o *Over) SectorSize() int { return o.Sector }

// Direct implements wipe.Target: a simulator has no page cache.
func (o *Over) Direct() bool { return true }

// Sync implements wipe.Target.
func (o *Over) Sync() error { return nil }

// Close implements wipe.Target.
func (o *Over) Close() error { return nil }

// Covers reports whether the ranges rs, in any order and possibly
// overlapping, cover every LBA in [lo, hi).
func Covers(rs []wipe.Range, lo, hi int64) bool {
	for lba := lo; lba < hi; {
		next := lba
		for _, r := range rs {
			if lba >= r.LBA && lba < r.LBA+r.Count {
				next = r.LBA + r.Count
			}
		}
		if next == lba {
			return false
		}
		lba = next
	}
	return true
}
