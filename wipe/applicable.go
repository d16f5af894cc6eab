package wipe

import "github.com/lethe-project/lethe/devices"

// Applicable lists the techniques that can run on d, strongest first. A host
// overwrite applies to anything writable; firmware techniques depend on what
// the drive advertises.
func Applicable(d *devices.Device) []Technique {
	if d.ReadOnly || d.SizeBytes == 0 || d.Kind == devices.KindPartition {
		return nil
	}
	t, _ := LookupTechnique(TechOverwrite)
	return []Technique{t}
}
