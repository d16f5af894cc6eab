// Package tests holds lethe's end-to-end tests: the real binary against
// loop devices the tests create (and, elsewhere, QEMU guests).
package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/testutil"
)

// letheBin is the binary under test, built once by TestMain.
var letheBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lethe-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	letheBin = filepath.Join(dir, "lethe")
	// -trimpath, as make build does: the binary records no GOROOT, which is
	// what technicians run (lethe image build must still find Go).
	build := exec.Command("go", "build", "-trimpath", "-o", letheBin, "-ldflags", "-X main.version=e2e-test", "../cmd/lethe")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build lethe:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the lethe binary.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// lethe runs the binary with args (stdin empty, not a terminal).
func lethe(t testing.TB, args ...string) result {
	t.Helper()
	cmd := exec.Command(letheBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// An empty configuration: this machine's /etc/lethe/lethe.yaml (if
	// any) must not change what the tests see.
	cmd.Env = append(os.Environ(), "LETHE_KEY=", "LETHE_CONFIG=/dev/null")
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run lethe: %v", err)
	}
	return result{out.String(), errb.String(), code}
}

// mustLethe runs lethe and fails the test unless it exits with code.
func mustLethe(t testing.TB, code int, args ...string) result {
	t.Helper()
	r := lethe(t, args...)
	if r.code != code {
		t.Fatalf("lethe %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

// station is a signing key pair and certificate directory for a test.
type station struct {
	key, pub, certs string
}

func newStation(t testing.TB) station {
	t.Helper()
	dir := t.TempDir()
	mustLethe(t, 0, "keygen", "--out", dir)
	return station{key: filepath.Join(dir, "lethe.key"), pub: filepath.Join(dir, "lethe.pub"), certs: filepath.Join(dir, "certs")}
}

// wipeArgs are the flags every test wipe uses.
func (s station) wipeArgs(extra ...string) []string {
	return append([]string{"wipe", "--yes", "--key", s.key, "--cert-dir", s.certs, "--operator", "e2e", "--organization", "e2e-org", "--progress", "none"}, extra...)
}

// certs returns the certificate files written so far.
func (s station) certFiles(t testing.TB) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(s.certs, "*.cert.json"))
	return m
}

func newLoop(t testing.TB, size int64, opt ...testutil.LoopOptions) *testutil.Loop {
	t.Helper()
	var o testutil.LoopOptions
	if len(opt) > 0 {
		o = opt[0]
	}
	return testutil.NewLoop(t, size, o)
}
