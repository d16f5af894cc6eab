package wipe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/probe"
	"github.com/lethe-project/lethe/internal/devices/scsi"
	"github.com/lethe-project/lethe/internal/devices/scsi/scsisim"
	"github.com/lethe-project/lethe/internal/wipe"
)

// scsiRig is a SAS-style disk behind scsisim.
func scsiRig(t *testing.T, cfg scsisim.Config, wrap ...func(scsi.Transport) scsi.Transport) (*rig, *scsisim.Disk) {
	t.Helper()
	sim := scsisim.MustNew(cfg)
	var tr scsi.Transport = sim
	for _, w := range wrap {
		tr = w(tr)
	}
	dev := &devices.Device{Path: "/dev/sim-sdb", Name: "sim-sdb", Kind: devices.KindDisk, Transport: devices.TransportSAS,
		Media: devices.MediaSSD, SizeBytes: sim.Medium().Size(), LogicalSectorSize: sim.Medium().BlockSize(),
		PhysicalSectorSize: sim.Medium().BlockSize(), Vendor: "LETHE", Model: "scsisim", Serial: "SIMSCSI0001"}
	r := newRig(t, dev, sim, sim.Medium(), func() *probe.Handle { return probe.NewSCSIHandle(dev.Path, tr, false, nil) })
	return r, sim
}

func TestSCSISanitize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    scsisim.Config
		tech   wipe.TechniqueID
		expect string
	}{
		{"crypto", scsisim.Config{Sanitize: true, Crypto: true}, wipe.TechSCSISanitizeCrypto, "changed"},
		{"block", scsisim.Config{Sanitize: true, Block: true}, wipe.TechSCSISanitizeBlock, "changed"},
		{"overwrite", scsisim.Config{Sanitize: true, Overwrite: true, Steps: 8}, wipe.TechSCSISanitizeOverw, "pattern"},
		{"4k blocks", scsisim.Config{Sanitize: true, Overwrite: true, BlockSize: 4096, Blocks: 4096}, wipe.TechSCSISanitizeOverw, "pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := scsiRig(t, tc.cfg)
			p := r.plan(purge())
			if p.Technique.ID != tc.tech {
				t.Fatalf("plan %s", p.Technique.ID)
			}
			var progress []float64
			rep := r.execute(context.Background(), p, wipe.ExecOptions{Progress: func(pr wipe.Progress) {
				if pr.Phase == "sanitize" {
					progress = append(progress, float64(pr.Done)/float64(pr.Total))
				}
			}})
			requireStatus(t, rep, wipe.StatusErased)
			f := rep.Firmware
			if !f.InProgressSeen || f.Proof.Expect.Kind != tc.expect || !strings.HasPrefix(f.Completion, "observed") {
				t.Fatalf("%s %q\n%s", f.Proof.Expect.Kind, f.Completion, dump(rep))
			}
			// Progress came from REQUEST SENSE, increasing to the end.
			if len(progress) < 3 || progress[len(progress)-1] != 1 || progress[1] <= progress[0] {
				t.Fatalf("progress %v", progress)
			}
			var pct bool
			for _, o := range f.Observations {
				pct = pct || o.ProgressPct > 0
			}
			if !pct {
				t.Fatal("no progress observation recorded")
			}
			if tc.expect == "pattern" && rep.Verification.Result != wipe.VerifyPassed {
				t.Fatalf("%+v", rep.Verification)
			}
			if r.oldDataOnMedium() != 0 || len(r.jobFiles()) != 0 {
				t.Fatal("not clean")
			}
		})
	}
}

// The timeout comes from the drive's recommended command timeout when it
// reports one (REPORT SUPPORTED OPERATION CODES with RCTD), and the record
// says which source was used.
func TestSCSITimeoutFromDrive(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  scsisim.Config
		want float64
		note string
	}{
		{"crypto erase: drive's figure", scsisim.Config{Sanitize: true, Crypto: true, NominalTimeout: 20 * time.Second, RecommendedTimeout: 90 * time.Second}, 180 + 600, "recommended command timeout (1m30s"},
		{"block erase: capacity floor", scsisim.Config{Sanitize: true, Block: true, NominalTimeout: 20 * time.Second, RecommendedTimeout: 90 * time.Second}, 1800, "recommended command timeout (1m30s"},
		{"block erase: long drive figure", scsisim.Config{Sanitize: true, Block: true, RecommendedTimeout: time.Hour}, 7200 + 600, "recommended command timeout (1h0m0s"},
		{"none reported", scsisim.Config{Sanitize: true, Block: true}, 1800, "reported no command timeout"},
		{"format unit, drive's figure", scsisim.Config{RecommendedTimeout: time.Hour}, 7200 + 600, "recommended command timeout (1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := scsiRig(t, tc.cfg)
			// The nominal time is the estimate lethe devices and plan show.
			caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
			id := wipe.TechSCSIFormatUnit
			switch {
			case tc.cfg.Crypto:
				id = wipe.TechSCSISanitizeCrypto
			case tc.cfg.Sanitize:
				id = wipe.TechSCSISanitizeBlock
			}
			if c, ok := caps.Lookup(id); !ok || !c.Available || c.Estimate != tc.cfg.NominalTimeout {
				t.Fatalf("%s: %+v", id, c)
			}
			req := purge()
			if !tc.cfg.Sanitize {
				req.Technique = wipe.TechSCSIFormatUnit
			}
			rep := r.run(req)
			requireStatus(t, rep, wipe.StatusErased)
			f := rep.Firmware
			if f == nil {
				t.Fatalf("no firmware record\n%s", dump(rep))
			}
			if f.TimeoutSeconds != tc.want {
				t.Fatalf("timeout %v s, want %v", f.TimeoutSeconds, tc.want)
			}
			if !strings.Contains(strings.Join(f.Notes, "\n"), tc.note) {
				t.Fatalf("notes %q", f.Notes)
			}
		})
	}
}

func TestSCSIUnitAttentionAfterPowerCycle(t *testing.T) {
	r, sim := scsiRig(t, scsisim.Config{Sanitize: true, Crypto: true, UnitAttentionOnPowerCycle: true})
	sim.PowerCycle()
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusErased)
}

func TestSCSIFormatUnit(t *testing.T) {
	// FORMAT UNIT is Clear at most, and after host overwrite in the
	// reviewed order: it runs only when asked for.
	r, _ := scsiRig(t, scsisim.Config{RotationRate: 7200})
	caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
	if caps.Rotational == nil || !*caps.Rotational {
		t.Fatal("VPD B1 rotation rate not used")
	}
	if p := r.plan(purge()); p.Technique.ID != wipe.TechOverwrite {
		t.Fatalf("plan %s", p.Technique.ID)
	}
	rep := r.run(wipe.Request{Policy: wipe.PolicyPurge, Technique: wipe.TechSCSIFormatUnit})
	requireStatus(t, rep, wipe.StatusErased)
	if rep.Category != wipe.CategoryClear || !rep.Firmware.InProgressSeen {
		t.Fatalf("%s", rep.Category)
	}
}

// QEMU's scsi-hd answers FORMAT UNIT with GOOD and erases nothing.
func TestSCSIFormatUnitLying(t *testing.T) {
	r, _ := scsiRig(t, scsisim.Config{FormatLying: true})
	rep := r.run(wipe.Request{Policy: wipe.PolicyPurge, Technique: wipe.TechSCSIFormatUnit})
	requireStatus(t, rep, wipe.StatusFailed, "canary content survived")
}

func TestSCSIWithoutReportOpcodes(t *testing.T) {
	r, _ := scsiRig(t, scsisim.Config{Sanitize: true, NoReportOpcodes: true})
	caps := wipe.ProbeWith(context.Background(), r.dev, r.fo)
	c, _ := caps.Lookup(wipe.TechSCSISanitizeBlock)
	f, _ := caps.Lookup(wipe.TechSCSIFormatUnit)
	if c.Available || !strings.Contains(c.Reason, "does not send it blind") || !f.Available {
		t.Fatalf("%+v %+v", c, f)
	}
	_ = scsi.OpSanitize
}

func TestSCSISanitizePowerLossResume(t *testing.T) {
	var ua *uaAfterSanitize
	r, sim := scsiRig(t, scsisim.Config{Sanitize: true, Block: true, ManualProgress: true, Steps: 4, UnitAttentionOnPowerCycle: true},
		func(t scsi.Transport) scsi.Transport { ua = &uaAfterSanitize{Transport: t}; return ua })
	ctx, cancel := context.WithCancel(context.Background())
	rep := r.execute(ctx, r.plan(purge()), wipe.ExecOptions{Progress: func(pr wipe.Progress) {
		if pr.Phase == "sanitize" {
			sim.Advance(1)
			cancel()
		}
	}})
	requireStatus(t, rep, wipe.StatusAborted)
	sim.PowerCycle()
	// The resumed run's first REQUEST SENSE reports the power-on UNIT
	// ATTENTION, not the sanitize: it must not pass for "nothing pending".
	ua.armed = true
	rep = r.execute(context.Background(), r.plan(purge()), wipe.ExecOptions{Progress: func(pr wipe.Progress) {
		if pr.Phase == "sanitize" && !pr.Final {
			sim.Advance(1)
		}
	}})
	requireStatus(t, rep, wipe.StatusErased)
	if len(rep.Firmware.Resumed) != 1 || !strings.HasPrefix(rep.Firmware.Completion, "observed") || r.oldDataOnMedium() != 0 {
		t.Fatalf("resumed %+v completion %q", rep.Firmware.Resumed, rep.Firmware.Completion)
	}
}

// uaAfterSanitize answers the first REQUEST SENSE after a SANITIZE (or
// after the test arms it) with a UNIT ATTENTION, as a device reset would.
type uaAfterSanitize struct {
	scsi.Transport
	armed bool
}

func (u *uaAfterSanitize) Exec(ctx context.Context, c *scsi.Command) (*scsi.Result, error) {
	switch {
	case c.CDB[0] == scsi.OpSanitize:
		u.armed = true
	case c.CDB[0] == scsi.OpRequestSense && u.armed:
		u.armed = false
		n := copy(c.Data, scsi.SenseBuilder{Key: scsi.KeyUnitAttention, ASC: scsi.ASCPowerOnReset}.Fixed())
		return &scsi.Result{DataLen: n, Resid: len(c.Data) - n}, nil
	}
	return u.Transport.Exec(ctx, c)
}

// A UNIT ATTENTION is no news about the sanitize: lethe asks again rather
// than taking "nothing pending" for the end.
func TestSCSIUnitAttentionWhilePolling(t *testing.T) {
	r, _ := scsiRig(t, scsisim.Config{Sanitize: true, Block: true}, func(t scsi.Transport) scsi.Transport { return &uaAfterSanitize{Transport: t} })
	rep := r.run(purge())
	requireStatus(t, rep, wipe.StatusErased)
	if !rep.Firmware.InProgressSeen || !strings.HasPrefix(rep.Firmware.Completion, "observed") {
		t.Fatalf("%q", rep.Firmware.Completion)
	}
}
