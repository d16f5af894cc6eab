package wipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lethe-project/lethe/cert"
)

// IOOptions tune the engine. The zero value means the defaults.
type IOOptions struct {
	// ChunkBytes is the size of one write or read (default 4 MiB).
	ChunkBytes int
	// Workers is the number of chunks in flight per device (default 4).
	// Each worker generates its next chunk while others wait on the
	// device, so pattern generation overlaps I/O.
	Workers int
	// Retries is how often a failed chunk is tried again before lethe
	// bisects it to find the failing sectors (default 3).
	Retries int
	// RetryDelay is the pause between retries (default 100 ms).
	RetryDelay time.Duration
	// MaxErrorRanges stops a pass once this many LBA ranges have failed
	// (default 1024): the drive is failing and is recorded FAILED.
	MaxErrorRanges int
}

func (o IOOptions) withDefaults() IOOptions {
	if o.ChunkBytes <= 0 {
		o.ChunkBytes = 4 << 20
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Retries <= 0 {
		o.Retries = 3
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = 100 * time.Millisecond
	}
	if o.MaxErrorRanges <= 0 {
		o.MaxErrorRanges = 1024
	}
	return o
}

// Range is a run of logical blocks (LBAs of the target's logical sector
// size), as the certificate records it.
type Range = cert.Range

// extent is one I/O job: Len bytes at Off.
type extent struct {
	Off int64
	Len int
}

// extents is the list of I/O jobs of a phase, produced on demand so that a
// full pass over a large drive does not materialize millions of entries.
type extents interface {
	Len() int
	At(i int) extent
}

// chunked covers [0, size) in chunks of n bytes.
type chunked struct {
	size int64
	n    int
}

func (c chunked) Len() int { return int((c.size + int64(c.n) - 1) / int64(c.n)) }
func (c chunked) At(i int) extent {
	off := int64(i) * int64(c.n)
	return extent{Off: off, Len: int(min(int64(c.n), c.size-off))}
}

// errTooManyErrors stops a phase on a failing drive.
var errTooManyErrors = errors.New("too many failed LBA ranges; drive is failing")

// phaseResult is what one pass over a set of extents found.
type phaseResult struct {
	Bytes      int64   // bytes written or read successfully
	Failed     []Range // LBA ranges that could not be written or read
	Mismatched []Range // LBA ranges read back with the wrong content
	// MismatchedSectors counts all mismatched sectors (Mismatched is
	// truncated to keep certificates bounded).
	MismatchedSectors int64
	Aborted           bool
	Stopped           error // set when the phase gave up early
}

// maxRecordedRanges bounds the ranges kept per phase in a report.
const maxRecordedRanges = 256

// phase runs one overwrite (write=true) or read-back over jobs.
type phase struct {
	t       Target
	p       Pattern
	opt     IOOptions
	write   bool
	done    *atomic.Int64 // progress, bytes
	mu      sync.Mutex
	res     phaseResult
	nErrors int
}

func runPhase(ctx context.Context, t Target, p Pattern, jobs extents, write bool, opt IOOptions, done *atomic.Int64) (phaseResult, error) {
	opt = opt.withDefaults()
	ph := &phase{t: t, p: p, opt: opt, write: write, done: done}
	var next atomic.Int64
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	workers := min(opt.Workers, max(jobs.Len(), 1))
	bufs := make([][]byte, workers)
	for i := range bufs {
		b, err := alignedBuffer(opt.ChunkBytes)
		if err != nil {
			for _, b := range bufs[:i] {
				freeBuffer(b)
			}
			return phaseResult{}, err
		}
		bufs[i] = b
	}
	defer func() {
		for _, b := range bufs {
			freeBuffer(b)
		}
	}()

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			buf := bufs[w]
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= jobs.Len() {
					return
				}
				e := jobs.At(i)
				if err := ph.do(ctx, buf[:e.Len], e.Off); err != nil {
					stop(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, errTooManyErrors) {
			ph.res.Stopped = cause
		} else {
			ph.res.Aborted = true
		}
	}
	ph.res.Failed = mergeRanges(ph.res.Failed)
	ph.res.Mismatched = mergeRanges(ph.res.Mismatched)
	if len(ph.res.Mismatched) > maxRecordedRanges {
		ph.res.Mismatched = ph.res.Mismatched[:maxRecordedRanges]
	}
	return ph.res, nil
}

// do writes or checks one extent.
func (ph *phase) do(ctx context.Context, buf []byte, off int64) error {
	if ph.write {
		ph.p.Fill(buf, off)
		failed := ph.ioRetry(ctx, buf, off, true)
		return ph.account(okBytes(len(buf), failed, ph.t.SectorSize()), failed)
	}
	failed := ph.ioRetry(ctx, buf, off, false)
	if len(failed) == 0 {
		ph.compare(buf, off)
	} else {
		// Compare what was readable, sector by sector around the holes.
		ss := ph.t.SectorSize()
		for s := 0; s < len(buf); s += ss {
			lba := (off + int64(s)) / int64(ss)
			if inRanges(failed, lba) {
				continue
			}
			ph.compare(buf[s:min(s+ss, len(buf))], off+int64(s))
		}
	}
	return ph.account(okBytes(len(buf), failed, ph.t.SectorSize()), failed)
}

// compare checks a read-back buffer against the pattern and records the
// mismatched sectors.
func (ph *phase) compare(buf []byte, off int64) {
	if !ph.p.Mismatch(buf, off) {
		return
	}
	ss := ph.t.SectorSize()
	var bad []Range
	var n int64
	for s := 0; s < len(buf); s += ss {
		if ph.p.Differs(buf, off, s, min(s+ss, len(buf))) {
			bad = append(bad, Range{LBA: (off + int64(s)) / int64(ss), Count: 1})
			n++
		}
	}
	ph.mu.Lock()
	ph.res.MismatchedSectors += n
	if len(ph.res.Mismatched) < 4*maxRecordedRanges {
		ph.res.Mismatched = append(ph.res.Mismatched, mergeRanges(bad)...)
	}
	ph.mu.Unlock()
}

func (ph *phase) account(ok int64, failed []Range) error {
	ph.done.Add(ok)
	ph.mu.Lock()
	defer ph.mu.Unlock()
	ph.res.Bytes += ok
	if len(failed) > 0 {
		ph.res.Failed = append(ph.res.Failed, failed...)
		ph.nErrors += len(failed)
		if ph.nErrors >= ph.opt.MaxErrorRanges {
			return errTooManyErrors
		}
	}
	return nil
}

// ioRetry performs one write or read with retries. If the whole extent
// keeps failing, it bisects down to single sectors so that only the
// sectors that really fail are recorded, each with its error.
func (ph *phase) ioRetry(ctx context.Context, buf []byte, off int64, write bool) []Range {
	err := ph.ioOnce(buf, off, write)
	for try := 1; err != nil && try < ph.opt.Retries && ctx.Err() == nil; try++ {
		time.Sleep(ph.opt.RetryDelay)
		err = ph.ioOnce(buf, off, write)
	}
	if err == nil {
		return nil
	}
	ss := ph.t.SectorSize()
	if len(buf) <= ss || ctx.Err() != nil {
		return []Range{{LBA: off / int64(ss), Count: int64((len(buf) + ss - 1) / ss), Error: err.Error()}}
	}
	return ph.split(ctx, buf, off, write)
}

// split bisects a failed extent into two halves on a sector boundary.
func (ph *phase) split(ctx context.Context, buf []byte, off int64, write bool) []Range {
	ss := ph.t.SectorSize()
	half := max((len(buf)/2)/ss*ss, ss)
	return append(ph.bisect(ctx, buf[:half], off, write), ph.bisect(ctx, buf[half:], off+int64(half), write)...)
}

// bisect tries a part of a failed extent once; single sectors get the full
// retries, larger parts that fail are split again.
func (ph *phase) bisect(ctx context.Context, buf []byte, off int64, write bool) []Range {
	ss := ph.t.SectorSize()
	if len(buf) <= ss {
		return ph.ioRetry(ctx, buf, off, write)
	}
	err := ph.ioOnce(buf, off, write)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return []Range{{LBA: off / int64(ss), Count: int64((len(buf) + ss - 1) / ss), Error: err.Error()}}
	}
	return ph.split(ctx, buf, off, write)
}

func (ph *phase) ioOnce(buf []byte, off int64, write bool) error {
	var n int
	var err error
	if write {
		n, err = ph.t.WriteAt(buf, off)
	} else {
		n, err = ph.t.ReadAt(buf, off)
		if errors.Is(err, io.EOF) && n == len(buf) {
			err = nil
		}
	}
	if err == nil && n != len(buf) {
		err = fmt.Errorf("short I/O: %d of %d bytes", n, len(buf))
	}
	return err
}

// mergeRanges sorts ranges and joins adjacent ones with the same error.
func mergeRanges(rs []Range) []Range {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b Range) int {
		switch {
		case a.LBA < b.LBA:
			return -1
		case a.LBA > b.LBA:
			return 1
		}
		return 0
	})
	out := []Range{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.LBA <= last.LBA+last.Count && r.Error == last.Error {
			last.Count = max(last.Count, r.LBA+r.Count-last.LBA)
			continue
		}
		out = append(out, r)
	}
	return out
}

// okBytes is how much of an n-byte extent succeeded, given its failed
// ranges (the last of which may cover a partial sector at a file's end).
func okBytes(n int, failed []Range, sector int) int64 {
	var bad int64
	for _, r := range failed {
		bad += r.Count * int64(sector)
	}
	return max(int64(n)-bad, 0)
}

func inRanges(rs []Range, lba int64) bool {
	for _, r := range rs {
		if lba >= r.LBA && lba < r.LBA+r.Count {
			return true
		}
	}
	return false
}

// sampleExtents turns the sampled units into read jobs.
type sampleExtents struct {
	offs []int64
	s    *cert.Sample
}

func (e sampleExtents) Len() int { return len(e.offs) }
func (e sampleExtents) At(i int) extent {
	off := e.offs[i]
	return extent{Off: off, Len: int(min(e.s.UnitBytes, e.s.SizeBytes-off))}
}
