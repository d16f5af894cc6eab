package station

import (
	"context"
	"fmt"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// Drive is a drive with what the probe found and the plan for it.
type Drive struct {
	Device *devices.Device
	Caps   wipe.Capabilities
	Plan   wipe.Plan
}

// PlanAll probes and plans every drive. Probing sends only commands that
// read; planning writes nothing.
func PlanAll(ctx context.Context, list []*devices.Device, cfg Config) []Drive {
	out := make([]Drive, len(list))
	for i, d := range list {
		caps := wipe.ProbeWith(ctx, d, cfg.Firmware)
		out[i] = Drive{d, caps, wipe.NewPlan(d, caps, cfg.Request)}
	}
	return out
}

// PolicyError lists the drives the policy refuses (purge-or-fail where
// only Clear is possible, ...); nothing was written.
type PolicyError struct{ Refusals []string }

func (e *PolicyError) Error() string {
	msg := ""
	for i, r := range e.Refusals {
		if i > 0 {
			msg += "\nlethe: "
		}
		msg += r
	}
	return msg + "\nnothing was written"
}

// Refusals returns a *PolicyError if the policy refuses any drive.
func Refusals(ds []Drive) error {
	var msgs []string
	for _, d := range ds {
		if d.Plan.Refusal != "" {
			msgs = append(msgs, fmt.Sprintf("refusing %s: %s", d.Device.Path, d.Plan.Refusal))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return &PolicyError{msgs}
}
