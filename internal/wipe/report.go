package wipe

import "time"

// Status is the final state of a drive, as a certificate states it.
type Status string

// Statuses. A certificate never claims more than was done and verified:
//   - ERASED: the technique covered every user-addressable LBA and
//     verification passed;
//   - PARTIAL: the technique completed without errors but the evidence is
//     incomplete (verification off), so the result is not proven;
//   - FAILED: an LBA could not be written or read back, or verification
//     found old or wrong data: the drive goes to destruction;
//   - ABORTED: the operator stopped the run; part of the drive may still
//     hold old data.
const (
	StatusErased  Status = "ERASED"
	StatusPartial Status = "PARTIAL"
	StatusFailed  Status = "FAILED"
	StatusAborted Status = "ABORTED"
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

// IOInfo records how I/O was done, since it bears on what a read-back proves.
type IOInfo struct {
	// Direct is true when reads and writes bypassed the page cache.
	Direct     bool `json:"direct"`
	ChunkBytes int  `json:"chunkBytes"`
	Workers    int  `json:"workers"`
}

// PassReport is one overwrite pass.
type PassReport struct {
	Index        int           `json:"index"` // 1-based
	Pattern      PatternSpec   `json:"pattern"`
	Started      time.Time     `json:"started"`
	Ended        time.Time     `json:"ended"`
	BytesWritten int64         `json:"bytesWritten"`
	Failed       []Range       `json:"failedRanges,omitempty"`
	Aborted      bool          `json:"aborted,omitempty"`
	Stopped      string        `json:"stopped,omitempty"`
	Verification *VerifyReport `json:"verification,omitempty"`
}

// VerifyResult is the outcome of a read-back.
type VerifyResult string

// Read-back outcomes.
const (
	VerifyPassed  VerifyResult = "passed"
	VerifyFailed  VerifyResult = "failed"
	VerifyAborted VerifyResult = "aborted"
	VerifySkipped VerifyResult = "skipped"
)

// VerifyReport is one read-back and what it found.
type VerifyReport struct {
	// Scope is "full" (every byte), "sample" or "none".
	Scope    string       `json:"scope"`
	Pass     int          `json:"pass,omitempty"` // the pass read back, 1-based
	Expected PatternSpec  `json:"expected"`
	Started  time.Time    `json:"started"`
	Ended    time.Time    `json:"ended"`
	Direct   bool         `json:"direct"`
	Bytes    int64        `json:"bytesRead"`
	Coverage float64      `json:"coveragePct"`
	Sample   *Sample      `json:"sample,omitempty"`
	Result   VerifyResult `json:"result"`
	// MismatchedSectors counts sectors that read back with other content
	// than the pattern; Mismatched lists the first ranges of them.
	MismatchedSectors int64   `json:"mismatchedSectors"`
	Mismatched        []Range `json:"mismatchedRanges,omitempty"`
	Unreadable        []Range `json:"unreadableRanges,omitempty"`
	Stopped           string  `json:"stopped,omitempty"`
}
