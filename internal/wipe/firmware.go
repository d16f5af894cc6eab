package wipe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/probe"
)

// A firmware erase runs inside the drive; lethe's part is to start it
// safely, follow it with its own state machine until it provably ends, and
// check the result from the host:
//
//	probe -> prepare (unlock, unfreeze, hidden areas) -> proof (canaries,
//	fingerprints) -> persist -> send -> poll: accepted, in progress seen or
//	a completion that provably belongs to the command -> proof check ->
//	read-back -> status
//
// The drive's own "success" is never enough: a status log may be left over
// from an earlier operation, and a drive may accept a command and do
// nothing. Only a completion lethe can attribute to its command, followed
// by a proof that the old data is gone, gives ERASED.

// outcome is how the drive's part of a firmware erase ended.
type outcome int

const (
	outCompleted    outcome = iota // completion observed and attributed
	outRefused                     // the drive refused the command: nothing started
	outFailed                      // the drive reported that the operation failed
	outUnattributed                // accepted, but nothing shows that it ran
	outInterrupted                 // the operator stopped lethe; the drive keeps going
	outLost                        // lost contact or timed out; the drive may keep going
)

// fwResult is what the technique's state machine established.
type fwResult struct {
	out outcome
	why string
	// expect is what the medium reads as after a completed erase.
	expect Expectation
	// deallocated: reads come from deallocated blocks (and note why).
	deallocated bool
	deallocNote string
}

// RefusedError says Execute did not start a firmware erase, and why. The
// drive's data is untouched (no canary was planted).
type RefusedError struct {
	Device string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: %s; nothing was erased", e.Device, e.Reason)
}

func refused(d *devices.Device, format string, args ...any) error {
	return &RefusedError{Device: d.Path, Reason: fmt.Sprintf(format, args...)}
}

// fwRun is one firmware execution.
type fwRun struct {
	ctx   context.Context
	d     *devices.Device
	t     Target
	h     *probe.Handle
	info  *probe.Info
	opt   ExecOptions
	fo    FirmwareOptions
	dir   string
	tech  TechniqueID
	job   *jobState
	rec   *FirmwareRecord
	ev    *Evidence
	rep   *Report
	notes []string // decision notes
	start time.Time
	// hidden records HPA/DCO handling (ATA).
	hidden *HiddenAreasRecord
	// passwordLeft: lethe's temporary ATA password could not be cleared.
	passwordLeft bool
	// failureBlocksIO: the drive is in a sanitize failure mode and
	// refuses host I/O.
	failureBlocksIO bool
	lastPersist     int
	// touched is set once lethe wrote to the drive or changed its state
	// (canaries, a password, HPA removal, an erase command).
	touched bool
	// phase names the erase in progress events (sanitize, format, ...).
	phase string
	// lastATAReason is the reason of the last failed SANITIZE STATUS EXT.
	lastATAReason ata.SanitizeReason
}

func isSecurityErase(id TechniqueID) bool {
	return id == TechATASecurityEnhanced || id == TechATASecurityNormal
}

// executeFirmware runs a firmware technique. It returns an error (and no
// report) only when it touched nothing; everything after the first write
// is in the report.
func executeFirmware(ctx context.Context, d *devices.Device, t Target, p Plan, opt ExecOptions) (*Report, error) {
	fo := opt.Firmware
	if fo.PollInterval <= 0 {
		fo.PollInterval = time.Second
	}
	dir := fo.stateDir()
	job, err := loadJob(dir, d)
	if err != nil {
		return nil, refused(d, "%v (move the file away if it belongs to no drive)", err)
	}
	if err := ensureStateDir(dir); err != nil {
		return nil, refused(d, "the job state directory %s is not usable (%v): a firmware erase must be able to persist its state (--state-dir)", dir, err)
	}
	h, err := fo.open(d)
	if err != nil {
		return nil, refused(d, "open the command transport: %v", err)
	}
	defer h.Close()
	info, err := h.Probe(ctx)
	if err != nil {
		return nil, refused(d, "probe: %v", err)
	}
	caps := CapabilitiesOf(d, info, fo, job != nil && job.Password != "")
	r := &fwRun{ctx: ctx, d: d, t: t, h: h, info: info, opt: opt, fo: fo, dir: dir, tech: p.Technique.ID, job: job, start: time.Now().UTC()}
	r.notes = append(r.notes, p.Decision...)

	// An unfinished job decides what runs: a sanitize that was started
	// cannot be abandoned for another technique. An interrupted ATA
	// security erase only leaves a password behind, which the ATA runner
	// clears before whatever the plan says.
	cont := job != nil && job.Technique != "" && job.unfinished() && !isSecurityErase(job.Technique)
	if cont && job.Technique != r.tech {
		r.decide("an unfinished %s job (%s, phase %s) takes precedence over the plan's %s: a started sanitize cannot be abandoned", job.Technique, job.Created.Format(time.RFC3339), job.Phase, r.tech)
		r.tech = job.Technique
	}
	tech, ok := LookupTechnique(r.tech)
	if !ok || tech.Category == CategoryNone {
		return nil, refused(d, "technique %s is not an erase", r.tech)
	}
	if want := tech.Interface; want != caps.Interface {
		return nil, refused(d, "technique %s needs an %s drive, the probe found %q", r.tech, want, orNone(caps.Interface))
	}
	if !cont {
		if cp, ok := caps.Lookup(r.tech); !ok || !cp.Available {
			reason := "not advertised by the drive"
			if ok {
				reason = cp.Reason
			}
			return nil, refused(d, "%s is not available: %s", r.tech, reason)
		}
	}
	rotating := driveRotating(caps)
	io := opt.IO.withDefaults()
	r.rep = &Report{
		Technique:  r.tech,
		Category:   tech.CategoryOn(rotating),
		SizeBytes:  t.Size(),
		SectorSize: t.SectorSize(),
		Started:    r.start,
		IO:         IOInfo{Direct: t.Direct(), ChunkBytes: io.ChunkBytes, Workers: io.Workers},
		Capacity:   caps.Capacity,
	}
	r.rec = &FirmwareRecord{Interface: caps.Interface, Started: r.start}
	if cont {
		if job.Record != nil {
			prev := *job.Record
			r.rec = &prev
		}
		r.rec.Resumed = append(r.rec.Resumed, ResumedRun{JobID: job.ID, Started: job.Created, Phase: job.Phase})
		r.ev = job.Evidence
		r.decide("continuing job %s started %s (phase %s)", job.ID, job.Created.Format(time.RFC3339), job.Phase)
	} else {
		r.newJob(job)
	}

	var res fwResult
	switch caps.Interface {
	case "nvme":
		res, err = r.runNVMe()
	case "ata":
		res, err = r.runATA()
	case "scsi":
		res, err = r.runSCSI()
	}
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) && !r.touched {
			if r.job.Password == "" {
				r.forgetJob()
			}
			return nil, err
		}
		res = fwResult{out: outRefused, why: err.Error()}
	}
	return r.finish(res), nil
}

// newJob starts a fresh job record, keeping a password an earlier job left.
func (r *fwRun) newJob(prev *jobState) {
	id := newJobID()
	j := &jobState{Version: jobStateVersion, ID: id, Key: jobKey(r.d), Device: r.d.Path, Model: r.d.Model, Serial: r.d.Serial,
		Technique: r.tech, Created: r.start}
	if prev != nil && prev.Password != "" {
		j.Password = prev.Password
		j.Phase = phasePasswordSet
	}
	r.job = j
}

func newJobID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// persist saves the job with the given phase; a failure to persist stops
// the erase before the step it guards.
func (r *fwRun) persist(phase string) error {
	r.job.Phase = phase
	r.job.Evidence = r.ev
	r.job.Record = r.rec
	if err := saveJob(r.dir, r.d, r.job); err != nil {
		return fmt.Errorf("persist job state before %s: %w", phase, err)
	}
	return nil
}

func (r *fwRun) forgetJob() {
	if err := removeJob(r.dir, r.d); err != nil {
		r.rec.Note("could not remove the job file: %v", err)
	}
}

func (r *fwRun) decide(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *fwRun) notify(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.fo.Notify != nil {
		r.fo.Notify(msg)
	}
}

// act is cmd for a command that changes the drive.
func (r *fwRun) act(name, params string, f func(ctx context.Context) error) error {
	r.touched = true
	return r.cmd(name, params, f)
}

// cmd sends one command through f and records it. The command runs to its
// end even if the operator stops lethe meanwhile: a half-sent erase command
// is worse than a late stop.
func (r *fwRun) cmd(name, params string, f func(ctx context.Context) error) error {
	start := time.Now()
	err := f(context.WithoutCancel(r.ctx))
	res := "ok"
	if err != nil {
		res = err.Error()
	}
	r.rec.Commands = append(r.rec.Commands, FirmwareCommand{At: start.UTC(), Name: name, Params: params, Result: res,
		TookMs: round2(float64(time.Since(start).Microseconds()) / 1000)})
	return err
}

// blocking runs a command that holds the drive until the erase ends
// (Format NVM, SECURITY ERASE UNIT), telling the operator why a Ctrl-C does
// not stop it.
func (r *fwRun) blocking(name, params, what string, f func(ctx context.Context) error) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-r.ctx.Done():
			r.notify("%s: the drive keeps %s: %s cannot be interrupted once sent; lethe waits for it to end and then certifies what it sees", r.d.Path, what, name)
		case <-done:
		}
	}()
	return r.act(name, params, f)
}

// progress reports the drive's progress of the erase itself.
func (r *fwRun) progress(phase string, frac float64, final bool) {
	if r.opt.Progress == nil {
		return
	}
	size := r.t.Size()
	done := int64(frac * float64(size))
	r.opt.Progress(Progress{Phase: phase, Pass: 1, Passes: 1, Done: done, Total: size, Took: time.Since(r.start), Final: final,
		OverallDone: done, OverallTotal: size})
}

// errStep is a poll step that could not talk to the drive.
type pollStep func() (done bool, res fwResult, err error)

// poll runs step every PollInterval until it reports the end, the timeout
// passes, the operator stops lethe, or the drive stops answering.
func (r *fwRun) poll(what string, timeout time.Duration, step pollStep) fwResult {
	deadline := time.Now().Add(timeout)
	fails := 0
	for {
		done, res, err := step()
		switch {
		case err != nil:
			fails++
			r.rec.Observe("no answer", 0, err.Error())
			if fails >= 5 {
				r.notify("%s: lost contact with the drive while it was %s (%v); the job is recorded in %s: run lethe again to resume", r.d.Path, what, err, r.dir)
				return fwResult{out: outLost, why: fmt.Sprintf("lost contact with the drive while it was %s (%v): the operation may continue inside it", what, err)}
			}
		case done:
			return res
		default:
			fails = 0
		}
		if r.rec.Polls-r.lastPersist >= 60 {
			r.lastPersist = r.rec.Polls
			_ = r.persist(r.job.Phase)
		}
		if time.Now().After(deadline) {
			return fwResult{out: outLost, why: fmt.Sprintf("no completion within %s (the drive's estimate and capacity allow that much): the operation may still be running", timeout.Round(time.Second))}
		}
		t := time.NewTimer(r.fo.PollInterval)
		select {
		case <-r.ctx.Done():
			t.Stop()
			r.notify("%s: the drive keeps %s: a sanitize cannot be stopped once started. lethe recorded the job in %s; run lethe wipe on the drive again to follow it to the end and certify it", r.d.Path, what, r.dir)
			return fwResult{out: outInterrupted, why: fmt.Sprintf("stopped by the operator while the drive was %s: the drive continues and cannot be stopped; the job is recorded in %s, and the next lethe wipe of this drive resumes it", what, r.dir)}
		case <-t.C:
		}
	}
}

// prepareProof plants canaries and fingerprints before a new erase
// command. The proof of an earlier attempt is reused only when the drive
// refuses I/O (a sanitize failure mode), where nothing new can be planted:
// otherwise old fingerprints and canaries may no longer describe the drive
// (a stale job, or data written since), and a proof must be fresh.
func (r *fwRun) prepareProof() error {
	if r.failureBlocksIO {
		switch {
		case r.ev != nil:
			r.rec.Note("the drive refuses I/O in its sanitize failure mode: the proof planted before the failed attempt (job %s) is reused", r.job.ID)
		case r.job != nil && r.job.Evidence != nil:
			r.ev = r.job.Evidence
			r.rec.Note("the drive refuses I/O in its sanitize failure mode: the proof planted before the failed attempt (job %s) is reused", r.job.ID)
		default:
			r.rec.Note("the drive refuses I/O in its sanitize failure mode and no earlier proof is recorded: no before/after proof is possible")
		}
		return nil
	}
	if r.ev != nil {
		r.rec.Note("a new erase command: the proof of the earlier attempt is replaced by a fresh one")
		r.ev = nil
	}
	seed := r.fo.ProofSeed
	if seed == nil {
		var err error
		if seed, err = NewSeed(); err != nil {
			return err
		}
	}
	ev, err := PrepareProof(r.t, seed, r.fo.Proof)
	if err != nil {
		r.rec.Note("no before/after proof: %v", err)
		return nil
	}
	r.ev = ev
	r.touched = true
	return r.persist(phasePrepared)
}

// pattern32 is the overwrite pattern for sanitize overwrite: random, so
// that it cannot be mistaken for zeros or 0xFF (deallocated or erased
// blocks), and recorded.
func pattern32() uint32 {
	for {
		var b [4]byte
		_, _ = rand.Read(b[:])
		v := binary.LittleEndian.Uint32(b[:])
		if b[0] != b[1] || b[1] != b[2] || b[2] != b[3] {
			return v
		}
	}
}

// patternExpect is the expectation for a 32-bit pattern the drive writes
// little endian in every logical block (NVMe CDW11, ATA LBA 31:0) or as the
// SCSI initialization pattern (the same four bytes).
func patternExpect(v uint32) Expectation {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	spec := BytePattern(fmt.Sprintf("0x%08X", v), b[:]).Spec()
	return Expectation{Kind: "pattern", Pattern: &spec}
}

// finish checks the result and decides the status.
func (r *fwRun) finish(res fwResult) *Report {
	rep, rec := r.rep, r.rec
	rep.Firmware = rec
	rep.HiddenAreas = r.hidden
	rep.Method = Method{Name: string(r.tech), Description: strings.TrimSpace(rec.Operation + " " + strings.Join(rec.Parameters, ", "))}
	rep.Verification = VerifyReport{Scope: "none", Result: VerifySkipped}
	if res.out == outCompleted {
		r.progress(r.phase, 1, true)
	}
	op := rec.Operation
	if op == "" {
		op = string(r.tech)
	}
	switch res.out {
	case outCompleted:
		rep.Status, rep.StatusReason = r.judge(res, op)
	case outInterrupted, outLost:
		rep.Status, rep.StatusReason = StatusAborted, res.why
	case outFailed:
		rep.Status, rep.StatusReason = StatusFailed, op+": "+res.why
	case outUnattributed:
		rep.Status, rep.StatusReason = StatusFailed, op+": "+res.why
	default:
		rep.Status, rep.StatusReason = StatusFailed, op+" was not carried out: "+res.why
	}
	rec.Proof = r.ev.Record() // after judge: the record carries the check's results
	rec.Ended = time.Now().UTC()
	rep.Ended = rec.Ended
	rep.Decision = r.notes

	// What stays on disk for the next run.
	keep := false
	switch {
	case r.passwordLeft:
		keep = true
	case res.out == outInterrupted || res.out == outLost:
		keep = true
	case res.out == outFailed && r.failureBlocksIO:
		keep = true
		r.job.Phase = phaseFailed
	}
	if keep {
		phase := r.job.Phase
		if phase == phasePrepared {
			phase = phaseStarted
		}
		if err := r.persist(phase); err != nil {
			rec.Note("%v", err)
		}
	} else {
		r.forgetJob()
	}
	return rep
}

// judge decides the status of a completed erase from the proof and the
// read-back.
func (r *fwRun) judge(res fwResult, op string) (Status, string) {
	rec := r.rec
	ev := r.ev
	if ev != nil {
		if err := CheckProof(r.t, ev, res.expect); err != nil {
			rec.Note("proof check: %v", err)
			ev.Result = "failed"
			ev.Problems = append(ev.Problems, err.Error())
		}
		ev.Deallocated, ev.DeallocatedNote = res.deallocated, res.deallocNote
	}
	done := fmt.Sprintf("%s completed (%s)", op, rec.Completion)
	if ev != nil && ev.Result != "passed" {
		return StatusFailed, fmt.Sprintf("%s, but the proof shows the old data is not gone as %s implies: %s", done, op, strings.Join(ev.Problems, "; "))
	}
	v := r.readBack(res.expect, op)
	r.rep.Verification = v
	switch v.Result {
	case VerifyFailed:
		return StatusFailed, fmt.Sprintf("%s, but the read-back found %d sector(s) that do not read as %s and %d unreadable range(s)",
			done, v.MismatchedSectors, expectName(res.expect), len(v.Unreadable))
	case VerifyAborted:
		return StatusPartial, done + "; the read-back was stopped by the operator"
	}
	if ev == nil {
		return StatusPartial, done + ", but no before/after proof exists (see the notes): the result is not proven"
	}
	if r.hidden != nil && r.hidden.After != nil && r.hidden.After.Hidden() > 0 {
		return StatusPartial, fmt.Sprintf("%s, but %s remain: the drive may not have erased them", done, r.hidden.After.String())
	}
	if r.hidden != nil && r.hidden.After != nil && r.hidden.After.Unknown() {
		return StatusPartial, fmt.Sprintf("%s, but the drive's native capacity is unknown (%s): sectors beyond what lethe could see may hold data", done, r.hidden.After.String())
	}
	if r.passwordLeft {
		return StatusPartial, done + ", but lethe's temporary ATA password is still set (recorded in the job state; the next lethe wipe of this drive clears it)"
	}
	proof := fmt.Sprintf("none of %d canaries survived and %d of %d informative sampled blocks changed", len(ev.Canaries), ev.InformativeSamples-ev.UnchangedBlocks, ev.InformativeSamples)
	check := "only sampled evidence exists (no read-back pattern is defined after this technique)"
	switch {
	case v.Scope == "full":
		check = fmt.Sprintf("a full read-back matched %s", expectName(res.expect))
	case v.Scope == "sample":
		check = fmt.Sprintf("a sampled read-back of %.2f%% matched %s", v.Coverage, expectName(res.expect))
	case r.opt.Verify == VerifyOff && res.expect.Kind != "changed":
		check = "the read-back was skipped (--verify off): only the sampled proof exists"
	}
	return StatusErased, fmt.Sprintf("%s; proof: %s; %s", done, proof, check)
}

// readBack is the verification the operator asked for, against the
// content the technique implies, where one is defined.
func (r *fwRun) readBack(e Expectation, op string) VerifyReport {
	none := VerifyReport{Scope: "none", Result: VerifySkipped}
	var pat Pattern
	switch e.Kind {
	case "zero":
		pat = BytePattern("zero", []byte{0})
	case "ones":
		pat = BytePattern("one", []byte{0xff})
	case "pattern":
		p, err := PatternFromSpec(*e.Pattern)
		if err != nil {
			r.rec.Note("read-back pattern: %v", err)
			return none
		}
		pat = p
	default:
		n, f := 0, 0
		if r.ev != nil {
			n, f = len(r.ev.Canaries), len(r.ev.Fingerprints)
		}
		r.rec.VerificationNote = fmt.Sprintf("no read-back pattern is defined after %s (new ciphertext or vendor-defined content): the evidence is the proof's %d canaries and %d fingerprints only", op, n, f)
		return none
	}
	j := VerifyJob{Target: r.t, Expected: pat, IO: r.opt.IO, Progress: r.opt.Progress, ProgressInterval: r.opt.ProgressInterval}
	switch r.opt.Verify {
	case VerifyOff:
		r.rec.VerificationNote = "the full read-back was skipped (--verify off): only the proof's sampled evidence exists"
		return none
	case VerifySample:
		j.SamplePercent, j.SampleSeed = r.opt.SamplePercent, r.opt.SampleSeed
		if j.SamplePercent == 0 {
			j.SamplePercent = 10
		}
	}
	v, err := Verify(r.ctx, j)
	if err != nil {
		r.rec.Note("read-back: %v", err)
		return none
	}
	return *v
}

// expectFromDealloc is what deallocated blocks read as (NVMe DLFEAT).
func expectFromDealloc(zero, ones bool) Expectation {
	switch {
	case zero:
		return Expectation{Kind: "zero"}
	case ones:
		return Expectation{Kind: "ones"}
	}
	return Expectation{Kind: "changed"}
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
