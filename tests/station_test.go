package tests

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/testutil"
)

// stationRun is a `lethe station` running in the background; its output
// lines are collected as they come.
type stationRun struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	cond chan struct{}
	done chan error
}

func startStation(t *testing.T, args ...string) *stationRun {
	t.Helper()
	s := &stationRun{cond: make(chan struct{}, 1), done: make(chan error, 1)}
	s.cmd = exec.Command(letheBin, append([]string{"station"}, args...)...)
	s.cmd.Env = append(os.Environ(), "LETHE_KEY=", "LETHE_CONFIG=")
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case s.cond <- struct{}{}:
			default:
			}
		}
	}()
	go func() { err := s.cmd.Wait(); pw.Close(); s.done <- err }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
		}
	})
	return s
}

func (s *stationRun) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// waitFor waits until the output contains want.
func (s *stationRun) waitFor(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for !strings.Contains(s.output(), want) {
		select {
		case <-s.cond:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("station output lacks %q after %s:\n%s", want, timeout, s.output())
		}
	}
}

// TestStationLoopDevices runs lethe station while loop devices are
// attached and detached: a drive present at start is not touched, an
// inserted drive is wiped (certificate and PDF beside it) and its slot
// frees when it is detached, and a drive emptied during its wipe (the
// medium pulled: its size drops to 0) gets an ABORTED certificate. The
// station serves only this test's loop devices (--only on their backing
// files): other loop devices on the machine are never touched.
func TestStationLoopDevices(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStation(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lethe.yaml")
	os.WriteFile(cfg, []byte("key: "+s.key+"\ncert-dir: "+s.certs+"\noperator: Station Tech\norganization: Test Org\n"), 0o600)
	disks := t.TempDir()
	only := filepath.Join(disks, "*")
	pattern := []byte("CUSTOMER DATA ")
	fill := func(l *testutil.Loop) {
		if err := os.WriteFile(l.File, bytes.Repeat(pattern, int(l.Size)/len(pattern)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := newLoop(t, 8<<20, testutil.LoopOptions{Dir: disks})
	fill(before)

	// Without operator and organization the station refuses to start.
	r := lethe(t, "station", "--key", s.key, "--cert-dir", s.certs, "--only", only, "--count", "1")
	if r.code != 2 || !strings.Contains(r.stderr, "no operator and organization") {
		t.Fatalf("anonymous station: %s", r)
	}

	printed := t.TempDir()
	st := startStation(t, "--config", cfg, "--screen", "lines", "--only", only, "--count", "2", "--method", "random",
		"--print-cmd", "cp -t "+printed)
	st.waitFor(t, "station ready", 20*time.Second)

	a := newLoop(t, 16<<20, testutil.LoopOptions{Dir: disks})
	st.waitFor(t, filepath.Base(a.Path)+" inserted", 20*time.Second)
	st.waitFor(t, "slot "+filepath.Base(a.Path)+": ERASED - REMOVE DRIVE", 60*time.Second)
	// A big, slow wipe (a full random pass and read-back), attached while
	// a is still in its slot (so the two have different names), and pulled
	// once it writes.
	b := newLoop(t, 256<<20, testutil.LoopOptions{Dir: disks})
	st.waitFor(t, "wiping "+filepath.Base(b.Path), 30*time.Second)
	st.waitFor(t, "slot "+filepath.Base(b.Path)+": overwrite", 30*time.Second)
	if out, err := exec.Command("losetup", "-d", a.Path).CombinedOutput(); err != nil {
		t.Fatalf("detach: %v %s", err, out)
	}
	st.waitFor(t, filepath.Base(a.Path)+" removed", 20*time.Second)
	if err := os.Truncate(b.File, 0); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("losetup", "-c", b.Path).CombinedOutput(); err != nil {
		t.Fatalf("losetup -c: %v %s", err, out)
	}
	select {
	case err := <-st.done:
		if err != nil {
			t.Fatalf("station: %v\n%s", err, st.output())
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("station did not stop after two drives:\n%s", st.output())
	}
	out := st.output()
	if strings.Contains(out, "lethe: stopping") {
		t.Errorf("a stopping message without an interrupt:\n%s", out)
	}
	certs := s.certFiles(t)
	if len(certs) != 2 {
		t.Fatalf("%d certificates, want 2: %v\n%s", len(certs), certs, out)
	}
	var statuses []string
	for _, c := range certs {
		p := readCert(t, s, c).Predicate // verifies the signature too
		cs := struct{ Status, Reason, Serial string }{string(p.Status), p.StatusReason, p.Media.BackingFile}
		statuses = append(statuses, cs.Status)
		if p.Personnel.Operator != "Station Tech" || p.Personnel.Organization != "Test Org" {
			t.Errorf("%s: personnel %+v", c, p.Personnel)
		}
		if _, err := os.Stat(strings.TrimSuffix(c, ".cert.json") + ".pdf"); err != nil {
			t.Errorf("no PDF beside %s", c)
		}
		switch cs.Serial {
		case a.File:
			if cs.Status != "ERASED" {
				t.Errorf("inserted drive: %s (%s)", cs.Status, cs.Reason)
			}
		case b.File:
			if cs.Status != "ABORTED" || !strings.Contains(cs.Reason, "removed") {
				t.Errorf("pulled drive: %s (%s)", cs.Status, cs.Reason)
			}
		default:
			t.Errorf("certificate for %q", cs.Serial)
		}
	}
	// Each certificate's PDF went to the "printer".
	if m, _ := filepath.Glob(filepath.Join(printed, "*.pdf")); len(m) != 2 {
		t.Errorf("%d PDFs printed, want 2:\n%s", len(m), out)
	}
	// The drive present at start still holds its data.
	data, err := os.ReadFile(before.File)
	if err != nil || !bytes.Equal(data[:len(pattern)], pattern) || !bytes.Equal(data[len(data)-len(pattern):], pattern) {
		t.Errorf("the drive present at start was changed")
	}
	t.Logf("statuses %v", statuses)
}
