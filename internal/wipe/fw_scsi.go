package wipe

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/internal/devices/scsi"
)

// scsiCommandTimeout bounds SANITIZE and FORMAT UNIT sent with IMMED: the
// device returns status once it has validated the command.
const scsiCommandTimeout = 60 * time.Second

func (r *fwRun) runSCSI() (fwResult, error) {
	switch r.tech {
	case TechSCSISanitizeCrypto:
		return r.scsiSanitize(scsi.SanitizeCryptoErase)
	case TechSCSISanitizeBlock:
		return r.scsiSanitize(scsi.SanitizeBlockErase)
	case TechSCSISanitizeOverw:
		return r.scsiSanitize(scsi.SanitizeOverwrite)
	case TechSCSIFormatUnit:
		return r.scsiFormat()
	}
	return fwResult{}, refused(r.d, "lethe has no SCSI executor for %s", r.tech)
}

// scsiStatus asks REQUEST SENSE how a long operation is doing.
func (r *fwRun) scsiStatus(record bool, why string) (*scsi.OperationStatus, error) {
	var st *scsi.OperationStatus
	get := func(ctx context.Context) error {
		// A UNIT ATTENTION (reset, power on) reported first says nothing
		// about the operation: ask again.
		for range 4 {
			var err error
			if st, err = scsi.PollOperation(ctx, r.h.SCSI); err != nil || st.Sense.Key != scsi.KeyUnitAttention {
				return err
			}
		}
		return nil
	}
	var err error
	if record {
		err = r.cmd("REQUEST SENSE", why, get)
	} else {
		err = get(context.WithoutCancel(r.ctx))
	}
	if err == nil {
		r.rec.Observe(scsiState(st), st.Progress, fmt.Sprintf("%s, %s", st.Sense.Key, st.Sense.ASC))
	}
	return st, err
}

func scsiState(st *scsi.OperationStatus) string {
	switch {
	case st.Sense.Key == scsi.KeyUnitAttention:
		return "unit attention"
	case st.InProgress:
		return "in progress"
	case st.Failed:
		return "failed"
	}
	return "no operation pending"
}

// sendSCSI sends a command, once more after a UNIT ATTENTION (a reset or
// power-on the device reports to the next command, which it then did not
// execute).
func (r *fwRun) sendSCSI(name, params string, f func(ctx context.Context) error) error {
	err := r.act(name, params, f)
	if se, ok := scsi.AsSenseError(err); ok && se.IsUnitAttention() {
		err = r.act(name, params+" (again after UNIT ATTENTION)", f)
	}
	return err
}

// scsiSanitize runs SANITIZE with IMMED (SBC-4 §5.30, §4.11) and follows it
// with REQUEST SENSE.
func (r *fwRun) scsiSanitize(sa scsi.SanitizeAction) (fwResult, error) {
	t := r.h.SCSI
	r.phase = "sanitize"
	cont := r.job.Phase == phaseSending || r.job.Phase == phaseStarted || r.job.Phase == phaseFailed
	req := scsi.SanitizeRequest{Action: sa, Immed: true, AUSE: r.fo.UnrestrictedExit}
	if cont {
		req.AUSE = r.job.Unrestricted
	}
	var pattern uint32
	if sa == scsi.SanitizeOverwrite {
		pattern = pattern32()
		if cont && r.job.Pattern != 0 {
			pattern = r.job.Pattern
		}
		req.Pattern = binary.LittleEndian.AppendUint32(nil, pattern)
		req.Count = 1
	}
	r.rec.Operation = "SCSI SANITIZE, " + sa.String()
	r.rec.FailureMode = failureModeName(req.AUSE)
	r.rec.Parameters = []string{fmt.Sprintf("SERVICE ACTION=0x%02x", uint8(sa)), "IMMED=1", fmt.Sprintf("AUSE=%d", b2i(req.AUSE))}
	if sa == scsi.SanitizeOverwrite {
		r.rec.Parameters = append(r.rec.Parameters, "OVERWRITE COUNT=1", "INVERT=0", fmt.Sprintf("initialization pattern=%x", req.Pattern))
	}
	rec := r.info.SCSI.Sanitize.Recommended(sa.TimeoutKey())
	timeout := scsi.SanitizeTimeout(r.info.SCSI.Capacity, req, rec)
	r.rec.TimeoutSeconds = timeout.Seconds()
	r.noteTimeoutSource(rec)
	st0, err := r.scsiStatus(true, "before the sanitize")
	if err != nil {
		return fwResult{}, refused(r.d, "REQUEST SENSE failed: %v", err)
	}
	if st0.InProgress {
		if cont && r.job.SCSIAction == uint8(sa) {
			r.rec.Note("the device is still sanitizing for job %s: lethe follows it", r.job.ID)
			r.rec.InProgressSeen = true
			return r.scsiFollow(req, pattern, timeout, false), nil
		}
		r.notify("%s: an operation lethe did not start is running; waiting for it to end", r.d.Path)
		r.rec.Note("an operation lethe did not start was running (%s): lethe waited for it and does not count it", st0.Sense)
		wait := r.poll("busy with an operation lethe did not start", timeout, func() (bool, fwResult, error) {
			st, err := r.scsiStatus(false, "")
			if err != nil {
				return false, fwResult{}, err
			}
			return !st.InProgress, fwResult{}, nil
		})
		if wait.out == outInterrupted || wait.out == outLost {
			return fwResult{}, refused(r.d, "while waiting for an operation lethe did not start: %s", wait.why)
		}
		if st0, err = r.scsiStatus(true, "after the other operation"); err != nil {
			return fwResult{}, refused(r.d, "REQUEST SENSE failed: %v", err)
		}
	}
	if cont && r.job.Phase == phaseStarted && r.job.SCSIAction == uint8(sa) {
		if st0.Failed {
			return r.scsiFailed(req), nil
		}
		r.rec.Completion = "attributed: the device accepted lethe's SANITIZE in an earlier run and now reports it neither in progress nor failed (a SCSI device keeps no earlier sanitize result to mistake for it)"
		return r.scsiDone(sa, pattern), nil
	}
	if st0.Failed {
		r.failureBlocksIO = true
		r.rec.Note("the device is in the sanitize failure state after an earlier sanitize: it refuses medium access until a sanitize succeeds, so lethe starts a new one")
	}
	if err := r.prepareProof(); err != nil {
		return fwResult{}, err
	}
	cdb, param, err := scsi.SanitizeCDB(req)
	if err != nil {
		return fwResult{}, err
	}
	r.job.SCSIAction, r.job.Pattern, r.job.Unrestricted = uint8(sa), pattern, req.AUSE
	if err := r.persist(phaseSending); err != nil {
		return fwResult{}, err
	}
	if r.ctx.Err() != nil {
		return fwResult{out: outInterrupted, why: "stopped by the operator before SANITIZE was sent: nothing was erased"}, nil
	}
	// A new operation: what an earlier attempt showed does not count.
	r.rec.InProgressSeen, r.rec.Completion = false, ""
	params := fmt.Sprintf("CDB %x", cdb)
	if len(param) > 0 {
		params += fmt.Sprintf(", parameter list %x", param)
	}
	unknown := false
	if err := r.sendSCSI("SANITIZE "+sa.String(), params, func(ctx context.Context) error {
		return scsi.Sanitize(ctx, t, req, scsiCommandTimeout)
	}); err != nil {
		if _, answered := scsi.AsSenseError(err); answered {
			return fwResult{out: outRefused, why: fmt.Sprintf("the device refused SANITIZE: %v", err)}, nil
		}
		// No status from the device (a timeout, a reset, a transport
		// error): it may have started. Never send it again; REQUEST
		// SENSE says.
		unknown = true
		r.rec.Note("SANITIZE got no status from the device (%v): whether it started is unknown, so lethe does not send it again and follows REQUEST SENSE", err)
	}
	if err := r.persist(phaseStarted); err != nil {
		r.rec.Note("%v", err)
	}
	return r.scsiFollow(req, pattern, timeout, unknown), nil
}

// scsiFollow follows a SANITIZE. When the command's own status was lost
// (unknown), only progress seen counts: SCSI keeps no sanitize result, so
// "nothing pending" cannot tell a finished sanitize from one that never
// started.
func (r *fwRun) scsiFollow(req scsi.SanitizeRequest, pattern uint32, timeout time.Duration, unknown bool) fwResult {
	done := func() fwResult { return r.scsiDone(req.Action, pattern) }
	accepted := "accepted and ended: the device validated and started SANITIZE before returning GOOD (IMMED), and REQUEST SENSE then reported nothing pending and no failure (SCSI keeps no earlier sanitize result to mistake for it)"
	if unknown {
		accepted = ""
	}
	return r.scsiPoll("sanitize", "sanitizing", timeout,
		func(*scsi.OperationStatus) fwResult { return r.scsiFailed(req) }, accepted, done)
}

// scsiPoll follows a SANITIZE or FORMAT UNIT sent with IMMED through REQUEST
// SENSE (SBC-4 §4.11.4, SPC-5 §5.10): a unit attention is skipped, progress
// is recorded while the operation is in progress, failed ends it, and
// nothing pending ends it with done. accepted is the completion recorded
// when no progress was ever reported; doing names the state in messages.
func (r *fwRun) scsiPoll(op, doing string, timeout time.Duration, failed func(*scsi.OperationStatus) fwResult, accepted string, done func() fwResult) fwResult {
	return r.poll(doing, timeout, func() (bool, fwResult, error) {
		st, err := r.scsiStatus(false, "")
		if err != nil {
			return false, fwResult{}, err
		}
		switch {
		case st.Sense.Key == scsi.KeyUnitAttention:
			return false, fwResult{}, nil
		case st.InProgress:
			r.rec.InProgressSeen = true
			r.progress(r.phase, st.Progress, false)
			return false, fwResult{}, nil
		case st.Failed:
			return true, failed(st), nil
		case r.rec.InProgressSeen:
			r.rec.Completion = "observed: REQUEST SENSE reported the " + op + " in progress, then nothing pending and no failure"
		case accepted == "":
			return true, fwResult{out: outUnattributed, why: "the " + op + " command's status was lost and REQUEST SENSE never reported it in progress: nothing shows that it ran"}, nil
		default:
			r.rec.Completion = accepted
		}
		return true, done(), nil
	})
}

func (r *fwRun) scsiDone(sa scsi.SanitizeAction, pattern uint32) fwResult {
	res := fwResult{out: outCompleted, expect: Expectation{Kind: "changed"}}
	if sa == scsi.SanitizeOverwrite {
		res.expect = patternExpect(pattern)
	}
	return res
}

func (r *fwRun) scsiFailed(req scsi.SanitizeRequest) fwResult {
	r.failureBlocksIO = true
	why := "the device reports that the sanitize failed (SANITIZE COMMAND FAILED)"
	if req.AUSE {
		err := r.sendSCSI("SANITIZE EXIT FAILURE MODE", "service action 0x1F", func(ctx context.Context) error {
			return scsi.Sanitize(ctx, r.h.SCSI, scsi.SanitizeRequest{Action: scsi.SanitizeExitFailureMode}, scsiCommandTimeout)
		})
		if err == nil {
			r.failureBlocksIO = false
			why += "; it was started with AUSE=1, and lethe left the failure state with EXIT FAILURE MODE: the device accepts I/O again but holds partly erased data"
		} else {
			why += fmt.Sprintf("; EXIT FAILURE MODE failed (%v)", err)
		}
		return fwResult{out: outFailed, why: why}
	}
	why += fmt.Sprintf("; AUSE was 0, so only a successful SANITIZE clears the failure and the device refuses medium access until then. lethe kept the job and its proof in %s: run lethe wipe on the drive again to retry, or destroy it", r.dir)
	return fwResult{out: outFailed, why: why}
}

// scsiFormat runs FORMAT UNIT (SBC-4 §5.4) as sg_format --format sends it,
// with IMMED, and follows it with REQUEST SENSE. It is Clear at most, and
// only the proof shows whether it erased anything (QEMU's scsi-hd returns
// GOOD and changes nothing).
func (r *fwRun) scsiFormat() (fwResult, error) {
	t := r.h.SCSI
	r.phase = "format"
	r.rec.Operation = "SCSI FORMAT UNIT"
	// Keep the protection information type the drive is formatted with:
	// FMTPINFO 0 would format a PI drive without it (SBC-4 §5.4.2).
	var capacity *scsi.Capacity
	if r.info.SCSI != nil {
		capacity = r.info.SCSI.Capacity
	}
	fpi, pfu, err := scsi.ProtectionFields(capacity)
	if err != nil {
		return fwResult{}, refused(r.d, "FORMAT UNIT would change the drive's protection information: %v", err)
	}
	r.rec.Parameters = []string{fmt.Sprintf("FMTPINFO=%d", fpi), fmt.Sprintf("PROTECTION FIELD USAGE=%d", pfu), "FMTDATA=1", "CMPLST=1", "IMMED=1", "no defect list (as sg_format --format)"}
	if t := capacity.ProtectionType(); t > 0 {
		r.rec.Note("the drive is formatted with protection information type %d (READ CAPACITY(16) PROT_EN=1, P_TYPE=%d): FORMAT UNIT keeps it with FMTPINFO=%d and PROTECTION FIELD USAGE=%d (SBC-4 §5.4.2)", t, capacity.PType, fpi, pfu)
	}
	if err := r.prepareProof(); err != nil {
		return fwResult{}, err
	}
	if err := r.persist(phaseSending); err != nil {
		return fwResult{}, err
	}
	if r.ctx.Err() != nil {
		return fwResult{out: outInterrupted, why: "stopped by the operator before FORMAT UNIT was sent: nothing was erased"}, nil
	}
	freq := scsi.FormatRequest{Immed: true, FMTPINFO: fpi, PFU: pfu}
	accepted := "the device returned GOOD for FORMAT UNIT and REQUEST SENSE reports nothing pending (no progress was ever reported)"
	cdb, param := scsi.FormatUnitCDB(freq)
	if err := r.sendSCSI("FORMAT UNIT", fmt.Sprintf("CDB %x, parameter list %x", cdb, param), func(ctx context.Context) error {
		return scsi.FormatUnit(ctx, t, freq, scsiCommandTimeout)
	}); err != nil {
		if _, answered := scsi.AsSenseError(err); answered {
			return fwResult{out: outRefused, why: fmt.Sprintf("the device refused FORMAT UNIT: %v", err)}, nil
		}
		accepted = ""
		r.rec.Note("FORMAT UNIT got no status from the device (%v): whether it started is unknown, so lethe does not send it again and follows REQUEST SENSE", err)
	}
	if err := r.persist(phaseStarted); err != nil {
		r.rec.Note("%v", err)
	}
	var sup *scsi.SanitizeSupport
	if r.info.SCSI != nil {
		sup = r.info.SCSI.Sanitize
	}
	rec := sup.Recommended(scsi.TimeoutKeyFormatUnit)
	timeout := scsi.FormatTimeout(uint64(r.t.Size()), rec)
	r.rec.TimeoutSeconds = timeout.Seconds()
	r.noteTimeoutSource(rec)
	return r.scsiPoll("format", "formatting", timeout,
		func(st *scsi.OperationStatus) fwResult {
			return fwResult{out: outFailed, why: "the device reports that the format failed (" + st.Sense.String() + ")"}
		},
		accepted, func() fwResult {
			r.scsiCheckProtection(capacity)
			return fwResult{out: outCompleted, expect: Expectation{Kind: "changed"}}
		}), nil
}

// scsiCheckProtection reads READ CAPACITY(16) after a format and records
// whether the protection information type is the one the drive had.
func (r *fwRun) scsiCheckProtection(before *scsi.Capacity) {
	var after *scsi.Capacity
	if err := r.cmd("READ CAPACITY(16)", "the format must keep the protection type", func(ctx context.Context) error {
		var err error
		after, err = scsi.ReadCapacity16(ctx, r.h.SCSI)
		return err
	}); err != nil || before == nil {
		return
	}
	if b, a := before.ProtectionType(), after.ProtectionType(); a != b {
		r.rec.Note("the drive's protection information type changed from %d to %d", b, a)
	}
}

// noteTimeoutSource says in the record where the operation's timeout came
// from, so an auditor can tell a drive's own figure from lethe's estimate.
func (r *fwRun) noteTimeoutSource(recommended time.Duration) {
	if recommended > 0 {
		r.rec.Note("timeout from the device's recommended command timeout (%s, REPORT SUPPORTED OPERATION CODES with RCTD): twice that plus 10 minutes, and for an erase that scales with capacity no less than the capacity at 50 MB/s plus 30 minutes", recommended)
		return
	}
	r.rec.Note("the device reported no command timeout: timeout from the capacity at 50 MB/s plus 30 minutes")
}
