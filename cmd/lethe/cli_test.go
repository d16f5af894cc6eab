//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"wipe", "--metod", "zero"}, "did you mean --method?"},
		{[]string{"wipe", "--opertor", "x"}, "did you mean --operator?"},
		{[]string{"devices", "--wdie"}, "did you mean --wide?"},
		{[]string{"cert", "verfy", "x"}, `did you mean "verify"?`},
		{[]string{"audit", "sreve"}, `did you mean "serve"?`},
		{[]string{"cert", "zzzzzz"}, "its commands are pdf, show, verify"},
	} {
		_, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lethe %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
		if code := exitCode(err); code != exitUsage {
			t.Errorf("lethe %s: exit %d", strings.Join(tc.args, " "), code)
		}
	}
	if _, err := runCLI(t, "wpie"); err == nil || !strings.Contains(err.Error(), "Did you mean this?") {
		t.Errorf("lethe wpie: %v", err)
	}
	if out, err := runCLI(t, "cert"); err != nil || !strings.Contains(out, "Available Commands") {
		t.Errorf("lethe cert alone: %v\n%s", err, out)
	}
}

func TestManAndCompletion(t *testing.T) {
	dir := t.TempDir()
	if _, err := runCLI(t, "man", "--out", dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "lethe-wipe.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), ".TH \"LETHE\"") || !strings.Contains(string(page), "operator") {
		t.Errorf("lethe-wipe.1:\n%.500s", page)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, err := runCLI(t, "completion", sh)
		if err != nil || !strings.Contains(out, "lethe") || len(out) < 1000 {
			t.Errorf("completion %s: %v (%d bytes)", sh, err, len(out))
		}
	}
}
