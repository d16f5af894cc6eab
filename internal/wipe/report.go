package wipe

import (
	"time"

	"github.com/lethe-project/lethe/cert"
)

// The certificate schema (package cert) defines the types a report is made
// of; wipe fills them in. These aliases keep the engine's names short.
type (
	Status       = cert.Status
	IOInfo       = cert.IOInfo
	PassReport   = cert.PassReport
	VerifyResult = cert.VerifyResult
	VerifyReport = cert.VerifyReport
)

// Statuses and read-back outcomes (cert.Status, cert.VerifyResult).
const (
	StatusErased  = cert.StatusErased
	StatusPartial = cert.StatusPartial
	StatusFailed  = cert.StatusFailed
	StatusAborted = cert.StatusAborted

	VerifyPassed  = cert.VerifyPassed
	VerifyFailed  = cert.VerifyFailed
	VerifyAborted = cert.VerifyAborted
	VerifySkipped = cert.VerifySkipped
)

// Report is what a sanitization did, in enough detail for a certificate.
type Report struct {
	Status       Status      `json:"status"`
	StatusReason string      `json:"statusReason"`
	Technique    TechniqueID `json:"technique"`
	Category     Category    `json:"category"`
	Method       Method      `json:"method"`
	// Decision records why this technique was chosen, one line per step
	// of the planner (policy, capabilities seen, fallbacks).
	Decision   []string     `json:"decision,omitempty"`
	SizeBytes  int64        `json:"sizeBytes"`
	SectorSize int          `json:"sectorSize"`
	Started    time.Time    `json:"started"`
	Ended      time.Time    `json:"ended"`
	IO         IOInfo       `json:"io"`
	Passes     []PassReport `json:"passes"`
	// Verification is the read-back that decides the status: of the last
	// pass (modes last and sample), or of every pass (mode all, where each
	// PassReport carries its own and this is the last one). After a
	// firmware erase it is the read-back against the content the technique
	// implies, where one is defined.
	Verification VerifyReport `json:"verification"`
	// Firmware is set for firmware techniques: commands, observed states,
	// timings, the proof.
	Firmware *FirmwareRecord `json:"firmware,omitempty"`
	// HiddenAreas is set when lethe inspected an ATA drive's HPA/DCO.
	HiddenAreas *HiddenAreasRecord `json:"hiddenAreas,omitempty"`
	// Capacity compares the drive's own capacity with the OS view, where
	// pass-through was possible.
	Capacity []CapacityCheck `json:"capacity,omitempty"`
}
