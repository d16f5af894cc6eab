package wipe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/probe"
)

// ExecOptions are the run-time settings of an execution.
type ExecOptions struct {
	Verify        VerifyMode
	SamplePercent float64
	// SampleSeed fixes sampled verification positions (32 bytes).
	SampleSeed       []byte
	IO               IOOptions
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Firmware configures firmware techniques (state directory, unfreeze,
	// transport, proof); the zero value is the defaults.
	Firmware FirmwareOptions
}

// Execute carries out a plan on one drive and reports what happened. It is
// the single entry point for every technique, so the CLI and the boot agent
// sanitize the same way.
//
// A firmware technique re-probes the drive through its command transport
// (FirmwareOptions.Open) and runs lethe's state machine for it; t is the
// drive's block device, through which the proof is planted and checked and
// the read-back is done. An unfinished firmware job persisted for the drive
// (an interrupted sanitize) is resumed whatever the plan says. Execute
// returns an error without a report only when it changed nothing on the
// drive (a *RefusedError for firmware techniques).
func Execute(ctx context.Context, d *devices.Device, t Target, p Plan, opt ExecOptions) (*Report, error) {
	if p.Refusal != "" {
		return nil, fmt.Errorf("execute %s: the plan refuses the drive: %s", d.Path, p.Refusal)
	}
	if p.Technique.ID == TechOverwrite {
		job, _ := loadJob(opt.Firmware.stateDir(), d)
		switch {
		case job != nil && job.unfinished() && !isSecurityErase(job.Technique) && job.Technique != "":
			// The drive holds an unfinished sanitize (it may still be
			// running and refusing I/O): finish that first.
			return executeFirmware(ctx, d, t, p, opt)
		case job != nil && job.Password != "":
			// An interrupted security erase left lethe's password: a
			// locked drive refuses every write.
			note, err := recoverPassword(ctx, d, opt)
			if err != nil {
				return nil, err
			}
			p.Decision = append(p.Decision, note)
		}
		return overwrite(ctx, d, t, p, opt)
	}
	return executeFirmware(ctx, d, t, p, opt)
}

// recoverPassword clears the temporary ATA password an interrupted lethe
// run left, before a technique that does not go through the ATA runner.
func recoverPassword(ctx context.Context, d *devices.Device, opt ExecOptions) (string, error) {
	fo := opt.Firmware
	dir := fo.stateDir()
	job, err := loadJob(dir, d)
	if err != nil || job == nil {
		return "", err
	}
	h, err := fo.open(d)
	if err != nil {
		return "", refused(d, "open the command transport to clear the password of an interrupted lethe run: %v", err)
	}
	defer h.Close()
	info, err := h.Probe(ctx)
	if err != nil {
		return "", refused(d, "probe: %v", err)
	}
	if info.Kind != probe.KindATA {
		return "", refused(d, "the job state holds an ATA password, but the drive does not answer ATA pass-through")
	}
	r := &fwRun{ctx: ctx, d: d, h: h, info: info, opt: opt, fo: fo, dir: dir, job: job, rec: &FirmwareRecord{}}
	if _, err := r.ataRecoverPassword(ata.New(h.SCSI), info.ATA.Identify); err != nil {
		return "", err
	}
	if err := removeJob(dir, d); err != nil {
		return "", err
	}
	return "cleared the temporary ATA password an interrupted lethe run left on the drive: " + joinReasons(r.rec.Notes), nil
}

func overwrite(ctx context.Context, d *devices.Device, t Target, p Plan, opt ExecOptions) (*Report, error) {
	hidden, capacity := inspect(ctx, d, opt.Firmware)
	rep, err := Overwrite(ctx, Job{
		Target: t, Method: p.Method, Verify: opt.Verify, SamplePercent: opt.SamplePercent,
		SampleSeed: opt.SampleSeed, IO: opt.IO, Progress: opt.Progress, ProgressInterval: opt.ProgressInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("overwrite %s: %w", d.Path, err)
	}
	rep.Category = p.Category
	rep.Decision = append(append([]string(nil), p.Decision...), rep.Decision...)
	rep.HiddenAreas, rep.Capacity = hidden, capacity
	if hidden != nil && hidden.Before != nil && hidden.Before.Hidden() > 0 && rep.Status == StatusErased {
		rep.Status = StatusPartial
		rep.StatusReason += fmt.Sprintf("; but %s, which a host overwrite cannot reach", hidden.Before.String())
	}
	// Not read is unknown, never none: the overwrite covered what the OS
	// sees, which cannot be shown to be the whole medium.
	if hidden != nil && hidden.Before != nil && hidden.Before.Unknown() && rep.Status == StatusErased {
		rep.Status = StatusPartial
		rep.StatusReason += fmt.Sprintf("; but the drive's native capacity is unknown (%s): the overwrite cannot be shown to cover the whole medium", hidden.Before.String())
	}
	for _, c := range capacity {
		if !c.Match && c.OSBytes < c.DeviceBytes && rep.Status == StatusErased {
			rep.Status = StatusPartial
			rep.StatusReason += "; but " + c.Note
		}
	}
	return rep, nil
}

// inspect reads, without changing anything, what a host overwrite cannot
// see for itself: an ATA drive's hidden areas and the capacity the drive
// reports through pass-through. Drives without pass-through return nils.
func inspect(ctx context.Context, d *devices.Device, fo FirmwareOptions) (*HiddenAreasRecord, []CapacityCheck) {
	if d.Kind != devices.KindDisk {
		return nil, nil
	}
	h, err := fo.open(d)
	var ue *probe.UnsupportedError
	if errors.As(err, &ue) || err != nil {
		return nil, nil
	}
	defer h.Close()
	info, err := h.Probe(ctx)
	if err != nil {
		return nil, nil
	}
	caps := CapabilitiesOf(d, info, fo, false)
	var hidden *HiddenAreasRecord
	if caps.Hidden != nil {
		hidden = &HiddenAreasRecord{Inspected: true, Before: caps.Hidden, After: caps.Hidden, Note: caps.Hidden.String() + " (inspected only: a host overwrite does not change hidden areas)"}
	}
	return hidden, caps.Capacity
}
