package wipe_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/ata/atasim"
	"github.com/lethe-project/lethe/internal/devices/probe"
	"github.com/lethe-project/lethe/internal/devices/scsi"
	"github.com/lethe-project/lethe/internal/wipe"
)

// ataRig is a SATA drive behind atasim (a SATL over SG_IO).
func ataRig(t *testing.T, cfg atasim.Config, wrap ...func(scsi.Transport) scsi.Transport) (*rig, *atasim.Drive) {
	t.Helper()
	if cfg.Serial == "" {
		cfg.Serial = "ATASIM01"
	}
	sim := atasim.MustNew(cfg)
	sectors := cfg.Sectors
	if sectors == 0 {
		sectors = 32768
	}
	if cfg.HPASectors > 0 {
		sectors = cfg.HPASectors
	}
	media, rot := devices.MediaSSD, false
	if cfg.RotationRate > 1 {
		media, rot = devices.MediaHDD, true
	}
	dev := &devices.Device{Path: "/dev/sim-sda", Name: "sim-sda", Kind: devices.KindDisk, Transport: devices.TransportSATA,
		Media: media, Rotational: rot, SizeBytes: int64(sectors) * 512, LogicalSectorSize: 512, PhysicalSectorSize: 512,
		Model: "lethe atasim", Serial: cfg.Serial}
	var tr scsi.Transport = sim
	for _, w := range wrap {
		tr = w(tr)
	}
	r := newRig(t, dev, sim, sim.Disk(), func() *probe.Handle { return probe.NewSCSIHandle(dev.Path, tr, true, nil) })
	return r, sim
}

func securityState(t *testing.T, sim *atasim.Drive) ata.SecurityInfo {
	t.Helper()
	id, err := ata.New(sim).Identify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id.Security
}

func TestATASecurityErase(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      atasim.Config
		req      wipe.Request
		tech     wipe.TechniqueID
		cat      wipe.Category
		expect   string
		enhanced string
	}{
		// On flash, security erase is Clear only; the planner takes the
		// enhanced one first.
		{"enhanced ssd", atasim.Config{EnhancedErase: true, EraseTime: 5, EnhancedEraseTime: 10, EnhancedPattern: 0x00}, purge(), wipe.TechATASecurityEnhanced, wipe.CategoryClear, "changed", "enhanced=1"},
		{"normal", atasim.Config{EraseTime: 5}, purge(), wipe.TechATASecurityNormal, wipe.CategoryClear, "zero", "enhanced=0"},
		// On rotating media the enhanced erase is Purge.
		{"enhanced hdd purge-or-fail", atasim.Config{EnhancedErase: true, RotationRate: 7200}, wipe.Request{Policy: wipe.PolicyPurgeOrFail}, wipe.TechATASecurityEnhanced, wipe.CategoryPurge, "changed", "enhanced=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, sim := ataRig(t, tc.cfg)
			p := r.plan(tc.req)
			if p.Technique.ID != tc.tech || p.Category != tc.cat {
				t.Fatalf("plan %s (%s) %s\n%s", p.Technique.ID, p.Category, p.Refusal, strings.Join(p.Decision, "\n"))
			}
			rep := r.execute(context.Background(), p, wipe.ExecOptions{})
			requireStatus(t, rep, wipe.StatusErased)
			f := rep.Firmware
			if f.Password == nil || !f.Password.Set || !f.Password.Cleared || f.Proof.Expect.Kind != tc.expect {
				t.Fatalf("password %+v expect %s\n%s", f.Password, f.Proof.Expect.Kind, dump(rep))
			}
			for _, c := range []string{"SECURITY SET PASSWORD", "SECURITY ERASE PREPARE", "SECURITY ERASE UNIT " + tc.enhanced} {
				if !hasCommand(rep, c) {
					t.Fatalf("%s not sent: %v", c, commandNames(rep))
				}
			}
			if sec := securityState(t, sim); sec.Enabled || sec.Locked {
				t.Fatalf("password left on the drive: %s", sec.State())
			}
			if r.oldDataOnMedium() != 0 || len(r.jobFiles()) != 0 {
				t.Fatal("not clean")
			}
			if rep.HiddenAreas == nil || !rep.HiddenAreas.Inspected || rep.HiddenAreas.Before == nil {
				t.Fatalf("hidden areas not recorded: %+v", rep.HiddenAreas)
			}
		})
	}
}

// failCommand makes the ATA command cmd fail: with an ABRT from the drive,
// or (lose) as if the drive vanished (power loss), after which every
// command fails until heal is called.
type failCommand struct {
	scsi.Transport
	cmd  uint8
	lose bool
	dead atomic.Bool
}

func (f *failCommand) Exec(ctx context.Context, c *scsi.Command) (*scsi.Result, error) {
	if f.dead.Load() {
		return nil, errors.New("no such device")
	}
	if len(c.CDB) == 16 && c.CDB[0] == scsi.OpATAPassThru16 && c.CDB[14] == f.cmd {
		if f.lose {
			f.dead.Store(true)
			return nil, errors.New("no such device")
		}
		regs := &scsi.ATAReturn{Extend: true, Error: ata.ErrorABRT, Status: ata.StatusDRDY | ata.StatusERR}
		return &scsi.Result{Status: scsi.StatusCheckCondition, Sense: scsi.SenseBuilder{Key: scsi.KeyAbortedCommand, ATA: regs}.Descriptor()}, nil
	}
	return f.Transport.Exec(ctx, c)
}

func TestATASecurityEraseFailureClearsPassword(t *testing.T) {
	var fc *failCommand
	r, sim := ataRig(t, atasim.Config{EnhancedErase: true}, func(t scsi.Transport) scsi.Transport {
		fc = &failCommand{Transport: t, cmd: ata.CmdSecurityEraseUnit}
		return fc
	})
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusFailed, "the erase failed", "temporary password is cleared")
	if !rep.Firmware.Password.Set || !rep.Firmware.Password.Cleared || !hasCommand(rep, "SECURITY DISABLE PASSWORD") {
		t.Fatalf("%+v %v", rep.Firmware.Password, commandNames(rep))
	}
	if sec := securityState(t, sim); sec.Enabled {
		t.Fatalf("password left: %s", sec.State())
	}
	if len(r.jobFiles()) != 0 {
		t.Fatal("job kept")
	}
}

func TestATAFrozen(t *testing.T) {
	r, sim := ataRig(t, atasim.Config{EnhancedErase: true, FrozenAtPowerOn: true, RotationRate: 7200})
	caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
	c, _ := caps.Lookup(wipe.TechATASecurityEnhanced)
	if c.Available || !strings.Contains(c.Reason, "frozen") || !strings.Contains(c.Reason, "--allow-unfreeze") {
		t.Fatalf("frozen drive: %+v", c)
	}
	p := r.plan(wipe.Request{Policy: wipe.PolicyPurgeOrFail})
	if !strings.Contains(p.Refusal, "no Purge technique") || !strings.Contains(p.Refusal, "frozen") {
		t.Fatalf("purge-or-fail on a frozen drive: %q", p.Refusal)
	}
	// A plan that names the technique anyway is refused at execution,
	// before anything is written.
	forced := wipe.Plan{Technique: mustTechnique(wipe.TechATASecurityEnhanced), Category: wipe.CategoryPurge}
	_, err := wipe.Execute(context.Background(), r.dev, r.target, forced, wipe.ExecOptions{Firmware: r.fo})
	var re *wipe.RefusedError
	if !asRefused(err, &re) || !strings.Contains(err.Error(), "frozen") {
		t.Fatalf("forced on a frozen drive: %v", err)
	}
	if r.oldDataOnMedium() == 0 {
		t.Fatal("drive touched")
	}
	// --allow-unfreeze: a suspend/resume cycle (the simulator's) unfreezes.
	cycles := 0
	r.fo.AllowUnfreeze = true
	r.fo.Unfreezer = wipe.UnfreezeFunc(func(context.Context) error { cycles++; sim.SuspendResume(); return nil })
	p = r.plan(wipe.Request{Policy: wipe.PolicyPurgeOrFail})
	if p.Technique.ID != wipe.TechATASecurityEnhanced {
		t.Fatalf("plan with --allow-unfreeze: %s %s", p.Technique.ID, p.Refusal)
	}
	rep := r.execute(context.Background(), p, wipe.ExecOptions{})
	requireStatus(t, rep, wipe.StatusErased)
	if cycles != 1 || !strings.Contains(rep.Firmware.Unfreeze, "suspended the machine") || !strings.Contains(r.notesJoined(), "suspending this machine") {
		t.Fatalf("cycles %d unfreeze %q notes %q", cycles, rep.Firmware.Unfreeze, r.notesJoined())
	}
}

func TestATALockedByInterruptedRun(t *testing.T) {
	var fc *failCommand
	r, sim := ataRig(t, atasim.Config{EnhancedErase: true}, func(t scsi.Transport) scsi.Transport {
		fc = &failCommand{Transport: t, cmd: ata.CmdSecurityEraseUnit, lose: true}
		return fc
	})
	// The machine loses power as SECURITY ERASE UNIT is sent: lethe
	// cannot clear its password and keeps it in the job state.
	rep := r.run(purge())
	if rep.Status == wipe.StatusErased || rep.Firmware.Password.Cleared {
		t.Fatalf("status %s password %+v", rep.Status, rep.Firmware.Password)
	}
	if !strings.Contains(rep.Firmware.Password.Note, "could NOT be cleared") || len(r.jobFiles()) != 1 {
		t.Fatalf("password note %q jobs %v", rep.Firmware.Password.Note, r.jobFiles())
	}
	sim.PowerCycle()
	fc.dead.Store(false)
	fc.cmd = 0
	if sec := securityState(t, sim); !sec.Locked {
		t.Fatalf("after the power cycle: %s", sec.State())
	}
	// Another lethe did not set this password: a drive locked by someone
	// else stays refused.
	other := r.fo
	other.StateDir = t.TempDir()
	caps := wipe.ProbeWith(context.Background(), r.dev, other)
	if c, _ := caps.Lookup(wipe.TechATASecurityEnhanced); c.Available || !strings.Contains(c.Reason, "lethe did not set") {
		t.Fatalf("locked by a stranger: %+v", c)
	}
	// The next run with the job state unlocks, clears, erases.
	rep = r.run(purge())
	requireStatus(t, rep, wipe.StatusErased)
	notes := strings.Join(rep.Firmware.Notes, "\n")
	if !strings.Contains(notes, "recovered the drive from an interrupted lethe run") || !hasCommand(rep, "SECURITY UNLOCK") {
		t.Fatalf("recovery not recorded: %s\n%v", notes, commandNames(rep))
	}
	if sec := securityState(t, sim); sec.Enabled || len(r.jobFiles()) != 0 || r.oldDataOnMedium() != 0 {
		t.Fatalf("not clean: %s", sec.State())
	}
}

// A host overwrite planned on a drive lethe left locked clears the password
// first.
func TestATAOverwriteClearsLeftPassword(t *testing.T) {
	var fc *failCommand
	r, sim := ataRig(t, atasim.Config{}, func(t scsi.Transport) scsi.Transport {
		fc = &failCommand{Transport: t, cmd: ata.CmdSecurityEraseUnit, lose: true}
		return fc
	})
	r.run(wipe.Request{Policy: wipe.PolicyPurge, Technique: wipe.TechATASecurityNormal})
	sim.PowerCycle()
	fc.dead.Store(false)
	fc.cmd = 0
	m, _ := wipe.ResolveMethod("zero", nil, false)
	rep := r.execute(context.Background(), r.plan(wipe.Request{Policy: wipe.PolicyClear, Method: m}), wipe.ExecOptions{})
	requireStatus(t, rep, wipe.StatusErased)
	if rep.Technique != wipe.TechOverwrite || !strings.Contains(strings.Join(rep.Decision, "\n"), "cleared the temporary ATA password") {
		t.Fatalf("%s %v", rep.Technique, rep.Decision)
	}
	if sec := securityState(t, sim); sec.Enabled {
		t.Fatal("password left")
	}
}

func TestATACountExpired(t *testing.T) {
	r, sim := ataRig(t, atasim.Config{})
	owner, _ := ata.NewPassword("owner")
	if err := ata.New(sim).SecuritySetPassword(context.Background(), owner); err != nil {
		t.Fatal(err)
	}
	sim.PowerCycle() // locked (SEC4)
	wrong, _ := ata.NewPassword("guess")
	for range 5 {
		_ = ata.New(sim).SecurityUnlock(context.Background(), wrong)
	}
	caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
	c, _ := caps.Lookup(wipe.TechATASecurityNormal)
	if c.Available || !strings.Contains(c.Reason, "attempt counter expired") {
		t.Fatalf("count expired: %+v", c)
	}
}

// dropATASanitize acknowledges SANITIZE erase commands without passing them on.
type dropATASanitize struct{ scsi.Transport }

func (d dropATASanitize) Exec(ctx context.Context, c *scsi.Command) (*scsi.Result, error) {
	if len(c.CDB) == 16 && c.CDB[0] == scsi.OpATAPassThru16 && c.CDB[14] == ata.CmdSanitize && c.CDB[4] != 0 {
		return &scsi.Result{}, nil
	}
	return d.Transport.Exec(ctx, c)
}

func TestATAHiddenAreasRemoved(t *testing.T) {
	r, sim := ataRig(t, atasim.Config{Sanitize: true, Sectors: 32768, HPASectors: 30000, DCOSectors: 40000})
	// Customer data in the hidden areas, where the host cannot write.
	secret := []byte("HIDDEN-CUSTOMER-DATA")
	for _, lba := range []int64{31000, 39000} {
		if _, err := sim.Disk().WriteAt(append(secret, make([]byte, 512-len(secret))...), lba*512); err != nil {
			t.Fatal(err)
		}
	}
	caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
	if caps.Hidden == nil || caps.Hidden.HPASectors != 2768 || caps.Hidden.DCOSectors != 7232 {
		t.Fatalf("hidden %+v", caps.Hidden)
	}
	if c, ok := caps.Lookup(wipe.TechOverwrite); !ok || c.Available || !strings.Contains(c.Reason, "HPA hides 2768 sectors") {
		t.Fatalf("overwrite with hidden areas: %+v", c)
	}
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusErased)
	h := rep.HiddenAreas
	if h == nil || h.Before.HPASectors != 2768 || h.Before.DCOSectors != 7232 || h.After.Hidden() != 0 || h.After.CurrentMaxLBA != 39999 || len(h.Actions) != 2 {
		t.Fatalf("hidden areas record: %+v", h)
	}
	if !hasCommand(rep, "SET MAX ADDRESS EXT") || !hasCommand(rep, "DEVICE CONFIGURATION RESTORE") {
		t.Fatalf("%v", commandNames(rep))
	}
	raw := make([]byte, 40000*512)
	sim.Disk().RawReadAt(raw, 0)
	if strings.Contains(string(raw), string(secret)) {
		t.Fatal("hidden data survived")
	}
}

func TestATAHiddenAreaThatStays(t *testing.T) {
	r, _ := ataRig(t, atasim.Config{Sanitize: true, Sectors: 32768, DCOSectors: 40000, DCOFrozen: true})
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusPartial, "DCO hides 7232 sectors")
	if !strings.Contains(strings.Join(rep.HiddenAreas.Actions, ";"), "DCO restore failed") {
		t.Fatalf("%+v", rep.HiddenAreas)
	}
}
