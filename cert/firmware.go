package cert

import (
	"fmt"
	"strings"
	"time"
)

// FirmwareRecord is what lethe did with a drive's own erase command and
// what it saw, in enough detail for an auditor: every command sent with
// its parameters and answer, the states the drive reported while it
// worked, how completion was established, the proof, and the conditions
// that bear on what a read-back shows (deallocation, failure mode).
type FirmwareRecord struct {
	// Interface is nvme, ata or scsi.
	Interface string `json:"interface"`
	// Operation names the erase, e.g. "NVMe Sanitize, Block Erase".
	Operation string `json:"operation"`
	// Parameters are the erase's settings as sent (one "name=value" each).
	Parameters []string          `json:"parameters,omitempty"`
	Commands   []FirmwareCommand `json:"commands"`
	// Observations are the states the drive reported while lethe polled
	// (state changes and progress steps; at most MaxObservations kept).
	Observations []Observation `json:"observations,omitempty"`
	Polls        int           `json:"polls"`
	// InProgressSeen is true when the drive reported the operation
	// running at least once.
	InProgressSeen bool `json:"inProgressSeen"`
	// Completion says how lethe knows the operation ended, e.g.
	// "observed: in progress, then completed"; empty when it did not end.
	Completion string `json:"completion,omitempty"`
	// EstimateSeconds is the drive's own time estimate (0: none);
	// TimeoutSeconds how long lethe was prepared to wait.
	EstimateSeconds float64   `json:"estimateSeconds,omitempty"`
	TimeoutSeconds  float64   `json:"timeoutSeconds,omitempty"`
	Started         time.Time `json:"started"`
	Ended           time.Time `json:"ended"`
	// Resumed lists earlier runs this job continues (a sanitize survives
	// power loss and lethe's own restarts).
	Resumed []ResumedRun `json:"resumed,omitempty"`
	// NoDeallocate is set when the drive was asked not to deallocate after
	// the erase (NVMe NDAS), so read-back shows the medium.
	NoDeallocate bool `json:"noDeallocate"`
	// FailureMode is the exit mode requested for a failed sanitize:
	// "restricted" (only a successful sanitize clears it) or
	// "unrestricted" (lethe may leave it with Exit Failure Mode).
	FailureMode string `json:"failureMode,omitempty"`
	// Unfreeze records a suspend/resume cycle done to unfreeze the drive.
	Unfreeze string `json:"unfreeze,omitempty"`
	// Password records the temporary ATA password's life cycle.
	Password *PasswordRecord `json:"password,omitempty"`
	// Proof is the before/after evidence (canaries and fingerprints).
	Proof *ProofRecord `json:"proof,omitempty"`
	// VerificationNote says what the read-back could and could not check.
	VerificationNote string   `json:"verificationNote,omitempty"`
	Notes            []string `json:"notes,omitempty"`
	// Scope lists every namespace an NVMe command affected (a Sanitize,
	// or a Format NVM whose FNA makes it act on the whole NVM subsystem).
	// Added in the second round (schema 2).
	Scope *EraseScope `json:"scope,omitempty"`
}

// EraseScope is what an NVMe erase command reaches: the namespace the
// certificate is about, or every namespace of the NVM subsystem.
type EraseScope struct {
	// Subsystem is true when the command acts on the whole NVM subsystem
	// (every Sanitize; Format NVM with FNA bit 0, or bit 1 and a secure
	// erase).
	Subsystem  bool             `json:"subsystem"`
	Namespaces []ScopeNamespace `json:"namespaces"`
	// Unaccounted says what lethe could not enumerate (other controllers
	// of a multi-controller subsystem without Namespace Management, a
	// namespace Identify could not describe); empty when every affected
	// namespace is listed.
	Unaccounted []string `json:"unaccounted,omitempty"`
	// Override is true when the operator allowed an erase beyond the
	// probed namespace (--all-namespaces).
	Override bool   `json:"override,omitempty"`
	Note     string `json:"note,omitempty"`
}

// ScopeNamespace is one namespace an erase affected.
type ScopeNamespace struct {
	NSID uint32 `json:"nsid"`
	// ID is the namespace's NGUID or EUI-64 ("eui.<hex>"), when known.
	ID        string `json:"id,omitempty"`
	SizeBytes uint64 `json:"sizeBytes,omitempty"`
	// Attached is false for a namespace of the subsystem that is not
	// attached to this controller (Identify CNS 10h only).
	Attached bool `json:"attached"`
	// Shared is NMIC bit 0: other controllers may use it.
	Shared bool `json:"shared,omitempty"`
	// Probed marks the namespace the certificate is about.
	Probed bool `json:"probed,omitempty"`
}

// FirmwareCommand is one command sent to the drive.
type FirmwareCommand struct {
	At   time.Time `json:"at"`
	Name string    `json:"name"`
	// Params are the command's fields as sent, e.g. "CDW10=0x00000202".
	Params string `json:"params,omitempty"`
	// Result is "ok" or the drive's (or transport's) answer.
	Result string  `json:"result"`
	TookMs float64 `json:"tookMs"`
}

// Observation is one state the drive reported.
type Observation struct {
	At    time.Time `json:"at"`
	State string    `json:"state"`
	// ProgressPct is the drive's progress indication, when it gave one.
	ProgressPct float64 `json:"progressPct,omitempty"`
	Detail      string  `json:"detail,omitempty"`
}

// ResumedRun is an earlier run of the same job.
type ResumedRun struct {
	JobID   string    `json:"jobId"`
	Started time.Time `json:"started"`
	// Phase is where the earlier run stopped (sent, started, failed, ...).
	Phase string `json:"phase"`
	Note  string `json:"note,omitempty"`
}

// PasswordRecord is the life cycle of the temporary ATA user password
// lethe sets for SECURITY ERASE UNIT. The password itself is never
// recorded in a certificate.
type PasswordRecord struct {
	Set     bool   `json:"set"`
	Cleared bool   `json:"cleared"`
	Note    string `json:"note,omitempty"`
}

// MaxObservations bounds the observations a record keeps: state changes
// are always kept, progress samples thinned out.
const MaxObservations = 200

// Observe records one poll of the drive: a new observation when the state
// or detail changed or progress moved by at least one point, else only the
// poll count.
func (r *FirmwareRecord) Observe(state string, progress float64, detail string) {
	r.Polls++
	now := time.Now().UTC()
	o := Observation{At: now, State: state, ProgressPct: round2(progress * 100), Detail: detail}
	n := len(r.Observations)
	if n > 0 {
		last := r.Observations[n-1]
		if last.State == state && last.Detail == detail && o.ProgressPct-last.ProgressPct < 1 {
			return
		}
	}
	if n >= MaxObservations {
		// Keep the latest state; Polls still counts every poll.
		r.Observations[n-1] = o
		return
	}
	r.Observations = append(r.Observations, o)
}

// Note appends a note for the auditor.
func (r *FirmwareRecord) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// Expectation is what a sanitized block should read back as.
type Expectation struct {
	// Kind is "zero", "pattern" (Pattern set), "ones", or "changed"
	// (crypto erase: anything but the old data).
	Kind    string       `json:"kind"`
	Pattern *PatternSpec `json:"pattern,omitempty"`
}

// ProofBlock is one block the proof looks at.
type ProofBlock struct {
	Offset int64 `json:"offset"`
	// Before is the SHA-256 of the block before the erase (fingerprints)
	// or of the planted content (canaries).
	Before string `json:"sha256Before"`
	// Uniform marks a fingerprint whose pre-image was a single repeated
	// byte (a new or zeroed drive): it cannot show that anything changed.
	Uniform bool   `json:"uniform,omitempty"`
	After   string `json:"sha256After,omitempty"`
	// Outcome: "changed", "unchanged", "unreadable", "expected",
	// "unexpected" (changed, but not to what the technique implies).
	Outcome string `json:"outcome,omitempty"`
}

// ProofRecord is the certificate's form of the before/after evidence of a
// firmware erase: where lethe looked (the offsets), a digest over what it
// saw before and after, the counts, and every probe that did not check out
// (the first MaxProofFailures).
type ProofRecord struct {
	Seed       string `json:"seed"`
	BlockBytes int    `json:"blockBytes"`
	// CanaryOffsets and FingerprintOffsets are byte offsets of the probes.
	CanaryOffsets      []int64 `json:"canaryOffsets"`
	FingerprintOffsets []int64 `json:"fingerprintOffsets"`
	// BeforeDigest and AfterDigest are the SHA-256 of the concatenated
	// hex SHA-256 of every probe block (canaries, then fingerprints, in
	// offset order) before and after the erase; unreadable blocks count
	// as an empty string.
	BeforeDigest       string      `json:"beforeDigest"`
	AfterDigest        string      `json:"afterDigest,omitempty"`
	Expect             Expectation `json:"expect"`
	CanariesPlanted    int         `json:"canariesPlanted"`
	FingerprintsTaken  int         `json:"fingerprintsTaken"`
	InformativeSamples int         `json:"informativeSamples"`
	CanariesSurvived   int         `json:"canariesSurvived"`
	UnchangedBlocks    int         `json:"unchangedBlocks"`
	UnexpectedBlocks   int         `json:"unexpectedBlocks"`
	UnreadableBlocks   int         `json:"unreadableBlocks"`
	Deallocated        bool        `json:"readsFromDeallocated"`
	DeallocatedNote    string      `json:"deallocatedNote,omitempty"`
	Result             string      `json:"result"`
	Problems           []string    `json:"problems,omitempty"`
	// Failures are probes whose outcome was not the expected one.
	Failures []ProofBlock `json:"failures,omitempty"`
}

// MaxProofFailures bounds the failing probes a certificate lists.
const MaxProofFailures = 32

// HiddenState is an ATA drive's hidden-area state: the Host Protected Area
// (current max vs native max address) and the Device Configuration Overlay
// (native max vs the factory maximum DCO IDENTIFY reports).
type HiddenState struct {
	CurrentMaxLBA uint64 `json:"currentMaxLBA"`
	// NativeMaxLBA is 0 when the native max address could not be read.
	NativeMaxLBA uint64 `json:"nativeMaxLBA,omitempty"`
	// DCOMaxLBA is 0 when the drive has no DCO or refused DCO IDENTIFY.
	DCOMaxLBA  uint64 `json:"dcoMaxLBA,omitempty"`
	HPASectors uint64 `json:"hpaSectors"`
	DCOSectors uint64 `json:"dcoSectors"`
	// NativeMaxSource is the command that read NativeMaxLBA (GET NATIVE
	// MAX ADDRESS EXT on an Accessible Max Address drive, READ NATIVE
	// MAX ADDRESS EXT otherwise), or, with NativeMaxLBA 0, why there is
	// none. Added in the second round (schema 2).
	NativeMaxSource string `json:"nativeMaxSource,omitempty"`
	// NativeMaxUnknown: the drive advertises the HPA or Accessible Max
	// Address feature set but its native max address could not be read,
	// so sectors may be hidden that lethe cannot see (ACS-3 §4.4, §4.11).
	// DCOUnknown: the drive advertises a DCO that could not be read.
	// Added in the second round (schema 2).
	NativeMaxUnknown bool `json:"nativeMaxUnknown,omitempty"`
	DCOUnknown       bool `json:"dcoUnknown,omitempty"`
}

// Hidden is the number of sectors a host cannot address, as far as known.
func (h HiddenState) Hidden() uint64 { return h.HPASectors + h.DCOSectors }

// Unknown reports whether lethe could not read what it needs to know that
// nothing is hidden: "not read" is unknown, never "none".
func (h HiddenState) Unknown() bool { return h.NativeMaxUnknown || h.DCOUnknown }

func (h HiddenState) String() string {
	var parts []string
	switch {
	case h.NativeMaxUnknown:
		parts = append(parts, fmt.Sprintf("max LBA %d; native max UNKNOWN (the drive advertises the HPA or Accessible Max Address feature set, but its native max address could not be read: sectors may be hidden)", h.CurrentMaxLBA))
	case h.NativeMaxLBA == 0 && h.NativeMaxSource != "":
		parts = append(parts, fmt.Sprintf("max LBA %d; no HPA: %s", h.CurrentMaxLBA, h.NativeMaxSource))
	case h.NativeMaxLBA == 0:
		// Written before schema 2 (no NativeMaxSource): either case.
		parts = append(parts, fmt.Sprintf("max LBA %d; native max not read (the drive does not advertise the HPA feature set, or READ NATIVE MAX ADDRESS failed)", h.CurrentMaxLBA))
	case h.HPASectors > 0:
		parts = append(parts, fmt.Sprintf("HPA hides %d sectors (max LBA %d, native max %d)", h.HPASectors, h.CurrentMaxLBA, h.NativeMaxLBA))
	default:
		parts = append(parts, fmt.Sprintf("no HPA (max LBA %d = native max)", h.CurrentMaxLBA))
	}
	switch {
	case h.DCOUnknown:
		parts = append(parts, "DCO UNKNOWN (advertised, but DEVICE CONFIGURATION IDENTIFY failed)")
	case h.DCOMaxLBA == 0:
		parts = append(parts, "DCO not reported")
	case h.DCOSectors > 0:
		parts = append(parts, fmt.Sprintf("DCO hides %d sectors (factory max LBA %d)", h.DCOSectors, h.DCOMaxLBA))
	default:
		parts = append(parts, fmt.Sprintf("no DCO reduction (factory max LBA %d)", h.DCOMaxLBA))
	}
	return strings.Join(parts, "; ")
}

// CapacityCheck compares the capacity the drive reports through
// pass-through with what the operating system sees. Old HBAs and bridges
// cap LBAs at 2^32 (2 TiB with 512-byte sectors): a host overwrite through
// such a path misses the rest of the drive.
type CapacityCheck struct {
	Source      string `json:"source"` // e.g. "ATA IDENTIFY", "READ CAPACITY(16)"
	OSBytes     int64  `json:"osBytes"`
	DeviceBytes int64  `json:"deviceBytes"`
	Match       bool   `json:"match"`
	Note        string `json:"note,omitempty"`
}
