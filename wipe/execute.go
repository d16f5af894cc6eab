package wipe

import (
	"context"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/devices"
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
}

// Execute carries out a plan on one drive and reports what happened. It is
// the single entry point for every technique, so the CLI and the boot agent
// sanitize the same way.
func Execute(ctx context.Context, d *devices.Device, t Target, p Plan, opt ExecOptions) (*Report, error) {
	if p.Refusal != "" {
		return nil, fmt.Errorf("execute %s: the plan refuses the drive: %s", d.Path, p.Refusal)
	}
	switch p.Technique.ID {
	case TechOverwrite:
		rep, err := Overwrite(ctx, Job{
			Target: t, Method: p.Method, Verify: opt.Verify, SamplePercent: opt.SamplePercent,
			SampleSeed: opt.SampleSeed, IO: opt.IO, Progress: opt.Progress, ProgressInterval: opt.ProgressInterval,
		})
		if err != nil {
			return nil, fmt.Errorf("overwrite %s: %w", d.Path, err)
		}
		rep.Category = p.Category
		rep.Decision = append(append([]string(nil), p.Decision...), rep.Decision...)
		return rep, nil
	}
	return nil, fmt.Errorf("execute %s: lethe has no executor for technique %s", d.Path, p.Technique.ID)
}

// Probe asks the drive which firmware techniques it supports.
func Probe(_ context.Context, d *devices.Device) Capabilities {
	switch d.Transport {
	case devices.TransportNVMe, devices.TransportSATA, devices.TransportSAS, devices.TransportSCSI:
		return Capabilities{ProbeError: fmt.Sprintf("firmware pass-through for %s drives is not implemented in this version", d.Transport)}
	}
	return Capabilities{}
}
