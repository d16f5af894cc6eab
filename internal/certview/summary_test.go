package certview

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
)

func firmwareStatement(t *testing.T) *cert.Statement {
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
	st, err := station.NewStatement(station.CertInput{Device: d, Report: rep, Personnel: cert.Personnel{Operator: "A. Tech"}, Tool: cert.Tool{Name: "lethe", Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestFirmwareCertificate(t *testing.T) {
	st := firmwareStatement(t)
	p := st.Predicate
	if p.Firmware == nil || p.Firmware.Proof == nil || p.Firmware.Commands[0].Params != "CDW10=0x00000202" ||
		p.HiddenAreas.BeforeState.HPASectors != 20 || len(p.Capacity) != 1 {
		t.Fatalf("firmware record lost in the round trip: %+v", p.Firmware)
	}
	var out bytes.Buffer
	if err := WriteSummary(&out, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Firmware erase", "NVMe Sanitize, Block Erase over nvme", "CDW10=0x00000202", "in progress 50.0%",
		"PASSED: 1 canaries planted, 0 survived", "the drive estimated 30s", "HPA hides 20 sectors", "HPA removed", "NVMe Identify Namespace"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRoundDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		125 * time.Millisecond:                "130ms",
		3*time.Second + 456*time.Millisecond:  "3.46s",
		61*time.Second + 600*time.Millisecond: "1m2s",
		2*time.Hour + 400*time.Millisecond:    "2h0m0s",
	} {
		if got := roundDuration(d).String(); got != want {
			t.Errorf("%s: %s, want %s", d, got, want)
		}
	}
}

func TestSummary(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSummary(&b, overwriteStatement(t)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ERASED", "WD-WCC6Y0RJ3TNF", "CLEAR", "A. Tech", "Example DC", "7XK2M53", "full read-back of pass 1", "(1h0m0s)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

func overwriteStatement(t *testing.T) *cert.Statement {
	t.Helper()
	d := &devices.Device{Path: "/dev/sdq", Name: "sdq", Kind: devices.KindDisk, Transport: devices.TransportSATA, // fixture: never opened
		Media: devices.MediaHDD, SizeBytes: 1 << 30, LogicalSectorSize: 512, PhysicalSectorSize: 4096, Rotational: true,
		Model: "WDC WD10EZEX-08WN4A0", Serial: "WD-WCC6Y0RJ3TNF", WWN: "naa.50014ee2b5a1c2d3", Firmware: "01.01A01"}
	start := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	zero := wipe.PatternSpec{Kind: "bytes", Name: "zero", Bytes: "00"}
	rep := &wipe.Report{
		Status: wipe.StatusErased, StatusReason: "ok", Technique: wipe.TechOverwrite, Category: wipe.CategoryClear,
		Method:  wipe.Method{Name: "zero", Passes: []string{"zero"}},
		Started: start, Ended: start.Add(time.Hour),
		Passes: []wipe.PassReport{{Index: 1, Pattern: zero,
			Started: start, Ended: start.Add(30 * time.Minute), BytesWritten: 1 << 30}},
		Verification: wipe.VerifyReport{Scope: "full", Pass: 1, Expected: zero, Result: wipe.VerifyPassed, Bytes: 1 << 30, Coverage: 100},
	}
	st, err := station.NewStatement(station.CertInput{Device: d, Report: rep, Personnel: cert.Personnel{Operator: "A. Tech", Organization: "Example DC", Site: "FRA2"},
		Host: cert.Host{SystemSerial: "7XK2M53"}, Tool: cert.Tool{Name: "lethe", Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// hostile is a FAILED certificate whose text tries to forge lines: a
// newline and ANSI colour in the operator (an older lethe, or whoever holds
// a signing key, could write them), escape sequences in the drive's model
// (from the drive itself) and a bidirectional override in the host name.
func hostile(t *testing.T) *cert.Statement {
	t.Helper()
	st := firmwareStatement(t)
	p := &st.Predicate
	p.Status, p.Disposition = cert.StatusFailed, "destroy"
	p.Personnel.Operator = "A. Tech\nStatus       ERASED — every byte verified\nDisposition  reuse\x1b[32m"
	p.Personnel.AssetTag = "T-1\x1b]0;owned\x07\ttab"
	p.Media.Model = "Disk\r\x1b[2K"
	p.Host.Hostname = "srv\u202eDESAREE"
	return st
}

// TestSummaryEscapesControlCharacters: no value can add a line, move the
// cursor, colour the terminal or reorder text.
func TestSummaryEscapesControlCharacters(t *testing.T) {
	var out bytes.Buffer
	if err := WriteSummary(&out, hostile(t)); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.ContainsAny(s, "\x1b\r\x07\u202e") {
		t.Fatalf("raw control characters reach the terminal:\n%q", s)
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "Status") && !strings.Contains(line, "FAILED") || strings.HasPrefix(line, "Disposition") && !strings.Contains(line, "destroy") {
			t.Fatalf("forged line %q in:\n%s", line, s)
		}
	}
	for _, want := range []string{`A. Tech\nStatus       ERASED`, `reuse\x1b[32m`, `T-1\x1b]0;owned\x07\ttab`, `Disk\r\x1b[2K`, `srv\u202eDESAREE`} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks the escaped %q:\n%s", want, s)
		}
	}
}

// TestStamped: every line of an unchecked certificate carries the stamp.
func TestStamped(t *testing.T) {
	var out bytes.Buffer
	if err := WriteStamped(&out, hostile(t), "UNVERIFIED"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) < 20 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "UNVERIFIED  ") {
			t.Fatalf("line without the stamp: %q", l)
		}
	}
}

func TestPassState(t *testing.T) {
	for _, tc := range []struct {
		ps   cert.PassReport
		want string
	}{
		{cert.PassReport{}, "complete"},
		{cert.PassReport{Aborted: true, Stopped: "x"}, "aborted by the operator"},
		{cert.PassReport{Stopped: "device removed"}, "stopped: device removed"},
		{cert.PassReport{Failed: []cert.Range{{LBA: 1, Count: 2}, {LBA: 9, Count: 1}}}, "2 failed LBA range(s)"},
	} {
		if got := PassState(tc.ps); got != tc.want {
			t.Errorf("PassState(%+v) = %q, want %q", tc.ps, got, tc.want)
		}
	}
}
