// Package testutil holds helpers for lethe's tests: scratch loop devices
// that a test creates and detaches itself, and the rule that integration
// tests run (or fail) in CI instead of skipping.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where every
// integration test must run: a missing prerequisite is a failure there.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireRoot stops a test that needs root: it fails in CI and skips on a
// developer machine.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("this integration test needs root; CI runs as root, so this is a CI setup error")
	}
	t.Skip("needs root (loop devices); runs in CI") // outside CI only: under CI=true the check above fails
}

// RequireCommand stops a test whose external program is missing: a
// failure in CI (.ci/run installs it), a skip elsewhere.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if InCI() {
		t.Fatalf("%s not found: .ci/run must install it", name)
	}
	t.Skipf("%s not installed", name) // outside CI only: under CI=true InCI above fails
	return ""
}

// Run runs a command and fails the test if it fails, returning stdout.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// LoopOptions configures a scratch loop device.
type LoopOptions struct {
	// SectorSize is the logical block size (512 or 4096; 0 = 512).
	SectorSize int
	// ReadOnly attaches the device read-only.
	ReadOnly bool
	// DirectIO attaches with --direct-io=on so I/O bypasses the backing
	// file's page cache.
	DirectIO bool
	// Partscan attaches with -P so the kernel scans a partition table.
	Partscan bool
	// Dir holds the backing file (default t.TempDir()).
	Dir string
	// Offset and SizeLimit attach a window of the file (losetup -o,
	// --sizelimit), in bytes; 0 means none.
	Offset, SizeLimit int64
}

// Loop is a scratch loop device backed by a file the test owns.
type Loop struct {
	// Path is exactly what `losetup -f --show` printed.
	Path string
	// File is the backing file.
	File string
	// Size is the device's size; FileSize the backing file's (they differ
	// for a window attached with Offset or SizeLimit).
	Size, FileSize int64
}

// NewLoop creates a backing file of size bytes and attaches it with
// `losetup -f --show`, using exactly the path losetup printed. The device
// is detached and the file removed when the test ends. It needs root.
func NewLoop(t testing.TB, size int64, opt LoopOptions) *Loop {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "losetup")
	dir := opt.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	f, err := os.CreateTemp(dir, "lethe-loop-*.img")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	args := []string{"-f", "--show"}
	if opt.SectorSize != 0 {
		args = append(args, "-b", fmt.Sprint(opt.SectorSize))
	}
	if opt.ReadOnly {
		args = append(args, "-r")
	}
	if opt.DirectIO {
		args = append(args, "--direct-io=on")
	}
	if opt.Partscan {
		args = append(args, "-P")
	}
	devSize := size
	if opt.Offset != 0 {
		args = append(args, "-o", fmt.Sprint(opt.Offset))
		devSize -= opt.Offset
	}
	if opt.SizeLimit != 0 {
		args = append(args, "--sizelimit", fmt.Sprint(opt.SizeLimit))
		devSize = min(devSize, opt.SizeLimit)
	}
	args = append(args, f.Name())
	path := strings.TrimSpace(Run(t, "losetup", args...))
	if !strings.HasPrefix(path, "/dev/loop") {
		t.Fatalf("losetup printed %q, not a loop device", path)
	}
	l := &Loop{Path: path, File: f.Name(), Size: devSize, FileSize: size}
	t.Cleanup(func() { l.Detach(t) })
	return l
}

// Detach detaches the loop device if it is still attached to our file.
func (l *Loop) Detach(t testing.TB) {
	bf, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(l.Path), "loop/backing_file"))
	if err != nil || strings.TrimSpace(string(bf)) != l.File {
		return // already detached, or reused for another file: not ours
	}
	if out, err := exec.Command("losetup", "-d", l.Path).CombinedOutput(); err != nil {
		t.Errorf("detach %s: %v: %s", l.Path, err, out)
	}
}

// WriteAt writes data into the device through the backing file's path
// (buffered), then flushes it, for planting test data.
func (l *Loop) WriteAt(t testing.TB, data []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(l.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// ReadAll reads the whole device with O_DIRECT-free buffered reads after
// dropping its page cache, so the result reflects the medium.
func (l *Loop) ReadAll(t testing.TB) []byte {
	t.Helper()
	Run(t, "blockdev", "--flushbufs", l.Path)
	data, err := os.ReadFile(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
