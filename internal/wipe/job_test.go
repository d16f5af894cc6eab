package wipe_test

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/internal/wipe/wipetest"
)

const sector = 512

// quick keeps retries fast in tests.
var quick = wipe.IOOptions{ChunkBytes: 64 << 10, Workers: 3, RetryDelay: time.Microsecond}

func method(t *testing.T, name string, passes ...string) wipe.Method {
	t.Helper()
	m, err := wipe.ResolveMethod(name, passes, false)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func run(t *testing.T, target wipe.Target, m wipe.Method, v wipe.VerifyMode) *wipe.Report {
	t.Helper()
	rep, err := wipe.Overwrite(context.Background(), wipe.Job{Target: target, Method: m, Verify: v, IO: quick})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// expectContent checks every byte of mem against the pattern of the last pass.
func expectContent(t *testing.T, mem *wipetest.Mem, spec wipe.PatternSpec) {
	t.Helper()
	p, err := wipe.PatternFromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, len(mem.Data))
	p.Fill(want, 0)
	if !bytes.Equal(mem.Data, want) {
		i := 0
		for i < len(want) && mem.Data[i] == want[i] {
			i++
		}
		t.Fatalf("content differs from pattern %s at byte %d of %d", spec.Name, i, len(want))
	}
}

func TestOverwriteEveryByte(t *testing.T) {
	// Sizes around the chunk size, including a device smaller than one
	// chunk and one whose size is not a multiple of it.
	for _, size := range []int64{sector, 7 * sector, 64 << 10, 64<<10 + sector, 1<<20 + 3*sector} {
		for _, m := range []string{"random", "zero", "one", "dod"} {
			mem := wipetest.NewMem(size, sector, 0xA5)
			rep := run(t, mem, method(t, m), wipe.VerifyLast)
			if rep.Status != wipe.StatusErased {
				t.Fatalf("size %d %s: status %s: %s", size, m, rep.Status, rep.StatusReason)
			}
			last := rep.Passes[len(rep.Passes)-1]
			expectContent(t, mem, last.Pattern)
			if rep.Verification.Bytes != size || rep.Verification.Coverage != 100 {
				t.Fatalf("size %d: verified %d bytes (%.1f%%)", size, rep.Verification.Bytes, rep.Verification.Coverage)
			}
			for _, p := range rep.Passes {
				if p.BytesWritten != size {
					t.Fatalf("size %d pass %d wrote %d bytes", size, p.Index, p.BytesWritten)
				}
			}
		}
	}
}

func TestRandomPassesGetFreshKeys(t *testing.T) {
	mem := wipetest.NewMem(1<<16, sector, 0)
	rep := run(t, mem, method(t, "", "random", "random"), wipe.VerifyAll)
	if rep.Passes[0].Pattern.Key == rep.Passes[1].Pattern.Key || rep.Passes[0].Pattern.IV == rep.Passes[1].Pattern.IV {
		t.Fatal("two random passes share a key or IV")
	}
	for _, p := range rep.Passes {
		if p.Verification == nil || p.Verification.Result != wipe.VerifyPassed {
			t.Fatalf("pass %d not verified under --verify all", p.Index)
		}
	}
}

func TestWriteFaultRecordedAndFailed(t *testing.T) {
	mem := wipetest.NewMem(1<<20, sector, 0xEE)
	// Sectors 100-102 never accept a write.
	f := &wipetest.Faulty{Target: mem, WriteFaults: []wipetest.Fault{{Off: 100 * sector, Len: 3 * sector}}}
	rep := run(t, f, method(t, "zero"), wipe.VerifyLast)
	if rep.Status != wipe.StatusFailed {
		t.Fatalf("status %s, want FAILED", rep.Status)
	}
	failed := rep.Passes[0].Failed
	if len(failed) != 1 || failed[0].LBA != 100 || failed[0].Count != 3 {
		t.Fatalf("failed ranges %+v, want LBA 100 +3", failed)
	}
	if !strings.Contains(failed[0].Error, "input/output error") {
		t.Fatalf("range error %q does not name the I/O error", failed[0].Error)
	}
	// The chunk was retried (3 attempts) before bisection found the sectors.
	if f.FailedWrites < quick.Retries+3 {
		t.Fatalf("only %d failed write attempts: no retries", f.FailedWrites)
	}
	// Every other sector was still written.
	for i := range mem.Data {
		lba := i / sector
		if lba >= 100 && lba < 103 {
			if mem.Data[i] != 0xEE {
				t.Fatalf("byte %d in the failed range changed", i)
			}
			continue
		}
		if mem.Data[i] != 0 {
			t.Fatalf("byte %d (LBA %d) not overwritten", i, lba)
		}
	}
	if !strings.Contains(rep.StatusReason, "could not be written") {
		t.Fatalf("reason %q", rep.StatusReason)
	}
}

func TestTransientWriteFaultRecovers(t *testing.T) {
	mem := wipetest.NewMem(1<<20, sector, 0xEE)
	f := &wipetest.Faulty{Target: mem, WriteFaults: []wipetest.Fault{{Off: 5000, Len: 1, Times: 2}}}
	rep := run(t, f, method(t, "one"), wipe.VerifyLast)
	if rep.Status != wipe.StatusErased {
		t.Fatalf("status %s (%s), want ERASED after a retried transient fault", rep.Status, rep.StatusReason)
	}
	if f.FailedWrites != 2 {
		t.Fatalf("%d failed writes, want 2", f.FailedWrites)
	}
	expectContent(t, mem, rep.Passes[0].Pattern)
}

func TestReadFaultFailsVerification(t *testing.T) {
	mem := wipetest.NewMem(1<<20, sector, 0)
	f := &wipetest.Faulty{Target: mem, ReadFaults: []wipetest.Fault{{Off: 2047 * sector, Len: sector}}}
	rep := run(t, f, method(t, "random"), wipe.VerifyLast)
	if rep.Status != wipe.StatusFailed {
		t.Fatalf("status %s, want FAILED", rep.Status)
	}
	u := rep.Verification.Unreadable
	if len(u) != 1 || u[0].LBA != 2047 || u[0].Count != 1 {
		t.Fatalf("unreadable %+v, want LBA 2047 +1 (the last sector)", u)
	}
	if rep.Verification.MismatchedSectors != 0 {
		t.Fatalf("readable sectors around the hole reported as mismatched: %d", rep.Verification.MismatchedSectors)
	}
}

func TestLostWritesCaughtByVerification(t *testing.T) {
	// A drive that acknowledges writes but keeps the old data in LBAs 10-11
	// and the very last sector.
	mem := wipetest.NewMem(1<<20+sector, sector, 0x42)
	f := &wipetest.Faulty{Target: mem, Lose: []wipetest.Fault{{Off: 10 * sector, Len: 2 * sector}, {Off: 1 << 20, Len: sector}}}
	for _, m := range []string{"zero", "random"} {
		rep := run(t, f, method(t, m), wipe.VerifyLast)
		if rep.Status != wipe.StatusFailed {
			t.Fatalf("%s: status %s, want FAILED", m, rep.Status)
		}
		v := rep.Verification
		if v.MismatchedSectors != 3 || len(v.Mismatched) != 2 || v.Mismatched[0].LBA != 10 || v.Mismatched[0].Count != 2 || v.Mismatched[1].LBA != 2048 {
			t.Fatalf("%s: mismatched %d %+v, want LBA 10 +2 and LBA 2048", m, v.MismatchedSectors, v.Mismatched)
		}
	}
}

func TestVerifyOffIsPartial(t *testing.T) {
	mem := wipetest.NewMem(1<<16, sector, 1)
	rep := run(t, mem, method(t, "zero"), wipe.VerifyOff)
	if rep.Status != wipe.StatusPartial || rep.Verification.Result != wipe.VerifySkipped {
		t.Fatalf("status %s verification %s, want PARTIAL/skipped", rep.Status, rep.Verification.Result)
	}
}

func TestSampledVerification(t *testing.T) {
	mem := wipetest.NewMem(16<<20, sector, 0x99)
	rep, err := wipe.Overwrite(context.Background(), wipe.Job{Target: mem, Method: method(t, "random"),
		Verify: wipe.VerifySample, SamplePercent: 10, SampleSeed: bytes.Repeat([]byte{3}, 32), IO: quick})
	if err != nil {
		t.Fatal(err)
	}
	v := rep.Verification
	if rep.Status != wipe.StatusErased || v.Scope != "sample" || v.Sample == nil {
		t.Fatalf("status %s scope %s", rep.Status, v.Scope)
	}
	if v.Coverage < 10 || v.Coverage > 30 || v.Sample.Subsection != 1000 {
		t.Fatalf("coverage %.2f%%, %d subsections", v.Coverage, v.Sample.Subsection)
	}
	if v.Sample.Seed != strings.Repeat("03", 32) {
		t.Fatalf("seed %s not the one supplied", v.Sample.Seed)
	}
	// A lost write inside a sampled unit is found; outside, by design, not.
	offs := v.Sample.Offsets()
	target := offs[len(offs)/2]
	mem2 := wipetest.NewMem(16<<20, sector, 0x99)
	f := &wipetest.Faulty{Target: mem2, Lose: []wipetest.Fault{{Off: target, Len: sector}}}
	rep2, err := wipe.Overwrite(context.Background(), wipe.Job{Target: f, Method: method(t, "zero"),
		Verify: wipe.VerifySample, SampleSeed: bytes.Repeat([]byte{3}, 32), IO: quick})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Status != wipe.StatusFailed || rep2.Verification.Mismatched[0].LBA != target/sector {
		t.Fatalf("lost sector at %d inside the sample not found: %s %+v", target, rep2.Status, rep2.Verification.Mismatched)
	}
}

func TestCancelAborts(t *testing.T) {
	mem := wipetest.NewMem(64<<20, sector, 7)
	ctx, cancel := context.WithCancel(context.Background())
	var events atomic.Int32
	rep, err := wipe.Overwrite(ctx, wipe.Job{Target: slow{mem}, Method: method(t, "dod"), Verify: wipe.VerifyLast, IO: quick,
		ProgressInterval: time.Millisecond,
		Progress: func(p wipe.Progress) {
			if events.Add(1) == 3 {
				cancel()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != wipe.StatusAborted {
		t.Fatalf("status %s, want ABORTED", rep.Status)
	}
	last := rep.Passes[len(rep.Passes)-1]
	if !last.Aborted || last.BytesWritten >= mem.Size() {
		t.Fatalf("last pass aborted=%v wrote %d of %d", last.Aborted, last.BytesWritten, mem.Size())
	}
	if rep.Verification.Result != wipe.VerifySkipped {
		t.Fatalf("verification ran after abort: %s", rep.Verification.Result)
	}
}

// slow delays writes so a test can cancel mid-pass.
type slow struct{ *wipetest.Mem }

func (s slow) WriteAt(p []byte, off int64) (int, error) {
	time.Sleep(200 * time.Microsecond)
	return s.Mem.WriteAt(p, off)
}

func TestDyingDriveStops(t *testing.T) {
	mem := wipetest.NewMem(4<<20, sector, 0)
	f := &wipetest.Faulty{Target: mem, WriteFaults: []wipetest.Fault{{Off: 0, Len: 4 << 20, Err: syscall.EIO}}}
	rep, err := wipe.Overwrite(context.Background(), wipe.Job{Target: f, Method: method(t, "zero"), Verify: wipe.VerifyLast,
		IO: wipe.IOOptions{ChunkBytes: 64 << 10, Workers: 2, RetryDelay: time.Microsecond, MaxErrorRanges: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != wipe.StatusFailed || rep.Passes[0].Stopped == "" {
		t.Fatalf("status %s stopped %q, want FAILED and stopped", rep.Status, rep.Passes[0].Stopped)
	}
}

func TestStandaloneVerify(t *testing.T) {
	mem := wipetest.NewMem(1<<20, sector, 0)
	zero, _ := wipe.ParsePattern("zero")
	v, err := wipe.Verify(context.Background(), wipe.VerifyJob{Target: mem, Expected: zero, IO: quick})
	if err != nil || v.Result != wipe.VerifyPassed {
		t.Fatalf("verify zero device: %v %v", v, err)
	}
	mem.Data[777] = 1
	v, err = wipe.Verify(context.Background(), wipe.VerifyJob{Target: mem, Expected: zero, IO: quick})
	if err != nil || v.Result != wipe.VerifyFailed || v.Mismatched[0].LBA != 1 {
		t.Fatalf("verify found %+v %v, want a mismatch at LBA 1", v, err)
	}
}

func TestResolveMethod(t *testing.T) {
	m, err := wipe.ResolveMethod("", nil, false)
	if err != nil || m.Name != wipe.DefaultMethod {
		t.Fatalf("default method %v %v", m, err)
	}
	m, _ = wipe.ResolveMethod("dod", nil, true)
	if strings.Join(m.Passes, ",") != "zero,one,random,zero" {
		t.Fatalf("dod + final zero = %v", m.Passes)
	}
	if _, err := wipe.ResolveMethod("gutmann", nil, false); err == nil {
		t.Fatal("unknown method accepted")
	}
	if _, err := wipe.ResolveMethod("zero", []string{"one"}, false); err == nil {
		t.Fatal("--method with --passes accepted")
	}
	if _, err := wipe.ResolveMethod("", []string{"0xZZ"}, false); err == nil {
		t.Fatal("bad custom pass accepted")
	}
}

// TestCancelBetweenPhases stops the job right after a pass finished, before
// its read-back: the result is ABORTED, never PARTIAL or ERASED.
func TestCancelBetweenPhases(t *testing.T) {
	for v, want := range map[wipe.VerifyMode]string{
		wipe.VerifyLast: "during pass 2 of 3 after 0 B",       // the next phase is pass 2
		wipe.VerifyAll:  "after pass 1 of 3, while verifying", // the next phase is pass 1's read-back
	} {
		mem := wipetest.NewMem(1<<20, sector, 7)
		ctx, cancel := context.WithCancel(context.Background())
		rep, err := wipe.Overwrite(ctx, wipe.Job{Target: mem, Method: method(t, "dod"), Verify: v, IO: quick,
			Progress: func(p wipe.Progress) {
				if p.Phase == wipe.PhaseOverwrite && p.Final && p.Pass == 1 {
					cancel()
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Status != wipe.StatusAborted || !strings.Contains(rep.StatusReason, want) {
			t.Fatalf("verify %s: status %s (%s), want ABORTED %s", v, rep.Status, rep.StatusReason, want)
		}
	}
}
