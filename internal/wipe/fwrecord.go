package wipe

import (
	"fmt"

	"github.com/lethe-project/lethe/cert"
)

// The firmware record and hidden-area types are defined by the
// certificate schema.
type (
	FirmwareRecord  = cert.FirmwareRecord
	FirmwareCommand = cert.FirmwareCommand
	Observation     = cert.Observation
	ResumedRun      = cert.ResumedRun
	PasswordRecord  = cert.PasswordRecord
	HiddenState     = cert.HiddenState
	CapacityCheck   = cert.CapacityCheck
	EraseScope      = cert.EraseScope
	ScopeNamespace  = cert.ScopeNamespace
)

// HiddenAreasRecord is what lethe found and did about hidden areas; the
// station turns it into the certificate's cert.HiddenAreas.
type HiddenAreasRecord struct {
	Inspected bool         `json:"inspected"`
	Before    *HiddenState `json:"before,omitempty"`
	After     *HiddenState `json:"after,omitempty"`
	// Actions are the commands that removed hidden areas.
	Actions []string `json:"actions,omitempty"`
	Note    string   `json:"note"`
}

func checkCapacity(source string, osBytes, devBytes int64) CapacityCheck {
	c := CapacityCheck{Source: source, OSBytes: osBytes, DeviceBytes: devBytes, Match: osBytes == devBytes}
	switch {
	case c.Match:
	case osBytes < devBytes && osBytes == 1<<32*512:
		c.Note = fmt.Sprintf("the OS sees exactly 2^32 512-byte sectors of a %d-byte drive: the HBA or bridge caps LBAs at 32 bits; a host overwrite would miss %d bytes", devBytes, devBytes-osBytes)
	case osBytes < devBytes:
		c.Note = fmt.Sprintf("the OS sees %d bytes of a %d-byte drive: a host overwrite would miss %d bytes", osBytes, devBytes, devBytes-osBytes)
	default:
		c.Note = fmt.Sprintf("the OS sees %d bytes, more than the %d the drive reports through %s", osBytes, devBytes, source)
	}
	return c
}
