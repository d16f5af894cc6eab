package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-project/lethe/cert"
	certstation "github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/testutil"
	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/internal/wipe/wipetest"
)

// plantMarkers writes recognizable "customer data" at the first and last
// sector and at pseudorandom places, and returns the marker.
func plantMarkers(t *testing.T, l *testutil.Loop, sector int64) []byte {
	t.Helper()
	marker := []byte("CUSTOMER-DATA-lethe-e2e-7f3a9c")
	offs := []int64{0, l.Size - sector, l.Size / 2}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		offs = append(offs, r.Int64N(l.Size/sector)*sector)
	}
	for _, o := range offs {
		l.WriteAt(t, marker, o)
	}
	if !bytes.Contains(l.ReadAll(t), marker) {
		t.Fatal("markers were not planted")
	}
	return marker
}

func readCert(t *testing.T, s station, path string) *cert.Statement {
	t.Helper()
	k, err := sign.LoadPublicKey(s.pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := attest.ReadFile(path, k)
	if err != nil {
		t.Fatalf("certificate %s does not verify: %v", path, err)
	}
	return v.Statement
}

// onlyCert returns the single certificate the station has.
func onlyCert(t *testing.T, s station) (string, *cert.Statement) {
	t.Helper()
	files := s.certFiles(t)
	if len(files) != 1 {
		t.Fatalf("%d certificates, want 1: %v", len(files), files)
	}
	return files[0], readCert(t, s, files[0])
}

// expectPattern compares every byte of data with the last pass recorded in
// the certificate, regenerated from its parameters as an auditor would.
func expectPattern(t *testing.T, data []byte, st *cert.Statement) {
	t.Helper()
	passes := st.Predicate.Sanitization.Passes
	p, err := wipe.PatternFromSpec(passes[len(passes)-1].Pattern)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, len(data))
	p.Fill(want, 0)
	if !bytes.Equal(data, want) {
		i := 0
		for data[i] == want[i] {
			i++
		}
		t.Fatalf("byte %d of %d differs from the recorded pattern %s", i, len(data), passes[len(passes)-1].Pattern.Name)
	}
}

func TestWipeEveryByte(t *testing.T) {
	// 10 MiB + 3 sectors: not a multiple of the 4 MiB buffer.
	const size = 10<<20 + 3*512
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default random", nil},
		{"zero", []string{"--method", "zero"}},
		{"dod verify all", []string{"--method", "dod", "--verify", "all"}},
		{"custom passes final zero", []string{"--passes", "0xAA,random", "--final-zero"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStation(t)
			l := newLoop(t, size)
			marker := plantMarkers(t, l, 512)
			r := mustLethe(t, 0, s.wipeArgs(append(tc.args, l.Path)...)...)
			if !strings.Contains(r.stdout, "ERASED") || !strings.Contains(r.stdout, "certificate:") {
				t.Fatalf("output does not report ERASED and the certificate:\n%s", r)
			}
			_, st := onlyCert(t, s)
			data := l.ReadAll(t)
			if int64(len(data)) != size {
				t.Fatalf("read %d bytes", len(data))
			}
			if bytes.Contains(data, marker) {
				t.Fatal("customer data survived the wipe")
			}
			expectPattern(t, data, st)
			p := st.Predicate
			if p.Status != wipe.StatusErased || p.Verification.Result != wipe.VerifyPassed || p.Verification.Coverage != 100 ||
				!p.Verification.Direct || p.Media.CapacityBytes != size || p.Media.BackingFile != l.File || p.Personnel.Operator != "e2e" ||
				p.Tool.Version != "e2e-test" || p.Sanitization.Category != wipe.CategoryClear {
				t.Fatalf("certificate predicate %+v", p)
			}
		})
	}
}

func TestWipe4KSectors(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 8<<20+3*4096, testutil.LoopOptions{SectorSize: 4096, DirectIO: true})
	marker := plantMarkers(t, l, 4096)
	mustLethe(t, 0, s.wipeArgs("--chunk-mib", "1", l.Path)...)
	_, st := onlyCert(t, s)
	data := l.ReadAll(t)
	if bytes.Contains(data, marker) {
		t.Fatal("customer data survived")
	}
	expectPattern(t, data, st)
	if st.Predicate.Media.LogicalSectorSize != 4096 {
		t.Fatalf("logical sector size %d", st.Predicate.Media.LogicalSectorSize)
	}
}

func TestWipeSmallerThanOneBuffer(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 1<<20) // 1 MiB, a quarter of the 4 MiB buffer
	marker := plantMarkers(t, l, 512)
	mustLethe(t, 0, s.wipeArgs(l.Path)...)
	_, st := onlyCert(t, s)
	data := l.ReadAll(t)
	if bytes.Contains(data, marker) {
		t.Fatal("customer data survived")
	}
	expectPattern(t, data, st)
}

func TestWipeImageFiles(t *testing.T) {
	s := newStation(t)
	dir := t.TempDir()
	// A disk image whose size is not a multiple of the sector, and one
	// smaller than a sector.
	for _, size := range []int{3<<20 + 100, 1000} {
		path := filepath.Join(dir, "disk.img")
		data := bytes.Repeat([]byte("secret! "), size/8+1)[:size]
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mustLethe(t, 0, s.wipeArgs("--method", "zero", path)...)
		got, _ := os.ReadFile(path)
		if len(got) != size || !bytes.Equal(got, make([]byte, size)) {
			t.Fatalf("image of %d bytes: not all zero after wipe (len %d)", size, len(got))
		}
		mustLethe(t, 0, "verify", "--expect", "zero", "--progress", "none", path)
		os.Remove(path)
	}
	if n := len(s.certFiles(t)); n != 2 {
		t.Fatalf("%d certificates, want 2", n)
	}
}

func TestParallelWipesAndJSONProgress(t *testing.T) {
	s := newStation(t)
	a, b := newLoop(t, 8<<20), newLoop(t, 6<<20+512)
	r := mustLethe(t, 0, append(s.wipeArgs(a.Path, b.Path), "--progress", "log", "--log-format", "json")...)
	files := s.certFiles(t)
	if len(files) != 2 {
		t.Fatalf("%d certificates for 2 drives", len(files))
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev["event"] == "progress" && ev["final"] == true {
			seen[ev["device"].(string)+"/"+ev["phase"].(string)] = true
		}
	}
	for _, dev := range []string{a.Path, b.Path} {
		if !seen[dev+"/overwrite"] || !seen[dev+"/verify"] {
			t.Fatalf("no final JSON progress events for %s: %v\n%s", dev, seen, r.stderr)
		}
	}
}

func sum(t *testing.T, l *testutil.Loop) [32]byte { return sha256.Sum256(l.ReadAll(t)) }

// refused runs a wipe that must be refused with exit 2, naming the device
// and the reason, with the data untouched.
func refused(t *testing.T, s station, l *testutil.Loop, reason string, extra ...string) {
	t.Helper()
	before := sum(t, l)
	r := lethe(t, s.wipeArgs(append(extra, l.Path)...)...)
	if r.code != 2 {
		t.Fatalf("want exit 2 (refused), got %s", r)
	}
	if !strings.Contains(r.stderr, l.Path) || !strings.Contains(r.stderr, reason) {
		t.Fatalf("refusal does not name %s and %q:\n%s", l.Path, reason, r)
	}
	if len(s.certFiles(t)) != 0 {
		t.Fatal("a refused wipe wrote a certificate")
	}
	if sum(t, l) != before {
		t.Fatal("a refused wipe changed the data")
	}
}

func TestGuards(t *testing.T) {
	testutil.RequireCommand(t, "mkfs.ext4")
	s := newStation(t)

	t.Run("mounted", func(t *testing.T) {
		l := newLoop(t, 32<<20)
		testutil.Run(t, "mkfs.ext4", "-q", l.Path)
		mnt := t.TempDir()
		testutil.Run(t, "mount", "-o", "ro", l.Path, mnt)
		defer testutil.Run(t, "umount", mnt)
		refused(t, s, l, "is mounted: "+mnt+" (ext4)")
		refused(t, s, l, "is mounted", "--force")
	})
	t.Run("mounted partition", func(t *testing.T) {
		testutil.RequireCommand(t, "sfdisk")
		l := newLoop(t, 64<<20, testutil.LoopOptions{Partscan: true})
		cmd := exec.Command("sfdisk", "-q", l.Path)
		cmd.Stdin = strings.NewReader("label: dos\n,16M,L\n,,L\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sfdisk: %v %s", err, out)
		}
		testutil.Run(t, "partx", "-u", l.Path)
		part := l.Path + "p1"
		testutil.Run(t, "mkfs.ext4", "-q", part)
		mnt := t.TempDir()
		testutil.Run(t, "mount", "-o", "ro", part, mnt)
		defer testutil.Run(t, "umount", mnt)
		refused(t, s, l, "on "+filepath.Base(part))
		// Naming the partition itself is refused too, with a pointer to
		// the whole drive.
		r := lethe(t, s.wipeArgs(part)...)
		if r.code != 2 || !strings.Contains(r.stderr, "is a partition of "+l.Path) {
			t.Fatalf("partition: %s", r)
		}
	})
	t.Run("swap", func(t *testing.T) {
		testutil.RequireCommand(t, "swapon")
		l := newLoop(t, 32<<20)
		testutil.Run(t, "mkswap", l.Path)
		testutil.Run(t, "swapon", l.Path)
		defer testutil.Run(t, "swapoff", l.Path)
		refused(t, s, l, "is active swap")
	})
	t.Run("read-only", func(t *testing.T) {
		l := newLoop(t, 8<<20, testutil.LoopOptions{ReadOnly: true})
		refused(t, s, l, "is read-only")
		refused(t, s, l, "is read-only", "--force")
	})
	t.Run("exclusive open", func(t *testing.T) {
		l := newLoop(t, 8<<20)
		fd, err := syscall.Open(l.Path, syscall.O_RDONLY|syscall.O_EXCL, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		refused(t, s, l, "open exclusively by another program")
	})
	t.Run("loop backing file", func(t *testing.T) {
		l := newLoop(t, 8<<20)
		before := sum(t, l)
		r := lethe(t, s.wipeArgs(l.File)...)
		if r.code != 2 || !strings.Contains(r.stderr, "is the backing file of "+l.Path) {
			t.Fatalf("backing file: %s", r)
		}
		if sum(t, l) != before {
			t.Fatal("data changed")
		}
	})
	t.Run("no device list", func(t *testing.T) {
		r := lethe(t, s.wipeArgs()...)
		if r.code != 2 || !strings.Contains(r.stderr, "touches nothing without an explicit list") {
			t.Fatalf("no devices: %s", r)
		}
	})
	t.Run("no confirmation", func(t *testing.T) {
		l := newLoop(t, 8<<20)
		before := sum(t, l)
		r := lethe(t, "wipe", "--key", s.key, "--cert-dir", s.certs, "--operator", "e2e", "--organization", "e2e-org", l.Path)
		if r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
			t.Fatalf("wipe without --yes on a non-terminal: %s", r)
		}
		if sum(t, l) != before {
			t.Fatal("data changed without confirmation")
		}
	})
}

// TestSystemDiskRefused checks the guard on the disk that holds this
// machine's root filesystem, with `lethe plan`, which never writes.
func TestSystemDiskRefused(t *testing.T) {
	testutil.RequireRoot(t)
	root := rootDevice(t)
	r := lethe(t, "plan", root)
	if r.code != 2 || !strings.Contains(r.stderr, "holds the running system's / filesystem") {
		t.Fatalf("plan %s (the root disk): %s", root, r)
	}
	// --all never includes it, and never includes loop devices.
	l := newLoop(t, 8<<20)
	r = lethe(t, "plan", "--all")
	if !strings.Contains(r.stdout, "skip: holds the running system's / filesystem") || !strings.Contains(r.stdout, l.Path+": skip: loop device") {
		t.Fatalf("plan --all: %s", r)
	}
}

// rootDevice finds the whole disk under "/" from lethe's own inventory.
func rootDevice(t *testing.T) string {
	t.Helper()
	list, err := devices.Discover()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if d.Usage.System != "" && strings.Contains(d.Usage.System, "/ filesystem") {
			return d.Path
		}
	}
	if testutil.InCI() {
		t.Fatal("no block device holds / on this CI machine")
	}
	t.Skip("the root filesystem is not on a block device here") // outside CI only: under CI=true InCI above fails
	return ""
}

func TestBadInput(t *testing.T) {
	s := newStation(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.img")
	os.WriteFile(empty, nil, 0o644)
	for _, tc := range []struct{ arg, want string }{
		{filepath.Join(dir, "missing"), "no such device or file"},
		{dir, "is a directory"},
		{empty, "has size 0"},
		{"/dev/null", "neither a block device nor a regular file"},
	} {
		r := lethe(t, s.wipeArgs(tc.arg)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, tc.arg) {
			t.Errorf("wipe %s: want exit 2 and %q, got %s", tc.arg, tc.want, r)
		}
	}
	for _, args := range [][]string{
		{"wipe", "--method", "gutmann", "x"},
		{"wipe", "--verify", "maybe", "x"},
		{"wipe", "--sample-percent", "0", "x"},
		{"wipe", "--bogus"},
		{"plan", "--all", "x"},
		{"frobnicate"},
	} {
		if r := lethe(t, args...); r.code != 2 {
			t.Errorf("lethe %v: want exit 2, got %s", args, r)
		}
	}
	// A signing key is required before anything is touched.
	l := newLoop(t, 4<<20)
	before := sum(t, l)
	if r := lethe(t, "wipe", "--yes", "--operator", "e2e", "--organization", "e2e-org", l.Path); r.code != 2 || !strings.Contains(r.stderr, "no signing key") {
		t.Errorf("wipe without a key: %s", r)
	}
	if sum(t, l) != before {
		t.Fatal("data changed")
	}
}

func TestPlanWritesNothing(t *testing.T) {
	l := newLoop(t, 8<<20)
	plantMarkers(t, l, 512)
	before := sum(t, l)
	r := mustLethe(t, 0, "plan", "--method", "dod", "--verify", "sample", l.Path)
	for _, want := range []string{l.Path, "Host overwrite", "clear", "passes     3: [zero one random]", "sampled read-back"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	if sum(t, l) != before {
		t.Fatal("plan changed the data")
	}
}

func TestCertificateTamperingCLI(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 4<<20)
	mustLethe(t, 0, s.wipeArgs("--job", "RMA-1234", l.Path)...)
	path, _ := onlyCert(t, s)
	mustLethe(t, 0, "cert", "verify", "--key", s.pub, path)
	show := mustLethe(t, 0, "cert", "show", "--key", s.pub, path)
	for _, want := range []string{"Signature  valid", "ERASED", "RMA-1234", l.File, "full read-back"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("cert show lacks %q", want)
		}
	}
	data, _ := os.ReadFile(path)
	var env sign.Envelope
	json.Unmarshal(data, &env)
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)

	write := func(name string, e sign.Envelope) string {
		b, _ := json.Marshal(e)
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	edited := env
	edited.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte(`"RMA-1234"`), []byte(`"RMA-1235"`), 1))
	sigFlip := env
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	sig[0] ^= 0x80
	sigFlip.Signatures = []sign.Signature{{KeyID: env.Signatures[0].KeyID, Sig: base64.StdEncoding.EncodeToString(sig)}}
	typed := env
	typed.PayloadType = "application/json"
	other := newStation(t)

	for _, tc := range []struct {
		name, file, key, want string
	}{
		{"payload byte", write("edited.json", edited), s.pub, "altered after signing"},
		{"signature", write("sig.json", sigFlip), s.pub, "does not match the content"},
		{"payload type", write("type.json", typed), s.pub, "payload type"},
		{"other key", path, other.pub, "not signed by a trusted key"},
	} {
		r := lethe(t, "cert", "verify", "--key", tc.key, tc.file)
		if r.code != 1 || !strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("%s: want exit 1 and %q, got %s", tc.name, tc.want, r)
		}
	}
	// One bad certificate among good ones fails the whole command.
	if r := lethe(t, "cert", "verify", "--key", s.pub, path, write("edited2.json", edited)); r.code != 1 || !strings.Contains(r.stdout, "OK") {
		t.Errorf("mixed verify: %s", r)
	}
	if r := lethe(t, "cert", "show", "--key", s.pub, write("edited3.json", edited)); r.code != 1 || !strings.Contains(r.stdout, "INVALID") {
		t.Errorf("show of a tampered certificate: %s", r)
	}
}

func TestVerifyCommand(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 16<<20)
	mustLethe(t, 0, s.wipeArgs(l.Path)...)
	cert, st := onlyCert(t, s)
	// Re-verify from the certificate: regenerates the random pass.
	r := mustLethe(t, 0, "verify", "--cert", cert, "--key", s.pub, "--progress", "none", l.Path)
	if !strings.Contains(r.stdout, "full read-back against random: passed") {
		t.Fatalf("verify --cert: %s", r)
	}
	// Sampled, with the seed an auditor chooses.
	seed := strings.Repeat("ab", 32)
	r = mustLethe(t, 0, "verify", "--cert", cert, "--key", s.pub, "--sample-percent", "10", "--sample-seed", seed, "--progress", "none", l.Path)
	if !strings.Contains(r.stdout, "sample read-back") || !strings.Contains(r.stdout, seed) {
		t.Fatalf("sampled verify: %s", r)
	}
	// Change one byte in LBA 9999: full verification finds exactly it.
	l.WriteAt(t, []byte{0x5a}, 9999*512+7)
	r = mustLethe(t, 1, "verify", "--cert", cert, "--key", s.pub, "--progress", "none", l.Path)
	if !strings.Contains(r.stdout, "LBA 9999-9999 (1 sector(s))") || !strings.Contains(r.stdout, "mismatched: 1 sector(s)") {
		t.Fatalf("verify after a one-byte change: %s", r)
	}
	if r := lethe(t, "verify", "--expect", "zero", "--progress", "none", l.Path); r.code != 1 {
		t.Fatalf("random device verified as zero: %s", r)
	}
	_ = st
}

func TestSampledVerificationCertificate(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 64<<20)
	seed := strings.Repeat("5c", 32)
	mustLethe(t, 0, s.wipeArgs("--verify", "sample", "--sample-percent", "12.5", "--sample-seed", seed, l.Path)...)
	_, st := onlyCert(t, s)
	v := st.Predicate.Verification
	if v.Scope != "sample" || v.Sample == nil || v.Sample.Seed != seed || v.Sample.Subsection != 1000 ||
		v.Coverage < 12.5 || v.Sample.Algorithm != wipe.SampleAlgorithm || st.Predicate.Status != wipe.StatusErased {
		t.Fatalf("sample verification record %+v", v)
	}
	// An auditor recomputes the positions from the certificate alone.
	again, err := wipe.NewSample(v.Sample.SizeBytes, v.Sample.UnitBytes, v.Sample.Percent, decodeHex(t, v.Sample.Seed))
	if err != nil || again.Units != v.Sample.Units || again.Bytes != v.Sample.Bytes {
		t.Fatalf("recomputed sample differs: %+v vs %+v (%v)", again, v.Sample, err)
	}
}

func decodeHex(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	for i := 0; i+1 < len(s); i += 2 {
		var x byte
		for _, c := range s[i : i+2] {
			x <<= 4
			switch {
			case c >= '0' && c <= '9':
				x |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				x |= byte(c - 'a' + 10)
			}
		}
		b = append(b, x)
	}
	return b
}

// TestInterruptWritesAbortedCertificate sends Ctrl-C mid-wipe.
func TestInterruptWritesAbortedCertificate(t *testing.T) {
	s := newStation(t)
	l := newLoop(t, 512<<20)
	cmd := exec.Command(letheBin, s.wipeArgs("--method", "dod", "--verify", "all", "--progress", "log", "--log-format", "json", l.Path)...)
	stderr, _ := cmd.StderrPipe()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), `"event":"start"`) {
			time.Sleep(300 * time.Millisecond)
			cmd.Process.Signal(os.Interrupt)
			break
		}
	}
	go func() {
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
	}()
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit %v after Ctrl-C, want 1\n%s\n%s", err, stdout.String(), log.String())
	}
	_, st := onlyCert(t, s)
	if st.Predicate.Status != wipe.StatusAborted || st.Predicate.Disposition != "re-sanitize" ||
		!strings.Contains(st.Predicate.StatusReason, "stopped by the operator") {
		t.Fatalf("certificate after Ctrl-C: %s / %s", st.Predicate.Status, st.Predicate.StatusReason)
	}
	if !strings.Contains(stdout.String(), "ABORTED") {
		t.Fatalf("output does not say ABORTED:\n%s", stdout.String())
	}
}

// TestWriteFaultsOnLoopDevice runs the engine against a real loop device
// wrapped in a fault injector: the failing ranges are retried, recorded,
// the drive is FAILED, and the signed certificate says so.
func TestWriteFaultsOnLoopDevice(t *testing.T) {
	l := newLoop(t, 16<<20)
	d, err := devices.Describe(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	target, err := wipe.Open(l.Path, wipe.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	faulty := &wipetest.Faulty{Target: target, WriteFaults: []wipetest.Fault{
		{Off: 1000 * 512, Len: 8 * 512},      // LBAs 1000-1007, permanently bad
		{Off: 20000 * 512, Len: 1, Times: 2}, // transient: heals after two failures
	}}
	m, _ := wipe.ResolveMethod("zero", nil, false)
	rep, err := wipe.Overwrite(context.Background(), wipe.Job{Target: faulty, Method: m, Verify: wipe.VerifyLast,
		IO: wipe.IOOptions{RetryDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != wipe.StatusFailed {
		t.Fatalf("status %s, want FAILED", rep.Status)
	}
	f := rep.Passes[0].Failed
	if len(f) != 1 || f[0].LBA != 1000 || f[0].Count != 8 {
		t.Fatalf("failed ranges %+v, want only LBA 1000 +8 (the transient fault was retried away)", f)
	}
	if faulty.FailedWrites < 3+8 {
		t.Fatalf("%d failed write attempts: retries missing", faulty.FailedWrites)
	}
	s := newStation(t)
	k, _ := sign.LoadPrivateKey(s.key)
	st, err := certstation.NewStatement(certstation.CertInput{Device: d, Report: rep, Tool: cert.Tool{Name: "lethe", Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := attest.Sign(st, sign.KeySigner{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := sign.LoadPublicKey(s.pub)
	v, err := attest.Verify(data, pub)
	if err != nil {
		t.Fatal(err)
	}
	p := v.Statement.Predicate
	if p.Status != wipe.StatusFailed || p.Disposition != "destroy" || p.Sanitization.Passes[0].Failed[0].LBA != 1000 {
		t.Fatalf("certificate %s %s %+v", p.Status, p.Disposition, p.Sanitization.Passes[0].Failed)
	}
}

// TestRelativePathAndOpenSSLVerification wipes an image named by a relative
// path, then checks the certificate with jq, base64 and openssl alone.
func TestRelativePathAndOpenSSLVerification(t *testing.T) {
	testutil.RequireCommand(t, "jq")
	testutil.RequireCommand(t, "openssl")
	s := newStation(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "disk.img"), bytes.Repeat([]byte{0xCC}, 1<<20), 0o644)
	cmd := exec.Command(letheBin, s.wipeArgs("disk.img")...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wipe of a relative path: %v\n%s", err, out)
	}
	cert, st := onlyCert(t, s)
	if st.Predicate.Media.Path != filepath.Join(dir, "disk.img") {
		t.Fatalf("certificate names %q, want the absolute path", st.Predicate.Media.Path)
	}
	script, _ := filepath.Abs("../scripts/verify-with-openssl.sh")
	out, err := exec.Command(script, cert, s.pub).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\nOK: ERASED") {
		t.Fatalf("openssl verification: %v\n%s", err, out)
	}
	other := newStation(t)
	if out, err := exec.Command(script, cert, other.pub).CombinedOutput(); err == nil {
		t.Fatalf("openssl verification accepted another key:\n%s", out)
	}
	data, _ := os.ReadFile(cert)
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, bytes.Replace(data, []byte(`"payload": "e`), []byte(`"payload": "f`), 1), 0o644)
	if out, err := exec.Command(script, bad, s.pub).CombinedOutput(); err == nil {
		t.Fatalf("openssl verification accepted a tampered payload:\n%s", out)
	}
}
