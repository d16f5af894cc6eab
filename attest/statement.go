package attest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/safetext"
	"github.com/lethe-project/lethe/internal/wipe"
)

// Identifiers of the certificate format.
const (
	// StatementType is the in-toto Statement v1 type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType names lethe's sanitization predicate, version 1.
	PredicateType = "https://github.com/lethe-project/lethe/certificate/v1"
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// SchemaVersion is the predicate's schema version; readers reject
	// versions they do not know.
	SchemaVersion = "1"
)

// Statement is an in-toto Statement v1 whose subject is the drive.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Subject is an in-toto subject: the drive, named and digested by its
// canonical identity.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate is the certificate of sanitization, with the fields of NIST SP
// 800-88 Rev. 2 Appendix G (sample certificate) and the evidence behind the
// status.
type Predicate struct {
	SchemaVersion string      `json:"schemaVersion"`
	CertificateID string      `json:"certificateId"`
	Status        wipe.Status `json:"status"`
	StatusReason  string      `json:"statusReason"`
	// Disposition is where the media should go next: "reuse" only after
	// ERASED; "destroy" after FAILED (NIST: media that cannot be
	// sanitized is destroyed); "re-sanitize" after ABORTED or PARTIAL.
	Disposition  string               `json:"disposition"`
	Personnel    Personnel            `json:"personnel"`
	Host         devices.HostIdentity `json:"host"`
	Media        Media                `json:"media"`
	Identity     devices.Identity     `json:"identity"`
	Sanitization Sanitization         `json:"sanitization"`
	Verification wipe.VerifyReport    `json:"verification"`
	HiddenAreas  HiddenAreas          `json:"hiddenAreas"`
	// Firmware is the record of a firmware erase (optional; absent for a
	// host overwrite): commands, observed states, timings, the proof.
	Firmware *wipe.FirmwareRecord `json:"firmware,omitempty"`
	// Capacity compares the drive's own capacity (through pass-through)
	// with the OS view (optional; absent without pass-through).
	Capacity []wipe.CapacityCheck `json:"capacityCheck,omitempty"`
	Errors   []string             `json:"errors,omitempty"`
	Tool     Tool                 `json:"tool"`
	Started  time.Time            `json:"started"`
	Ended    time.Time            `json:"ended"`

	// Watch is what lethe observed of the device around a host overwrite
	// beyond its own I/O: writes by other programs (the kernel's write
	// counters, a file's change time), size and identity before and after,
	// and the limits of those checks (optional; added in schema 2).
	Watch *wipe.WatchRecord `json:"deviceWatch,omitempty"`
}

// Personnel is who performed the sanitization, and where.
type Personnel struct {
	Operator     string `json:"operator"`
	Organization string `json:"organization,omitempty"`
	Site         string `json:"site,omitempty"`
	Job          string `json:"job,omitempty"`
	// AssetTag is the organizationally assigned media or property number.
	AssetTag string `json:"assetTag,omitempty"`
}

// Check refuses personnel text with control characters (newlines, escape
// sequences, bidirectional overrides): it is shown verbatim wherever the
// certificate is displayed, where such characters could forge lines.
// Callers check flags and configuration with it before anything is
// written; NewStatement checks again.
func (p Personnel) Check() error {
	for _, f := range []struct{ name, v string }{
		{"operator", p.Operator}, {"organization", p.Organization}, {"site", p.Site}, {"job", p.Job}, {"asset tag", p.AssetTag},
	} {
		if err := safetext.Check(f.v); err != nil {
			return fmt.Errorf("personnel %s %q: %w", f.name, f.v, err)
		}
	}
	return nil
}

// Media describes the sanitized medium (NIST Appendix G "Media Information").
type Media struct {
	Path               string            `json:"path"`
	Vendor             string            `json:"vendor,omitempty"`
	Model              string            `json:"model,omitempty"`
	Serial             string            `json:"serial,omitempty"`
	WWN                string            `json:"wwn,omitempty"`
	Firmware           string            `json:"firmware,omitempty"`
	Transport          devices.Transport `json:"transport"`
	Type               devices.MediaType `json:"type"`
	Rotational         bool              `json:"rotational"`
	Removable          bool              `json:"removable"`
	CapacityBytes      int64             `json:"capacityBytes"`
	LogicalSectorSize  int               `json:"logicalSectorSize"`
	PhysicalSectorSize int               `json:"physicalSectorSize"`
	BackingFile        string            `json:"backingFile,omitempty"`
	// LoopOffset, LoopSizeLimit and BackingFileBytes say which part of
	// its backing file a loop device covers: bytes [LoopOffset,
	// LoopOffset+CapacityBytes) of a file of BackingFileBytes bytes
	// (optional; added in schema 2).
	LoopOffset       int64 `json:"loopOffset,omitempty"`
	LoopSizeLimit    int64 `json:"loopSizeLimit,omitempty"`
	BackingFileBytes int64 `json:"backingFileBytes,omitempty"`
}

// Sanitization is the technique and what it did.
type Sanitization struct {
	Category      wipe.Category     `json:"category"`
	Technique     wipe.TechniqueID  `json:"technique"`
	TechniqueName string            `json:"techniqueName"`
	Reference     string            `json:"reference"`
	Method        wipe.Method       `json:"method"`
	Passes        []wipe.PassReport `json:"passes,omitempty"`
	IO            wipe.IOInfo       `json:"io"`
	Decision      []string          `json:"decision,omitempty"`
}

// HiddenAreas records host-protected and device-configuration-overlay areas
// (ATA HPA/DCO), which a host overwrite cannot reach unless removed first.
type HiddenAreas struct {
	Inspected bool   `json:"inspected"`
	Note      string `json:"note"`
	Before    string `json:"before,omitempty"`
	After     string `json:"after,omitempty"`
	// BeforeState and AfterState are the same in numbers (optional).
	BeforeState *wipe.HiddenState `json:"beforeState,omitempty"`
	AfterState  *wipe.HiddenState `json:"afterState,omitempty"`
	// Actions are the commands that removed hidden areas (optional).
	Actions []string `json:"actions,omitempty"`
}

// HiddenAreasFrom turns what Execute recorded into the certificate field.
func HiddenAreasFrom(r *wipe.HiddenAreasRecord) HiddenAreas {
	h := HiddenAreas{Inspected: r.Inspected, Note: r.Note, BeforeState: r.Before, AfterState: r.After, Actions: r.Actions}
	if r.Before != nil {
		h.Before = r.Before.String()
	}
	if r.After != nil {
		h.After = r.After.String()
	}
	return h
}

// Tool is the software that did the work.
type Tool struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	GoVersion string `json:"goVersion,omitempty"`
	// ImageDigest is the sha256 of the boot image when lethe ran from one.
	ImageDigest string `json:"imageDigest,omitempty"`
}

// Input is everything a certificate is built from.
type Input struct {
	Device    *devices.Device
	Report    *wipe.Report
	Personnel Personnel
	Host      devices.HostIdentity
	Tool      Tool
	// HiddenAreas is what the caller knows of HPA/DCO; the report's own
	// record (Report.HiddenAreas), when set, takes precedence.
	HiddenAreas HiddenAreas
	Errors      []string
}

// NewStatement builds the certificate statement for one drive.
func NewStatement(in Input) (*Statement, error) {
	d, r := in.Device, in.Report
	if d == nil || r == nil {
		return nil, fmt.Errorf("certificate needs a device and a report")
	}
	if err := in.Personnel.Check(); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	id := d.Identity()
	digest, err := IdentityDigest(id)
	if err != nil {
		return nil, err
	}
	tech, _ := wipe.LookupTechnique(r.Technique)
	hidden := in.HiddenAreas
	if r.HiddenAreas != nil {
		// What lethe found and did beats what the caller knows from the
		// transport.
		hidden = HiddenAreasFrom(r.HiddenAreas)
	}
	p := Predicate{
		SchemaVersion: SchemaVersion,
		CertificateID: newUUID(),
		Status:        r.Status,
		StatusReason:  r.StatusReason,
		Disposition:   disposition(r.Status),
		Personnel:     in.Personnel,
		Host:          in.Host,
		Media: Media{
			Path: d.Path, Vendor: d.Vendor, Model: d.Model, Serial: d.Serial, WWN: d.WWN,
			Firmware: d.Firmware, Transport: d.Transport, Type: d.Media, Rotational: d.Rotational,
			Removable: d.Removable, CapacityBytes: d.SizeBytes, LogicalSectorSize: d.LogicalSectorSize,
			PhysicalSectorSize: d.PhysicalSectorSize, BackingFile: d.BackingFile,
			LoopOffset: d.LoopOffset, LoopSizeLimit: d.LoopSizeLimit, BackingFileBytes: d.BackingFileBytes,
		},
		Identity: id,
		Sanitization: Sanitization{
			Category: r.Category, Technique: r.Technique, TechniqueName: tech.Name, Reference: tech.Reference,
			Method: r.Method, Passes: r.Passes, IO: r.IO, Decision: r.Decision,
		},
		Verification: r.Verification,
		HiddenAreas:  hidden,
		Firmware:     r.Firmware,
		Capacity:     r.Capacity,
		Watch:        r.Watch,
		Errors:       in.Errors,
		Tool:         in.Tool,
		Started:      r.Started,
		Ended:        r.Ended,
	}
	return &Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: subjectName(d), Digest: map[string]string{"sha256": digest}}},
		PredicateType: PredicateType,
		Predicate:     p,
	}, nil
}

func disposition(s wipe.Status) string {
	switch s {
	case wipe.StatusErased:
		return "reuse"
	case wipe.StatusFailed:
		return "destroy"
	}
	return "re-sanitize"
}

// subjectName names the drive for people: its serial where it has one.
func subjectName(d *devices.Device) string {
	switch {
	case d.Serial != "" && d.Model != "":
		return "drive:" + d.Model + ":" + d.Serial
	case d.Serial != "":
		return "drive:" + d.Serial
	case d.WWN != "":
		return "drive:" + d.WWN
	case d.BackingFile != "" && d.Transport == devices.TransportLoop && !d.CoversWholeBacking():
		// A window of the file, not the file.
		return fmt.Sprintf("loop:%s:bytes=%d-%d", d.BackingFile, d.LoopOffset, d.LoopOffset+d.SizeBytes-1)
	case d.BackingFile != "":
		return "loop:" + d.BackingFile
	}
	return string(d.Kind) + ":" + d.Path
}

// IdentityDigest is the hex SHA-256 of the identity's canonical JSON (RFC
// 8785: object keys sorted, no insignificant whitespace, no HTML escaping),
// the subject digest of the certificate.
func IdentityDigest(id devices.Identity) (string, error) {
	b, err := canonicalJSON(id)
	if err != nil {
		return "", fmt.Errorf("identity digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// canonicalJSON re-encodes v through a generic map so keys come out sorted.
// The identity holds only strings and integers, for which this is RFC 8785.
func canonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func newUUID() string {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		panic(err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4 (RFC 9562 §5.4)
	u[8] = u[8]&0x3f | 0x80 // variant 10
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
