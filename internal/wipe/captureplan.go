package wipe

import (
	"context"
	"fmt"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/capture"
)

// CapturePlan is a captured drive replayed through the probe and planned,
// as `lethe plan --capture` shows it.
type CapturePlan struct {
	Capture *capture.Capture `json:"-"`
	ID      string           `json:"capture"`
	Source  string           `json:"source"`
	Device  *devices.Device  `json:"device"`
	Caps    Capabilities     `json:"capabilities"`
	Plan    Plan             `json:"plan"`
}

// PlanCaptures loads the capture(s) in dir (one capture directory, or a
// directory of them), replays each through lethe's probe with no device,
// and plans it exactly as a live drive: CapabilitiesOf, then NewPlan.
func PlanCaptures(ctx context.Context, dir string, req Request, opt FirmwareOptions) ([]CapturePlan, error) {
	cs, err := capture.LoadAll(dir)
	if err != nil {
		return nil, err
	}
	out := make([]CapturePlan, 0, len(cs))
	for _, c := range cs {
		in, err := c.Probe(ctx)
		if err != nil {
			return nil, fmt.Errorf("capture %s: replaying the probe: %w", c.ID, err)
		}
		d := c.Device()
		caps := CapabilitiesOf(d, in, opt, false)
		out = append(out, CapturePlan{Capture: c, ID: c.ID, Source: c.Provenance.URL, Device: d, Caps: caps, Plan: NewPlan(d, caps, req)})
	}
	return out, nil
}
