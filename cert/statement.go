package cert

import "time"

// Identifiers of the certificate format.
const (
	// StatementType is the in-toto Statement v1 type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType names lethe's sanitization predicate. It stays the
	// same across schema versions: the predicate's schemaVersion tells
	// them apart.
	PredicateType = "https://github.com/lethe-project/lethe/certificate/v1"
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
)

// Statement is an in-toto Statement v1 whose subject is the drive.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`

	// rawIdentity is predicate.identity as it appeared in a parsed
	// payload: the subject digest is checked against these bytes, not a
	// re-encoding through Identity.
	rawIdentity []byte
}

// Subject is an in-toto subject: the drive, named for people and digested
// by its canonical identity (SubjectDigest).
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate is the certificate of sanitization, with the fields of NIST SP
// 800-88 Rev. 2 Appendix G (sample certificate) and the evidence behind
// the status.
type Predicate struct {
	SchemaVersion string `json:"schemaVersion"`
	CertificateID string `json:"certificateId"`
	Status        Status `json:"status"`
	StatusReason  string `json:"statusReason"`
	// Disposition is where the media goes next (DispositionFor).
	Disposition  string       `json:"disposition"`
	Personnel    Personnel    `json:"personnel"`
	Host         Host         `json:"host"`
	Media        Media        `json:"media"`
	Identity     Identity     `json:"identity"`
	Sanitization Sanitization `json:"sanitization"`
	// Verification is the read-back that decides the status: of the
	// last pass (modes last and sample), or the last of every pass's
	// read-backs (mode all, where each PassReport carries its own). After
	// a firmware erase it is the read-back against the content the
	// technique implies, scope "none" where none is defined.
	Verification VerifyReport `json:"verification"`
	HiddenAreas  HiddenAreas  `json:"hiddenAreas"`
	// Firmware is the record of a firmware erase (absent for a host
	// overwrite): commands, observed states, timings, the proof.
	Firmware *FirmwareRecord `json:"firmware,omitempty"`
	// Capacity compares the drive's own capacity (through pass-through)
	// with the OS view (absent without pass-through).
	Capacity []CapacityCheck `json:"capacityCheck,omitempty"`
	// Errors are I/O and other errors met on the way, for people.
	Errors  []string  `json:"errors,omitempty"`
	Tool    Tool      `json:"tool"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`

	// Watch is what lethe observed of the device around a host overwrite
	// beyond its own I/O: writes by other programs (the kernel's write
	// counters, a file's change time), size and identity before and after,
	// and the limits of those checks (schema 2; absent where nothing was
	// watched).
	Watch *WatchRecord `json:"deviceWatch,omitempty"`
}

// Personnel is who performed the sanitization, and where (NIST Appendix G
// "Person performing sanitization", "Location").
type Personnel struct {
	Operator     string `json:"operator"`
	Organization string `json:"organization,omitempty"`
	Site         string `json:"site,omitempty"`
	Job          string `json:"job,omitempty"`
	// AssetTag is the organizationally assigned media or property number.
	AssetTag string `json:"assetTag,omitempty"`
	// Anonymous records that the run was started with --allow-anonymous:
	// the operator or the organization is missing by the operator's
	// choice, not by omission (schema version 2).
	Anonymous bool `json:"anonymous,omitempty"`
}

// Media describes the sanitized medium (NIST Appendix G "Media
// Information").
type Media struct {
	Path               string    `json:"path"`
	Vendor             string    `json:"vendor,omitempty"`
	Model              string    `json:"model,omitempty"`
	Serial             string    `json:"serial,omitempty"`
	WWN                string    `json:"wwn,omitempty"`
	Firmware           string    `json:"firmware,omitempty"`
	Transport          Transport `json:"transport"`
	Type               MediaType `json:"type"`
	Rotational         bool      `json:"rotational"`
	Removable          bool      `json:"removable"`
	CapacityBytes      int64     `json:"capacityBytes"`
	LogicalSectorSize  int       `json:"logicalSectorSize"`
	PhysicalSectorSize int       `json:"physicalSectorSize"`
	BackingFile        string    `json:"backingFile,omitempty"`
	// LoopOffset, LoopSizeLimit and BackingFileBytes say which part of
	// its backing file a loop device covers: bytes [LoopOffset,
	// LoopOffset+CapacityBytes) of a file of BackingFileBytes bytes
	// (schema 2).
	LoopOffset       int64 `json:"loopOffset,omitempty"`
	LoopSizeLimit    int64 `json:"loopSizeLimit,omitempty"`
	BackingFileBytes int64 `json:"backingFileBytes,omitempty"`
}

// Sanitization is the technique and what it did.
type Sanitization struct {
	Category      Category     `json:"category"`
	Technique     TechniqueID  `json:"technique"`
	TechniqueName string       `json:"techniqueName"`
	Reference     string       `json:"reference"`
	Method        Method       `json:"method"`
	Passes        []PassReport `json:"passes,omitempty"`
	IO            IOInfo       `json:"io"`
	// Decision records why this technique was chosen, one line per step
	// of the planner (policy, capabilities seen, fallbacks).
	Decision []string `json:"decision,omitempty"`
}

// HiddenAreas records host-protected and device-configuration-overlay
// areas (ATA HPA/DCO), which a host overwrite cannot reach unless they are
// removed first.
type HiddenAreas struct {
	Inspected bool   `json:"inspected"`
	Note      string `json:"note"`
	Before    string `json:"before,omitempty"`
	After     string `json:"after,omitempty"`
	// BeforeState and AfterState are the same in numbers.
	BeforeState *HiddenState `json:"beforeState,omitempty"`
	AfterState  *HiddenState `json:"afterState,omitempty"`
	// Actions are the commands that removed hidden areas.
	Actions []string `json:"actions,omitempty"`
}

// Tool is the software that did the work.
type Tool struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	GoVersion string `json:"goVersion,omitempty"`
	// ImageDigest is the sha256 of the boot image when lethe ran from one.
	ImageDigest string `json:"imageDigest,omitempty"`
}
