package wipe_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/probe"
	"github.com/lethe-project/lethe/internal/devices/simdisk"
	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/internal/wipe/wipetest"
)

// rig is one simulated drive with everything Execute needs: the device
// description, the host block device (a Target over the simulator's host
// I/O), and firmware options whose transport is the simulator.
type rig struct {
	t      *testing.T
	dev    *devices.Device
	target wipe.Target
	fo     wipe.FirmwareOptions
	disk   *simdisk.Disk
	// notes collects the operator messages.
	mu    sync.Mutex
	notes []string
	old   []byte // the customer data written before the erase
}

func newRig(t *testing.T, dev *devices.Device, rw wipetest.ReadWriterAt, disk *simdisk.Disk, open func() *probe.Handle) *rig {
	t.Helper()
	r := &rig{t: t, dev: dev, disk: disk}
	r.target = &wipetest.Over{RW: rw, Bytes: dev.SizeBytes, Sector: dev.LogicalSectorSize}
	r.fo = wipe.FirmwareOptions{
		StateDir:     t.TempDir(),
		Open:         func(*devices.Device) (*probe.Handle, error) { return open(), nil },
		PollInterval: time.Millisecond,
		ProofSeed:    bytes.Repeat([]byte{7}, 32),
		Notify: func(s string) {
			r.mu.Lock()
			r.notes = append(r.notes, s)
			r.mu.Unlock()
		},
	}
	// Customer data: random, so every fingerprint is informative.
	r.old = make([]byte, dev.SizeBytes)
	rand.Read(r.old)
	if _, err := rw.WriteAt(r.old, 0); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) plan(req wipe.Request) wipe.Plan {
	r.t.Helper()
	if req.Method.Name == "" {
		req.Method, _ = wipe.ResolveMethod("zero", nil, false)
	}
	caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
	if caps.ProbeError != "" {
		r.t.Fatalf("probe: %s", caps.ProbeError)
	}
	return wipe.NewPlan(r.dev, caps, req)
}

func (r *rig) execute(ctx context.Context, p wipe.Plan, opt wipe.ExecOptions) *wipe.Report {
	r.t.Helper()
	if opt.Verify == "" {
		opt.Verify = wipe.VerifyLast
	}
	opt.Firmware = r.fo
	rep, err := wipe.Execute(ctx, r.dev, r.target, p, opt)
	if err != nil {
		r.t.Fatalf("execute: %v", err)
	}
	return rep
}

func (r *rig) run(req wipe.Request) *wipe.Report {
	r.t.Helper()
	p := r.plan(req)
	if p.Refusal != "" {
		r.t.Fatalf("plan refused: %s\n%s", p.Refusal, strings.Join(p.Decision, "\n"))
	}
	return r.execute(context.Background(), p, wipe.ExecOptions{})
}

// oldDataOnMedium reports whether any 4 KiB block of the medium (raw, under
// the deallocation map) still holds the customer data written at that
// offset.
func (r *rig) oldDataOnMedium() int {
	r.t.Helper()
	buf := make([]byte, 4096)
	n := 0
	for off := int64(0); off < r.dev.SizeBytes; off += 4096 {
		if _, err := r.disk.RawReadAt(buf, off); err != nil {
			r.t.Fatal(err)
		}
		if bytes.Equal(buf, r.old[off:off+4096]) {
			n++
		}
	}
	return n
}

func (r *rig) jobFiles() []string {
	m, _ := filepath.Glob(filepath.Join(r.fo.StateDir, "jobs", "*.json"))
	return m
}

func (r *rig) notesJoined() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.notes, "\n")
}

func purge() wipe.Request { return wipe.Request{Policy: wipe.PolicyPurge} }

func requireStatus(t *testing.T, rep *wipe.Report, want wipe.Status, reason ...string) {
	t.Helper()
	if rep.Status != want {
		t.Fatalf("status %s (%s), want %s\n%s", rep.Status, rep.StatusReason, want, dump(rep))
	}
	for _, r := range reason {
		if !strings.Contains(rep.StatusReason, r) {
			t.Fatalf("status reason %q lacks %q", rep.StatusReason, r)
		}
	}
}

func dump(rep *wipe.Report) string {
	var b strings.Builder
	for _, d := range rep.Decision {
		b.WriteString("decision: " + d + "\n")
	}
	if f := rep.Firmware; f != nil {
		for _, c := range f.Commands {
			b.WriteString("cmd: " + c.Name + " " + c.Params + " -> " + c.Result + "\n")
		}
		for _, o := range f.Observations {
			b.WriteString("obs: " + o.State + " " + o.Detail + "\n")
		}
		for _, n := range f.Notes {
			b.WriteString("note: " + n + "\n")
		}
		if f.Proof != nil {
			b.WriteString("proof: " + f.Proof.Result + " " + strings.Join(f.Proof.Problems, "; ") + "\n")
		}
	}
	return b.String()
}

func commandNames(rep *wipe.Report) []string {
	var n []string
	for _, c := range rep.Firmware.Commands {
		n = append(n, c.Name+" "+c.Params)
	}
	return n
}

func hasCommand(rep *wipe.Report, sub string) bool {
	for _, c := range commandNames(rep) {
		if strings.Contains(c, sub) {
			return true
		}
	}
	return false
}

func asRefused(err error, re **wipe.RefusedError) bool { return errors.As(err, re) }
