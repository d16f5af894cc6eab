package wipe_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/internal/wipe/wipetest"
)

func customerDisk(t *testing.T, size int64) *wipetest.Mem {
	t.Helper()
	mem := wipetest.NewMem(size, 512, 0)
	rand.Read(mem.Data)
	return mem
}

func prepare(t *testing.T, mem wipe.Target) *wipe.Evidence {
	t.Helper()
	ev, err := wipe.PrepareProof(mem, bytes.Repeat([]byte{9}, 32), wipe.ProofOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Canaries) != 64 || len(ev.Fingerprints) < 256 {
		t.Fatalf("%d canaries, %d fingerprints", len(ev.Canaries), len(ev.Fingerprints))
	}
	return ev
}

func TestProofAfterRealErase(t *testing.T) {
	mem := customerDisk(t, 64<<20)
	ev := prepare(t, mem)
	clear(mem.Data) // the drive's block erase: everything reads zero
	if err := wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "zero"}); err != nil {
		t.Fatal(err)
	}
	if ev.Result != "passed" || ev.CanariesSurvived != 0 || ev.UnchangedBlocks != 0 || ev.InformativeSamples < 256 {
		t.Fatalf("proof of a real erase: %s %v", ev.Result, ev.Problems)
	}
}

func TestProofCatchesLyingDrive(t *testing.T) {
	mem := customerDisk(t, 64<<20)
	ev := prepare(t, mem)
	// The drive said "success" and did nothing.
	wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "zero"})
	if ev.Result != "failed" || ev.CanariesSurvived != 64 || !strings.Contains(strings.Join(ev.Problems, ";"), "canary content survived the erase in 512 logical sector(s) of 64 probe block(s)") {
		t.Fatalf("lying drive: %s %v", ev.Result, ev.Problems)
	}
}

func TestProofCatchesPartialErase(t *testing.T) {
	mem := customerDisk(t, 64<<20)
	ev := prepare(t, mem)
	clear(mem.Data[:32<<20]) // only the first half
	wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "zero"})
	if ev.Result != "failed" || ev.CanariesSurvived == 0 || ev.UnchangedBlocks == 0 {
		t.Fatalf("half erase: %s canaries %d unchanged %d", ev.Result, ev.CanariesSurvived, ev.UnchangedBlocks)
	}
}

func TestProofCryptoErase(t *testing.T) {
	mem := customerDisk(t, 16<<20)
	ev := prepare(t, mem)
	rand.Read(mem.Data) // a new media key: everything reads as new noise
	wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "changed"})
	if ev.Result != "passed" {
		t.Fatalf("crypto erase proof: %v", ev.Problems)
	}
	// The same content does not pass for a technique that implies zeros.
	ev2 := prepare(t, mem)
	rand.Read(mem.Data)
	wipe.CheckProof(mem, ev2, wipe.Expectation{Kind: "zero"})
	if ev2.Result != "failed" || ev2.UnexpectedBlocks == 0 {
		t.Fatalf("random content accepted as zeros: %v", ev2.Problems)
	}
}

func TestProofOnBlankDrive(t *testing.T) {
	// A new drive: all zeros before. Fingerprints prove nothing, canaries do.
	mem := wipetest.NewMem(16<<20, 512, 0)
	ev := prepare(t, mem)
	clear(mem.Data)
	wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "zero"})
	if ev.Result != "passed" || ev.InformativeSamples != 0 {
		t.Fatalf("blank drive: %s informative %d", ev.Result, ev.InformativeSamples)
	}
	// Canaries copied elsewhere by the drive (remapped, not erased) are
	// still recognized.
	ev = prepare(t, mem)
	canary := make([]byte, 4096)
	mem.ReadAt(canary, ev.Canaries[0].Offset)
	clear(mem.Data)
	mem.WriteAt(canary, ev.Fingerprints[1].Offset)
	wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "zero"})
	if ev.Result != "failed" {
		t.Fatal("a canary's content at another probe passed")
	}
}

func TestProofRejectsDroppedWrites(t *testing.T) {
	mem := customerDisk(t, 16<<20)
	f := &wipetest.Faulty{Target: mem, Lose: []wipetest.Fault{{Off: 0, Len: 16 << 20}}}
	if _, err := wipe.PrepareProof(f, bytes.Repeat([]byte{9}, 32), wipe.ProofOptions{}); err == nil || !strings.Contains(err.Error(), "does not store writes") {
		t.Fatalf("canaries on a drive that drops writes: %v", err)
	}
}

func TestProofPattern(t *testing.T) {
	mem := customerDisk(t, 16<<20)
	ev := prepare(t, mem)
	p, _ := wipe.ParsePattern("0x5A")
	p.Fill(mem.Data, 0)
	spec := p.Spec()
	wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "pattern", Pattern: &spec})
	if ev.Result != "passed" {
		t.Fatalf("pattern proof: %v", ev.Problems)
	}
}

// TestProofRecordCompact keeps the certificate's proof small: the audit
// store takes envelopes of at most 40 KiB.
func TestProofRecordCompact(t *testing.T) {
	mem := customerDisk(t, 64<<20)
	ev := prepare(t, mem)
	mem.Data[ev.Canaries[3].Offset+100] ^= 0 // leave canary 3 in place
	clear(mem.Data[:ev.Canaries[3].Offset])
	clear(mem.Data[ev.Canaries[3].Offset+4096:])
	wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "zero"})
	rec := ev.Record()
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 8<<10 {
		t.Fatalf("proof record is %d bytes", len(data))
	}
	if rec.Result != "failed" || len(rec.Failures) != 1 || rec.Failures[0].Offset != ev.Canaries[3].Offset || rec.Failures[0].Outcome != "canary" ||
		len(rec.CanaryOffsets) != 64 || rec.BeforeDigest == rec.AfterDigest {
		t.Fatalf("record %+v", rec)
	}
}

// TestProofJudgesEverySector erases only the first 512-byte sector of every
// 4 KiB probe block, as a drive could that keeps old data in the other
// seven: where the technique implies only "changed" (crypto erase,
// enhanced security erase, FORMAT UNIT), a whole-block judgement passes it.
// Every logical sector must be judged, for fingerprints and canaries.
func TestProofJudgesEverySector(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		mem := customerDisk(t, 16<<20)
		mem.Sector = ss
		ev := prepare(t, mem)
		if ev.SectorBytes != ss {
			t.Fatalf("sector %d: proof judged in %d-byte sectors", ss, ev.SectorBytes)
		}
		// Every sector of a canary carries the magic.
		buf := make([]byte, ev.BlockBytes)
		mem.ReadAt(buf, ev.Canaries[0].Offset)
		for s := 0; s < len(buf); s += ss {
			if !bytes.HasPrefix(buf[s:], []byte("LETHE-CANARY-v1\x00")) {
				t.Fatalf("sector %d: canary sector at %d lacks the magic", ss, s)
			}
		}
		// "Erase" the first sector of every 4 KiB block only.
		for off := 0; off < len(mem.Data); off += 4096 {
			rand.Read(mem.Data[off : off+ss])
		}
		wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "changed"})
		if ss == 4096 {
			// One sector per block: everything changed.
			if ev.Result != "passed" {
				t.Fatalf("4096-byte sectors, all changed: %s %v", ev.Result, ev.Problems)
			}
			continue
		}
		if ev.Result != "failed" || ev.UnchangedSectors < 7*ev.UnchangedBlocks || ev.UnchangedBlocks != ev.InformativeSamples ||
			ev.CanariesSurvived != 64 || ev.CanarySectorsSurvived != 64*7 {
			t.Fatalf("7 of 8 sectors kept: result %s, unchanged %d sectors in %d blocks of %d, canaries %d (%d sectors): %v",
				ev.Result, ev.UnchangedSectors, ev.UnchangedBlocks, ev.InformativeSamples, ev.CanariesSurvived, ev.CanarySectorsSurvived, ev.Problems)
		}
		rec := ev.Record()
		if rec.SectorBytes != 512 || rec.UnchangedSectors != ev.UnchangedSectors || len(rec.Failures) == 0 || rec.Failures[0].UnchangedSectors+rec.Failures[0].CanarySectors == 0 {
			t.Fatalf("record %+v", rec)
		}
	}
}

// TestProofOldEvidenceCannotJudgeChanged: a proof persisted by a lethe
// that kept whole-block digests only (a job resumed across an upgrade)
// cannot show that every sector changed, so "changed" does not pass on it.
func TestProofOldEvidenceCannotJudgeChanged(t *testing.T) {
	mem := customerDisk(t, 16<<20)
	ev := prepare(t, mem)
	ev.SectorBytes = 0
	ev.FingerprintSectors = nil
	rand.Read(mem.Data)
	wipe.CheckProof(mem, ev, wipe.Expectation{Kind: "changed"})
	if ev.Result != "failed" || !strings.Contains(strings.Join(ev.Problems, ";"), "cannot be judged") {
		t.Fatalf("old evidence: %s %v", ev.Result, ev.Problems)
	}
	// A defined expectation is exact per sector anyway.
	ev2 := prepare(t, mem)
	ev2.SectorBytes = 0
	clear(mem.Data)
	wipe.CheckProof(mem, ev2, wipe.Expectation{Kind: "zero"})
	if ev2.Result != "passed" {
		t.Fatalf("old evidence, zeros: %v", ev2.Problems)
	}
}
