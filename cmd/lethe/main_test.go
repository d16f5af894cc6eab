//go:build linux

package main

import (
	"time"

	"bytes"
	"errors"
	"fmt"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/devices"
)

func TestConfirm(t *testing.T) {
	cfg, err := station.DefaultOptions().Parse()
	if err != nil {
		t.Fatal(err)
	}
	drives := []station.Drive{
		{Device: &devices.Device{Path: "/dev/sdq", Model: "WDC WD10EZEX", Serial: "WD-1234", SizeBytes: 1 << 40, Transport: devices.TransportSATA, Media: devices.MediaHDD}, // fixture: never opened
			Plan: wipe.Plan{Technique: wipe.Technique{ID: wipe.TechOverwrite, Name: "Host overwrite of every user-addressable LBA"}, Category: "clear", Method: wipe.Method{Name: "random", Passes: []string{"random"}}}},
		{Device: &devices.Device{Path: "/dev/nvme9n1", Model: "SAMSUNG PM9A3", Serial: "S64X", SizeBytes: 2 << 40, Transport: devices.TransportNVMe, Media: devices.MediaSSD}, // fixture: never opened
			Plan: wipe.Plan{Technique: wipe.Technique{ID: "nvme-sanitize-crypto", Name: "NVMe Sanitize, Crypto Erase"}, Category: "purge", Estimate: 90 * time.Second}},
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{{"yes\n", true}, {" yes \n", true}, {"y\n", false}, {"no\n", false}, {"", false}, {"YES\n", false}} {
		var out bytes.Buffer
		err := confirm(strings.NewReader(tc.in), &out, drives, cfg, "ERASE")
		if (err == nil) != tc.ok {
			t.Errorf("answer %q: err %v", tc.in, err)
		}
		if err != nil && exitCode(err) != exitUsage {
			t.Errorf("answer %q: exit code %d, want %d", tc.in, exitCode(err), exitUsage)
		}
		for _, want := range []string{"/dev/sdq", "WDC WD10EZEX", "WD-1234", "1.0 TiB", "ERASE ALL DATA", // fixture: never opened
			"Host overwrite of every user-addressable LBA -> CLEAR", "takes about 4:04:20 (1 pass(es) and the read-back, assuming ~150 MB/s for a hard disk)",
			"can be stopped: Ctrl-C", "NVMe Sanitize, Crypto Erase -> PURGE", "takes about 1:30 (the drive's own estimate)", "CANNOT be stopped once started"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("prompt lacks %q:\n%s", want, out.String())
			}
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, 0},
		{usageErr("x"), 2},
		{failed("x"), 1},
		{&devices.Refusal{Device: "/dev/x", Detail: "mounted"}, 2},
		{fmt.Errorf("wrapped: %w", &devices.Refusal{Device: "/dev/x"}), 2},
		{&devices.InputError{Path: "/x", Reason: "missing"}, 2},
		{&attest.VerifyError{Problems: []string{"bad"}}, 1},
		{errors.New("I/O error"), 1},
	} {
		if got := exitCode(tc.err); got != tc.code {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}
