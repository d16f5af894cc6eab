//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const capturesDir = "../../internal/devices/testdata/captures"

// `lethe plan --capture` replays a captured drive through the probe and
// planner and prints it as `lethe plan` does.
func TestPlanCapture(t *testing.T) {
	run := func(args ...string) (string, error) {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"plan"}, args...))
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run("--capture", capturesDir+"/sata-ssd-wdc-wds400t2b0a")
	if err != nil || !strings.Contains(out, "technique  ATA SANITIZE, BLOCK ERASE EXT -> PURGE") || !strings.Contains(out, "native max UNKNOWN") {
		t.Fatalf("%v\n%s", err, out)
	}
	// purge-or-fail on a drive that offers only Clear: exit status 1.
	out, err = run("--capture", capturesDir+"/sata-ssd-samsung-840evo", "--policy", "purge-or-fail")
	if err == nil || exitCode(err) != 1 || !strings.Contains(out, "REFUSED") {
		t.Fatalf("purge-or-fail: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	// A directory of captures, as JSON.
	out, err = run("--capture", capturesDir, "--json")
	if err != nil && exitCode(err) != 1 {
		t.Fatal(err)
	}
	var plans []struct {
		Capture string `json:"capture"`
		Plan    struct {
			Technique struct {
				ID string `json:"id"`
			} `json:"technique"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &plans); err != nil || len(plans) < 30 {
		t.Fatalf("%d plans, %v", len(plans), err)
	}
	if _, err := run("--capture", capturesDir, "/dev/sda"); exitCode(err) != 2 { // refused as a usage error before any device is opened
		t.Fatalf("--capture with a device: %v", err)
	}
	if _, err := run("--capture", t.TempDir()); exitCode(err) != 2 {
		t.Fatalf("an empty directory: %v", err)
	}
}
