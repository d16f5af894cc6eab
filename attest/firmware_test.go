package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

func firmwareStatement(t *testing.T) *Statement {
	t.Helper()
	d := &devices.Device{Path: "/dev/nvme0n1", Name: "nvme0n1", Kind: devices.KindDisk, Transport: devices.TransportNVMe, // fixture: never opened
		Media: devices.MediaSSD, SizeBytes: 1 << 30, LogicalSectorSize: 512, Model: "Example NVMe", Serial: "S1"}
	start := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	hs := wipe.HiddenState{CurrentMaxLBA: 100, NativeMaxLBA: 120, HPASectors: 20}
	after := wipe.HiddenState{CurrentMaxLBA: 120, NativeMaxLBA: 120}
	rep := &wipe.Report{
		Status: wipe.StatusErased, StatusReason: "NVMe Sanitize, Block Erase completed", Technique: wipe.TechNVMeSanitizeBlock,
		Category: wipe.CategoryPurge, Method: wipe.Method{Name: "nvme-sanitize-block", Description: "NVMe Sanitize, Block Erase"},
		Started: start, Ended: start.Add(time.Minute),
		Verification: wipe.VerifyReport{Scope: "full", Result: wipe.VerifyPassed, Coverage: 100, Expected: wipe.PatternSpec{Kind: "bytes", Name: "zero", Bytes: "00"}},
		Firmware: &wipe.FirmwareRecord{
			Interface: "nvme", Operation: "NVMe Sanitize, Block Erase", Parameters: []string{"SANACT=2", "NDAS=1"},
			Commands:     []wipe.FirmwareCommand{{At: start, Name: "Sanitize", Params: "CDW10=0x00000202", Result: "ok"}},
			Observations: []wipe.Observation{{At: start, State: "in progress", ProgressPct: 50}, {At: start, State: "completed successfully (no deallocate)"}},
			Polls:        3, InProgressSeen: true, Completion: "observed", Started: start, Ended: start.Add(time.Minute), EstimateSeconds: 30,
			Proof: (&wipe.Evidence{Seed: "00", BlockBytes: 4096, Canaries: []wipe.ProofBlock{{Offset: 4096, Before: "aa", Outcome: "expected"}},
				Expect: wipe.Expectation{Kind: "zero"}, Result: "passed", DeallocatedNote: "no-deallocate"}).Record(),
		},
		HiddenAreas: &wipe.HiddenAreasRecord{Inspected: true, Before: &hs, After: &after, Actions: []string{"HPA removed"}, Note: "20 hidden sectors made addressable"},
		Capacity:    []wipe.CapacityCheck{{Source: "NVMe Identify Namespace", OSBytes: 1 << 30, DeviceBytes: 1 << 30, Match: true}},
	}
	st, err := NewStatement(Input{Device: d, Report: rep, Personnel: Personnel{Operator: "A. Tech"}, Tool: Tool{Name: "lethe", Version: "test"},
		HiddenAreas: HiddenAreas{Inspected: false, Note: "what the transport says"}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestFirmwareCertificate(t *testing.T) {
	k := testKey(t)
	data := sign(t, firmwareStatement(t), k)
	v, err := Verify(data, pub(k))
	if err != nil {
		t.Fatal(err)
	}
	p := v.Statement.Predicate
	if p.Firmware == nil || p.Firmware.Proof == nil || p.Firmware.Commands[0].Params != "CDW10=0x00000202" ||
		p.HiddenAreas.BeforeState.HPASectors != 20 || len(p.Capacity) != 1 {
		t.Fatalf("firmware record lost in the round trip: %+v", p.Firmware)
	}
	var out bytes.Buffer
	if err := WriteSummary(&out, v.Statement); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Firmware erase", "NVMe Sanitize, Block Erase over nvme", "CDW10=0x00000202", "in progress 50.0%",
		"PASSED: 1 canaries planted, 0 survived", "the drive estimated 30s", "HPA hides 20 sectors", "HPA removed", "NVMe Identify Namespace"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// A host-overwrite certificate carries none of the new optional fields, so
// verifiers from before them still read it.
func TestOverwriteCertificateHasNoFirmwareFields(t *testing.T) {
	data := sign(t, testStatement(t), testKey(t))
	var env Envelope
	json.Unmarshal(data, &env)
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	for _, f := range []string{`"inProgressSeen"`, `"capacityCheck"`, `"beforeState"`, `"actions"`} {
		if bytes.Contains(payload, []byte(f)) {
			t.Errorf("overwrite certificate has %s", f)
		}
	}
}
