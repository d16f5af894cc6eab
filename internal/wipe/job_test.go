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

// TestVerifyAllFailedEarlierPass: under --verify all, data changed after
// pass 1 wrote it fails pass 1's read-back; passes 2 and 3 overwrite it,
// but the drive must not be ERASED, and the reason names the pass.
func TestVerifyAllFailedEarlierPass(t *testing.T) {
	mem := wipetest.NewMem(1<<20, sector, 0x11)
	rep, err := wipe.Overwrite(context.Background(), wipe.Job{Target: mem, Method: method(t, "dod"), Verify: wipe.VerifyAll, IO: quick,
		Progress: func(p wipe.Progress) {
			if p.Phase == wipe.PhaseOverwrite && p.Final && p.Pass == 1 {
				copy(mem.Data[4096:], "customer data back again")
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != wipe.StatusFailed || !strings.Contains(rep.StatusReason, "the full read-back of pass 1 of 3 failed: 1 sector(s) mismatched") {
		t.Fatalf("status %s: %s", rep.Status, rep.StatusReason)
	}
	if v := rep.Passes[0].Verification; v.Result != wipe.VerifyFailed || v.Mismatched[0].LBA != 8 {
		t.Fatalf("pass 1 read-back %+v", v)
	}
	if rep.Verification.Result != wipe.VerifyPassed {
		t.Fatalf("last read-back %s", rep.Verification.Result)
	}
}

// TestVerifyAllErasedReason: when every pass reads back, the reason says so.
func TestVerifyAllErasedReason(t *testing.T) {
	rep := run(t, wipetest.NewMem(1<<18, sector, 3), method(t, "dod"), wipe.VerifyAll)
	if rep.Status != wipe.StatusErased || !strings.Contains(rep.StatusReason, "a full read-back of every pass (1-3) matched its pattern") {
		t.Fatalf("status %s: %s", rep.Status, rep.StatusReason)
	}
}

// fakeWatch reports a fixed record.
type fakeWatch struct {
	rec   wipe.WatchRecord
	calls []string
	own   wipe.OwnIO
}

func (f *fakeWatch) Begin()         { f.calls = append(f.calls, "begin") }
func (f *fakeWatch) LastWriteDone() { f.calls = append(f.calls, "lastwrite") }
func (f *fakeWatch) End(own wipe.OwnIO) *wipe.WatchRecord {
	f.calls = append(f.calls, "end")
	f.own = own
	r := f.rec
	return &r
}

// TestWatchDecidesStatus: a watch finding keeps the drive from ERASED
// (PARTIAL: sanitize again); a failed LBA still outranks it (FAILED), with
// the finding kept in the reason; the engine reports its own writes.
func TestWatchDecidesStatus(t *testing.T) {
	found := wipe.WatchRecord{Result: wipe.WatchFailed, Problems: []string{"another program wrote to loop9 (the device) during the run: the kernel counted 8 sector(s) written"}}
	w := &fakeWatch{rec: found}
	mem := wipetest.NewMem(1<<20, sector, 1)
	rep, err := wipe.Overwrite(context.Background(), wipe.Job{Target: mem, Method: method(t, "", "zero", "one"), Verify: wipe.VerifyLast, IO: quick, Watch: w})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != wipe.StatusPartial || !strings.Contains(rep.StatusReason, "cannot be certified: another program wrote to loop9") || rep.Watch.Result != wipe.WatchFailed {
		t.Fatalf("status %s: %s", rep.Status, rep.StatusReason)
	}
	if strings.Join(w.calls, ",") != "begin,lastwrite,end" || w.own.Written != 2<<20 || w.own.Submitted != 2<<20 || !w.own.FullReadBack {
		t.Fatalf("watch calls %v own %+v", w.calls, w.own)
	}
	// Unavailable is not a pass either.
	w = &fakeWatch{rec: wipe.WatchRecord{Result: wipe.WatchUnavailable, Problems: []string{"the kernel keeps no I/O statistics"}}}
	rep, _ = wipe.Overwrite(context.Background(), wipe.Job{Target: wipetest.NewMem(1<<16, sector, 1), Method: method(t, "zero"), Verify: wipe.VerifyLast, IO: quick, Watch: w})
	if rep.Status != wipe.StatusPartial {
		t.Fatalf("unavailable watch: %s", rep.Status)
	}
	// A failed LBA outranks, and the finding stays in the reason.
	w = &fakeWatch{rec: found}
	f := &wipetest.Faulty{Target: wipetest.NewMem(1<<20, sector, 1), WriteFaults: []wipetest.Fault{{Off: 0, Len: sector}}}
	rep, _ = wipe.Overwrite(context.Background(), wipe.Job{Target: f, Method: method(t, "zero"), Verify: wipe.VerifyLast, IO: quick, Watch: w})
	if rep.Status != wipe.StatusFailed || !strings.HasPrefix(rep.StatusReason, "1 LBA range(s) could not be written") || !strings.Contains(rep.StatusReason, "; another program wrote") {
		t.Fatalf("status %s: %s", rep.Status, rep.StatusReason)
	}
	// Sampled verification is not a full read-back.
	w = &fakeWatch{rec: wipe.WatchRecord{Result: wipe.WatchPassed}}
	rep, _ = wipe.Overwrite(context.Background(), wipe.Job{Target: wipetest.NewMem(4<<20, sector, 1), Method: method(t, "zero"), Verify: wipe.VerifySample, IO: quick, Watch: w})
	if rep.Status != wipe.StatusErased || w.own.FullReadBack {
		t.Fatalf("sampled: %s, full read-back %v", rep.Status, w.own.FullReadBack)
	}
}

// TestFailingRegionIsBounded: a device whose last three quarters fail
// every write (it shrank, or died there). The old engine retried each
// sector 3 times with sleeps; now the run ends after a bounded number of
// I/Os, every LBA that was not written is recorded, nothing before the
// failing region is, and the drive is FAILED.
func TestFailingRegionIsBounded(t *testing.T) {
	const size, bad = 32 << 20, 8 << 20
	mem := wipetest.NewMem(size, sector, 0xEE)
	f := &wipetest.Faulty{Target: mem, WriteFaults: []wipetest.Fault{{Off: bad, Len: size - bad}}}
	rep, err := wipe.Overwrite(context.Background(), wipe.Job{Target: f, Method: method(t, "zero"), Verify: wipe.VerifyLast, IO: quick})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != wipe.StatusFailed {
		t.Fatalf("status %s", rep.Status)
	}
	failed := rep.Passes[0].Failed
	if failed[0].LBA != bad/sector || !wipetest.Covers(failed, bad/sector, size/sector) {
		t.Fatalf("failed ranges %+v, want exactly LBAs %d-%d", failed, bad/sector, size/sector-1)
	}
	// 384 chunks of 128 sectors fail; the old engine tried each sector
	// about three times (150000 attempts).
	if f.WriteAttempts > 600 {
		t.Fatalf("%d write attempts", f.WriteAttempts)
	}
	for i := range bad {
		if mem.Data[i] != 0 {
			t.Fatalf("byte %d before the failing region not written", i)
		}
	}
	var skipped bool
	for _, r := range failed {
		skipped = skipped || strings.HasPrefix(r.Error, "not attempted: skipped")
	}
	if !skipped {
		t.Fatalf("no skip-ahead recorded: %+v", failed)
	}
}

// TestBadPatchSkippedThenResumed: a bad patch in the middle is skipped
// over; the good area after it is written again, and every sector that was
// not written is in the failed ranges.
func TestBadPatchSkippedThenResumed(t *testing.T) {
	const size = 16 << 20
	mem := wipetest.NewMem(size, sector, 0xEE)
	f := &wipetest.Faulty{Target: mem, WriteFaults: []wipetest.Fault{{Off: 4 << 20, Len: 1 << 20}, {Off: 9<<20 + 3*sector, Len: 2 * sector}}}
	rep, err := wipe.Overwrite(context.Background(), wipe.Job{Target: f, Method: method(t, "zero"), Verify: wipe.VerifyOff, IO: quick})
	if err != nil {
		t.Fatal(err)
	}
	failed := rep.Passes[0].Failed
	if rep.Status != wipe.StatusFailed || !wipetest.Covers(failed, (4<<20)/sector, (5<<20)/sector) || !wipetest.Covers(failed, (9<<20)/sector+3, (9<<20)/sector+5) {
		t.Fatalf("status %s, failed %+v", rep.Status, failed)
	}
	// Everything not recorded as failed was written.
	for lba := int64(0); lba < size/sector; lba++ {
		if wipetest.Covers(failed, lba, lba+1) {
			continue
		}
		if mem.Data[lba*sector] != 0 {
			t.Fatalf("LBA %d is neither written nor recorded as failed", lba)
		}
	}
	// The isolated two-sector fault after the patch was bisected exactly.
	var exact bool
	for _, r := range failed {
		exact = exact || (r.LBA == (9<<20)/sector+3 && r.Count == 2)
	}
	if !exact || mem.Data[12<<20] != 0 {
		t.Fatalf("after the patch: failed %+v", failed)
	}
}

// TestCheckSamplePercent: the sample is drawn in whole hundredths of a
// percent, so a third decimal is refused rather than rounded away.
func TestCheckSamplePercent(t *testing.T) {
	for _, p := range []float64{0.01, 10, 12.5, 12.35, 33.33, 99.99, 100} {
		if err := wipe.CheckSamplePercent(p); err != nil {
			t.Errorf("%g: %v", p, err)
		}
	}
	for _, p := range []float64{0, -1, 100.01, 12.345, 0.001} {
		if err := wipe.CheckSamplePercent(p); err == nil {
			t.Errorf("%g accepted", p)
		}
	}
	_, err := wipe.Overwrite(context.Background(), wipe.Job{Target: wipetest.NewMem(1<<20, sector, 0), Method: method(t, "zero"),
		Verify: wipe.VerifySample, SamplePercent: 12.345, IO: quick})
	if err == nil || !strings.Contains(err.Error(), "at most two decimals") {
		t.Fatalf("overwrite with 12.345%%: %v", err)
	}
}
