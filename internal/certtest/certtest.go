// Package certtest makes signed certificates for the audit store's tests,
// through station.NewStatement and attest.Sign as lethe wipe does, from a
// described drive instead of a real wipe.
package certtest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// Drive describes the certificate to make.
type Drive struct {
	Serial, WWN, Model, HostSerial, Job, Operator string
	// Loop makes the drive a loop device backed by this file: no model,
	// no serial, like lethe wipe of a loop device.
	Loop string
	// AssetTag is the organization's property number.
	AssetTag string
	Status   wipe.Status
	Ended    time.Time
}

// Statement builds a certificate statement for d.
func Statement(d Drive) (*cert.Statement, error) {
	if d.Model == "" && d.Loop == "" {
		d.Model = "TESTDISK 1TB"
	}
	if d.Status == "" {
		d.Status = wipe.StatusErased
	}
	if d.Ended.IsZero() {
		d.Ended = time.Now().UTC().Truncate(time.Second)
	}
	if d.Operator == "" {
		d.Operator = "tester"
	}
	dev := &devices.Device{
		Path: "/dev/sdz", Name: "sdz", Kind: devices.KindDisk, Transport: devices.TransportSATA, Media: devices.MediaSSD, // a described drive, never opened
		SizeBytes: 1 << 30, LogicalSectorSize: 512, PhysicalSectorSize: 4096, Vendor: "ATA", Model: d.Model, Serial: d.Serial, WWN: d.WWN, Firmware: "1.0",
	}
	if d.Loop != "" {
		dev.Path, dev.Name, dev.Kind, dev.Transport, dev.Vendor, dev.Firmware, dev.BackingFile = "/dev/loop7", "loop7", devices.KindDisk, devices.TransportLoop, "", "", d.Loop
		dev.BackingFileBytes = dev.SizeBytes // the whole file
	}
	started := d.Ended.Add(-time.Minute)
	rep := &wipe.Report{
		Status: d.Status, StatusReason: "every sector read back as written", Technique: wipe.TechOverwrite, Category: wipe.CategoryClear,
		Method:    wipe.Method{Name: "random", Description: "one pseudorandom pass", Passes: []string{"random"}},
		SizeBytes: 1 << 30, SectorSize: 512, Started: started, Ended: d.Ended,
		Passes: []wipe.PassReport{{Index: 1, Pattern: wipe.PatternSpec{Kind: "bytes", Name: "zero", Bytes: "00"}, Started: started, Ended: d.Ended, BytesWritten: 1 << 30}},
		Verification: wipe.VerifyReport{Scope: "full", Pass: 1, Expected: wipe.PatternSpec{Kind: "bytes", Name: "zero", Bytes: "00"},
			Started: started, Ended: d.Ended, Bytes: 1 << 30, Coverage: 100, Result: wipe.VerifyPassed},
	}
	return station.NewStatement(station.CertInput{
		Device: dev, Report: rep,
		Personnel: cert.Personnel{Operator: d.Operator, Organization: "Example Org", Site: "DC1", Job: d.Job, AssetTag: d.AssetTag},
		Host:      devices.HostIdentity{Hostname: "host-" + d.HostSerial, SystemSerial: d.HostSerial, SystemVendor: "Example", SystemProduct: "Server 1"},
		Tool:      cert.Tool{Name: "lethe", Version: "test"},
	})
}

// Sign makes a signed certificate envelope for d.
func Sign(key ed25519.PrivateKey, d Drive) ([]byte, error) {
	st, err := Statement(d)
	if err != nil {
		return nil, err
	}
	return attest.Sign(st, sign.KeySigner{Key: key})
}

// MustSign is Sign for tests that cannot fail here.
func MustSign(key ed25519.PrivateKey, d Drive) []byte {
	b, err := Sign(key, d)
	if err != nil {
		panic(fmt.Sprintf("certtest: %v", err))
	}
	return b
}

// SignPayload signs raw statement bytes as a certificate envelope, with no
// check of their content: the forgery an adversary who holds a trusted key
// (or a buggy writer) could produce, for testing that readers refuse it.
func SignPayload(key ed25519.PrivateKey, payload []byte) []byte {
	env, err := sign.Seal(cert.PayloadType, payload, sign.KeySigner{Key: key})
	if err != nil {
		panic(fmt.Sprintf("certtest: %v", err))
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic(fmt.Sprintf("certtest: %v", err))
	}
	return b
}

// CaseVariantStatus is a PARTIAL certificate's payload with a second key
// "Status":"ERASED" after "status":"PARTIAL" (issue 10, item 6): jq,
// Python and openssl-based checks read PARTIAL, while a decoder that
// matches keys case-insensitively (Go's encoding/json) reads ERASED.
func CaseVariantStatus(d Drive) ([]byte, error) {
	d.Status = wipe.StatusPartial
	st, err := Statement(d)
	if err != nil {
		return nil, err
	}
	payload, err := cert.Marshal(st)
	if err != nil {
		return nil, err
	}
	forged := bytes.Replace(payload, []byte(`"status":"PARTIAL",`), []byte(`"status":"PARTIAL","Status":"ERASED",`), 1)
	if bytes.Equal(forged, payload) {
		return nil, fmt.Errorf("certtest: no status key to double")
	}
	return forged, nil
}
