package wipe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lethe-project/lethe/internal/devices/ata"
)

func (r *fwRun) runATA() (fwResult, error) {
	dev := ata.New(r.h.SCSI)
	switch r.tech {
	case TechATASanitizeCrypto:
		return r.ataSanitize(dev, ata.SanitizeCryptoScramble)
	case TechATASanitizeBlock:
		return r.ataSanitize(dev, ata.SanitizeBlockErase)
	case TechATASanitizeOverw:
		return r.ataSanitize(dev, ata.SanitizeOverwrite)
	case TechATASecurityEnhanced:
		return r.ataSecurity(dev, true)
	case TechATASecurityNormal:
		return r.ataSecurity(dev, false)
	}
	return fwResult{}, refused(r.d, "lethe has no ATA executor for %s", r.tech)
}

func (r *fwRun) ataIdentify(dev *ata.Device, why string) (*ata.Identify, error) {
	var id *ata.Identify
	err := r.cmd("IDENTIFY DEVICE", why, func(ctx context.Context) error {
		var err error
		id, err = dev.Identify(ctx)
		if errors.Is(err, ata.ErrChecksum) && id != nil {
			r.rec.Note("IDENTIFY: %v", err)
			err = nil
		}
		return err
	})
	if err == nil {
		r.rec.Observe("security "+id.Security.State(), 0, why)
	}
	return id, err
}

// ataRecoverPassword clears the temporary password an interrupted lethe run
// left on the drive (persisted in the job state before it was set): UNLOCK
// if the drive is locked, then DISABLE PASSWORD.
func (r *fwRun) ataRecoverPassword(dev *ata.Device, id *ata.Identify) (*ata.Identify, error) {
	if r.job.Password == "" {
		return id, nil
	}
	pw, err := passwordFromHex(r.job.Password)
	if err != nil {
		return nil, refused(r.d, "the job state holds an unreadable password: %v", err)
	}
	sec := id.Security
	if !sec.Enabled {
		r.rec.Note("the temporary password of an interrupted lethe run is no longer set on the drive")
		r.job.Password = ""
		return id, nil
	}
	wasLocked := sec.Locked
	// SEC6 (enabled, unlocked, frozen): unfreeze first. The drive loses
	// power in S3, so it comes back from the suspend/resume cycle locked
	// (SEC4): the IDENTIFY the unfreeze returns says so, and the unlock
	// below follows in the same run.
	if sec.Frozen {
		nid, err := r.ataUnfreeze(dev, id, true, "security frozen with a password set (SEC6)")
		if err != nil {
			return nil, err
		}
		id, sec = nid, nid.Security
		if sec.Frozen {
			return nil, refused(r.d, "the drive is still frozen after suspend/resume (%s): hot-plug it or power-cycle it without the BIOS freezing it", sec.State())
		}
		if !sec.Enabled {
			r.rec.Note("the temporary password of an interrupted lethe run is no longer set on the drive after suspend/resume")
			r.job.Password = ""
			return id, nil
		}
	}
	if sec.Locked {
		wasLocked = true
		if sec.CountExpired {
			return nil, refused(r.d, "the drive is locked with the password an interrupted lethe run recorded, but its attempt counter expired: power-cycle the drive and run lethe again")
		}
		if err := r.act("SECURITY UNLOCK", "user password recorded by the interrupted lethe run", func(ctx context.Context) error {
			return dev.SecurityUnlock(ctx, pw)
		}); err != nil {
			return nil, refused(r.d, "the drive is locked and the password an interrupted lethe run recorded does not unlock it (%v): it was set by someone else", err)
		}
	}
	if err := r.act("SECURITY DISABLE PASSWORD", "user password recorded by the interrupted lethe run", func(ctx context.Context) error {
		return dev.SecurityDisablePassword(ctx, pw)
	}); err != nil {
		return nil, refused(r.d, "SECURITY DISABLE PASSWORD with the recorded password failed: %v", err)
	}
	id, err = r.ataIdentify(dev, "after clearing the interrupted run's password")
	if err != nil {
		return nil, err
	}
	if id.Security.Enabled {
		return nil, refused(r.d, "the drive still reports a user password after DISABLE PASSWORD")
	}
	r.rec.Note("recovered the drive from an interrupted lethe run: it was %s with lethe's temporary password, which is now unlocked and disabled", map[bool]string{true: "locked", false: "left"}[wasLocked])
	r.decide("recovered the password left by an interrupted lethe run before erasing")
	r.job.Password = ""
	return id, r.persist(r.job.Phase)
}

// ataUnfreeze suspends and resumes the machine (--allow-unfreeze) and reads
// IDENTIFY again.
func (r *fwRun) ataUnfreeze(dev *ata.Device, id *ata.Identify, frozen bool, what string) (*ata.Identify, error) {
	if !frozen {
		return id, nil
	}
	if !r.fo.AllowUnfreeze {
		return nil, refused(r.d, "the drive is frozen (%s): the BIOS froze it at boot. Rerun with --allow-unfreeze (lethe suspends this machine to RAM and resumes it, which unfreezes most drives) or hot-plug the drive", what)
	}
	u := r.fo.Unfreezer
	if u == nil {
		u = SystemSuspend{}
	}
	r.notify("%s: the drive is frozen (%s); suspending this machine to RAM and resuming it to unfreeze the drive (--allow-unfreeze)", r.d.Path, what)
	start := time.Now().UTC()
	if err := u.SuspendResume(r.ctx); err != nil {
		return nil, refused(r.d, "the drive is frozen (%s) and the suspend/resume cycle failed: %v", what, err)
	}
	id, err := r.ataIdentify(dev, "after suspend/resume")
	if err != nil {
		return nil, err
	}
	r.rec.Unfreeze = fmt.Sprintf("the drive was frozen (%s); lethe suspended the machine to RAM at %s and resumed it", what, start.Format(time.RFC3339))
	return id, nil
}

// ataHidden records the HPA and DCO, removes them (SET MAX ADDRESS EXT to
// the native max, non-volatile; then DEVICE CONFIGURATION RESTORE), and
// records the state afterwards.
func (r *fwRun) ataHidden(dev *ata.Device, id *ata.Identify) (*ata.Identify, error) {
	rec := &HiddenAreasRecord{Inspected: true}
	r.hidden = rec
	before := r.ataHiddenState(dev, id)
	rec.Before = &before
	changed := false
	if before.HPASectors > 0 {
		name, params := "SET MAX ADDRESS EXT", fmt.Sprintf("max LBA %d (the native max), non-volatile; after READ NATIVE MAX ADDRESS EXT", before.NativeMaxLBA)
		if id.AMASupported {
			// ACS-3 §7.6.3: the Accessible Max Address feature set
			// replaces SET MAX ADDRESS; the change is non-volatile.
			name, params = "SET ACCESSIBLE MAX ADDRESS EXT", fmt.Sprintf("max LBA %d (the native max)", before.NativeMaxLBA)
		}
		err := r.act(name, params, func(ctx context.Context) error {
			_, err := dev.SetNativeMax(ctx, id, before.NativeMaxLBA)
			return err
		})
		if err != nil {
			rec.Actions = append(rec.Actions, fmt.Sprintf("HPA removal failed: %v", err))
		} else {
			rec.Actions = append(rec.Actions, fmt.Sprintf("HPA removed: max LBA %d -> %d", before.CurrentMaxLBA, before.NativeMaxLBA))
			changed = true
		}
	}
	if before.DCOSectors > 0 {
		err := r.act("DEVICE CONFIGURATION RESTORE", "", func(ctx context.Context) error { return dev.DCORestore(ctx) })
		if err != nil {
			rec.Actions = append(rec.Actions, fmt.Sprintf("DCO restore failed (a DCO FREEZE LOCK or a remaining HPA blocks it): %v", err))
		} else {
			rec.Actions = append(rec.Actions, fmt.Sprintf("DCO restored: factory max LBA %d", before.DCOMaxLBA))
			changed = true
		}
	}
	after := before
	if changed {
		nid, err := r.ataIdentify(dev, "after removing hidden areas")
		if err != nil {
			return nil, err
		}
		id = nid
		after = r.ataHiddenState(dev, id)
	}
	rec.After = &after
	switch {
	case after.Unknown():
		rec.Note = "hidden areas UNKNOWN: " + after.String()
	case before.Hidden() == 0:
		rec.Note = "no hidden areas: " + before.String()
	case after.Hidden() == 0:
		rec.Note = fmt.Sprintf("%d hidden sectors made addressable before erasing (%s)", before.Hidden(), strings.Join(rec.Actions, "; "))
	default:
		rec.Note = fmt.Sprintf("hidden sectors remain after the removal attempts: %s", after.String())
	}
	return id, nil
}

// ataHiddenState reads the native max address (GET NATIVE MAX ADDRESS EXT
// on an Accessible Max Address drive, else READ NATIVE MAX ADDRESS EXT)
// and the DCO; what could not be read is recorded as unknown.
func (r *fwRun) ataHiddenState(dev *ata.Device, id *ata.Identify) HiddenState {
	var hpa *ata.HPA
	name := "READ NATIVE MAX ADDRESS EXT"
	if id.AMASupported {
		name = "GET NATIVE MAX ADDRESS EXT"
	}
	if err := r.cmd(name, "", func(ctx context.Context) error {
		h, err := dev.ReadHPA(ctx, id)
		hpa = &h
		return err
	}); err != nil {
		hpa = nil
	}
	var dco *ata.DCO
	if id.DCOSupported {
		if err := r.cmd("DEVICE CONFIGURATION IDENTIFY", "", func(ctx context.Context) error {
			var err error
			dco, err = dev.DCOIdentify(ctx)
			return err
		}); err != nil {
			dco = nil
		}
	}
	return hiddenState(id, hpa, dco)
}

func newTempPassword() (ata.Password, string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return ata.Password{}, "", err
	}
	s := "lethe-" + hex.EncodeToString(b[:])
	p, err := ata.NewPassword(s)
	return p, hex.EncodeToString([]byte(s)), err
}

func passwordFromHex(h string) (ata.Password, error) {
	b, err := hex.DecodeString(h)
	if err != nil {
		return ata.Password{}, err
	}
	return ata.NewPassword(string(b))
}

// ataSecurity runs SECURITY ERASE UNIT (ACS-4 §7.47) with a temporary user
// password: persisted before it is set, cleared afterwards whatever
// happened, so no drive leaves lethe locked.
func (r *fwRun) ataSecurity(dev *ata.Device, enhanced bool) (fwResult, error) {
	r.phase = "security-erase"
	op := ata.OpErase
	r.rec.Operation = "ATA SECURITY ERASE UNIT, normal"
	if enhanced {
		op = ata.OpEraseEnhanced
		r.rec.Operation = "ATA SECURITY ERASE UNIT, enhanced"
	}
	id, err := r.ataRecoverPassword(dev, r.info.ATA.Identify)
	if err != nil {
		return fwResult{}, err
	}
	if id, err = r.ataUnfreeze(dev, id, id.Security.Frozen, "security frozen, IDENTIFY word 128 bit 3"); err != nil {
		return fwResult{}, err
	}
	if id.Security.Frozen {
		return fwResult{}, refused(r.d, "the drive is still frozen after suspend/resume: hot-plug it or power-cycle it without the BIOS freezing it")
	}
	if err := ata.SecurityCheck(id, op); err != nil && !errors.Is(err, ata.ErrNotEnabled) {
		return fwResult{}, refused(r.d, "%v", err)
	}
	if id, err = r.ataHidden(dev, id); err != nil {
		return fwResult{}, err
	}
	timeout := id.SecurityEraseTimeout(enhanced)
	est := id.Security.EraseTime
	if enhanced {
		est = id.Security.EnhancedEraseTime
	}
	r.rec.EstimateSeconds, r.rec.TimeoutSeconds = est.Seconds(), timeout.Seconds()
	if est == 0 {
		r.rec.Note("the drive gives no erase time (IDENTIFY word %d = 0): the timeout is 30 minutes plus the capacity at 30 MiB/s, as hdparm allows", map[bool]int{false: 89, true: 90}[enhanced])
	} else {
		r.rec.Note("the timeout is the larger of the drive's estimate with a margin (2x, at least +1 h) and 30 minutes plus the capacity at 30 MiB/s")
	}
	r.rec.Parameters = []string{fmt.Sprintf("enhanced=%d", b2i(enhanced)), "password=temporary user password (not recorded here), master password capability High"}
	if err := r.prepareProof(); err != nil {
		return fwResult{}, err
	}
	pw, pwHex, err := newTempPassword()
	if err != nil {
		return fwResult{}, err
	}
	r.job.Password = pwHex
	if err := r.persist(phasePasswordPending); err != nil {
		return fwResult{}, err
	}
	r.rec.Password = &PasswordRecord{}
	if err := r.act("SECURITY SET PASSWORD", "user password, master password capability High", func(ctx context.Context) error {
		return dev.SecuritySetPassword(ctx, pw)
	}); err != nil {
		r.ataClearPassword(dev, pw)
		return fwResult{out: outRefused, why: fmt.Sprintf("the drive refused SECURITY SET PASSWORD: %v", err)}, nil
	}
	r.rec.Password.Set = true
	if err := r.persist(phasePasswordSet); err != nil {
		r.ataClearPassword(dev, pw)
		return fwResult{}, err
	}
	if _, err := r.ataIdentify(dev, "after SECURITY SET PASSWORD"); err != nil {
		r.rec.Note("IDENTIFY after SET PASSWORD: %v", err)
	}
	if err := r.persist(phaseSending); err != nil {
		r.ataClearPassword(dev, pw)
		return fwResult{}, err
	}
	if r.ctx.Err() != nil {
		r.ataClearPassword(dev, pw)
		return fwResult{out: outInterrupted, why: "stopped by the operator before SECURITY ERASE UNIT was sent: nothing was erased"}, nil
	}
	err = r.act("SECURITY ERASE PREPARE", "", func(ctx context.Context) error { return dev.SecurityErasePrepare(ctx) })
	if err == nil {
		err = r.blocking("SECURITY ERASE UNIT", fmt.Sprintf("enhanced=%d, command timeout %s", b2i(enhanced), timeout), "erasing",
			func(ctx context.Context) error { return dev.SecurityEraseUnit(ctx, pw, enhanced, timeout) })
	}
	r.ataClearPassword(dev, pw)
	if err != nil {
		return fwResult{out: outFailed, why: fmt.Sprintf("the erase failed: %v (%s)", err, r.rec.Password.Note)}, nil
	}
	r.rec.Completion = "observed: SECURITY ERASE UNIT returns only when the erase has ended, and the drive returned success"
	res := fwResult{out: outCompleted, expect: Expectation{Kind: "changed"},
		deallocNote: "ATA reports no deallocation state after a security erase; reads come from what the drive returns for its user data"}
	if !enhanced {
		// ACS-4 §7.47.4: a normal erase writes binary zeros to all user data.
		res.expect = Expectation{Kind: "zero"}
	}
	return res, nil
}

// ataClearPassword makes sure lethe's temporary password is gone: a
// successful erase clears it (SEC1); otherwise UNLOCK (if locked) and
// DISABLE PASSWORD. The job keeps the password until the drive says it is
// gone.
func (r *fwRun) ataClearPassword(dev *ata.Device, pw ata.Password) {
	if r.rec.Password == nil {
		r.rec.Password = &PasswordRecord{}
	}
	id, err := r.ataIdentify(dev, "is lethe's temporary password still set?")
	if err == nil && id.Security.Enabled {
		if id.Security.Locked {
			_ = r.act("SECURITY UNLOCK", "lethe's temporary password", func(ctx context.Context) error { return dev.SecurityUnlock(ctx, pw) })
		}
		_ = r.act("SECURITY DISABLE PASSWORD", "lethe's temporary password", func(ctx context.Context) error { return dev.SecurityDisablePassword(ctx, pw) })
		id, err = r.ataIdentify(dev, "after SECURITY DISABLE PASSWORD")
	}
	if err == nil && !id.Security.Enabled {
		r.rec.Password.Cleared = true
		r.rec.Password.Note = "the temporary password is cleared (security disabled, SEC1)"
		r.job.Password = ""
		_ = r.persist(r.job.Phase)
		return
	}
	r.passwordLeft = true
	r.rec.Password.Note = fmt.Sprintf("the temporary password could NOT be cleared (%v): it stays recorded in %s so that the next lethe wipe of this drive unlocks and clears it", err, r.dir)
	_ = r.persist(r.job.Phase)
}

func (r *fwRun) ataStatus(dev *ata.Device, record bool, why string) (*ata.SanitizeStatus, error) {
	var st *ata.SanitizeStatus
	get := func(ctx context.Context) error {
		var err error
		st, err = dev.SanitizeStatus(ctx, false)
		return err
	}
	var err error
	if record {
		err = r.cmd("SANITIZE STATUS EXT", why, get)
	} else {
		err = get(context.WithoutCancel(r.ctx))
	}
	if err == nil {
		r.rec.Observe(ataSanitizeState(st), st.Progress, "")
		if st.Failed {
			r.lastATAReason = st.Reason
		}
	}
	return st, err
}

func ataSanitizeState(st *ata.SanitizeStatus) string {
	var s []string
	switch {
	case st.Failed:
		s = append(s, "failed (SD3)")
	case st.InProgress:
		s = append(s, "in progress (SD2)")
	case st.Frozen:
		s = append(s, "frozen (SD1)")
	default:
		s = append(s, "idle")
	}
	if st.CompletedWithoutError {
		s = append(s, "completed-without-error bit set")
	}
	if st.Antifreeze {
		s = append(s, "antifreeze")
	}
	return strings.Join(s, ", ")
}

// ataSanitize runs SANITIZE DEVICE (ACS-4 §7.36) and follows it with
// SANITIZE STATUS EXT.
func (r *fwRun) ataSanitize(dev *ata.Device, f ata.SanitizeFeature) (fwResult, error) {
	r.phase = "sanitize"
	cont := r.job.Phase == phaseSending || r.job.Phase == phaseStarted || r.job.Phase == phaseFailed
	opts := ata.SanitizeOptions{FailureMode: r.fo.UnrestrictedExit}
	if cont {
		opts.FailureMode = r.job.Unrestricted
	}
	if f == ata.SanitizeOverwrite {
		opts.Passes, opts.Pattern = 1, pattern32()
		if cont && r.job.Pattern != 0 {
			opts.Pattern = r.job.Pattern
		}
	}
	r.rec.Operation = "ATA SANITIZE, " + f.String()
	r.rec.FailureMode = ataFailureModeName(opts.FailureMode)
	r.rec.Parameters = []string{fmt.Sprintf("FEATURE=0x%04x", uint16(f)), fmt.Sprintf("FAILURE MODE=%d", b2i(opts.FailureMode))}
	if f == ata.SanitizeOverwrite {
		r.rec.Parameters = append(r.rec.Parameters, "OVERWRITE COUNT=1", "INVERT=0", fmt.Sprintf("pattern=0x%08X", opts.Pattern))
	}
	id, err := r.ataRecoverPassword(dev, r.info.ATA.Identify)
	if err != nil {
		return fwResult{}, err
	}
	st0, err := r.ataStatus(dev, true, "before the sanitize")
	if err != nil {
		return fwResult{}, refused(r.d, "SANITIZE STATUS EXT failed: %v", err)
	}
	if st0.Frozen {
		if id, err = r.ataUnfreeze(dev, id, true, "sanitize frozen, SD1"); err != nil {
			return fwResult{}, err
		}
		if st0, err = r.ataStatus(dev, true, "after suspend/resume"); err != nil {
			return fwResult{}, refused(r.d, "SANITIZE STATUS EXT failed: %v", err)
		}
		if st0.Frozen {
			return fwResult{}, refused(r.d, "the drive is still sanitize-frozen after suspend/resume: power-cycle it")
		}
	}
	timeout := ata.SanitizeTimeout(id, f, opts)
	r.rec.TimeoutSeconds = timeout.Seconds()
	if st0.InProgress {
		if cont && r.job.ATAFeature == uint16(f) {
			r.rec.Note("the drive is still sanitizing for job %s (%.1f%%): lethe follows it", r.job.ID, st0.Progress*100)
			r.rec.InProgressSeen = true
			return r.ataFollow(dev, f, opts, r.job.CompletedBefore, timeout, false), nil
		}
		r.notify("%s: a sanitize lethe did not start is running; waiting for it to end before starting lethe's own", r.d.Path)
		r.rec.Note("a sanitize lethe did not start was running: lethe waited for it and does not count it")
		wait := r.poll("sanitizing (an operation lethe did not start)", timeout, func() (bool, fwResult, error) {
			st, err := r.ataStatus(dev, false, "")
			if err != nil {
				return false, fwResult{}, err
			}
			return !st.InProgress, fwResult{}, nil
		})
		if wait.out == outInterrupted || wait.out == outLost {
			return fwResult{}, refused(r.d, "while waiting for a sanitize lethe did not start: %s", wait.why)
		}
		if st0, err = r.ataStatus(dev, true, "after the other sanitize"); err != nil {
			return fwResult{}, refused(r.d, "SANITIZE STATUS EXT failed: %v", err)
		}
	}
	if cont && r.job.Phase == phaseStarted && r.job.ATAFeature == uint16(f) {
		switch {
		case st0.Failed:
			return r.ataFailed(dev, opts), nil
		case st0.CompletedWithoutError && !r.job.CompletedBefore:
			r.rec.Completion = "attributed: the sanitize lethe started earlier ended while lethe was not watching; the completed-without-error bit, clear when lethe sent the command, is set"
			return r.ataDone(f, opts), nil
		}
	}
	if st0.Failed {
		r.failureBlocksIO = true
		r.rec.Note("the drive is in the sanitize failure state (SD3) after an earlier sanitize: it refuses I/O until a sanitize succeeds, so lethe starts a new one")
	} else if id, err = r.ataHidden(dev, id); err != nil {
		return fwResult{}, err
	}
	if err := ata.SanitizeCheck(id, f); err != nil {
		return fwResult{}, refused(r.d, "%v", err)
	}
	if err := r.prepareProof(); err != nil {
		return fwResult{}, err
	}
	stb := st0
	if r.touched {
		if st, err := r.ataStatus(dev, true, "after planting the canaries"); err == nil {
			stb = st
		}
	}
	c, err := ata.SanitizeCmd(f, opts)
	if err != nil {
		return fwResult{}, err
	}
	r.job.ATAFeature, r.job.Pattern, r.job.CompletedBefore, r.job.Unrestricted = uint16(f), opts.Pattern, stb.CompletedWithoutError, opts.FailureMode
	if err := r.persist(phaseSending); err != nil {
		return fwResult{}, err
	}
	if r.ctx.Err() != nil {
		return fwResult{out: outInterrupted, why: "stopped by the operator before SANITIZE was sent: nothing was erased"}, nil
	}
	// A new operation: what an earlier attempt showed does not count.
	r.rec.InProgressSeen, r.rec.Completion = false, ""
	err = r.act("SANITIZE DEVICE "+f.String(), fmt.Sprintf("FEATURE=0x%04x COUNT=0x%04x LBA=0x%012x", c.TF.Feature, c.TF.Count, c.TF.LBA), func(ctx context.Context) error {
		return dev.Sanitize(ctx, f, opts)
	})
	unknown := false
	if err != nil {
		if _, answered := ata.AsError(err); answered {
			why := fmt.Sprintf("the drive refused SANITIZE %s: %v", f, err)
			if reason, ok := ata.SanitizeErrorReason(err); ok {
				why += " (" + reason.String() + ")"
			}
			return fwResult{out: outRefused, why: why}, nil
		}
		// No ATA answer (a transport or SATL error, a timeout): the drive
		// may have started. Never send it again; STATUS EXT says.
		unknown = true
		r.rec.Note("SANITIZE got no answer from the drive (%v): whether it started is unknown, so lethe does not send it again and follows SANITIZE STATUS EXT", err)
	}
	if err := r.persist(phaseStarted); err != nil {
		r.rec.Note("%v", err)
	}
	return r.ataFollow(dev, f, opts, stb.CompletedWithoutError, timeout, unknown), nil
}

func (r *fwRun) ataFollow(dev *ata.Device, f ata.SanitizeFeature, opts ata.SanitizeOptions, completedBefore bool, timeout time.Duration, unknown bool) fwResult {
	grace := 0
	sent := "the drive accepted SANITIZE"
	if unknown {
		sent = "SANITIZE's outcome was unknown (no answer)"
	}
	return r.poll("sanitizing", timeout, func() (bool, fwResult, error) {
		st, err := r.ataStatus(dev, false, "")
		if err != nil {
			return false, fwResult{}, err
		}
		switch {
		case st.Failed:
			return true, r.ataFailed(dev, opts), nil
		case st.InProgress:
			r.rec.InProgressSeen = true
			r.progress(r.phase, st.Progress, false)
			return false, fwResult{}, nil
		case st.CompletedWithoutError && r.rec.InProgressSeen:
			r.rec.Completion = "observed: SANITIZE STATUS EXT showed the operation in progress, then completed without error"
		case st.CompletedWithoutError && !completedBefore:
			r.rec.Completion = "attributed: SANITIZE STATUS EXT reports completed without error, a bit that was clear when lethe sent the command"
		case grace < 3:
			grace++
			return false, fwResult{}, nil
		case st.CompletedWithoutError:
			return true, fwResult{out: outUnattributed, why: sent + ", but STATUS EXT never showed it in progress, and its completed-without-error bit was already set before (an earlier sanitize): nothing shows that a sanitize ran"}, nil
		default:
			return true, fwResult{out: outUnattributed, why: sent + ", but STATUS EXT shows neither progress nor completion: nothing shows that a sanitize ran"}, nil
		}
		return true, r.ataDone(f, opts), nil
	})
}

func (r *fwRun) ataDone(f ata.SanitizeFeature, opts ata.SanitizeOptions) fwResult {
	res := fwResult{out: outCompleted, expect: Expectation{Kind: "changed"},
		deallocNote: "ATA reports no deallocation state after SANITIZE; reads come from what the drive returns for its user data"}
	if f == ata.SanitizeOverwrite {
		res.expect = patternExpect(opts.Pattern)
	}
	return res
}

func (r *fwRun) ataFailed(dev *ata.Device, opts ata.SanitizeOptions) fwResult {
	r.failureBlocksIO = true
	why := fmt.Sprintf("the drive reports that the sanitize failed (SANITIZE STATUS EXT aborted with reason %d, %s: state SD3)", uint8(r.lastATAReason), r.lastATAReason)
	if opts.FailureMode {
		var st *ata.SanitizeStatus
		err := r.act("SANITIZE STATUS EXT", "CLEAR SANITIZE OPERATION FAILED=1", func(ctx context.Context) error {
			var err error
			st, err = dev.SanitizeStatus(ctx, true)
			return err
		})
		if err == nil && !st.Failed {
			r.failureBlocksIO = false
			why += "; it was started with FAILURE MODE=1, and lethe left the failed state with STATUS EXT + CLEAR: the drive accepts I/O again but holds partly erased data"
		} else {
			why += fmt.Sprintf("; leaving the failed state did not work (%v)", err)
		}
		return fwResult{out: outFailed, why: why}
	}
	why += fmt.Sprintf("; FAILURE MODE was 0, so only a successful sanitize leaves SD3 and the drive refuses I/O until then. lethe kept the job and its proof in %s: run lethe wipe on the drive again to retry, or destroy it", r.dir)
	return fwResult{out: outFailed, why: why}
}

func ataFailureModeName(unrestricted bool) string {
	if unrestricted {
		return "unrestricted (FAILURE MODE=1): lethe leaves a failure with STATUS EXT + CLEAR"
	}
	return "restricted (FAILURE MODE=0): after a failure only a successful sanitize makes the drive usable"
}
