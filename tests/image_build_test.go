package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageBuildFindsGo runs `lethe image build` from a -trimpath binary
// (as make build makes it), which records no GOROOT: without Go on PATH it
// must say what it needs; with Go on PATH it must get past the toolchain
// (here it then stops at the missing kernel package, before any download).
func TestImageBuildFindsGo(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go not on PATH")
	}
	out := t.TempDir()
	run := func(path string) result {
		cmd := exec.Command(letheBin, "image", "build", "--out", out, "--kernel-deb", filepath.Join(out, "missing.deb"), "--source", "..")
		var env []string
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "PATH=") && !strings.HasPrefix(e, "GOROOT=") {
				env = append(env, e)
			}
		}
		cmd.Env = append(env, "PATH="+path)
		b, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{stderr: string(b), code: code}
	}
	r := run("/nonexistent")
	if r.code == 0 || !strings.Contains(r.stderr, "needs the Go toolchain") || strings.Contains(r.stderr, "bin/go: no such file") {
		t.Errorf("without go on PATH: %s", r)
	}
	r = run(filepath.Dir(goBin) + ":/usr/bin:/bin")
	if r.code == 0 || strings.Contains(r.stderr, "Go toolchain") || !strings.Contains(r.stderr, "missing.deb") {
		t.Errorf("with go on PATH: want the kernel step's error, got %s", r)
	}
}
