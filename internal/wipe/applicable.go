package wipe

import "github.com/lethe-project/lethe/internal/devices"

// Applicable lists every technique the reviewed order considers for d, in
// that order: its category on this medium, whether the drive can run it now
// (and why not), and the drive's own time estimate. caps comes from Probe;
// a drive without pass-through gets the host overwrite only.
func Applicable(d *devices.Device, caps Capabilities) []Considered {
	if d.ReadOnly || d.SizeBytes == 0 || d.Kind == devices.KindPartition {
		return nil
	}
	m, _ := ResolveMethod("", nil, false)
	return NewPlan(d, caps, Request{Policy: PolicyPurge, Method: m}).Considered
}
