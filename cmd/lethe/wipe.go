package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/sign"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/durable"
	"github.com/lethe-project/lethe/internal/wipe"
)

// wipeFlags are the options of `lethe wipe` (and the subset `lethe plan`
// shares).
type wipeFlags struct {
	policy        string
	technique     string
	method        string
	passes        []string
	finalZero     bool
	verify        string
	samplePercent float64
	sampleSeed    string
	certDir       string
	keyPath       string
	personnel     cert.Personnel
	yes           bool
	force         bool
	all           bool
	excludes      []string
	progress      string
	chunkMiB      int
	workers       int
	audit         auditFlags
	stateDir      string
	allowUnfreeze bool
}

func (f *wipeFlags) addPlanFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.policy, "policy", "purge", "outcome: purge (strongest available, falling back to Clear), purge-or-fail, clear (host overwrite)")
	fl.StringVar(&f.technique, "technique", "", "force one technique by id (see lethe devices), e.g. nvme-format-user-data")
	fl.StringVar(&f.method, "method", "", "host overwrite method: random (default), zero, one, dod (DoD 5220.22-M 3-pass); asks for a host overwrite")
	fl.StringSliceVar(&f.passes, "passes", nil, "custom passes, comma-separated: zero, one, random or 0xHEX (e.g. 0x00,0xFF,random)")
	fl.BoolVar(&f.finalZero, "final-zero", false, "finish with a pass of zeros")
	fl.StringVar(&f.verify, "verify", "last", "read-back: last (full read of the last pass), all, sample, off")
	fl.Float64Var(&f.samplePercent, "sample-percent", 10, "with --verify sample: share of the media to read, in percent")
	fl.BoolVar(&f.force, "force", false, "override refusals that may safely be overridden (holders, virtual devices, loop backing files)")
	fl.BoolVar(&f.all, "all", false, "every physical device that passes the guards")
	fl.StringSliceVar(&f.excludes, "exclude", nil, "with --all: skip a device by path, serial or WWN (repeatable)")
	fl.StringVar(&f.stateDir, "state-dir", wipe.DefaultStateDir, "where firmware erase jobs are persisted, so an interrupted sanitize is resumed and a password lethe set is cleared by the next run")
	fl.BoolVar(&f.allowUnfreeze, "allow-unfreeze", false, "unfreeze ATA drives the BIOS froze by suspending this machine to RAM and resuming it (RTC wake alarm)")
}

// firmware is the firmware-technique configuration the flags give.
func (f *wipeFlags) firmware() wipe.FirmwareOptions {
	return wipe.FirmwareOptions{StateDir: f.stateDir, AllowUnfreeze: f.allowUnfreeze}
}

func (f *wipeFlags) addWipeFlags(cmd *cobra.Command) {
	f.addPlanFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.sampleSeed, "sample-seed", "", "with --verify sample: 32-byte hex seed for the sampled positions (e.g. from the audit server); random if empty")
	fl.StringVar(&f.certDir, "cert-dir", "certificates", "directory for the signed certificates")
	fl.StringVar(&f.keyPath, "key", os.Getenv("LETHE_KEY"), "ed25519 signing key, PKCS#8 PEM (from lethe keygen; default $LETHE_KEY)")
	fl.StringVar(&f.personnel.Operator, "operator", os.Getenv("USER"), "name of the person performing the sanitization")
	fl.StringVar(&f.personnel.Organization, "organization", "", "organization performing the sanitization")
	fl.StringVar(&f.personnel.Site, "site", "", "location of the sanitization")
	fl.StringVar(&f.personnel.Job, "job", "", "job or ticket identifier")
	fl.StringVar(&f.personnel.AssetTag, "asset-tag", "", "organizationally assigned media or property number")
	fl.BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto, bar, log, none")
	fl.IntVar(&f.chunkMiB, "chunk-mib", 4, "I/O size in MiB")
	fl.IntVar(&f.workers, "workers", 4, "I/Os in flight per device")
	f.audit.add(fl)
}

// request turns the flags into a planner request and a verification mode,
// shared by plan and wipe.
func (f *wipeFlags) request() (wipe.Request, wipe.VerifyMode, error) {
	policy, err := wipe.ParsePolicy(f.policy)
	if err != nil {
		return wipe.Request{}, "", usageErr("%v", err)
	}
	m, err := wipe.ResolveMethod(f.method, f.passes, f.finalZero)
	if err != nil {
		return wipe.Request{}, "", usageErr("%v", err)
	}
	v, err := wipe.ParseVerifyMode(f.verify)
	if err != nil {
		return wipe.Request{}, "", usageErr("%v", err)
	}
	if f.samplePercent <= 0 || f.samplePercent > 100 {
		return wipe.Request{}, "", usageErr("--sample-percent %.2f: want a value in (0, 100]", f.samplePercent)
	}
	tech := wipe.TechniqueID(f.technique)
	if tech != "" {
		if _, ok := wipe.LookupTechnique(tech); !ok {
			return wipe.Request{}, "", usageErr("--technique %q: no such technique (lethe devices lists them)", f.technique)
		}
	}
	explicit := f.method != "" || len(f.passes) > 0 || f.finalZero
	if tech != "" && explicit && tech != wipe.TechOverwrite {
		return wipe.Request{}, "", usageErr("--method/--passes describe a host overwrite; they do not combine with --technique %s", tech)
	}
	return wipe.Request{Policy: policy, Technique: tech, Method: m, MethodExplicit: explicit}, v, nil
}

// planned is a drive with its plan.
type planned struct {
	dev  *devices.Device
	caps wipe.Capabilities
	plan wipe.Plan
}

// planAll probes and plans every drive. Planning writes nothing.
func planAll(ctx context.Context, list []*devices.Device, req wipe.Request, fo wipe.FirmwareOptions) []planned {
	out := make([]planned, len(list))
	for i, d := range list {
		caps := wipe.ProbeWith(ctx, d, fo)
		out[i] = planned{d, caps, wipe.NewPlan(d, caps, req)}
	}
	return out
}

// refusals lists the drives the policy refuses.
func refusals(ps []planned) error {
	var msgs []string
	for _, p := range ps {
		if p.plan.Refusal != "" {
			msgs = append(msgs, fmt.Sprintf("refusing %s: %s", p.dev.Path, p.plan.Refusal))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return failed("%s\nnothing was written", strings.Join(msgs, "\nlethe: "))
}

func newWipeCmd() *cobra.Command {
	var f wipeFlags
	cmd := &cobra.Command{
		Use:   "wipe [flags] (DEVICE... | --all [--exclude ID]...)",
		Short: "Erase drives, verify, and sign a certificate per drive",
		Long: `Erase each named drive (a block device or a disk image file) with the
technique the planner chooses (--policy: the drive's own sanitize, crypto
erase or format where it supports one, else a host overwrite), check the
result (read-back; before/after proof for firmware erases), and write a
signed certificate of sanitization per drive into --cert-dir. Mounted,
swapped-on, system, read-only and busy devices are refused. Exit status: 0 all drives erased, 1 a drive failed or
was stopped, 2 usage error or refusal (nothing written).`,
		RunE: func(cmd *cobra.Command, args []string) error { return runWipe(cmd, f, args) },
	}
	f.addWipeFlags(cmd)
	return cmd
}

func runWipe(cmd *cobra.Command, f wipeFlags, args []string) error {
	req, verify, err := f.request()
	if err != nil {
		return err
	}
	if f.chunkMiB <= 0 || f.chunkMiB > 256 || f.workers <= 0 || f.workers > 64 {
		return usageErr("--chunk-mib must be 1..256 and --workers 1..64")
	}
	var seed []byte
	if f.sampleSeed != "" {
		if seed, err = hex.DecodeString(f.sampleSeed); err != nil || len(seed) != 32 {
			return usageErr("--sample-seed: want 64 hex digits (32 bytes)")
		}
	}
	if f.keyPath == "" {
		return usageErr("no signing key: pass --key FILE or set LETHE_KEY (create one with lethe keygen --out DIR)")
	}
	key, err := sign.LoadPrivateKey(f.keyPath)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := os.MkdirAll(f.certDir, 0o755); err != nil {
		return usageErr("--cert-dir: %v", err)
	}
	sel := selection{args: args, all: f.all, excludes: f.excludes, force: f.force}
	list, skips, err := sel.resolve()
	for _, s := range skips {
		fmt.Fprintf(cmd.ErrOrStderr(), "skipping %s: %s\n", s.dev.Path, s.reason)
	}
	if err != nil {
		return err
	}
	plans := planAll(cmd.Context(), list, req, f.firmware())
	if err := refusals(plans); err != nil {
		return err
	}
	if err := requireConfirmation(f.yes, list, "ERASE"); err != nil {
		return err
	}
	targets, err := openTargets(list, f.force)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process the usual way
		if cmd.Context().Err() == nil {
			fmt.Fprintln(os.Stderr, "\nlethe: stopping; host overwrites stop now and their certificates say ABORTED (a firmware erase in a drive cannot be stopped: lethe says what happens to it)")
		}
	}()

	ui, err := newProgressUI(f.progress)
	if err != nil {
		return err
	}
	host := devices.Host.Host()
	results := make([]driveResult, len(list))
	var wg sync.WaitGroup
	for i, d := range list {
		wg.Go(func() {
			defer targets[i].Close()
			results[i] = wipeOne(ctx, plans[i], targets[i], f, verify, seed, []sign.Signer{sign.KeySigner{Key: key}}, host, ui)
			ui.Finish(d.Path, results[i].status())
		})
	}
	wg.Wait()
	ui.Close()
	return f.audit.submit(cmd, f.certDir, key, results, summarize(cmd, results))
}

// driveResult is what happened to one drive.
type driveResult struct {
	dev      *devices.Device
	report   *wipe.Report
	certPath string
	err      error
}

func (r driveResult) status() string {
	if r.report == nil {
		return string(wipe.StatusFailed)
	}
	return string(r.report.Status)
}

func wipeOne(ctx context.Context, p planned, t wipe.Target, f wipeFlags, verify wipe.VerifyMode,
	seed []byte, signers []sign.Signer, host devices.HostIdentity, ui progressUI) driveResult {
	d := p.dev
	logger := log.WithField("device", d.Path)
	logger.WithFields(logrus.Fields{"event": "start", "technique": p.plan.Technique.ID, "category": p.plan.Category,
		"method": p.plan.Method.Name, "verify": verify, "size_bytes": d.SizeBytes}).Info("wipe started")
	fo := f.firmware()
	fo.Notify = func(msg string) { logger.Warn(msg) }
	rep, err := wipe.Execute(ctx, d, t, p.plan, wipe.ExecOptions{
		Verify: verify, SamplePercent: f.samplePercent, SampleSeed: seed,
		IO:       wipe.IOOptions{ChunkBytes: f.chunkMiB << 20, Workers: f.workers},
		Progress: ui.Track(d.Path),
		Firmware: fo,
	})
	if err != nil {
		return driveResult{dev: d, err: err}
	}
	path, err := writeCertificate(f.certDir, d, rep, f.personnel, host, signers...)
	logger.WithFields(logrus.Fields{"event": "result", "status": rep.Status, "certificate": path}).Info(rep.StatusReason)
	return driveResult{dev: d, report: rep, certPath: path, err: err}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// writeCertificate signs the certificate and writes it, without
// overwriting any existing file, then fsyncs it: a certificate that was
// reported must survive a power cut.
func writeCertificate(dir string, d *devices.Device, rep *wipe.Report, who cert.Personnel, host devices.HostIdentity, signers ...sign.Signer) (string, error) {
	st, err := station.NewStatement(station.CertInput{
		Device: d, Report: rep, Personnel: who, Host: host, Tool: toolInfo(),
	})
	if err != nil {
		return "", err
	}
	data, err := attest.Sign(st, signers...)
	if err != nil {
		return "", err
	}
	label := d.Serial
	if label == "" {
		label = d.Name
	}
	name := fmt.Sprintf("%s-%s-%s.cert.json", unsafeName.ReplaceAllString(label, "_"),
		rep.Ended.UTC().Format("20060102T150405Z"), st.Predicate.CertificateID[:8])
	path := filepath.Join(dir, name)
	if err := durable.WriteNew(path, data, 0o644); err != nil {
		return "", fmt.Errorf("write certificate: %w", err)
	}
	return path, nil
}

// summarize prints one line per drive and picks the exit code.
func summarize(cmd *cobra.Command, results []driveResult) error {
	out := cmd.OutOrStdout()
	bad := 0
	for _, r := range results {
		switch {
		case r.report == nil:
			bad++
			fmt.Fprintf(out, "%-8s %s: %v\n", "FAILED", r.dev.Label(), r.err)
			continue
		case r.err != nil:
			bad++
			fmt.Fprintf(out, "%-8s %s: %s; certificate NOT written: %v\n", r.report.Status, r.dev.Label(), r.report.StatusReason, r.err)
			continue
		}
		fmt.Fprintf(out, "%-8s %s: %s\n", r.report.Status, r.dev.Label(), r.report.StatusReason)
		fmt.Fprintf(out, "         certificate: %s\n", r.certPath)
		if r.report.Status != wipe.StatusErased && r.report.Status != wipe.StatusPartial {
			bad++
		}
	}
	if bad > 0 {
		return &exitError{exitFailed, fmt.Errorf("%d of %d drive(s) not erased", bad, len(results))}
	}
	return nil
}
