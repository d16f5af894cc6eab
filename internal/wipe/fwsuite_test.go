package wipe_test

// The firmware scenario suite, after restic's backend test suite: each
// scenario is written once and runs against nvmesim, atasim and scsisim
// through simdrive.Drive and a kit that translates an abstract drive spec
// into the simulator's configuration. Scenarios that only one command set
// has (NVMe erase scope, ATA hidden areas, SCSI protection information)
// declare the kits they apply to; every issue-11 finding has one.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/ata/atasim"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/nvme/nvmesim"
	"github.com/lethe-project/lethe/internal/devices/scsi"
	"github.com/lethe-project/lethe/internal/devices/scsi/scsisim"
	"github.com/lethe-project/lethe/internal/devices/simdrive"
	"github.com/lethe-project/lethe/internal/wipe"
)

// action is a sanitize action, named alike for the three command sets.
type action int

const (
	actCrypto action = iota
	actBlock
	actOverwrite
)

func (a action) String() string { return [...]string{"crypto", "block", "overwrite"}[a] }

// spec is a drive, described without naming a command set.
type spec struct {
	actions []action // sanitize actions supported; empty means all
	steps   int
	manual  bool // only Advance moves an operation
	failAt  int  // the first sanitize fails at this step
	lying   bool // reports success, changes nothing
	// previousSuccess: the drive's status says an earlier sanitize
	// succeeded (NVMe: with lethe's own SCDW10), the idle trap.
	previousSuccess bool
	// lose is what happens to the erase command's answer: "" normal,
	// "after" the drive runs it but the host gets no answer (NVMe:
	// EINTR from the ioctl, ATA/SCSI: an SG_IO timeout), "before" the
	// command never reaches the drive and the host gets no answer.
	lose string
	// drop: the transport acknowledges the erase command without passing
	// it on (an "accepted" command that never runs).
	drop bool
}

// kit builds one simulated drive of a command set.
type kit struct {
	name string
	new  func(t *testing.T, s spec) (*rig, simdrive.Drive)
	// erases counts the erase commands (not status polls, not exit
	// failure mode) in a simulator's command log.
	erases func(log []string) int
	// tech is the technique id of each action.
	tech map[action]wipe.TechniqueID
}

func (k kit) eraseCount(d simdrive.Drive) int { return k.erases(d.CommandLog()) }

// loseNVMe wraps an NVMe transport so the Sanitize's answer is lost:
// after (the controller runs it) via nvmesim's CancelNext, before by not
// passing it on.
type loseNVMe struct {
	nvme.Transport
	before bool
	done   bool
}

func (l *loseNVMe) Admin(ctx context.Context, c *nvme.Command) (*nvme.Completion, error) {
	if c.Opcode == nvme.OpSanitize && c.CDW10&7 != uint32(nvme.SanitizeExitFailureMode) && !l.done && l.before {
		l.done = true
		return nil, errors.Join(errors.New("ioctl NVME_IOCTL_ADMIN_CMD"), nvme.ErrCancelled)
	}
	return l.Transport.Admin(ctx, c)
}

// loseSCSI passes the erase command matched by is on (after) or not
// (before), and answers it with an SG_IO host timeout.
type loseSCSI struct {
	scsi.Transport
	is     func(cdb []byte) bool
	before bool
	done   bool
}

func (l *loseSCSI) Exec(ctx context.Context, c *scsi.Command) (*scsi.Result, error) {
	if !l.done && l.is(c.CDB) {
		l.done = true
		if !l.before {
			if _, err := l.Transport.Exec(ctx, c); err != nil {
				return nil, err
			}
		}
		return &scsi.Result{HostStatus: 0x03}, nil // DID_TIME_OUT
	}
	return l.Transport.Exec(ctx, c)
}

// listed says which of the three actions s lists; none when it lists
// none (the ATA and SCSI simulators then support all three).
func (s spec) listed() (crypto, block, overwrite bool) {
	for _, a := range s.actions {
		switch a {
		case actCrypto:
			crypto = true
		case actBlock:
			block = true
		case actOverwrite:
			overwrite = true
		}
	}
	return crypto, block, overwrite
}

// scsiFaults is the transport faults s asks for on an SG_IO drive (ATA
// behind SAT, or SCSI): drop wraps the transport so the erase command is
// acknowledged and never run; a lost answer times out the command that is
// matches.
func (s spec) scsiFaults(drop func(scsi.Transport) scsi.Transport, is func(cdb []byte) bool) []func(scsi.Transport) scsi.Transport {
	var wraps []func(scsi.Transport) scsi.Transport
	if s.drop {
		wraps = append(wraps, drop)
	}
	if s.lose != "" {
		wraps = append(wraps, func(t scsi.Transport) scsi.Transport {
			return &loseSCSI{Transport: t, is: is, before: s.lose == "before"}
		})
	}
	return wraps
}

func isATASanitizeErase(cdb []byte) bool {
	return len(cdb) == 16 && cdb[0] == scsi.OpATAPassThru16 && cdb[14] == ata.CmdSanitize && cdb[4] != 0
}

func isSCSISanitizeErase(cdb []byte) bool {
	return len(cdb) == 10 && cdb[0] == scsi.OpSanitize && cdb[1]&0x1f != uint8(scsi.SanitizeExitFailureMode)
}

var nvmeKit = kit{
	name: "nvme",
	new: func(t *testing.T, s spec) (*rig, simdrive.Drive) {
		cfg := nvmesim.Config{SANICAP: nvmesim.SANICAPAll, Steps: s.steps, ManualProgress: s.manual, FailAtStep: s.failAt, Lying: s.lying}
		if len(s.actions) > 0 {
			cfg.SANICAP = 0
			for _, a := range s.actions {
				cfg.SANICAP |= map[action]uint32{actCrypto: 1, actBlock: 2, actOverwrite: 4}[a]
			}
		}
		if s.previousSuccess {
			cfg.InitialState, cfg.InitialSCDW10 = nvme.SanitizeSuccess, 0x204
		}
		var wraps []func(nvme.Transport) nvme.Transport
		if s.drop {
			wraps = append(wraps, func(t nvme.Transport) nvme.Transport { return dropSanitize{t} })
		}
		if s.lose == "before" {
			wraps = append(wraps, func(t nvme.Transport) nvme.Transport { return &loseNVMe{Transport: t, before: true} })
		}
		r, sim := nvmeRig(t, cfg, wraps...)
		if s.lose == "after" {
			sim.CancelNext(nvme.OpSanitize)
		}
		return r, sim
	},
	erases: func(log []string) int {
		n := 0
		for _, l := range log {
			var nsid, cdw10, cdw11 uint32
			if _, err := fmt.Sscanf(l, "Sanitize NSID=0x%x CDW10=0x%x CDW11=0x%x", &nsid, &cdw10, &cdw11); err == nil && cdw10&7 != uint32(nvme.SanitizeExitFailureMode) {
				n++
			}
		}
		return n
	},
	tech: map[action]wipe.TechniqueID{actCrypto: wipe.TechNVMeSanitizeCrypto, actBlock: wipe.TechNVMeSanitizeBlock, actOverwrite: wipe.TechNVMeSanitizeOverw},
}

var ataKit = kit{
	name: "ata",
	new: func(t *testing.T, s spec) (*rig, simdrive.Drive) {
		cfg := atasim.Config{Sanitize: true, NoSecurity: true, Steps: s.steps, ManualProgress: s.manual, FailAtStep: s.failAt, Lying: s.lying,
			PreviousSanitizeSucceeded: s.previousSuccess}
		cfg.Crypto, cfg.Block, cfg.Overwrite = s.listed()
		return ataRig(t, cfg, s.scsiFaults(func(t scsi.Transport) scsi.Transport { return dropATASanitize{t} }, isATASanitizeErase)...)
	},
	erases: func(log []string) int {
		n := 0
		for _, l := range log {
			for _, f := range []string{"FEATURE=0x0011", "FEATURE=0x0012", "FEATURE=0x0014"} {
				if strings.HasPrefix(l, "SANITIZE") && strings.Contains(l, f) {
					n++
				}
			}
		}
		return n
	},
	tech: map[action]wipe.TechniqueID{actCrypto: wipe.TechATASanitizeCrypto, actBlock: wipe.TechATASanitizeBlock, actOverwrite: wipe.TechATASanitizeOverw},
}

var scsiKit = kit{
	name: "scsi",
	new: func(t *testing.T, s spec) (*rig, simdrive.Drive) {
		cfg := scsisim.Config{Sanitize: true, Steps: s.steps, ManualProgress: s.manual, FailAtStep: s.failAt, Lying: s.lying}
		cfg.Crypto, cfg.Block, cfg.Overwrite = s.listed()
		return scsiRig(t, cfg, s.scsiFaults(func(t scsi.Transport) scsi.Transport { return dropSCSISanitize{t} }, isSCSISanitizeErase)...)
	},
	erases: func(log []string) int {
		n := 0
		for _, l := range log {
			var cdb []byte
			if _, err := fmt.Sscanf(l, "SANITIZE CDB %x", &cdb); err == nil && isSCSISanitizeErase(cdb) {
				n++
			}
		}
		return n
	},
	tech: map[action]wipe.TechniqueID{actCrypto: wipe.TechSCSISanitizeCrypto, actBlock: wipe.TechSCSISanitizeBlock, actOverwrite: wipe.TechSCSISanitizeOverw},
}

// dropSCSISanitize acknowledges SANITIZE erase commands without passing them on.
type dropSCSISanitize struct{ scsi.Transport }

func (d dropSCSISanitize) Exec(ctx context.Context, c *scsi.Command) (*scsi.Result, error) {
	if isSCSISanitizeErase(c.CDB) {
		return &scsi.Result{}, nil
	}
	return d.Transport.Exec(ctx, c)
}

var kits = []kit{nvmeKit, ataKit, scsiKit}

// scenario is one behaviour, written once.
type scenario struct {
	name string
	// only names the kits it applies to (all when empty).
	only []string
	run  func(t *testing.T, k kit)
}

// follow executes a plan, moving a manual-progress drive one step per
// progress report.
func follow(r *rig, d simdrive.Drive, p wipe.Plan) *wipe.Report {
	return r.execute(context.Background(), p, wipe.ExecOptions{Progress: func(pr wipe.Progress) {
		if pr.Phase == "sanitize" && !pr.Final {
			_ = d.Advance(1)
		}
	}})
}

// interrupt executes a plan and stops lethe (Ctrl-C) once the drive has
// reported progress; the drive keeps going.
func interrupt(r *rig, d simdrive.Drive, p wipe.Plan) *wipe.Report {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return r.execute(ctx, p, wipe.ExecOptions{Progress: func(pr wipe.Progress) {
		if pr.Phase == "sanitize" {
			_ = d.Advance(1)
			cancel()
		}
	}})
}

var scenarios = []scenario{
	{"each action erases and is observed", nil, func(t *testing.T, k kit) {
		for _, a := range []action{actCrypto, actBlock, actOverwrite} {
			t.Run(a.String(), func(t *testing.T) {
				r, d := k.new(t, spec{actions: []action{a}})
				p := r.plan(purge())
				if p.Technique.ID != k.tech[a] || p.Category != wipe.CategoryPurge {
					t.Fatalf("plan %s (%s)", p.Technique.ID, p.Category)
				}
				rep := r.execute(context.Background(), p, wipe.ExecOptions{})
				requireStatus(t, rep, wipe.StatusErased)
				f := rep.Firmware
				if !f.InProgressSeen || !strings.HasPrefix(f.Completion, "observed") || f.Proof.Result != "passed" {
					t.Fatalf("seen %v completion %q proof %s\n%s", f.InProgressSeen, f.Completion, f.Proof.Result, dump(rep))
				}
				// Finding 1: the NVMe sanitize runs with NDAS, the drive
				// honours it (SSTAT 001b), and the content check of an
				// overwrite applies; on every command set the pattern
				// is read back in full.
				if a == actOverwrite && (f.Proof.Expect.Kind != "pattern" || rep.Verification.Scope != "full" || rep.Verification.Result != wipe.VerifyPassed) {
					t.Fatalf("overwrite: expect %s read-back %+v", f.Proof.Expect.Kind, rep.Verification)
				}
				if a != actOverwrite && f.Proof.Expect.Kind != "changed" {
					t.Fatalf("%s: expect %s", a, f.Proof.Expect.Kind)
				}
				if f.Proof.Deallocated {
					t.Fatalf("deallocated: %s", f.Proof.DeallocatedNote)
				}
				if n := r.oldDataOnMedium(); n != 0 || len(r.jobFiles()) != 0 || d.Sanitizing() || k.eraseCount(d) != 1 {
					t.Fatalf("old blocks %d, jobs %v, sanitizing %v, erase commands %d", n, r.jobFiles(), d.Sanitizing(), k.eraseCount(d))
				}
			})
		}
	}},
	{"power loss resumes the same operation", nil, func(t *testing.T, k kit) {
		r, d := k.new(t, spec{manual: true, steps: 4})
		rep := interrupt(r, d, r.plan(purge()))
		requireStatus(t, rep, wipe.StatusAborted, "cannot be stopped")
		if len(r.jobFiles()) != 1 || !d.Sanitizing() {
			t.Fatalf("job %v sanitizing %v", r.jobFiles(), d.Sanitizing())
		}
		d.PowerCycle()
		_ = d.Advance(1)
		rep = follow(r, d, r.plan(purge()))
		requireStatus(t, rep, wipe.StatusErased)
		if len(rep.Firmware.Resumed) != 1 || rep.Firmware.Resumed[0].Phase != "started" || k.eraseCount(d) != 1 || r.oldDataOnMedium() != 0 || len(r.jobFiles()) != 0 {
			t.Fatalf("resumed %+v, erase commands %d\n%s", rep.Firmware.Resumed, k.eraseCount(d), dump(rep))
		}
	}},
	{"a sanitize that ends while lethe is away is attributed", nil, func(t *testing.T, k kit) {
		r, d := k.new(t, spec{manual: true, steps: 2})
		requireStatus(t, interrupt(r, d, r.plan(purge())), wipe.StatusAborted)
		d.PowerCycle()
		_ = d.Advance(4)
		rep := r.run(purge())
		requireStatus(t, rep, wipe.StatusErased)
		if !strings.HasPrefix(rep.Firmware.Completion, "attributed") || k.eraseCount(d) != 1 || r.oldDataOnMedium() != 0 {
			t.Fatalf("completion %q, erase commands %d", rep.Firmware.Completion, k.eraseCount(d))
		}
	}},
	{"restricted failure keeps the job, the next run recovers", nil, func(t *testing.T, k kit) {
		r, d := k.new(t, spec{failAt: 2})
		rep := r.run(purge())
		requireStatus(t, rep, wipe.StatusFailed, "run lethe wipe on the drive again")
		if len(r.jobFiles()) != 1 {
			t.Fatalf("the failed job must stay for the retry: %v", r.jobFiles())
		}
		if _, err := r.target.ReadAt(make([]byte, 512), 0); err == nil {
			t.Fatal("host I/O works in the restricted failure mode")
		}
		d.PowerCycle() // the failure persists
		rep = r.run(purge())
		requireStatus(t, rep, wipe.StatusErased)
		f := rep.Firmware
		if len(f.Resumed) != 1 || f.Resumed[0].Phase != "failed" || f.Proof == nil || f.Proof.Result != "passed" || f.Proof.CanariesPlanted != 64 {
			t.Fatalf("resumed %+v proof %+v", f.Resumed, f.Proof)
		}
		if r.oldDataOnMedium() != 0 || len(r.jobFiles()) != 0 || d.Sanitizing() || k.eraseCount(d) != 2 {
			t.Fatalf("not clean after recovery: erase commands %d", k.eraseCount(d))
		}
	}},
	{"unrestricted failure is left with exit failure mode", nil, func(t *testing.T, k kit) {
		r, _ := k.new(t, spec{failAt: 2})
		r.fo.UnrestrictedExit = true
		rep := r.run(purge())
		requireStatus(t, rep, wipe.StatusFailed)
		if !strings.Contains(rep.StatusReason, "accepts I/O again but holds partly erased data") {
			t.Fatalf("reason %q", rep.StatusReason)
		}
		if _, err := r.target.ReadAt(make([]byte, 512), 0); err != nil || len(r.jobFiles()) != 0 {
			t.Fatalf("after leaving the failure mode: %v, jobs %v", err, r.jobFiles())
		}
	}},
	{"a lying drive is caught by the proof", nil, func(t *testing.T, k kit) {
		r, _ := k.new(t, spec{lying: true})
		rep := r.run(purge())
		requireStatus(t, rep, wipe.StatusFailed, "the proof shows the old data is not gone")
		if rep.Firmware.Proof.CanariesSurvived != 64 || r.oldDataOnMedium() == 0 {
			t.Fatalf("%+v", rep.Firmware.Proof)
		}
	}},
	{"an accepted command that never runs is not success", nil, func(t *testing.T, k kit) {
		// NVMe and ATA: the status already says an earlier sanitize
		// succeeded (the idle trap). SCSI keeps no such state.
		r, d := k.new(t, spec{drop: true, previousSuccess: k.name != "scsi"})
		rep := r.run(purge())
		requireStatus(t, rep, wipe.StatusFailed)
		if rep.Firmware.InProgressSeen || k.eraseCount(d) != 0 || r.oldDataOnMedium() == 0 {
			t.Fatalf("seen %v erase commands %d\n%s", rep.Firmware.InProgressSeen, k.eraseCount(d), dump(rep))
		}
		if k.name != "scsi" && !strings.Contains(rep.StatusReason, "nothing shows that a sanitize ran") {
			t.Fatalf("reason %q", rep.StatusReason)
		}
	}},
	// Finding 2: the command's answer is lost after the drive started it
	// (NVMe: the ioctl's EINTR). lethe never sends it again and follows
	// the drive's own status to the end.
	{"an answer lost after the start is followed, never re-sent", nil, func(t *testing.T, k kit) {
		r, d := k.new(t, spec{lose: "after"})
		rep := r.run(purge())
		requireStatus(t, rep, wipe.StatusErased)
		if k.eraseCount(d) != 1 || !rep.Firmware.InProgressSeen || !strings.Contains(strings.Join(rep.Firmware.Notes, "\n"), "does not send it again") {
			t.Fatalf("erase commands %d\n%s", k.eraseCount(d), dump(rep))
		}
	}},
	{"an answer lost, then lethe stopped: the job stays while the drive may sanitize", nil, func(t *testing.T, k kit) {
		r, d := k.new(t, spec{lose: "after", manual: true, steps: 4})
		rep := interrupt(r, d, r.plan(purge()))
		requireStatus(t, rep, wipe.StatusAborted)
		if len(r.jobFiles()) != 1 || !d.Sanitizing() {
			t.Fatalf("job %v sanitizing %v", r.jobFiles(), d.Sanitizing())
		}
		rep = follow(r, d, r.plan(purge()))
		requireStatus(t, rep, wipe.StatusErased)
		if k.eraseCount(d) != 1 || len(r.jobFiles()) != 0 {
			t.Fatalf("erase commands %d jobs %v", k.eraseCount(d), r.jobFiles())
		}
	}},
	{"an answer lost before the drive saw it: nothing is claimed, nothing re-sent", nil, func(t *testing.T, k kit) {
		r, d := k.new(t, spec{lose: "before"})
		rep := r.run(purge())
		requireStatus(t, rep, wipe.StatusFailed)
		if k.eraseCount(d) != 0 || rep.Firmware.InProgressSeen || r.oldDataOnMedium() == 0 || d.Sanitizing() {
			t.Fatalf("erase commands %d\n%s", k.eraseCount(d), dump(rep))
		}
		sent := 0
		for _, c := range rep.Firmware.Commands {
			if strings.HasPrefix(c.Name, "Sanitize") || strings.HasPrefix(c.Name, "SANITIZE DEVICE") || strings.HasPrefix(c.Name, "SANITIZE ") && !strings.Contains(c.Name, "EXIT") && !strings.Contains(c.Name, "STATUS") {
				sent++
			}
		}
		if sent != 1 {
			t.Fatalf("lethe sent the erase %d times: %v", sent, commandNames(rep))
		}
	}},
}

func TestFirmwareSuite(t *testing.T) {
	for _, sc := range append(scenarios, findingScenarios()...) {
		t.Run(sc.name, func(t *testing.T) {
			for _, k := range kits {
				if len(sc.only) > 0 && !hasName(sc.only, k.name) {
					continue
				}
				t.Run(k.name, func(t *testing.T) { sc.run(t, k) })
			}
		})
	}
}

func hasName(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
