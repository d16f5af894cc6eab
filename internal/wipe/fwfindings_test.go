package wipe_test

// Scenarios of the firmware suite for each issue-11 finding that belongs
// to one command set (the shared ones are in fwsuite_test.go).

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/ata/atasim"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/nvme/nvmesim"
	"github.com/lethe-project/lethe/internal/devices/scsi"
	"github.com/lethe-project/lethe/internal/devices/scsi/scsisim"
	"github.com/lethe-project/lethe/internal/wipe"
)

func notes(rep *wipe.Report) string { return strings.Join(rep.Firmware.Notes, "\n") }

func findingScenarios() []scenario {
	return []scenario{
		// Finding 1: SSTAT 100b = succeeded WITH deallocation although
		// NDAS was requested: reads come from deallocated blocks.
		{"1: SSTAT 100b means deallocated despite no-deallocate", []string{"nvme"}, func(t *testing.T, _ kit) {
			r, _ := nvmeRig(t, nvmesim.Config{SANICAP: 0x4, DeallocateDespiteNDAS: true})
			rep := r.run(purge())
			requireStatus(t, rep, wipe.StatusErased, "a full read-back matched zeros")
			f := rep.Firmware
			if !f.NoDeallocate || !f.Proof.Deallocated || !strings.Contains(f.Proof.DeallocatedNote, "SSTAT 100b") || f.Proof.Expect.Kind != "zero" {
				t.Fatalf("%+v\n%s", f.Proof, dump(rep))
			}
			if r.oldDataOnMedium() != 0 {
				t.Fatal("old data under the deallocation map")
			}
		}},
		// Finding 2 for Format NVM: a cancelled format is followed through
		// the Format Progress Indicator, never re-sent.
		{"2: a cancelled Format NVM is followed by its progress indicator", []string{"nvme"}, func(t *testing.T, _ kit) {
			for _, fpi := range []bool{true, false} {
				r, sim := nvmeRig(t, nvmesim.Config{OACS: nvmesim.OACSFormat, FormatSteps: 4, FPI: fpi})
				sim.CancelNext(nvme.OpFormatNVM)
				rep := r.run(purge())
				if got := formatCommands(rep); len(got) != 1 {
					t.Fatalf("FPI %v: Format NVM sent %d times", fpi, len(got))
				}
				if fpi {
					requireStatus(t, rep, wipe.StatusErased)
					if !rep.Firmware.InProgressSeen || !strings.Contains(rep.Firmware.Completion, "own answer was lost") {
						t.Fatalf("completion %q", rep.Firmware.Completion)
					}
				} else {
					requireStatus(t, rep, wipe.StatusFailed, "nothing shows that the namespace was formatted")
				}
			}
		}},
		// Finding 3: a Sanitize (and an all-namespace Format) reaches the
		// whole NVM subsystem.
		{"3: erase scope is every namespace of the subsystem", []string{"nvme"}, func(t *testing.T, _ kit) {
			for _, c := range []struct {
				name   string
				cfg    nvmesim.Config
				reason string
			}{
				{"two namespaces", nvmesim.Config{Namespaces: []nvmesim.NamespaceConfig{{}, {}}}, "also erases namespace(s) 2"},
				{"an allocated namespace attached elsewhere", nvmesim.Config{OACS: nvmesim.OACSNSMgmt, Namespaces: []nvmesim.NamespaceConfig{{}, {Detached: true}}}, "2 (not attached to this controller)"},
				{"other controllers, no namespace management", nvmesim.Config{CMIC: nvmesim.CMICMultiCtl}, "CMIC bit 1"},
				{"a namespace Identify cannot describe", nvmesim.Config{Namespaces: []nvmesim.NamespaceConfig{{}, {IdentifyError: nvme.StatusInternalError}}}, "namespace 2 is active but Identify Namespace failed"},
				{"a shared namespace", nvmesim.Config{Namespaces: []nvmesim.NamespaceConfig{{Shared: true}}}, "NMIC bit 0"},
			} {
				c.cfg.SANICAP = nvmesim.SANICAPAll
				r, _ := nvmeRig(t, c.cfg)
				caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
				for _, id := range []wipe.TechniqueID{wipe.TechNVMeSanitizeCrypto, wipe.TechNVMeSanitizeBlock, wipe.TechNVMeSanitizeOverw} {
					if cp, _ := caps.Lookup(id); cp.Available || !strings.Contains(cp.Reason, c.reason) || !strings.Contains(cp.Reason, "--all-namespaces") {
						t.Fatalf("%s: %s %+v", c.name, id, cp)
					}
				}
				p := r.plan(wipe.Request{Policy: wipe.PolicyPurgeOrFail})
				if p.Refusal == "" {
					t.Fatalf("%s: purge-or-fail planned %s", c.name, p.Technique.ID)
				}
			}
			// FNA bit 0 makes a format reach every namespace too.
			r, _ := nvmeRig(t, nvmesim.Config{OACS: nvmesim.OACSFormat, FNA: 0x1, Namespaces: []nvmesim.NamespaceConfig{{}, {}}})
			caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
			if cp, _ := caps.Lookup(wipe.TechNVMeFormatUserData); cp.Available || !strings.Contains(cp.Reason, "whole NVM subsystem") {
				t.Fatalf("FNA 1 format: %+v", cp)
			}
			// --all-namespaces: allowed, and the record lists every
			// namespace the sanitize erased (the detached one included).
			r, sim := nvmeRig(t, nvmesim.Config{SANICAP: nvmesim.SANICAPAll, OACS: nvmesim.OACSNSMgmt, Namespaces: []nvmesim.NamespaceConfig{{}, {}, {Detached: true}}})
			r.fo.AllNamespaces = true
			for _, n := range []uint32{2, 3} {
				if _, err := sim.Namespace(n).WriteAt([]byte("OTHER NAMESPACE"), 0); err != nil {
					t.Fatal(err)
				}
			}
			rep := r.run(purge())
			requireStatus(t, rep, wipe.StatusErased)
			sc := rep.Firmware.Scope
			if sc == nil || !sc.Subsystem || !sc.Override || len(sc.Namespaces) != 3 || !sc.Namespaces[0].Probed || sc.Namespaces[2].Attached || !sc.Namespaces[1].Attached || sc.Namespaces[1].SizeBytes == 0 {
				t.Fatalf("scope %+v", sc)
			}
			for _, n := range []uint32{2, 3} {
				b := make([]byte, 15)
				sim.Namespace(n).Disk.RawReadAt(b, 0)
				if string(b) == "OTHER NAMESPACE" {
					t.Fatalf("namespace %d not erased", n)
				}
			}
		}},
		// Finding 4: a drive that does not report its rotation gets the
		// flash category, whatever queue/rotational says.
		{"4: unknown rotation is flash", []string{"ata", "scsi"}, func(t *testing.T, k kit) {
			if k.name == "ata" {
				r, _ := ataRig(t, atasim.Config{EnhancedErase: true, RotationRate: 7200, NoRotationRate: true})
				r.dev.Rotational = true // what the sd driver defaults to
				p := r.plan(purge())
				if p.Technique.ID != wipe.TechATASecurityEnhanced || p.Category != wipe.CategoryClear || !strings.Contains(strings.Join(p.Decision, "\n"), "no evidence") {
					t.Fatalf("%s (%s)\n%s", p.Technique.ID, p.Category, strings.Join(p.Decision, "\n"))
				}
				if rep := r.execute(context.Background(), p, wipe.ExecOptions{}); rep.Category != wipe.CategoryClear {
					t.Fatalf("certified %s", rep.Category)
				}
				return
			}
			r, _ := scsiRig(t, scsisim.Config{NoBlockDeviceCharacteristics: true})
			r.dev.Rotational = true
			caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
			if caps.Rotational != nil || !strings.Contains(strings.Join(caps.Notes, "\n"), "VPD B1h") {
				t.Fatalf("rotational %v notes %v", caps.Rotational, caps.Notes)
			}
		}},
		// Finding 5: Accessible Max Address drives, and "not read" is
		// unknown, never none.
		{"5: hidden areas through Accessible Max Address; unknown is not none", []string{"ata"}, func(t *testing.T, _ kit) {
			r, sim := ataRig(t, atasim.Config{AMA: true, Sanitize: true, Sectors: 32768, HPASectors: 30000})
			secret := []byte("HIDDEN-CUSTOMER-DATA")
			sim.Disk().WriteAt(secret, 31000*512)
			rep := r.run(purge())
			requireStatus(t, rep, wipe.StatusErased)
			h := rep.HiddenAreas
			if h.Before.HPASectors != 2768 || h.After.Hidden() != 0 || !strings.Contains(h.Before.NativeMaxSource, "GET NATIVE MAX ADDRESS EXT") ||
				!hasCommand(rep, "SET ACCESSIBLE MAX ADDRESS EXT") || hasCommand(rep, "READ NATIVE MAX") {
				t.Fatalf("%+v\n%v", h, commandNames(rep))
			}
			raw := make([]byte, 32768*512)
			sim.Disk().RawReadAt(raw, 0)
			if strings.Contains(string(raw), string(secret)) {
				t.Fatal("data in the accessible-max area survived")
			}
			// The native max cannot be read: a host overwrite is PARTIAL,
			// and so is a firmware erase.
			r, _ = ataRig(t, atasim.Config{Sanitize: true, NativeMaxFails: true})
			caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
			if caps.Hidden == nil || !caps.Hidden.NativeMaxUnknown {
				t.Fatalf("hidden %+v", caps.Hidden)
			}
			if ow, ok := caps.Lookup(wipe.TechOverwrite); !ok || !ow.Available || !strings.Contains(ow.Reason, "PARTIAL") {
				t.Fatalf("overwrite %+v", ow)
			}
			m, _ := wipe.ResolveMethod("zero", nil, false)
			rep = r.execute(context.Background(), r.plan(wipe.Request{Policy: wipe.PolicyClear, Method: m}), wipe.ExecOptions{})
			requireStatus(t, rep, wipe.StatusPartial, "native capacity is unknown")
			r, _ = ataRig(t, atasim.Config{Sanitize: true, NativeMaxFails: true})
			requireStatus(t, r.run(purge()), wipe.StatusPartial, "native capacity is unknown")
		}},
		// Finding 6: no erase time in words 89/90 is not 12 hours.
		{"6: security erase timeout without the drive's figure", []string{"ata"}, func(t *testing.T, _ kit) {
			r, _ := ataRig(t, atasim.Config{})
			rep := r.run(purge())
			requireStatus(t, rep, wipe.StatusErased)
			if rep.Firmware.TimeoutSeconds != 1800 || !strings.Contains(notes(rep), "no erase time") {
				t.Fatalf("timeout %v notes %s", rep.Firmware.TimeoutSeconds, notes(rep))
			}
		}},
		// Finding 7: SEC6 left by an interrupted run is cleared and the
		// drive erased in one run, through a suspend/resume that locks it.
		{"7: SEC6 recovery in one run", []string{"ata"}, func(t *testing.T, _ kit) {
			var fc *failCommand
			r, sim := ataRig(t, atasim.Config{EnhancedErase: true}, func(t scsi.Transport) scsi.Transport {
				fc = &failCommand{Transport: t, cmd: ata.CmdSecurityEraseUnit, lose: true}
				return fc
			})
			r.run(purge()) // lethe's password stays set (SEC5)
			fc.dead.Store(false)
			fc.cmd = 0
			sim.WarmReboot() // the drive kept power; the BIOS froze it: SEC6
			if s := securityState(t, sim); s.State() != "SEC6 (enabled, unlocked, frozen)" {
				t.Fatalf("%s", s.State())
			}
			cycles := 0
			r.fo.AllowUnfreeze = true
			r.fo.Unfreezer = wipe.UnfreezeFunc(func(context.Context) error { cycles++; sim.SuspendResume(); return nil })
			rep := r.run(purge())
			requireStatus(t, rep, wipe.StatusErased)
			if cycles != 1 || !hasCommand(rep, "SECURITY UNLOCK") || !strings.Contains(notes(rep), "recovered the drive") {
				t.Fatalf("cycles %d\n%s", cycles, dump(rep))
			}
			if s := securityState(t, sim); s.Enabled || len(r.jobFiles()) != 0 {
				t.Fatalf("%s jobs %v", s.State(), r.jobFiles())
			}
		}},
		// Finding 8: STATUS EXT aborted with reason 0 is a failure.
		{"8: sanitize failure reported with reason 0", []string{"ata"}, func(t *testing.T, _ kit) {
			r, d := ataRig(t, atasim.Config{Sanitize: true, FailAtStep: 2, FailureReasonZero: true})
			rep := r.run(purge())
			requireStatus(t, rep, wipe.StatusFailed, "reason 0")
			if len(r.jobFiles()) != 1 {
				t.Fatal("job not kept")
			}
			requireStatus(t, r.run(purge()), wipe.StatusErased)
			if d.Sanitizing() {
				t.Fatal("still sanitizing")
			}
		}},
		// Finding 9: ND estimates only with NODMMAS 10b; ETO is 16 passes.
		{"9: sanitize estimates", []string{"nvme"}, func(t *testing.T, _ kit) {
			for _, c := range []struct {
				sanicap uint32
				want    time.Duration
			}{
				{0x4 | 1<<30, 100 * time.Second}, // NODMMAS 01b: ETO/16, not ETOND
				{0x4 | 2<<30, 200 * time.Second}, // NODMMAS 10b: ETOND/16
				{0x1 | 1<<30, 5 * time.Second},   // ETCE
				{0x1 | 2<<30, 6 * time.Second},   // ETCEND
				{0x1 | 1<<29, 5 * time.Second},   // NDI: no NDAS, ETCE
			} {
				r, _ := nvmeRig(t, nvmesim.Config{SANICAP: c.sanicap, ETO: 1600, ETOND: 3200, ETCE: 5, ETCEND: 6})
				if p := r.plan(purge()); p.Estimate != c.want {
					t.Errorf("SANICAP 0x%08x: estimate %v, want %v", c.sanicap, p.Estimate, c.want)
				}
			}
		}},
		// Finding 10: FORMAT UNIT keeps the protection type, or refuses.
		{"10: FORMAT UNIT keeps protection information", []string{"scsi"}, func(t *testing.T, _ kit) {
			for typ := 1; typ <= 3; typ++ {
				r, sim := scsiRig(t, scsisim.Config{ProtectionType: typ})
				rep := r.run(wipe.Request{Policy: wipe.PolicyPurge, Technique: wipe.TechSCSIFormatUnit})
				requireStatus(t, rep, wipe.StatusErased)
				if sim.ProtectionType() != typ || !strings.Contains(notes(rep), "keeps it") {
					t.Fatalf("type %d -> %d\n%s", typ, sim.ProtectionType(), dump(rep))
				}
			}
			r, sim := scsiRig(t, scsisim.Config{ProtectionType: 2, PIExponent: 3})
			caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
			if cp, _ := caps.Lookup(wipe.TechSCSIFormatUnit); cp.Available || !strings.Contains(cp.Reason, "P_I_EXPONENT") {
				t.Fatalf("%+v", cp)
			}
			forced := wipe.Plan{Technique: mustTechnique(wipe.TechSCSIFormatUnit), Category: wipe.CategoryClear}
			if _, err := wipe.Execute(context.Background(), r.dev, r.target, forced, wipe.ExecOptions{Firmware: r.fo}); err == nil || sim.ProtectionType() != 2 {
				t.Fatalf("forced: %v, type %d", err, sim.ProtectionType())
			}
		}},
	}
}
