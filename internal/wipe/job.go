package wipe

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
)

// Phase names for progress events.
const (
	PhaseOverwrite = "overwrite"
	PhaseVerify    = "verify"
)

// Progress is a snapshot of a running job, emitted periodically and once at
// the end of each phase (Final).
type Progress struct {
	Phase  string        `json:"phase"`
	Pass   int           `json:"pass"`
	Passes int           `json:"passes"`
	Done   int64         `json:"done"`  // bytes done in this phase
	Total  int64         `json:"total"` // bytes in this phase
	Took   time.Duration `json:"took"`  // time in this phase so far
	Final  bool          `json:"final"`
	// OverallDone and OverallTotal span every phase of the job.
	OverallDone  int64 `json:"overallDone"`
	OverallTotal int64 `json:"overallTotal"`
}

// Rate is the phase's average throughput in bytes per second.
func (p Progress) Rate() float64 {
	if p.Took <= 0 {
		return 0
	}
	return float64(p.Done) / p.Took.Seconds()
}

// Job is a host overwrite of one target.
type Job struct {
	Target Target
	Method Method
	Verify VerifyMode
	// SamplePercent is the share of the media sampled verification reads
	// (default 10).
	SamplePercent float64
	// SampleSeed fixes the sampled positions (32 bytes); an audit server
	// may supply it so the operator cannot choose where to look. Random
	// when nil.
	SampleSeed []byte
	IO         IOOptions
	// Progress, when set, receives snapshots every ProgressInterval
	// (default 1 s) and at the end of each phase.
	Progress         func(Progress)
	ProgressInterval time.Duration
}

// tracker turns phase byte counters into Progress events.
type tracker struct {
	fn       func(Progress)
	interval time.Duration
	total    int64
	before   int64 // bytes of finished phases
}

func (tr *tracker) run(phaseName string, pass, passes int, total int64, f func(done *atomic.Int64)) {
	var done atomic.Int64
	start := time.Now()
	snap := func(final bool) Progress {
		d := done.Load()
		return Progress{Phase: phaseName, Pass: pass, Passes: passes, Done: d, Total: total,
			Took: time.Since(start), Final: final, OverallDone: tr.before + d, OverallTotal: tr.total}
	}
	stop := make(chan struct{})
	ticked := make(chan struct{})
	if tr.fn != nil {
		go func() {
			defer close(ticked)
			t := time.NewTicker(tr.interval)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					tr.fn(snap(false))
				}
			}
		}()
	} else {
		close(ticked)
	}
	f(&done)
	close(stop)
	<-ticked
	if tr.fn != nil {
		tr.fn(snap(true))
	}
	tr.before += done.Load()
}

// Overwrite runs the job's passes and verification and reports what
// happened. Cancelling ctx stops the job between chunks; the report then
// says ABORTED. The error is for failures to start (bad pattern, no memory);
// everything that happens to the drive is in the report.
func Overwrite(ctx context.Context, j Job) (*Report, error) {
	t := j.Target
	opt := j.IO.withDefaults()
	if len(j.Method.Passes) == 0 {
		return nil, fmt.Errorf("overwrite: method %q has no passes", j.Method.Name)
	}
	if j.SamplePercent == 0 {
		j.SamplePercent = 10
	}
	if j.ProgressInterval <= 0 {
		j.ProgressInterval = time.Second
	}
	size := t.Size()
	if size <= 0 {
		return nil, fmt.Errorf("overwrite: target has size %d", size)
	}
	patterns := make([]Pattern, len(j.Method.Passes))
	for i, name := range j.Method.Passes {
		p, err := ParsePattern(name) // random passes get a fresh key and IV here
		if err != nil {
			return nil, err
		}
		patterns[i] = p
	}
	var sample *Sample
	if j.Verify == VerifySample {
		seed := j.SampleSeed
		if seed == nil {
			var err error
			if seed, err = NewSeed(); err != nil {
				return nil, err
			}
		}
		unit := min(DefaultUnit(size, t.SectorSize()), int64(opt.ChunkBytes))
		var err error
		if sample, err = NewSample(size, unit, j.SamplePercent, seed); err != nil {
			return nil, err
		}
	}

	tech, _ := LookupTechnique(TechOverwrite)
	rep := &Report{
		Technique:  TechOverwrite,
		Category:   tech.Category,
		Method:     j.Method,
		SizeBytes:  size,
		SectorSize: t.SectorSize(),
		Started:    time.Now().UTC(),
		IO:         IOInfo{Direct: t.Direct(), ChunkBytes: opt.ChunkBytes, Workers: opt.Workers},
	}
	tr := &tracker{fn: j.Progress, interval: j.ProgressInterval, total: int64(len(patterns)) * size}
	switch j.Verify {
	case VerifyAll:
		tr.total *= 2
	case VerifyLast:
		tr.total += size
	case VerifySample:
		tr.total += sample.Bytes
	}

	n := len(patterns)
	aborted := false // the operator stopped the job, in any phase
	for i, p := range patterns {
		pr := PassReport{Index: i + 1, Pattern: p.Spec(), Started: time.Now().UTC()}
		var res phaseResult
		var err error
		tr.run(PhaseOverwrite, i+1, n, size, func(done *atomic.Int64) {
			res, err = runPhase(ctx, t, p, chunked{size, opt.ChunkBytes}, true, opt, done)
		})
		if err != nil {
			return nil, err
		}
		if serr := t.Sync(); serr != nil && !res.Aborted {
			res.Failed = append(res.Failed, Range{LBA: 0, Count: size / int64(t.SectorSize()), Error: serr.Error()})
		}
		pr.Ended = time.Now().UTC()
		pr.BytesWritten = res.Bytes
		pr.Failed = res.Failed
		pr.Aborted = res.Aborted
		aborted = aborted || res.Aborted
		if res.Stopped != nil {
			pr.Stopped = res.Stopped.Error()
		}
		if j.Verify == VerifyAll && !res.Aborted && res.Stopped == nil {
			v, err := verifyPhase(ctx, t, p, i+1, nil, opt, tr, n)
			if err != nil {
				return nil, err
			}
			pr.Verification = v
			rep.Verification = *v
			aborted = aborted || v.Result == VerifyAborted
		}
		rep.Passes = append(rep.Passes, pr)
		if aborted || res.Stopped != nil {
			break
		}
	}
	last := rep.Passes[len(rep.Passes)-1]
	completed := len(rep.Passes) == n && !aborted && last.Stopped == ""
	switch {
	case !completed:
		if rep.Verification.Scope == "" {
			rep.Verification = VerifyReport{Scope: "none", Result: VerifySkipped}
		}
	case j.Verify == VerifyOff:
		rep.Verification = VerifyReport{Scope: "none", Result: VerifySkipped}
	case j.Verify == VerifyLast || j.Verify == VerifySample:
		v, err := verifyPhase(ctx, t, patterns[n-1], n, sample, opt, tr, n)
		if err != nil {
			return nil, err
		}
		rep.Verification = *v
		aborted = v.Result == VerifyAborted
	}
	rep.Ended = time.Now().UTC()
	rep.Status, rep.StatusReason = overwriteStatus(rep, j.Verify, aborted)
	return rep, nil
}

// overwriteStatus decides the final status from what the passes and the
// read-back found. Order matters: an abort or any failed LBA outranks
// everything else.
func overwriteStatus(r *Report, mode VerifyMode, aborted bool) (Status, string) {
	planned := len(r.Method.Passes)
	if aborted {
		last := r.Passes[len(r.Passes)-1]
		where := fmt.Sprintf("during pass %d of %d after %s of %s", last.Index, planned,
			devices.HumanBytes(last.BytesWritten), devices.HumanBytes(r.SizeBytes))
		if !last.Aborted {
			where = fmt.Sprintf("after pass %d of %d, while verifying", last.Index, planned)
		}
		return StatusAborted, "stopped by the operator " + where + "; old data may remain"
	}
	var failed int
	for _, p := range r.Passes {
		failed += len(p.Failed)
		if p.Stopped != "" {
			return StatusFailed, fmt.Sprintf("pass %d stopped: %s", p.Index, p.Stopped)
		}
	}
	if failed > 0 {
		return StatusFailed, fmt.Sprintf("%d LBA range(s) could not be written; the drive must be destroyed", failed)
	}
	v := r.Verification
	switch v.Result {
	case VerifyFailed:
		return StatusFailed, fmt.Sprintf("verification of pass %d failed: %d sector(s) mismatched, %d unreadable range(s)",
			v.Pass, v.MismatchedSectors, len(v.Unreadable))
	case VerifySkipped:
		if mode == VerifyOff {
			return StatusPartial, "every user-addressable LBA was overwritten, but not verified (--verify off)"
		}
		return StatusPartial, "the overwrite completed but was not verified"
	}
	scope := "a full read-back"
	if v.Scope == "sample" {
		scope = fmt.Sprintf("a sampled read-back of %.2f%% of the media", v.Coverage)
	}
	return StatusErased, fmt.Sprintf("every user-addressable LBA was overwritten (%d pass(es)) and %s of pass %d matched the pattern",
		len(r.Passes), scope, v.Pass)
}

func verifyPhase(ctx context.Context, t Target, p Pattern, pass int, sample *Sample, opt IOOptions, tr *tracker, passes int) (*VerifyReport, error) {
	v := &VerifyReport{Scope: "full", Pass: pass, Expected: p.Spec(), Started: time.Now().UTC(), Direct: t.Direct()}
	var jobs extents = chunked{t.Size(), opt.ChunkBytes}
	total := t.Size()
	if sample != nil {
		jobs = sampleExtents{sample.Offsets(), sample}
		total = sample.Bytes
		v.Scope = "sample"
		v.Sample = sample
	}
	var res phaseResult
	var err error
	tr.run(PhaseVerify, pass, passes, total, func(done *atomic.Int64) {
		res, err = runPhase(ctx, t, p, jobs, false, opt, done)
	})
	if err != nil {
		return nil, err
	}
	v.Ended = time.Now().UTC()
	v.Bytes = res.Bytes
	v.Coverage = 100 * float64(res.Bytes) / float64(t.Size())
	v.MismatchedSectors = res.MismatchedSectors
	v.Mismatched = res.Mismatched
	v.Unreadable = res.Failed
	if res.Stopped != nil {
		v.Stopped = res.Stopped.Error()
	}
	switch {
	case res.Aborted:
		v.Result = VerifyAborted
	case res.MismatchedSectors > 0 || len(res.Failed) > 0 || res.Stopped != nil:
		v.Result = VerifyFailed
	default:
		v.Result = VerifyPassed
	}
	return v, nil
}

// VerifyJob is a standalone read-back of a target against a pattern.
type VerifyJob struct {
	Target   Target
	Expected Pattern
	// SamplePercent selects sampled verification; 0 reads every byte.
	SamplePercent float64
	SampleSeed    []byte
	IO            IOOptions
	Progress      func(Progress)
	// ProgressInterval defaults to 1 s.
	ProgressInterval time.Duration
}

// Verify reads the target back and compares it with the expected pattern.
func Verify(ctx context.Context, j VerifyJob) (*VerifyReport, error) {
	opt := j.IO.withDefaults()
	if j.ProgressInterval <= 0 {
		j.ProgressInterval = time.Second
	}
	size := j.Target.Size()
	if size <= 0 {
		return nil, fmt.Errorf("verify: target has size %d", size)
	}
	var sample *Sample
	if j.SamplePercent > 0 {
		seed := j.SampleSeed
		if seed == nil {
			var err error
			if seed, err = NewSeed(); err != nil {
				return nil, err
			}
		}
		var err error
		unit := min(DefaultUnit(size, j.Target.SectorSize()), int64(opt.ChunkBytes))
		if sample, err = NewSample(size, unit, j.SamplePercent, seed); err != nil {
			return nil, err
		}
	}
	tr := &tracker{fn: j.Progress, interval: j.ProgressInterval, total: size}
	if sample != nil {
		tr.total = sample.Bytes
	}
	v, err := verifyPhase(ctx, j.Target, j.Expected, 0, sample, opt, tr, 1)
	if err != nil {
		return nil, err
	}
	return v, nil
}
