package certpdf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/testutil"
	"github.com/lethe-project/lethe/internal/wipe"
)

// richStatement is a FAILED dod overwrite with --verify all whose first
// pass read back wrong, with a failed range, a sampled final read-back, a
// device watch, and hostile text in its fields.
func richStatement(t *testing.T) *cert.Statement {
	t.Helper()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d := &devices.Device{Path: "/dev/loop7", Name: "loop7", Kind: devices.KindDisk, Transport: devices.TransportLoop, Media: devices.MediaVirtual, // fixture: never opened
		SizeBytes: 32 << 20, LogicalSectorSize: 512, PhysicalSectorSize: 512, BackingFile: "/srv/x.img", LoopOffset: 1 << 20, LoopSizeLimit: 32 << 20, BackingFileBytes: 64 << 20}
	aes := wipe.PatternSpec{Kind: "aes-128-ctr", Name: "random", Key: "000102030405060708090a0b0c0d0e0f", IV: "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"}
	zero := wipe.PatternSpec{Kind: "bytes", Name: "zero", Bytes: "00"}
	sample, err := cert.NewSample(32<<20, 4096, 12.5, bytes.Repeat([]byte{0x5c}, 32))
	if err != nil {
		t.Fatal(err)
	}
	v1 := &wipe.VerifyReport{Scope: "full", Pass: 1, Expected: zero, Started: start, Ended: start, Bytes: 32 << 20, Coverage: 100, Direct: true,
		Result: wipe.VerifyFailed, MismatchedSectors: 8, Mismatched: []wipe.Range{{LBA: 123456, Count: 8}}}
	rep := &wipe.Report{
		Status: wipe.StatusFailed, StatusReason: "the full read-back of pass 1 of 2 failed", Technique: wipe.TechOverwrite, Category: wipe.CategoryClear,
		Method: wipe.Method{Name: "custom", Description: "zero then random", Passes: []string{"zero", "random"}}, SizeBytes: 32 << 20, SectorSize: 512,
		Started: start, Ended: start.Add(time.Minute), IO: wipe.IOInfo{Direct: true, ChunkBytes: 4 << 20, Workers: 4},
		Passes: []wipe.PassReport{
			{Index: 1, Pattern: zero, Started: start, Ended: start, BytesWritten: 32 << 20, Verification: v1},
			{Index: 2, Pattern: aes, Started: start, Ended: start, BytesWritten: 32<<20 - 4096, Failed: []wipe.Range{{LBA: 65528, Count: 8, Error: "write: input/output error"}}},
		},
		Verification: wipe.VerifyReport{Scope: "sample", Pass: 2, Expected: aes, Started: start, Ended: start, Bytes: sample.Bytes, Coverage: sample.Coverage,
			Sample: sample, Result: wipe.VerifyFailed, Unreadable: []wipe.Range{{LBA: 65528, Count: 8, Error: "read: input/output error"}}},
		Watch: &wipe.WatchRecord{Result: wipe.WatchFailed, Started: start, Ended: start, OwnSectorsWritten: 131064, OwnSectorsSubmitted: 131072,
			Counters:   []wipe.CounterCheck{{Source: "/sys/class/block/loop7/stat", Role: "the device", SectorsWrittenBefore: 10, SectorsWrittenAfter: 131090, ForeignSectors: 8}},
			SizeBefore: 32 << 20, SizeAfter: 32 << 20, Problems: []string{"another program wrote to loop7"}, Limits: []string{"a write after the final flush"}},
	}
	st, err := station.NewStatement(station.CertInput{Device: d, Report: rep, Personnel: cert.Personnel{Operator: "A. Tech", Job: "RMA-77"},
		Tool: cert.Tool{Name: "lethe", Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	st.Predicate.Personnel.AssetTag = "T-9\nStatus ERASED\x1b[32m"
	return st
}

func pdfText(t *testing.T, st *cert.Statement, o Options) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, st, o); err != nil {
		t.Fatal(err)
	}
	pdftotext := testutil.RequireCommand(t, "pdftotext")
	in := filepath.Join(t.TempDir(), "c.pdf")
	os.WriteFile(in, buf.Bytes(), 0o644)
	out, err := exec.Command(pdftotext, "-layout", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Split(string(out), "\f")
}

// TestPDFStatesWhatTheJSONStates (issue 10 item 15).
func TestPDFStatesWhatTheJSONStates(t *testing.T) {
	st := richStatement(t)
	pages := pdfText(t, st, Options{Verified: true, Signature: "valid (test)", EnvelopeSHA256: strings.Repeat("ab", 32)})
	all := strings.Join(pages, "\n")
	for _, want := range []string{
		"Pass 1", "Pass 2", "read-back of pass 1", "FAILED (full read-back of pass 1)", "mismatched", "LBA 123456 +8",
		"LBA 65528 +8: write: input/output error", "LBA 65528 +8: read: input/output error",
		"AES-128-CTR keystream", "bytes 00 repeated from offset 0",
		"lethe-sample-v1, 12.5% of 33554432 bytes in 4096-byte units", strings.Repeat("5c", 32),
		"sha256:" + strings.Repeat("ab", 32), "Technician (performed)", "Validator (accepted the evidence)",
		"another program wrote to loop7", "a write after the final flush", "bytes 1048576 to 34603007 of a 67108864-byte file",
		`T-9\nStatus ERASED\x1b[32m`, "page 1 of", "RMA-77",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	for _, re := range []string{`key\s+000102030405060708090a0b0c0d0e0f`, `iv\s+f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff`} {
		if !regexp.MustCompile(re).MatchString(all) {
			t.Errorf("PDF lacks %s", re)
		}
	}
	if strings.Contains(all, "UNVERIFIED") || strings.ContainsRune(all, 0x1b) {
		t.Error("a verified PDF is stamped, or holds a raw escape")
	}
	// No number is split across lines: every LBA and byte count of the
	// JSON appears whole.
	for _, n := range []string{"123456", "65528", "33554432", "131072", "131090"} {
		if !strings.Contains(all, n) {
			t.Errorf("number %s split or missing", n)
		}
	}
}

// TestUnverifiedPDFStampedEverywhere (issue 10 item 7): a PDF of a
// certificate whose signature was not checked carries UNVERIFIED on every
// page and every line, and the ERASED banner is not green.
func TestUnverifiedPDFStampedEverywhere(t *testing.T) {
	st := richStatement(t)
	st.Predicate.Status = cert.StatusErased // a forged claim
	pages := pdfText(t, st, Options{Signature: "not checked"})
	n := 0
	for i, page := range pages {
		if strings.TrimSpace(page) == "" {
			continue
		}
		n++
		for _, line := range strings.Split(page, "\n") {
			if strings.TrimSpace(line) != "" && !strings.Contains(line, "UNVERIFIED") {
				t.Errorf("page %d: line without the stamp: %q", i+1, line)
			}
		}
	}
	if n < 2 {
		t.Fatalf("%d pages: the test wants several", n)
	}
	if !strings.Contains(pages[0], "UNVERIFIED — claims ERASED") {
		t.Error("the banner does not say UNVERIFIED")
	}
}
