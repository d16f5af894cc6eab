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

func TestNVMeSanitizeEachAction(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sanicap uint32
		tech    wipe.TechniqueID
		expect  string // proof expectation
		scope   string // read-back scope
		dealloc bool
	}{
		{"crypto", 0x1, wipe.TechNVMeSanitizeCrypto, "changed", "none", false},
		{"block", 0x2, wipe.TechNVMeSanitizeBlock, "changed", "none", false},
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

func TestNVMeSanitizeRestrictedFailureThenRecovery(t *testing.T) {
	r, sim := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll, FailAtStep: 3})
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusFailed, "restricted failure mode", "run lethe wipe on the drive again")
	if !hasCommand(rep, "Sanitize CDW10=0x00000204") || hasCommand(rep, "Exit Failure Mode") {
		t.Fatalf("commands: %v", commandNames(rep))
	}
	if len(r.jobFiles()) != 1 {
		t.Fatalf("the failed job must stay for the retry: %v", r.jobFiles())
	}
	// The drive refuses I/O now: the proof cannot be planted again.
	if _, err := r.target.ReadAt(make([]byte, 512), 0); err == nil {
		t.Fatal("host I/O works in the restricted failure mode")
	}
	// Recovery: the next run starts a new sanitize and reuses the proof.
	rep = r.run(purge())
	requireStatus(t, rep, wipe.StatusErased)
	f := rep.Firmware
	if len(f.Resumed) != 1 || f.Resumed[0].Phase != "failed" || !strings.Contains(strings.Join(f.Notes, "\n"), "failure mode") {
		t.Fatalf("recovery not recorded: resumed %+v notes %v", f.Resumed, f.Notes)
	}
	if f.Proof == nil || f.Proof.Result != "passed" || f.Proof.CanariesPlanted != 64 || len(f.Proof.CanaryOffsets) != 64 || f.Proof.AfterDigest == "" {
		t.Fatalf("proof %+v", f.Proof)
	}
	if r.oldDataOnMedium() != 0 || len(r.jobFiles()) != 0 || sim.Sanitizing() {
		t.Fatal("not clean after recovery")
	}
}

func TestNVMeSanitizeUnrestrictedExit(t *testing.T) {
	r, _ := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll, FailAtStep: 2})
	r.fo.UnrestrictedExit = true
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusFailed, "AUSE=1", "Exit Failure Mode")
	if !hasCommand(rep, "Sanitize CDW10=0x0000020c") || !hasCommand(rep, "SANACT=1 (Exit Failure Mode)") {
		t.Fatalf("commands: %v", commandNames(rep))
	}
	if _, err := r.target.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatalf("host I/O after Exit Failure Mode: %v", err)
	}
	if len(r.jobFiles()) != 0 {
		t.Fatal("job kept although the drive left the failure mode")
	}
}

func TestNVMeSanitizePowerLossResume(t *testing.T) {
	r, sim := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll, ManualProgress: true, Steps: 4})
	p := r.plan(purge())
	// First run: the drive reports progress once, then lethe is stopped
	// (Ctrl-C, or the process dies: the job file is what survives).
	ctx, cancel := context.WithCancel(context.Background())
	rep := r.execute(ctx, p, wipe.ExecOptions{Progress: func(pr wipe.Progress) {
		if pr.Phase == "sanitize" {
			sim.Advance(1)
			cancel()
		}
	}})
	requireStatus(t, rep, wipe.StatusAborted, "the drive continues and cannot be stopped", "next lethe wipe of this drive resumes it")
	if !strings.Contains(r.notesJoined(), "the drive keeps sanitizing") {
		t.Fatalf("operator not told: %q", r.notesJoined())
	}
	if len(r.jobFiles()) != 1 || !sim.Sanitizing() {
		t.Fatalf("job %v sanitizing %v", r.jobFiles(), sim.Sanitizing())
	}
	// Power loss: the sanitize resumes inside the drive.
	sim.PowerCycle()
	sim.Advance(1)
	// Second run: a fresh plan (the drive is busy sanitizing); lethe
	// finds the job and follows the same operation to its end.
	p = r.plan(purge())
	rep = r.execute(context.Background(), p, wipe.ExecOptions{Progress: func(pr wipe.Progress) {
		if pr.Phase == "sanitize" && !pr.Final {
			sim.Advance(1)
		}
	}})
	requireStatus(t, rep, wipe.StatusErased)
	f := rep.Firmware
	if len(f.Resumed) != 1 || f.Resumed[0].Phase != "started" || !f.InProgressSeen {
		t.Fatalf("resume not recorded: %+v", f.Resumed)
	}
	n := 0
	for _, c := range f.Commands {
		if strings.HasPrefix(c.Name, "Sanitize") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d Sanitize commands sent, want exactly 1 (resumed, not restarted): %v", n, commandNames(rep))
	}
	if r.oldDataOnMedium() != 0 || len(r.jobFiles()) != 0 {
		t.Fatal("not clean after resume")
	}
}

// The drive completes while lethe is away: the log's success counts only
// because SCDW10 is lethe's and Global Data Erased came back.
func TestNVMeSanitizeCompletedWhileAway(t *testing.T) {
	r, sim := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll, ManualProgress: true, Steps: 2})
	ctx, cancel := context.WithCancel(context.Background())
	rep := r.execute(ctx, r.plan(purge()), wipe.ExecOptions{Progress: func(pr wipe.Progress) {
		if pr.Phase == "sanitize" {
			cancel()
		}
	}})
	requireStatus(t, rep, wipe.StatusAborted)
	sim.PowerCycle()
	sim.Advance(2)
	rep = r.run(purge())
	requireStatus(t, rep, wipe.StatusErased)
	if !strings.HasPrefix(rep.Firmware.Completion, "attributed") || !strings.Contains(rep.Firmware.Completion, "Global Data Erased") {
		t.Fatalf("completion %q", rep.Firmware.Completion)
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

// The idle-"success" trap: the log says the last sanitize succeeded, even
// with lethe's own SCDW10, but it was an earlier one.
func TestNVMeIdleSuccessTrap(t *testing.T) {
	r, _ := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll, InitialState: nvme.SanitizeSuccess, InitialSCDW10: 0x204},
		func(t nvme.Transport) nvme.Transport { return dropSanitize{t} })
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusFailed, "nothing shows that a sanitize ran")
	if rep.Firmware.InProgressSeen || rep.Firmware.Completion != "" {
		t.Fatalf("seen %v completion %q", rep.Firmware.InProgressSeen, rep.Firmware.Completion)
	}
	if r.oldDataOnMedium() == 0 {
		t.Fatal("the test drive was erased after all")
	}
}

// A drive that reports the whole sanitize (progress included) and changes
// nothing is caught by the proof.
func TestNVMeLyingDrive(t *testing.T) {
	r, _ := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll, Lying: true})
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusFailed, "the proof shows the old data is not gone", "canary content survived")
	if !rep.Firmware.InProgressSeen || rep.Firmware.Proof.CanariesSurvived != 64 {
		t.Fatalf("%+v", rep.Firmware.Proof)
	}
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

func TestNVMeMultiNamespace(t *testing.T) {
	r, _ := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll, OACS: nvmesim.OACSFormat, FNA: 0x4,
		Namespaces: []nvmesim.NamespaceConfig{{}, {}}})
	caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
	for _, id := range []wipe.TechniqueID{wipe.TechNVMeSanitizeCrypto, wipe.TechNVMeSanitizeBlock} {
		c, _ := caps.Lookup(id)
		if c.Available || !strings.Contains(c.Reason, "also erases namespace(s) 2") {
			t.Fatalf("%s: %+v", id, c)
		}
	}
	// FNA bits 0/1 clear: a format of namespace 1 leaves namespace 2 alone.
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusErased)
	if got := formatCommands(rep); len(got) != 1 || !strings.HasPrefix(got[0], "NSID=0x1 ") {
		t.Fatalf("format %v", got)
	}
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
