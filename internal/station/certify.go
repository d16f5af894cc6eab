package station

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// CertInput is everything a certificate is built from.
type CertInput struct {
	Device    *devices.Device
	Report    *wipe.Report
	Personnel cert.Personnel
	Host      cert.Host
	Tool      cert.Tool
	Errors    []string
}

// NewStatement fills the certificate schema in from what the device
// description and the wipe report say, and checks it against the schema's
// rules before anything is signed.
func NewStatement(in CertInput) (*cert.Statement, error) {
	d, r := in.Device, in.Report
	if d == nil || r == nil {
		return nil, fmt.Errorf("certificate needs a device and a report")
	}
	id := d.Identity()
	digest, err := cert.SubjectDigest(id)
	if err != nil {
		return nil, err
	}
	tech, _ := cert.LookupTechnique(r.Technique)
	hidden := hiddenAreasByTransport(d)
	if r.HiddenAreas != nil {
		// What lethe found and did beats what the transport implies.
		hidden = hiddenAreasFrom(r.HiddenAreas)
	}
	p := cert.Predicate{
		SchemaVersion: cert.SchemaVersion,
		CertificateID: newUUID(),
		Status:        r.Status,
		StatusReason:  r.StatusReason,
		Disposition:   cert.DispositionFor(r.Status),
		Personnel:     in.Personnel,
		Host:          in.Host,
		Media: cert.Media{
			Path: d.Path, Vendor: d.Vendor, Model: d.Model, Serial: d.Serial, WWN: d.WWN,
			Firmware: d.Firmware, Transport: d.Transport, Type: d.Media, Rotational: d.Rotational,
			Removable: d.Removable, CapacityBytes: d.SizeBytes, LogicalSectorSize: d.LogicalSectorSize,
			PhysicalSectorSize: d.PhysicalSectorSize, BackingFile: d.BackingFile,
		},
		Identity: id,
		Sanitization: cert.Sanitization{
			Category: r.Category, Technique: r.Technique, TechniqueName: tech.Name, Reference: tech.Reference,
			Method: r.Method, Passes: r.Passes, IO: r.IO, Decision: r.Decision,
		},
		Verification: r.Verification,
		HiddenAreas:  hidden,
		Firmware:     r.Firmware,
		Capacity:     r.Capacity,
		Errors:       in.Errors,
		Tool:         in.Tool,
		Started:      r.Started,
		Ended:        r.Ended,
	}
	st := &cert.Statement{
		Type:          cert.StatementType,
		Subject:       []cert.Subject{{Name: subjectName(d), Digest: map[string]string{"sha256": digest}}},
		PredicateType: cert.PredicateType,
		Predicate:     p,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("certificate for %s breaks the schema (a bug in lethe; nothing was signed): %w", d.Path, err)
	}
	return st, nil
}

// hiddenAreasFrom turns what Execute recorded into the certificate field.
func hiddenAreasFrom(r *wipe.HiddenAreasRecord) cert.HiddenAreas {
	h := cert.HiddenAreas{Inspected: r.Inspected, Note: r.Note, BeforeState: r.Before, AfterState: r.After, Actions: r.Actions}
	if r.Before != nil {
		h.Before = r.Before.String()
	}
	if r.After != nil {
		h.After = r.After.String()
	}
	return h
}

// hiddenAreasByTransport is the certificate's HPA/DCO record when the
// wipe recorded none: only ATA drives have hidden areas, and without ATA
// pass-through they were not inspected.
func hiddenAreasByTransport(d *devices.Device) cert.HiddenAreas {
	switch d.Transport {
	case devices.TransportSATA, devices.TransportUnknown, devices.TransportUSB:
		return cert.HiddenAreas{Inspected: false, Note: "not inspected: an ATA host protected area (HPA) or device configuration overlay (DCO) would not have been overwritten"}
	case devices.TransportFile:
		return cert.HiddenAreas{Inspected: true, Note: "not applicable: an image file has no hidden areas"}
	case devices.TransportLoop:
		return cert.HiddenAreas{Inspected: true, Note: "not applicable: a loop device exposes its whole backing file"}
	}
	return cert.HiddenAreas{Inspected: true, Note: fmt.Sprintf("not applicable: %s devices have no HPA/DCO", d.Transport)}
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
	case d.BackingFile != "":
		return "loop:" + d.BackingFile
	}
	return string(d.Kind) + ":" + d.Path
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

// HiddenAreasNote says what the certificate will state about hidden areas
// when the wipe inspects none (lethe plan shows it).
func HiddenAreasNote(d *devices.Device) string { return hiddenAreasByTransport(d).Note }
