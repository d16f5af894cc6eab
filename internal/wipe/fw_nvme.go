package wipe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/internal/devices/nvme"
)

func (r *fwRun) runNVMe() (fwResult, error) {
	switch r.tech {
	case TechNVMeSanitizeCrypto:
		return r.nvmeSanitize(nvme.SanitizeCryptoErase)
	case TechNVMeSanitizeBlock:
		return r.nvmeSanitize(nvme.SanitizeBlockErase)
	case TechNVMeSanitizeOverw:
		return r.nvmeSanitize(nvme.SanitizeOverwrite)
	case TechNVMeFormatCrypto:
		return r.nvmeFormat(nvme.SESCrypto)
	case TechNVMeFormatUserData:
		return r.nvmeFormat(nvme.SESUserData)
	}
	return fwResult{}, refused(r.d, "lethe has no NVMe executor for %s (Format NVM with SES=0 erases nothing)", r.tech)
}

// nvmeLog reads the Sanitize Status log; record adds it to the command list
// (polls are observations, not listed one by one).
func (r *fwRun) nvmeLog(record bool, why string) (*nvme.SanitizeLog, error) {
	var l *nvme.SanitizeLog
	get := func(ctx context.Context) error {
		var err error
		l, err = nvme.GetSanitizeLog(ctx, r.h.NVMe)
		return err
	}
	if record {
		err := r.cmd("Get Log Page 0x81 (Sanitize Status)", why, get)
		if err == nil {
			r.rec.Observe(l.Status.String(), l.Progress, nvmeLogDetail(l))
		}
		return l, err
	}
	return l, get(context.WithoutCancel(r.ctx))
}

func nvmeLogDetail(l *nvme.SanitizeLog) string {
	return fmt.Sprintf("SCDW10 0x%08x, Global Data Erased %v", l.SCDW10, l.GlobalDataErased)
}

func (r *fwRun) nvmeCapacity() uint64 {
	n := r.info.NVMe
	if n.Controller.TNVMCAP > 0 {
		return n.Controller.TNVMCAP
	}
	if ns := n.Namespace(); ns != nil {
		return ns.SizeBytes()
	}
	return uint64(r.t.Size())
}

// nvmeSanitize runs NVMe Sanitize (NVMe Base 2.0 §5.24, §8.21) with lethe's
// state machine: read the log first; wait out a sanitize lethe did not
// start; plant the proof (which clears Global Data Erased); persist; send;
// then poll log 0x81 until the operation provably ends.
func (r *fwRun) nvmeSanitize(act nvme.SanitizeAction) (fwResult, error) {
	t := r.h.NVMe
	ctrl := r.info.NVMe.Controller
	sc := ctrl.Sanitize()
	r.phase = "sanitize"
	cont := r.job.Phase == phaseSending || r.job.Phase == phaseStarted || r.job.Phase == phaseFailed
	req := nvme.SanitizeRequest{Action: act, AUSE: r.fo.UnrestrictedExit, NoDeallocate: !sc.NoDeallocInhibited}
	if act == nvme.SanitizeOverwrite {
		req.OverwritePasses, req.Pattern = 1, pattern32()
	}
	if cont && r.job.NVMeCDW10 != 0 {
		// The command of the job being continued, as it was sent.
		req.AUSE = r.job.NVMeCDW10&(1<<3) != 0
		req.NoDeallocate = r.job.NVMeCDW10&(1<<9) != 0
		if act == nvme.SanitizeOverwrite {
			req.Pattern = r.job.Pattern
		}
	}
	r.rec.Operation = "NVMe Sanitize, " + act.String()
	// Every Sanitize acts on the whole NVM subsystem: record every
	// namespace it reaches (the capability check refused it already where
	// lethe cannot account for them, unless --all-namespaces).
	scope := nvmeScope(r.info.NVMe, true, r.fo.AllNamespaces)
	r.rec.Scope = &scope.EraseScope
	if !scope.allowed && !cont {
		return fwResult{}, refused(r.d, "a sanitize erases the whole NVM subsystem: %s", scope.why)
	}
	r.rec.NoDeallocate = req.NoDeallocate
	r.rec.FailureMode = failureModeName(req.AUSE)
	r.rec.Parameters = []string{fmt.Sprintf("SANACT=%d (%s)", act, act), fmt.Sprintf("AUSE=%d", b2i(req.AUSE)), fmt.Sprintf("NDAS=%d", b2i(req.NoDeallocate))}
	if act == nvme.SanitizeOverwrite {
		r.rec.Parameters = append(r.rec.Parameters, "OWPASS=1", "OIPBP=0", fmt.Sprintf("pattern=0x%08X", req.Pattern))
	}
	l0, err := r.nvmeLog(true, "before the sanitize")
	if err != nil {
		return fwResult{}, refused(r.d, "the Sanitize Status log cannot be read (%v): lethe could not observe a sanitize", err)
	}
	timeout := nvme.SanitizeTimeout(l0, req, sc.NODMMAS, r.nvmeCapacity())
	if d, ok := l0.Estimate(req, sc.NODMMAS); ok {
		r.rec.EstimateSeconds = d.Seconds()
	}
	r.rec.TimeoutSeconds = timeout.Seconds()

	if l0.Status == nvme.SanitizeInProgress {
		if cont && l0.SCDW10 == r.job.NVMeCDW10 {
			r.rec.Note("the drive is still sanitizing for job %s (%.1f%%): lethe follows it", r.job.ID, l0.Progress*100)
			r.rec.InProgressSeen = true
			return r.nvmeFollow(req, r.job.NVMeCDW10, r.job.GDEBefore, l0, timeout, false), nil
		}
		r.notify("%s: a sanitize lethe did not start (SCDW10 0x%08x) is running; waiting for it to end before starting lethe's own", r.d.Path, l0.SCDW10)
		r.rec.Note("a sanitize lethe did not start (SCDW10 0x%08x) was running: lethe waited for it and does not count it", l0.SCDW10)
		wait := r.poll("sanitizing (an operation lethe did not start)", timeout, func() (bool, fwResult, error) {
			l, err := r.nvmeLog(false, "")
			if err != nil {
				return false, fwResult{}, err
			}
			r.rec.Observe("foreign: "+l.Status.String(), l.Progress, nvmeLogDetail(l))
			return l.Status != nvme.SanitizeInProgress, fwResult{}, nil
		})
		if wait.out == outInterrupted || wait.out == outLost {
			return fwResult{}, refused(r.d, "while waiting for a sanitize lethe did not start: %s", wait.why)
		}
		if l0, err = r.nvmeLog(true, "after the other sanitize"); err != nil {
			return fwResult{}, refused(r.d, "the Sanitize Status log cannot be read: %v", err)
		}
	}
	if cont && r.job.Phase == phaseStarted && l0.SCDW10 == r.job.NVMeCDW10 {
		switch {
		case l0.Status.Succeeded() && l0.GlobalDataErased && !r.job.GDEBefore:
			r.rec.Completion = "attributed: the sanitize lethe started earlier completed while lethe was not watching; the log reports success for its command (SCDW10) and Global Data Erased, cleared by the canary writes, is set again"
			return r.nvmeDone(req, l0), nil
		case l0.Status == nvme.SanitizeFailed:
			return r.nvmeFailed(req), nil
		}
	}
	if l0.Status == nvme.SanitizeFailed {
		r.failureBlocksIO = true
		r.rec.Note("the controller is in sanitize failure mode after an earlier sanitize (SCDW10 0x%08x): it refuses I/O until a sanitize succeeds, so lethe starts a new one", l0.SCDW10)
	}
	if err := nvme.SanitizeCheck(ctrl, req); err != nil {
		return fwResult{}, refused(r.d, "%v", err)
	}
	if err := r.prepareProof(); err != nil {
		return fwResult{}, err
	}
	lb := l0
	if r.touched {
		if l, err := r.nvmeLog(true, "after planting the canaries"); err == nil {
			lb = l
		}
	}
	if lb.GlobalDataErased && r.ev != nil && !r.failureBlocksIO {
		r.rec.Note("Global Data Erased is still set after the canary writes: the controller does not track it, so only an in-progress state seen by lethe attributes a completion")
	}
	cmd, err := nvme.SanitizeCmd(req)
	if err != nil {
		return fwResult{}, err
	}
	r.job.NVMeCDW10, r.job.Pattern, r.job.GDEBefore = cmd.CDW10, req.Pattern, lb.GlobalDataErased
	if err := r.persist(phaseSending); err != nil {
		return fwResult{}, err
	}
	if r.ctx.Err() != nil {
		return fwResult{out: outInterrupted, why: "stopped by the operator before the sanitize was sent: nothing was erased (the canaries lethe planted are still on the drive)"}, nil
	}
	// A new operation: what an earlier attempt showed does not count.
	r.rec.InProgressSeen, r.rec.Completion = false, ""
	err = r.act("Sanitize", fmt.Sprintf("CDW10=0x%08x CDW11=0x%08x", cmd.CDW10, cmd.CDW11), func(ctx context.Context) error {
		return nvme.Sanitize(ctx, t, req)
	})
	unknown := false
	if err != nil {
		if nvmeRefusal(err) {
			return fwResult{out: outRefused, why: fmt.Sprintf("the controller refused Sanitize: %v", err)}, nil
		}
		// Cancelled by the kernel (EINTR), lost, or "Sanitize In
		// Progress": the controller may be sanitizing. Never send it
		// again; the log says what happens, and the job stays recorded
		// until it does.
		unknown = true
		r.rec.Note("Sanitize did not complete normally (%v): whether the controller started it is unknown, so lethe does not send it again and follows the Sanitize Status log", err)
	}
	if err := r.persist(phaseStarted); err != nil {
		r.rec.Note("%v", err)
	}
	return r.nvmeFollow(req, cmd.CDW10, lb.GlobalDataErased, lb, timeout, unknown), nil
}

// nvmeRefusal reports an answer that proves the controller did not carry
// the command out: a completion with an error status other than Sanitize
// In Progress (a sanitize is running, perhaps lethe's own) or Format In
// Progress. A cancelled, timed-out or undelivered command is not one.
func nvmeRefusal(err error) bool {
	var se *nvme.StatusError
	return errors.As(err, &se) && !nvme.IsSanitizeInProgress(err) && !nvme.IsFormatInProgress(err)
}

// nvmeFollow polls log 0x81 until the sanitize lethe sent ends. Success
// counts only when lethe saw the operation in progress, or when the log's
// success provably belongs to lethe's command: same SCDW10, and Global Data
// Erased set again after the canary writes cleared it. unknown says the
// command's own answer was lost (cancelled by the kernel), so the log
// alone tells whether it started.
func (r *fwRun) nvmeFollow(req nvme.SanitizeRequest, cdw10 uint32, gdeBefore bool, before *nvme.SanitizeLog, timeout time.Duration, unknown bool) fwResult {
	grace := 0
	sent := "the controller accepted the command"
	if unknown {
		sent = "the command's outcome was unknown (cancelled, or its answer lost)"
	}
	return r.poll("sanitizing", timeout, func() (bool, fwResult, error) {
		l, err := r.nvmeLog(false, "")
		if err != nil {
			return false, fwResult{}, err
		}
		r.rec.Observe(l.Status.String(), l.Progress, nvmeLogDetail(l))
		ours := l.SCDW10 == cdw10
		switch l.Status {
		case nvme.SanitizeInProgress:
			r.rec.InProgressSeen = true
			r.progress(r.phase, l.Progress, false)
			return false, fwResult{}, nil
		case nvme.SanitizeSuccess, nvme.SanitizeSuccessDeallocated:
			switch {
			case r.rec.InProgressSeen && ours:
				r.rec.Completion = "observed: log 0x81 showed the sanitize in progress, then success for lethe's command (SCDW10)"
			case ours && l.GlobalDataErased && !gdeBefore:
				r.rec.Completion = "attributed: log 0x81 reports success for lethe's command (SCDW10), and Global Data Erased, cleared by the canary writes, is set again"
			case grace < 3 && l.Status == before.Status && l.SCDW10 == before.SCDW10:
				grace++ // a slow controller may not have posted the new state yet
				return false, fwResult{}, nil
			default:
				return true, fwResult{out: outUnattributed, why: fmt.Sprintf(
					"%s, but its log never showed the sanitize in progress, and the success it reports cannot be told from an earlier operation's (SCDW10 0x%08x, Global Data Erased %v, %v before): nothing shows that a sanitize ran",
					sent, l.SCDW10, l.GlobalDataErased, gdeBefore)}, nil
			}
			return true, r.nvmeDone(req, l), nil
		case nvme.SanitizeFailed:
			return true, r.nvmeFailed(req), nil
		}
		if grace < 3 {
			grace++
			return false, fwResult{}, nil
		}
		return true, fwResult{out: outUnattributed, why: fmt.Sprintf("%s, but its log says %q: no sanitize ran", sent, l.Status)}, nil
	})
}

// nvmeDone is a completed sanitize: what the medium should read as. NVMe
// Base 2.1 Figure 291: with No-Deallocate After Sanitize requested, SSTAT
// 001b means the controller honoured it (reads come from the medium) and
// 100b that it deallocated anyway (reads return what deallocated blocks
// read as).
func (r *fwRun) nvmeDone(req nvme.SanitizeRequest, l *nvme.SanitizeLog) fwResult {
	ns := r.info.NVMe.Namespace()
	sc := r.info.NVMe.Controller.Sanitize()
	res := fwResult{out: outCompleted, expect: Expectation{Kind: "changed"}}
	if req.NoDeallocate && l.Status == nvme.SanitizeSuccess {
		res.deallocNote = "the sanitize ran with no-deallocate (NDAS) and the log reports success without deallocation (SSTAT 001b; 100b would say the controller deallocated anyway): reads come from the medium, not from deallocated blocks"
		switch {
		case sc.NODMMAS == nvme.NODMMASModified:
			r.rec.Note("SANICAP NODMMAS=10b: the controller modifies the medium after a no-deallocate sanitize, so no content can be predicted")
		case req.Action == nvme.SanitizeOverwrite:
			res.expect = patternExpect(req.Pattern)
		}
		return res
	}
	res.deallocated = true
	why := "no-deallocate was not requested"
	switch {
	case sc.NoDeallocInhibited:
		why = "the controller inhibits no-deallocate (SANICAP NDI)"
	case req.NoDeallocate && l.Status == nvme.SanitizeSuccessDeallocated:
		why = "the log reports SSTAT 100b: the controller deallocated although no-deallocate was requested"
	case req.NoDeallocate:
		why = fmt.Sprintf("the log reports %q after a no-deallocate request", l.Status)
	}
	if ns != nil {
		res.expect = expectFromDealloc(ns.DeallocReadsZero(), ns.DeallocReadsOnes())
		res.deallocNote = fmt.Sprintf("the controller deallocated the media after the sanitize (%s): reads return what deallocated blocks read as (DLFEAT %d), not the medium; the proof shows the host can no longer read the old data, the medium's state rests on the sanitize itself", why, ns.DLFEAT&7)
	}
	return res
}

// nvmeFailed handles a failed sanitize: in the unrestricted mode (AUSE=1)
// lethe leaves the failure mode with Exit Failure Mode; in the restricted
// one only a successful sanitize can, so the job is kept for a retry.
func (r *fwRun) nvmeFailed(req nvme.SanitizeRequest) fwResult {
	r.failureBlocksIO = true
	why := "the controller reports that the sanitize failed (SSTAT 3)"
	if req.AUSE {
		err := r.act("Sanitize", "SANACT=1 (Exit Failure Mode)", func(ctx context.Context) error {
			return nvme.Sanitize(ctx, r.h.NVMe, nvme.SanitizeRequest{Action: nvme.SanitizeExitFailureMode})
		})
		if err == nil {
			r.failureBlocksIO = false
			why += "; it was started with AUSE=1, and lethe left the failure mode with Exit Failure Mode: the drive accepts I/O again but holds partly erased data"
		} else {
			why += fmt.Sprintf("; Exit Failure Mode failed (%v)", err)
		}
		return fwResult{out: outFailed, why: why}
	}
	why += fmt.Sprintf("; the drive is in the restricted failure mode (AUSE=0) and refuses I/O until a sanitize succeeds. lethe kept the job and its proof in %s: run lethe wipe on the drive again to retry, or destroy it", r.dir)
	return fwResult{out: outFailed, why: why}
}

// nvmeFormat runs Format NVM with a secure erase (NVMe Base 2.0 §5.23),
// keeping the namespace's LBA format, metadata and protection settings,
// per namespace or for all of them as FNA says.
func (r *fwRun) nvmeFormat(ses uint8) (fwResult, error) {
	t := r.h.NVMe
	n := r.info.NVMe
	ctrl, ns := n.Controller, n.Namespace()
	fa := ctrl.Format()
	r.phase = "format"
	switch {
	case ses == nvme.SESNone:
		return fwResult{}, refused(r.d, "Format NVM with SES=0 erases nothing")
	case !ctrl.SupportsFormat():
		return fwResult{}, refused(r.d, "Format NVM not supported (OACS bit 1)")
	case ses == nvme.SESCrypto && !fa.CryptoErase:
		return fwResult{}, refused(r.d, "FNA bit 2 is clear: the controller does not advertise cryptographic erase, so lethe does not send SES=2")
	case ns == nil:
		return fwResult{}, refused(r.d, "no namespace to format")
	}
	nsid := n.NSID
	all := formatAll(ctrl, ses)
	scope := nvmeScope(n, all, r.fo.AllNamespaces)
	r.rec.Scope = &scope.EraseScope
	if !scope.allowed {
		return fwResult{}, refused(r.d, "FNA 0x%02x: %s", ctrl.FNA, scope.why)
	}
	target := nsid
	if all && !fa.NoBroadcastFormat {
		target = nvme.BroadcastNSID
	}
	log, err := r.nvmeLog(true, "a running sanitize would refuse the format")
	switch {
	case err != nil:
		r.rec.Note("no Sanitize Status log (%v): the format timeout comes from the capacity", err)
		log = nil
	case log.Status == nvme.SanitizeInProgress:
		return fwResult{}, refused(r.d, "a sanitize is running (%.1f%%): run lethe again when it has ended", log.Progress*100)
	}
	req := nvme.FormatRequest{NSID: target, LBAF: ns.FormatIndex(), SES: ses, MSET: ns.MetadataExtended(), PI: ns.DPS & 7, PIL: ns.DPS&8 != 0}
	req.Timeout = nvme.FormatTimeout(log, ses, ns.SizeBytes())
	cmd, err := nvme.FormatCmd(req)
	if err != nil {
		return fwResult{}, err
	}
	r.rec.Operation = "NVMe Format NVM, User Data Erase (SES=1)"
	if ses == nvme.SESCrypto {
		r.rec.Operation = "NVMe Format NVM, Cryptographic Erase (SES=2)"
	}
	r.rec.Parameters = []string{fmt.Sprintf("NSID=0x%x", target), fmt.Sprintf("LBAF=%d (kept)", req.LBAF), fmt.Sprintf("SES=%d", ses),
		fmt.Sprintf("MSET=%d", b2i(req.MSET)), fmt.Sprintf("PI=%d", req.PI), fmt.Sprintf("PIL=%d", b2i(req.PIL))}
	if target == nvme.BroadcastNSID {
		r.rec.Note("FNA 0x%02x: format and secure erase apply to all namespaces of the NVM subsystem, so lethe sends the broadcast NSID (%d namespace(s) affected, listed in the scope)", ctrl.FNA, len(scope.Namespaces))
	}
	r.rec.TimeoutSeconds = req.Timeout.Seconds()
	if err := r.prepareProof(); err != nil {
		return fwResult{}, err
	}
	if err := r.persist(phaseSending); err != nil {
		return fwResult{}, err
	}
	if r.ctx.Err() != nil {
		return fwResult{out: outInterrupted, why: "stopped by the operator before Format NVM was sent: nothing was erased"}, nil
	}
	err = r.blocking("Format NVM", fmt.Sprintf("NSID=0x%x CDW10=0x%08x", cmd.NSID, cmd.CDW10), "formatting", func(ctx context.Context) error {
		return nvme.Format(ctx, t, req)
	})
	if err != nil {
		switch {
		case nvme.IsInvalidField(err) || nvme.IsInvalidFormat(err) || nvme.IsInvalidOpcode(err):
			return fwResult{out: outRefused, why: fmt.Sprintf("the controller refused Format NVM: %v", err)}, nil
		case nvmeRefusal(err):
			return fwResult{out: outFailed, why: fmt.Sprintf("Format NVM failed: %v", err)}, nil
		}
		// Cancelled by the kernel (EINTR: it timed out and was aborted,
		// or the controller was reset) or lost: the format may be running
		// or done. Never send it again; follow the namespace's Format
		// Progress Indicator.
		if err := r.persist(phaseStarted); err != nil {
			r.rec.Note("%v", err)
		}
		r.rec.Note("Format NVM did not complete normally (%v): whether the controller formatted is unknown, so lethe does not send it again and follows Identify Namespace (Format Progress Indicator)", err)
		return r.nvmeFormatFollow(ns, nsid, req.Timeout), nil
	}
	r.rec.Completion = "observed: Format NVM completes within the command (NVMe 2.0 §5.23) and the controller returned success"
	after := ns
	if err := r.cmd("Identify Namespace", fmt.Sprintf("NSID=%d (the format must keep the LBA format)", nsid), func(ctx context.Context) error {
		var err error
		after, err = nvme.IdentifyNamespace(ctx, t, nsid)
		return err
	}); err != nil {
		after = ns
	}
	if after.FormatIndex() != ns.FormatIndex() || after.NSZE != ns.NSZE {
		r.rec.Note("the namespace changed: LBA format %d -> %d, NSZE %d -> %d", ns.FormatIndex(), after.FormatIndex(), ns.NSZE, after.NSZE)
	}
	return fwResult{out: outCompleted, deallocated: true, expect: expectFromDealloc(after.DeallocReadsZero(), after.DeallocReadsOnes()),
		deallocNote: fmt.Sprintf("Format NVM leaves the namespace deallocated: reads return what deallocated blocks read as (DLFEAT %d), not the medium", after.DLFEAT&7)}, nil
}

// nvmeFormatFollow follows a Format NVM whose command outcome is unknown
// through Identify Namespace: FPI (byte 32, NVMe Base 2.0 Figure 114 / NVM
// Command Set 1.0 Figure 97) reports the percentage still to be formatted,
// and a namespace being formatted may refuse with Format In Progress or
// Namespace Not Ready. Completion counts only when lethe saw the format in
// progress; otherwise nothing shows that it ran.
func (r *fwRun) nvmeFormatFollow(before *nvme.Namespace, nsid uint32, timeout time.Duration) fwResult {
	supported, _ := before.FormatProgress()
	res := r.poll("formatting", timeout, func() (bool, fwResult, error) {
		ns, err := nvme.IdentifyNamespace(context.WithoutCancel(r.ctx), r.h.NVMe, nsid)
		switch {
		case nvme.IsFormatInProgress(err) || nvme.IsNotReady(err):
			r.rec.InProgressSeen = true
			r.rec.Observe("format in progress", 0, err.Error())
			return false, fwResult{}, nil
		case err != nil:
			return false, fwResult{}, err
		}
		sup, rem := ns.FormatProgress()
		if sup && rem > 0 {
			r.rec.InProgressSeen = true
			r.rec.Observe("format in progress", float64(100-int(rem))/100, fmt.Sprintf("FPI %d%% remaining", rem))
			r.progress(r.phase, float64(100-int(rem))/100, false)
			return false, fwResult{}, nil
		}
		r.rec.Observe("namespace ready", 0, fmt.Sprintf("FPI 0x%02x", ns.FPI))
		if !r.rec.InProgressSeen {
			why := "the namespace reports no format progress indicator (FPI bit 7 clear)"
			if sup || supported {
				why = "the Format Progress Indicator never showed a format in progress"
			}
			return true, fwResult{out: outUnattributed, why: "Format NVM's outcome was unknown (cancelled, or its answer lost), and " + why + ": nothing shows that the namespace was formatted"}, nil
		}
		r.rec.Completion = "observed: Format NVM's own answer was lost, but Identify Namespace showed the format in progress and then finished"
		return true, fwResult{out: outCompleted, deallocated: true, expect: expectFromDealloc(ns.DeallocReadsZero(), ns.DeallocReadsOnes()),
			deallocNote: fmt.Sprintf("Format NVM leaves the namespace deallocated: reads return what deallocated blocks read as (DLFEAT %d), not the medium", ns.DLFEAT&7)}, nil
	})
	return res
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func failureModeName(unrestricted bool) string {
	if unrestricted {
		return "unrestricted (AUSE=1): lethe leaves a failure with Exit Failure Mode"
	}
	return "restricted (AUSE=0): after a failure the drive refuses I/O until a sanitize succeeds"
}
