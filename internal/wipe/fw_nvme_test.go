package wipe_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/nvme/nvmesim"
	"github.com/lethe-project/lethe/internal/devices/probe"
	"github.com/lethe-project/lethe/internal/wipe"
)

// nvmeRig is an NVMe SSD behind nvmesim with namespace 1 as the block device.
func nvmeRig(t *testing.T, cfg nvmesim.Config, wrap ...func(nvme.Transport) nvme.Transport) (*rig, *nvmesim.Controller) {
	t.Helper()
	if cfg.Serial == "" {
		cfg.Serial = "NVMESIM01"
	}
	sim := nvmesim.MustNew(cfg)
	ns := sim.Namespace(1)
	bs := int(ns.Formats[ns.Format].BlockSize())
	dev := &devices.Device{Path: "/dev/sim-nvme0n1", Name: "sim-nvme0n1", Kind: devices.KindDisk, Transport: devices.TransportNVMe,
		Media: devices.MediaSSD, SizeBytes: ns.Disk.Size(), LogicalSectorSize: bs, PhysicalSectorSize: bs,
		Model: "lethe nvmesim", Serial: cfg.Serial}
	var tr nvme.Transport = sim
	for _, w := range wrap {
		tr = w(tr)
	}
	r := newRig(t, dev, ns, ns.Disk, func() *probe.Handle { return probe.NewNVMeHandle(dev.Path, tr, 1, nil) })
	return r, sim
}

// The actions themselves run in the shared suite (fwsuite_test.go); here
// the NVMe specifics: the estimates and NDAS parameters, and NDI, where
// the controller deallocates and DLFEAT says what deallocated blocks read.
func TestNVMeSanitizeEachAction(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sanicap uint32
		tech    wipe.TechniqueID
		expect  string // proof expectation
		scope   string // read-back scope
		dealloc bool
	}{
		{"overwrite", 0x4, wipe.TechNVMeSanitizeOverw, "pattern", "full", false},
		// NDI: the controller deallocates; DLFEAT says deallocated blocks
		// read zeros, so zeros are checked everywhere.
		{"block NDI", 0x2 | 1<<29, wipe.TechNVMeSanitizeBlock, "zero", "full", true},
		{"crypto NDI", 0x1 | 1<<29, wipe.TechNVMeSanitizeCrypto, "zero", "full", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, sim := nvmeRig(t, nvmesim.Config{SANICAP: tc.sanicap, OACS: nvmesim.OACSFormat, BlockEraseFill: 0x5a,
				ETBE: 120, ETCE: 5, ETO: 3600, ETBEND: 130, ETCEND: 6, ETOND: 3700})
			p := r.plan(purge())
			if p.Technique.ID != tc.tech || p.Category != wipe.CategoryPurge || p.Estimate == 0 {
				t.Fatalf("plan %s (%s), estimate %s", p.Technique.ID, p.Category, p.Estimate)
			}
			rep := r.execute(context.Background(), p, wipe.ExecOptions{})
			requireStatus(t, rep, wipe.StatusErased, "none of 64 canaries survived")
			f := rep.Firmware
			if !f.InProgressSeen || !strings.HasPrefix(f.Completion, "observed") || f.Proof.Result != "passed" ||
				f.Proof.Expect.Kind != tc.expect || rep.Verification.Scope != tc.scope || f.Proof.Deallocated != tc.dealloc {
				t.Fatalf("seen %v completion %q proof %s expect %s scope %s dealloc %v\n%s", f.InProgressSeen, f.Completion,
					f.Proof.Result, f.Proof.Expect.Kind, rep.Verification.Scope, f.Proof.Deallocated, dump(rep))
			}
			if tc.scope == "full" && (rep.Verification.Result != wipe.VerifyPassed || rep.Verification.Coverage != 100) {
				t.Fatalf("read-back %+v", rep.Verification)
			}
			if tc.scope == "none" && !strings.Contains(f.VerificationNote, "no read-back pattern") {
				t.Fatalf("note: %q", f.VerificationNote)
			}
			if !hasCommand(rep, "Sanitize CDW10") || f.EstimateSeconds == 0 || f.TimeoutSeconds < f.EstimateSeconds {
				t.Fatalf("commands %v estimate %v timeout %v", commandNames(rep), f.EstimateSeconds, f.TimeoutSeconds)
			}
			wantNDAS := "NDAS=1"
			if tc.dealloc {
				wantNDAS = "NDAS=0"
			}
			if !strings.Contains(strings.Join(f.Parameters, " "), wantNDAS) {
				t.Fatalf("parameters %v, want %s", f.Parameters, wantNDAS)
			}
			if n := r.oldDataOnMedium(); n != 0 {
				t.Fatalf("%d blocks of customer data left on the medium", n)
			}
			if len(r.jobFiles()) != 0 {
				t.Fatalf("job state left behind: %v", r.jobFiles())
			}
			if sim.Sanitizing() {
				t.Fatal("still sanitizing")
			}
		})
	}
}

// dropSanitize acknowledges Sanitize without passing it on: the command is
// "accepted" and nothing happens.
type dropSanitize struct{ nvme.Transport }

func (d dropSanitize) Admin(ctx context.Context, c *nvme.Command) (*nvme.Completion, error) {
	if c.Opcode == nvme.OpSanitize {
		return &nvme.Completion{}, nil
	}
	return d.Transport.Admin(ctx, c)
}

func formatCommands(rep *wipe.Report) []string {
	var out []string
	for _, c := range rep.Firmware.Commands {
		if c.Name == "Format NVM" {
			out = append(out, c.Params)
		}
	}
	return out
}

func TestNVMeFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  nvmesim.Config
		tech wipe.TechniqueID
		cat  wipe.Category
		cmd  string // Format NVM parameters sent
	}{
		// QEMU: OACS Format, FNA=0, SANICAP=0: only SES=1, which is Clear.
		{"ses1 qemu-like", nvmesim.Config{OACS: nvmesim.OACSFormat, IgnoreSES: true}, wipe.TechNVMeFormatUserData, wipe.CategoryClear, "NSID=0x1 CDW10=0x00000200"},
		{"ses1", nvmesim.Config{OACS: nvmesim.OACSFormat}, wipe.TechNVMeFormatUserData, wipe.CategoryClear, "NSID=0x1 CDW10=0x00000200"},
		{"ses2 with FNA bit 2", nvmesim.Config{OACS: nvmesim.OACSFormat, FNA: 0x4}, wipe.TechNVMeFormatCrypto, wipe.CategoryPurge, "NSID=0x1 CDW10=0x00000400"},
		// FNA bit 0: the format applies to all namespaces: broadcast.
		{"ses2 broadcast", nvmesim.Config{OACS: nvmesim.OACSFormat, FNA: 0x5}, wipe.TechNVMeFormatCrypto, wipe.CategoryPurge, "NSID=0xffffffff CDW10=0x00000400"},
		// The 4 KiB LBA format in use is kept (LBAF 1).
		{"keeps 4k format", nvmesim.Config{OACS: nvmesim.OACSFormat, Namespaces: []nvmesim.NamespaceConfig{{Format: 1}}}, wipe.TechNVMeFormatUserData, wipe.CategoryClear, "NSID=0x1 CDW10=0x00000201"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := nvmeRig(t, tc.cfg)
			p := r.plan(purge())
			if p.Technique.ID != tc.tech || p.Category != tc.cat {
				t.Fatalf("plan %s (%s)\n%s", p.Technique.ID, p.Category, strings.Join(p.Decision, "\n"))
			}
			if tc.cat == wipe.CategoryClear && !strings.Contains(strings.Join(p.Decision, "\n"), "FNA bit 2 clear") {
				t.Fatalf("the fallback to Clear is not explained:\n%s", strings.Join(p.Decision, "\n"))
			}
			rep := r.execute(context.Background(), p, wipe.ExecOptions{})
			requireStatus(t, rep, wipe.StatusErased, "a full read-back matched zeros")
			if got := formatCommands(rep); len(got) != 1 || got[0] != tc.cmd {
				t.Fatalf("Format NVM sent %v, want %s", got, tc.cmd)
			}
			f := rep.Firmware
			if rep.Category != tc.cat || !f.Proof.Deallocated || f.Proof.Expect.Kind != "zero" || r.oldDataOnMedium() != 0 {
				t.Fatalf("category %s dealloc %v expect %s", rep.Category, f.Proof.Deallocated, f.Proof.Expect.Kind)
			}
		})
	}
}

// Without FNA bit 2 lethe never sends SES=2, even where the controller
// would accept it (QEMU), and even when a plan names it.
func TestNVMeFormatCryptoNeedsFNA(t *testing.T) {
	r, sim := nvmeRig(t, nvmesim.Config{OACS: nvmesim.OACSFormat, IgnoreSES: true})
	p := r.plan(wipe.Request{Policy: wipe.PolicyPurge, Technique: wipe.TechNVMeFormatCrypto})
	if !strings.Contains(p.Refusal, "FNA bit 2 clear") {
		t.Fatalf("refusal %q", p.Refusal)
	}
	forced := wipe.Plan{Technique: mustTechnique(wipe.TechNVMeFormatCrypto), Category: wipe.CategoryPurge}
	_, err := wipe.Execute(context.Background(), r.dev, r.target, forced, wipe.ExecOptions{Firmware: r.fo})
	var re *wipe.RefusedError
	if err == nil || !asRefused(err, &re) || !strings.Contains(err.Error(), "FNA bit 2") {
		t.Fatalf("forced SES=2: %v", err)
	}
	for _, c := range sim.Commands() {
		if c.Opcode == nvme.OpFormatNVM {
			t.Fatalf("Format NVM sent: CDW10 0x%08x", c.CDW10)
		}
	}
	if r.oldDataOnMedium() == 0 {
		t.Fatal("drive touched")
	}
}

func TestNVMeFormatLying(t *testing.T) {
	r, _ := nvmeRig(t, nvmesim.Config{OACS: nvmesim.OACSFormat, Lying: true})
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusFailed, "canary content survived")
}

func mustTechnique(id wipe.TechniqueID) wipe.Technique {
	t, ok := wipe.LookupTechnique(id)
	if !ok {
		panic(id)
	}
	return t
}

// A probe that fails leaves only the host overwrite, and says why.
func TestProbeFailureDegradesToOverwrite(t *testing.T) {
	r, _ := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll})
	r.fo.Open = func(*devices.Device) (*probe.Handle, error) { return nil, errors.New("permission denied") }
	caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
	m, _ := wipe.ResolveMethod("", nil, false)
	p := wipe.NewPlan(r.dev, caps, wipe.Request{Policy: wipe.PolicyPurge, Method: m})
	if caps.ProbeError == "" || p.Technique.ID != wipe.TechOverwrite || !strings.Contains(strings.Join(p.Decision, "\n"), "firmware techniques unavailable: open the command transport: permission denied") {
		t.Fatalf("%+v %s %v", caps, p.Technique.ID, p.Decision)
	}
}

// A job file whose operation the drive no longer shows (state lost, drive
// reinstalled) does not lend its old proof to a new sanitize.
func TestNVMeStaleJobGetsFreshProof(t *testing.T) {
	r, sim := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll, ManualProgress: true})
	ctx, cancel := context.WithCancel(context.Background())
	r.execute(ctx, r.plan(purge()), wipe.ExecOptions{Progress: func(pr wipe.Progress) {
		if pr.Phase == "sanitize" {
			cancel()
		}
	}})
	// The drive finishes; then new customer data is written (the drive
	// went back into service while the job file stayed behind).
	sim.Advance(10)
	if _, err := r.target.WriteAt(r.old, 0); err != nil {
		t.Fatal(err)
	}
	rep := r.execute(context.Background(), r.plan(purge()), wipe.ExecOptions{Progress: func(pr wipe.Progress) {
		if pr.Phase == "sanitize" && !pr.Final {
			sim.Advance(1)
		}
	}})
	requireStatus(t, rep, wipe.StatusErased)
	if !strings.Contains(strings.Join(rep.Firmware.Notes, "\n"), "replaced by a fresh one") || rep.Firmware.Proof.InformativeSamples < 200 {
		t.Fatalf("notes %v informative %d", rep.Firmware.Notes, rep.Firmware.Proof.InformativeSamples)
	}
	if r.oldDataOnMedium() != 0 {
		t.Fatal("new customer data survived")
	}
}
