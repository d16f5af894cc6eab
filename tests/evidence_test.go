package tests

// Issue 10: a certificate never says ERASED unless every byte it names was
// written and read back as claimed. Each test reproduces one way the
// evidence could overstate, on loop devices the test creates, and fails on
// a lethe that signs ERASED there.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/internal/devices"
	certstation "github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/testutil"
	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/internal/wipe/wipetest"
	"github.com/lethe-project/lethe/sign"
)

var evidenceMarker = []byte("FOREIGN-WRITE-lethe-issue10-4c1d")

// execute runs a host overwrite of path through wipe.Execute, the entry
// point the CLI and the agent use, with 1 MiB chunks on one worker (so
// progress says exactly which chunks are done) and progress every
// millisecond.
func execute(t *testing.T, path, method string, verify wipe.VerifyMode, progress func(wipe.Progress)) (*devices.Device, *wipe.Report) {
	t.Helper()
	d, err := devices.Describe(path)
	if err != nil {
		t.Fatal(err)
	}
	target, err := wipe.Open(path, wipe.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	m, err := wipe.ResolveMethod(method, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	fo := wipe.FirmwareOptions{StateDir: t.TempDir()}
	plan := wipe.NewPlan(d, wipe.ProbeWith(context.Background(), d, fo), wipe.Request{Policy: wipe.PolicyClear, Method: m, MethodExplicit: true})
	rep, err := wipe.Execute(context.Background(), d, target, plan, wipe.ExecOptions{
		Verify: verify, IO: wipe.IOOptions{ChunkBytes: 1 << 20, Workers: 1},
		Progress: progress, ProgressInterval: 1e6, Firmware: fo,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, rep
}

// once runs f the first time cond holds.
func once(cond func(wipe.Progress) bool, f func()) func(wipe.Progress) {
	var o sync.Once
	return func(p wipe.Progress) {
		if cond(p) {
			o.Do(f)
		}
	}
}

// readBackPast is true once the final read-back (one worker, in order) has
// read n bytes: a write below n lands where the read-back has been.
func readBackPast(n int64) func(wipe.Progress) bool {
	return func(p wipe.Progress) bool { return p.Phase == wipe.PhaseVerify && p.Done >= n }
}

// verifying: the read-back has passed the first half of a 64 MiB device,
// where every foreign write below goes.
var verifying = readBackPast(32 << 20)

// ddWrite writes the marker at off into path from another process (dd,
// buffered, no sync: with lethe holding the device open the data stays in
// the page cache until something flushes it).
func ddWrite(t *testing.T, path string, off int64) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "marker")
	os.WriteFile(f, evidenceMarker, 0o644)
	testutil.Run(t, "dd", "if="+f, "of="+path, "bs=1", "seek="+strconv.FormatInt(off, 10), "conv=notrunc", "status=none")
}

// attachLoop attaches another loop device to file with extra losetup
// arguments, using exactly the path losetup printed, and detaches it when
// the test ends.
func attachLoop(t *testing.T, file string, extra ...string) string {
	t.Helper()
	path := strings.TrimSpace(testutil.Run(t, "losetup", append(append([]string{"-f", "--show"}, extra...), file)...))
	if !strings.HasPrefix(path, "/dev/loop") {
		t.Fatalf("losetup printed %q", path)
	}
	t.Cleanup(func() {
		bf, _ := os.ReadFile(filepath.Join("/sys/block", filepath.Base(path), "loop/backing_file"))
		if strings.TrimSpace(string(bf)) == file {
			exec.Command("losetup", "-d", path).Run()
		}
	})
	return path
}

// signed turns a report into a verified certificate statement and its file.
func signed(t *testing.T, s station, d *devices.Device, rep *wipe.Report) (string, *cert.Statement) {
	t.Helper()
	k, err := sign.LoadPrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := certstation.NewStatement(certstation.CertInput{Device: d, Report: rep, Personnel: cert.Personnel{Operator: "e2e"}, Tool: cert.Tool{Name: "lethe", Version: "e2e-test"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := attest.Sign(st, sign.KeySigner{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(s.certs, 0o755)
	path := filepath.Join(s.certs, "x.cert.json")
	os.WriteFile(path, data, 0o644)
	return path, readCert(t, s, path)
}

// TestForeignWriteNotErased writes 32 bytes from another process after
// lethe's read-back has passed them, through every path a write can take
// to the data lethe certifies. lethe must notice and not say ERASED.
func TestForeignWriteNotErased(t *testing.T) {
	testutil.RequireCommand(t, "dd")
	const size = 64 << 20
	check := func(t *testing.T, rep *wipe.Report, want string, data []byte) {
		t.Helper()
		if !bytes.Contains(data, evidenceMarker) {
			t.Fatal("the foreign write did not land: the test proves nothing")
		}
		if rep.Status == wipe.StatusErased || rep.Watch == nil || rep.Watch.Result != wipe.WatchFailed ||
			!strings.Contains(rep.StatusReason, want) {
			t.Fatalf("status %s (%s), watch %+v; want not ERASED, naming %q", rep.Status, rep.StatusReason, rep.Watch, want)
		}
		if rep.Status != wipe.StatusPartial {
			t.Fatalf("status %s, want PARTIAL (re-sanitize)", rep.Status)
		}
	}
	t.Run("device node, buffered", func(t *testing.T) {
		l := newLoop(t, size)
		_, rep := execute(t, l.Path, "random", wipe.VerifyLast, once(verifying, func() { ddWrite(t, l.Path, 0) }))
		check(t, rep, "another program wrote to "+filepath.Base(l.Path), l.ReadAll(t))
		c := rep.Watch.Counters[0]
		if c.ForeignSectors < 1 || c.Role != "the device" {
			t.Fatalf("counters %+v", rep.Watch.Counters)
		}
	})
	t.Run("partition", func(t *testing.T) {
		testutil.RequireCommand(t, "sfdisk")
		l := newLoop(t, size, testutil.LoopOptions{Partscan: true})
		cmd := exec.Command("sfdisk", "-q", l.Path)
		cmd.Stdin = strings.NewReader("label: dos\n,16M,L\n,,L\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sfdisk: %v %s", err, out)
		}
		testutil.Run(t, "partx", "-u", l.Path)
		part := l.Path + "p1" // sectors 2048-34815
		_, rep := execute(t, l.Path, "zero", wipe.VerifyLast, once(verifying, func() { ddWrite(t, part, 4096) }))
		check(t, rep, "another program wrote to "+filepath.Base(l.Path), l.ReadAll(t))
	})
	t.Run("another loop device on the same file", func(t *testing.T) {
		l := newLoop(t, size)
		other := attachLoop(t, l.File, "-o", "8388608")
		_, rep := execute(t, l.Path, "random", wipe.VerifyLast, once(verifying, func() { ddWrite(t, other, 0) }))
		check(t, rep, "another program wrote to "+filepath.Base(other), l.ReadAll(t))
	})
	t.Run("stacked device", func(t *testing.T) {
		// A loop device whose backing "file" is the device lethe wipes:
		// its writes reach the device through the block layer.
		l := newLoop(t, size)
		above := attachLoop(t, l.Path)
		_, rep := execute(t, l.Path, "random", wipe.VerifyLast, once(verifying, func() { ddWrite(t, above, 8192) }))
		check(t, rep, "another program wrote to "+filepath.Base(l.Path)+" (the device)", l.ReadAll(t))
	})
	t.Run("backing file directly", func(t *testing.T) {
		l := newLoop(t, size)
		_, rep := execute(t, l.Path, "random", wipe.VerifyLast, once(verifying, func() { ddWrite(t, l.File, 0) }))
		testutil.Run(t, "blockdev", "--flushbufs", l.Path)
		data, _ := os.ReadFile(l.File)
		check(t, rep, "was changed after lethe's last write", data)
	})
	t.Run("image file", func(t *testing.T) {
		testutil.RequireRoot(t)
		img := filepath.Join(t.TempDir(), "disk.img")
		os.WriteFile(img, make([]byte, 16<<20), 0o644)
		_, rep := execute(t, img, "zero", wipe.VerifyLast, once(readBackPast(8<<20), func() { ddWrite(t, img, 512) }))
		data, _ := os.ReadFile(img)
		check(t, rep, "was changed after lethe's last write", data)
	})
	t.Run("certificate", func(t *testing.T) {
		s := newStation(t)
		l := newLoop(t, size)
		d, rep := execute(t, l.Path, "random", wipe.VerifyLast, once(verifying, func() { ddWrite(t, l.Path, 0) }))
		cert, st := signed(t, s, d, rep)
		p := st.Predicate
		if p.Status != wipe.StatusPartial || p.Disposition != "re-sanitize" || p.Watch == nil || p.Watch.Result != wipe.WatchFailed {
			t.Fatalf("certificate %s %s %+v", p.Status, p.Disposition, p.Watch)
		}
		show := mustLethe(t, 0, "cert", "show", "--key", s.pub, cert)
		for _, want := range []string{"Device watch", "FAILED: writes by other programs", "another program wrote to"} {
			if !strings.Contains(show.stdout, want) {
				t.Errorf("cert show lacks %q:\n%s", want, show.stdout)
			}
		}
	})
	t.Run("no other writer", func(t *testing.T) {
		// The control: the same run without the foreign write is ERASED,
		// with the counters matching lethe's own writes exactly.
		l := newLoop(t, size)
		_, rep := execute(t, l.Path, "random", wipe.VerifyLast, nil)
		if rep.Status != wipe.StatusErased || rep.Watch.Result != wipe.WatchPassed {
			t.Fatalf("status %s (%s), watch %+v", rep.Status, rep.StatusReason, rep.Watch)
		}
		c := rep.Watch.Counters[0]
		if int64(c.SectorsWrittenAfter-c.SectorsWrittenBefore) != size/512 || rep.Watch.OwnSectorsWritten != size/512 || rep.Watch.ChangeTime == nil {
			t.Fatalf("counters %+v own %d", c, rep.Watch.OwnSectorsWritten)
		}
	})
}

// TestVerifyAllEveryPass: with --verify all, a marker written after pass 1
// went past it makes pass 1's read-back fail; later passes overwrite it,
// but the drive is not ERASED, and every pass's result is shown.
func TestVerifyAllEveryPass(t *testing.T) {
	testutil.RequireCommand(t, "dd")
	s := newStation(t)
	l := newLoop(t, 32<<20)
	d, rep := execute(t, l.Path, "dod", wipe.VerifyAll, once(func(p wipe.Progress) bool {
		return p.Phase == wipe.PhaseOverwrite && p.Pass == 1 && p.Done >= 2<<20
	}, func() {
		// Synced, so pass 1's read-back sees it.
		f, _ := os.OpenFile(l.Path, os.O_WRONLY, 0)
		f.WriteAt(evidenceMarker, 0)
		f.Sync()
		f.Close()
	}))
	if rep.Status != wipe.StatusFailed || !strings.Contains(rep.StatusReason, "the full read-back of pass 1 of 3 failed") {
		t.Fatalf("status %s: %s", rep.Status, rep.StatusReason)
	}
	for i, want := range []wipe.VerifyResult{wipe.VerifyFailed, wipe.VerifyPassed, wipe.VerifyPassed} {
		if v := rep.Passes[i].Verification; v == nil || v.Result != want {
			t.Fatalf("pass %d read-back %+v, want %s", i+1, v, want)
		}
	}
	cert, _ := signed(t, s, d, rep)
	show := mustLethe(t, 0, "cert", "show", "--key", s.pub, cert)
	for _, want := range []string{"read-back of pass 1: FAILED", "read-back of pass 2: PASSED", "read-back of pass 3: PASSED", "mismatch at LBA 0 +1"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("cert show lacks %q:\n%s", want, show.stdout)
		}
	}
}

// TestLoopWindowNotTheWholeFile wipes `losetup -o 1M --sizelimit 32M` over
// a 64 MiB file: the certificate names the window, never the file.
func TestLoopWindowNotTheWholeFile(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 64<<20, testutil.LoopOptions{Offset: 1 << 20, SizeLimit: 32 << 20})
	// Customer data all over the file.
	f, _ := os.OpenFile(l.File, os.O_WRONLY, 0)
	for off := int64(0); off < l.FileSize; off += 1 << 20 {
		f.WriteAt(evidenceMarker, off+777)
	}
	f.Close()
	mustLethe(t, 0, s.wipeArgs(l.Path)...)
	_, st := onlyCert(t, s)
	p := st.Predicate
	wantName := "loop:" + l.File + ":bytes=1048576-34603007"
	if st.Subject[0].Name != wantName || p.Media.LoopOffset != 1<<20 || p.Media.LoopSizeLimit != 32<<20 ||
		p.Media.BackingFileBytes != 64<<20 || p.Media.CapacityBytes != 32<<20 ||
		p.Identity.BackingOffset != 1<<20 || p.Identity.BackingSizeLimit != 32<<20 {
		t.Fatalf("subject %q media %+v identity %+v", st.Subject[0].Name, p.Media, p.Identity)
	}
	all, _ := json.Marshal(p)
	if bytes.Contains(all, []byte("whole backing file")) {
		t.Fatalf("certificate claims the whole backing file: %s", all)
	}
	for _, s := range []string{p.HiddenAreas.Note, p.StatusReason} {
		if !strings.Contains(s, "bytes 1048576-34603007") || !strings.Contains(s, "33554432 bytes (32.0 MiB) of the file lie outside the device") {
			t.Fatalf("does not say which part of the file was covered: %q", s)
		}
	}
	// The window is clean, the rest of the file is not (and is not claimed).
	data, _ := os.ReadFile(l.File)
	if bytes.Contains(data[1<<20:33<<20], evidenceMarker) || !bytes.Contains(data[:1<<20], evidenceMarker) || !bytes.Contains(data[33<<20:], evidenceMarker) {
		t.Fatal("the window was not wiped, or more than the window was")
	}
	// A loop device over the whole file says so.
	s2 := newStation(t)
	whole := newLoop(t, 4<<20)
	mustLethe(t, 0, s2.wipeArgs(whole.Path)...)
	_, st2 := onlyCert(t, s2)
	if st2.Subject[0].Name != "loop:"+whole.File || !strings.Contains(st2.Predicate.HiddenAreas.Note, "covers the whole 4.0 MiB (4194304-byte) backing file") {
		t.Fatalf("whole-file loop: %q %q", st2.Subject[0].Name, st2.Predicate.HiddenAreas.Note)
	}
}

// TestDeviceChangesDuringWipe grows the device mid-wipe (backing file
// extended, losetup -c), and in a second run moves its window (loop
// offset): the area lethe never saw, or another part of the file, holds
// old data, so neither may be ERASED.
func TestDeviceChangesDuringWipe(t *testing.T) {
	t.Run("grows", func(t *testing.T) {
		l := newLoop(t, 32<<20)
		_, rep := execute(t, l.Path, "random", wipe.VerifyLast, once(func(p wipe.Progress) bool {
			return p.Phase == wipe.PhaseOverwrite && p.Done >= 4<<20
		}, func() {
			if err := os.Truncate(l.File, 48<<20); err != nil {
				t.Error(err)
			}
			testutil.Run(t, "losetup", "-c", l.Path)
		}))
		if rep.Status == wipe.StatusErased || rep.Watch.Result != wipe.WatchFailed || rep.Watch.SizeAfter != 48<<20 ||
			!strings.Contains(rep.StatusReason, "grew from 33554432 to 50331648 bytes") {
			t.Fatalf("status %s (%s), watch %+v", rep.Status, rep.StatusReason, rep.Watch)
		}
	})
	t.Run("window moves", func(t *testing.T) {
		l := newLoop(t, 32<<20)
		_, rep := execute(t, l.Path, "random", wipe.VerifyLast, once(func(p wipe.Progress) bool {
			return p.Phase == wipe.PhaseOverwrite && p.Done >= 4<<20
		}, func() {
			f, err := os.OpenFile(l.Path, os.O_RDONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
			if err == nil {
				info.Offset = 1 << 20
				err = unix.IoctlLoopSetStatus64(int(f.Fd()), info)
			}
			if err != nil {
				t.Errorf("LOOP_SET_STATUS64: %v", err)
			}
		}))
		if rep.Status == wipe.StatusErased || !strings.Contains(rep.StatusReason, "the loop offset changed from 0 to 1048576") {
			t.Fatalf("status %s (%s)", rep.Status, rep.StatusReason)
		}
	})
}

// TestShrinkingDeviceEndsFast shrinks a loop device mid-wipe. Every write
// and read past the new end fails; lethe must record all of them, end
// FAILED, and spend a bounded number of I/Os doing so (it retried every
// sector three times with 100 ms sleeps: about 27 minutes per 4 MiB).
func TestShrinkingDeviceEndsFast(t *testing.T) {
	l := newLoop(t, 256<<20)
	d, err := devices.Describe(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	target, err := wipe.Open(l.Path, wipe.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	// Shrink the device (backing file truncated, losetup -c) as soon as
	// lethe writes past 16 MiB, from inside the write path, so the timing
	// does not depend on the machine's load; count every I/O.
	var shrink sync.Once
	counted := &wipetest.Faulty{Target: &onWrite{Target: target, at: 16 << 20, fn: func() {
		shrink.Do(func() {
			os.Truncate(l.File, 64<<20)
			testutil.Run(t, "losetup", "-c", l.Path)
		})
	}}}
	m, _ := wipe.ResolveMethod("zero", nil, false)
	rep, err := wipe.Overwrite(context.Background(), wipe.Job{Target: counted, Method: m, Verify: wipe.VerifyLast,
		IO: wipe.IOOptions{ChunkBytes: 1 << 20, Workers: 2}, Watch: wipe.NewWatch(devices.Host, d, target)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != wipe.StatusFailed || !strings.Contains(rep.StatusReason, "shrank from 268435456 to 67108864 bytes") {
		t.Fatalf("status %s: %s", rep.Status, rep.StatusReason)
	}
	// Every LBA past the new end is recorded as not written.
	if !wipetest.Covers(rep.Passes[0].Failed, (64<<20)/512, (256<<20)/512) {
		t.Fatalf("failed ranges %+v do not cover LBAs %d-%d", rep.Passes[0].Failed, (64<<20)/512, (256<<20)/512-1)
	}
	// 256 chunks of 2048 sectors each; the old engine made ~3 attempts per
	// sector past the end (well over a million).
	if n := counted.WriteAttempts + counted.ReadAttempts; n > 2000 {
		t.Fatalf("%d I/O attempts for a device that shrank", n)
	}
	t.Logf("%d write and %d read attempts; %d failed ranges", counted.WriteAttempts, counted.ReadAttempts, len(rep.Passes[0].Failed))
}

// onWrite calls fn before any write at or past offset at.
type onWrite struct {
	wipe.Target
	at int64
	fn func()
}

func (o *onWrite) WriteAt(p []byte, off int64) (int, error) {
	if off >= o.at {
		o.fn()
	}
	return o.Target.WriteAt(p, off)
}

// TestVerifyRefusesAnotherDevice: `lethe verify --cert` reads back a device
// only if it is the certificate's subject. A byte-for-byte copy on another
// file, or the right file in another window, is refused with exit 1 and
// both identities printed.
func TestVerifyRefusesAnotherDevice(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 8<<20)
	mustLethe(t, 0, s.wipeArgs("--method", "zero", l.Path)...)
	cert, _ := onlyCert(t, s)
	// The same file attached again, under another name: accepted.
	again := attachLoop(t, l.File)
	mustLethe(t, 0, "verify", "--cert", cert, "--key", s.pub, "--progress", "none", again)

	copyFile := filepath.Join(t.TempDir(), "copy.img")
	data, _ := os.ReadFile(l.File)
	os.WriteFile(copyFile, data, 0o644) // the same (zero) content
	other := attachLoop(t, copyFile)
	window := attachLoop(t, l.File, "--sizelimit", "4194304")
	for _, tc := range []struct{ dev, want string }{
		{other, "backingFile: certificate \"" + l.File + "\", device \"" + copyFile + "\""},
		{window, "sizeBytes: certificate \"8388608\", device \"4194304\""},
		{copyFile, "transport: certificate \"loop\", device \"file\""},
	} {
		r := lethe(t, "verify", "--cert", cert, "--key", s.pub, "--progress", "none", tc.dev)
		if r.code != 1 || !strings.Contains(r.stdout, "is not the device certified by") || !strings.Contains(r.stdout, tc.want) ||
			!strings.Contains(r.stdout, "certificate's subject: {") || !strings.Contains(r.stdout, "device:                {") {
			t.Errorf("verify %s against another device's certificate: %s", tc.dev, r)
		}
	}
}

// TestControlCharactersRefused: a newline or an ANSI escape in a personnel
// flag would forge lines of a displayed certificate; it is refused before
// anything is written.
func TestControlCharactersRefused(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 4<<20)
	before := sum(t, l)
	for _, args := range [][]string{
		{"--operator", "A. Tech\nStatus        ERASED"},
		{"--asset-tag", "T-1\x1b[32m"},
		{"--site", "FRA2\u202e"},
		{"--job", "J\r1"},
		{"--organization", "Org\x07"},
	} {
		r := lethe(t, s.wipeArgs(append(args, l.Path)...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "control character") || !strings.Contains(r.stderr, args[0]) {
			t.Errorf("wipe %s %q: %s", args[0], args[1], r)
		}
	}
	if len(s.certFiles(t)) != 0 || sum(t, l) != before {
		t.Fatal("a refused wipe wrote something")
	}
}

// TestProofPerSectorOnLoop plants the firmware-erase proof on a 512-byte
// sector loop device and then changes only the first sector of every
// 4 KiB block, as a drive that keeps old data in the other seven: the
// proof must fail where the technique implies only "changed".
func TestProofPerSectorOnLoop(t *testing.T) {
	l := newLoop(t, 16<<20)
	rnd := make([]byte, 16<<20)
	for i := range rnd {
		rnd[i] = byte(i*7 + i>>9)
	}
	l.WriteAt(t, rnd, 0)
	target, err := wipe.Open(l.Path, wipe.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	ev, err := wipe.PrepareProof(target, bytes.Repeat([]byte{5}, 32), wipe.ProofOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sector := make([]byte, 512)
	for off := int64(0); off < 16<<20; off += 4096 {
		for i := range sector {
			sector[i] = byte(off>>12) ^ byte(i) ^ 0x5a
		}
		if _, err := target.WriteAt(alignedCopy(sector), off); err != nil {
			t.Fatal(err)
		}
	}
	target.Sync()
	if err := wipe.CheckProof(target, ev, wipe.Expectation{Kind: "changed"}); err != nil {
		t.Fatal(err)
	}
	if ev.Result != "failed" || ev.CanariesSurvived == 0 || ev.UnchangedBlocks == 0 {
		t.Fatalf("7 of 8 sectors kept old data, proof %s: %v", ev.Result, ev.Problems)
	}
}

// alignedCopy returns b in a buffer O_DIRECT accepts (page-aligned).
func alignedCopy(b []byte) []byte {
	buf, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	copy(buf, b)
	return buf[:len(b)]
}

// TestExitStatusOnlyErased: exit 0 only when every drive is ERASED. A wipe
// with --verify off is PARTIAL: exit 1, as DESIGN.md §7 and the README say.
// The decision is wipe.Succeeded (station.Result.Erased); it fails until
// cmd/lethe/wipe.go's summarize counts every drive that is not ERASED.
func TestExitStatusOnlyErased(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 4<<20)
	r := mustLethe(t, 1, s.wipeArgs("--verify", "off", l.Path)...)
	if !strings.Contains(r.stdout, "PARTIAL") {
		t.Fatalf("--verify off: %s", r)
	}
}

// TestAmbiguousCertificateRefusedEverywhere: a payload holding
// "status":"PARTIAL","Status":"ERASED", signed with the trusted key, reads
// PARTIAL to jq and Python and ERASED to a case-insensitive decoder. Every
// lethe reader refuses it (issue 10, item 6; the audit store's own test is
// internal/audit/store TestIngestRefusesAmbiguousJSON).
func TestAmbiguousCertificateRefusedEverywhere(t *testing.T) {
	s := newStation(t)
	key, err := sign.LoadPrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := certtest.CaseVariantStatus(certtest.Drive{Serial: "AMBIG-1"})
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(t.TempDir(), "forged.cert.json")
	os.WriteFile(forged, certtest.SignPayload(key, payload), 0o644)
	l := newLoop(t, 1<<20)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"cert", "verify", "--key", s.pub, forged}, 1},
		{[]string{"cert", "show", "--key", s.pub, forged}, 1},
		{[]string{"cert", "show", "--unverified", forged}, 2},
		{[]string{"cert", "pdf", "--key", s.pub, forged, "-o", filepath.Join(t.TempDir(), "f.pdf")}, 1},
		{[]string{"cert", "pdf", "--unverified", forged, "-o", filepath.Join(t.TempDir(), "g.pdf")}, 2},
		{[]string{"verify", "--cert", forged, "--key", s.pub, "--progress", "none", l.Path}, 2},
	} {
		r := lethe(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, `keys "status" and "Status" differ only in case`) ||
			strings.Contains(r.stdout, "ERASED") && !strings.Contains(r.stdout, "INVALID") {
			t.Errorf("lethe %s: want exit %d naming the case-variant keys, got %s", strings.Join(tc.args[:2], " "), tc.code, r)
		}
	}
}

// TestOversizedInputsRefusedFast: a 200 MB certificate, receipt or agent
// configuration is refused without being read (it took 14 s and 1.2 GB);
// the files are sparse, and the bound is the reader's peak memory.
func TestOversizedInputsRefusedFast(t *testing.T) {
	timeBin := testutil.RequireCommand(t, "time")
	s := newStation(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	f, _ := os.Create(big)
	f.WriteString(`{"payloadType":"application/vnd.in-toto+json","payload":"`)
	f.Truncate(200 << 20)
	f.Close()
	small := filepath.Join(dir, "small.cert.json")
	k, _ := sign.LoadPrivateKey(s.key)
	os.WriteFile(small, certtest.MustSign(k, certtest.Drive{Serial: "BIG-1"}), 0o644)
	l := newLoop(t, 1<<20)
	for _, args := range [][]string{
		{"cert", "verify", "--key", s.pub, big},
		{"cert", "show", "--key", s.pub, big},
		{"cert", "pdf", "--key", s.pub, big, "-o", filepath.Join(dir, "x.pdf")},
		{"cert", "verify-tpm", big},
		{"verify", "--cert", big, "--key", s.pub, "--progress", "none", l.Path},
		{"cert", "verify", "--key", s.pub, "--receipt", big, small},
		{"agent", "check-config", "--configkey", "sha256:" + strings.Repeat("00", 32), big},
	} {
		// GNU time reports lethe's own peak memory (the test binary's
		// rusage would carry this process's, inherited across exec).
		mem := filepath.Join(dir, "maxrss")
		cmd := exec.Command(timeBin, append([]string{"-f", "%M", "-o", mem, letheBin}, args...)...)
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), "more than") {
			t.Errorf("lethe %s: exit %d: %s", strings.Join(args[:2], " "), cmd.ProcessState.ExitCode(), out)
		}
		raw, _ := os.ReadFile(mem)
		lines := append([]string{""}, strings.Fields(string(raw))...) // "Command exited with ..." first
		kib, err := strconv.Atoi(lines[len(lines)-1])
		if err != nil || kib > 100<<10 {
			t.Errorf("lethe %s: peak memory %q KiB reading a 200 MB file", strings.Join(args[:2], " "), raw)
		}
	}
}

// TestOpenSSLScript: scripts/verify-with-openssl.sh is the auditor's
// check without lethe (issue 10, item 12): every signature it has a key
// for (ed25519 and a TPM-style ECDSA P-256 co-signature), the subject
// digest, strict JSON, and for a fully verified host overwrite the device
// re-read against the pattern openssl regenerates.
func TestOpenSSLScript(t *testing.T) {
	testutil.RequireCommand(t, "jq")
	testutil.RequireCommand(t, "openssl")
	script, _ := filepath.Abs("../scripts/verify-with-openssl.sh")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(script, args...)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	s := newStation(t)
	l := newLoop(t, 8<<20)
	mustLethe(t, 0, s.wipeArgs("--method", "dod", "--verify", "all", l.Path)...)
	cert, _ := onlyCert(t, s)
	if out, code := run("--device", l.Path, cert, s.pub); code != 0 || !strings.Contains(out, "device: every one of the 8388608 bytes") || !strings.Contains(out, "subject digest: sha256 of the canonical identity matches") {
		t.Fatalf("script on a wiped loop device: exit %d\n%s", code, out)
	}
	// One changed byte on the device.
	l.WriteAt(t, []byte{0x42}, 5<<20+3)
	if out, code := run("--device", l.Path, cert, s.pub); code != 1 || !strings.Contains(out, "does not hold the last pass's pattern: byte 5242884") {
		t.Fatalf("altered device: exit %d\n%s", code, out)
	}
	// A device of another size.
	small := newLoop(t, 4<<20)
	if out, code := run("--device", small.Path, cert, s.pub); code != 1 || !strings.Contains(out, "has 4194304 bytes, the certificate's subject 8388608") {
		t.Fatalf("other device: exit %d\n%s", code, out)
	}

	// A second signature by an ECDSA P-256 key (as the TPM co-signs):
	// checked when its key is given, noted when not.
	dir := t.TempDir()
	ec, ecPub := filepath.Join(dir, "ec.key"), filepath.Join(dir, "ec.pub")
	testutil.Run(t, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ec)
	testutil.Run(t, "openssl", "ec", "-in", ec, "-pubout", "-out", ecPub)
	data, _ := os.ReadFile(cert)
	var env sign.Envelope
	json.Unmarshal(data, &env)
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	pae := filepath.Join(dir, "pae")
	os.WriteFile(pae, []byte(fmt.Sprintf("DSSEv1 %d %s %d %s", len(env.PayloadType), env.PayloadType, len(payload), payload)), 0o644)
	sigDER := []byte(testutil.Run(t, "openssl", "dgst", "-sha256", "-sign", ec, pae))
	der := []byte(testutil.Run(t, "openssl", "pkey", "-pubin", "-in", ecPub, "-outform", "DER"))
	ecID := fmt.Sprintf("%x", sha256.Sum256(der))
	cosigned := env
	cosigned.Signatures = append(append([]sign.Signature(nil), env.Signatures...), sign.Signature{KeyID: ecID, Sig: base64.StdEncoding.EncodeToString(sigDER)})
	write := func(name string, v any) string {
		b, _ := json.Marshal(v)
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	two := write("two.json", cosigned)
	if out, code := run(two, s.pub, ecPub); code != 0 || !strings.Contains(out, "valid ecdsa signature") || !strings.Contains(out, "valid ed25519 signature") {
		t.Fatalf("co-signed, both keys: exit %d\n%s", code, out)
	}
	if out, code := run(two, s.pub); code != 0 || !strings.Contains(out, "signature 1 by key "+ecID+" not checked") {
		t.Fatalf("co-signed, one key: exit %d\n%s", code, out)
	}
	badEC := cosigned
	badEC.Signatures = append(append([]sign.Signature(nil), env.Signatures...), sign.Signature{KeyID: ecID, Sig: base64.StdEncoding.EncodeToString(append(sigDER[:len(sigDER)-1], sigDER[len(sigDER)-1]^1))})
	if out, code := run(write("badec.json", badEC), s.pub, ecPub); code != 1 || !strings.Contains(out, "signature 1 by key "+ecID) {
		t.Fatalf("a bad ECDSA co-signature: exit %d\n%s", code, out)
	}

	// Forgeries signed with the trusted key.
	key, _ := sign.LoadPrivateKey(s.key)
	resign := func(name string, p []byte) string {
		f := filepath.Join(dir, name)
		os.WriteFile(f, certtest.SignPayload(key, p), 0o644)
		return f
	}
	caseVariant, _ := certtest.CaseVariantStatus(certtest.Drive{Serial: "OSSL-1"})
	for _, tc := range []struct {
		name, file, want string
		code             int
	}{
		{"case-variant status", resign("case.json", caseVariant), "the statement has keys that differ only in case", 1},
		{"duplicate status", resign("dup.json", bytes.Replace(caseVariant, []byte(`"Status"`), []byte(`"status"`), 1)), "the statement has a duplicate key", 1},
		{"subject digest", resign("digest.json", bytes.Replace(payload, []byte(`"sizeBytes":8388608`), []byte(`"sizeBytes":8388609`), 1)), "subject digest", 1},
		{"non-ASCII identity", resign("utf8.json", bytes.Replace(payload, []byte(`"identity":{`), []byte(`"identity":{"vendor2":"Zoë",`), 1)), "CANNOT CHECK", 3},
	} {
		if out, code := run(tc.file, s.pub); code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %d and %q:\n%s", tc.name, code, tc.code, tc.want, out)
		}
	}
	twoPayloads := filepath.Join(dir, "twopayloads.json")
	os.WriteFile(twoPayloads, bytes.Replace(data, []byte(`"payload":`), []byte(`"payload": "e30=", "payload":`), 1), 0o644)
	if out, code := run(twoPayloads, s.pub); code != 1 || !strings.Contains(out, "the envelope has a duplicate key") {
		t.Errorf("two payloads: exit %d\n%s", code, out)
	}
}
