package main

import (
	"bufio"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/sign"
)

// wipeFlags are the options of `lethe wipe` (and the subset `lethe plan`
// shares): the pipeline's options and the selection, plus what only the
// command line has.
type wipeFlags struct {
	opts      station.Options
	sel       station.Selection
	certDir   string
	keyPath   string
	personnel cert.Personnel
	yes       bool
	progress  string
	audit     auditFlags
}

func (f *wipeFlags) addPlanFlags(cmd *cobra.Command) {
	d := station.DefaultOptions()
	fl := cmd.Flags()
	fl.StringVar(&f.opts.Policy, "policy", d.Policy, "outcome: purge (strongest available, falling back to Clear), purge-or-fail, clear (host overwrite)")
	fl.StringVar(&f.opts.Technique, "technique", d.Technique, "force one technique by id (see lethe devices), e.g. nvme-format-user-data")
	fl.StringVar(&f.opts.Method, "method", d.Method, "host overwrite method: random (default), zero, one, dod (DoD 5220.22-M 3-pass); asks for a host overwrite")
	fl.StringSliceVar(&f.opts.Passes, "passes", d.Passes, "custom passes, comma-separated: zero, one, random or 0xHEX (e.g. 0x00,0xFF,random)")
	fl.BoolVar(&f.opts.FinalZero, "final-zero", d.FinalZero, "finish with a pass of zeros")
	fl.StringVar(&f.opts.Verify, "verify", d.Verify, "read-back: last (full read of the last pass), all, sample, off")
	fl.Float64Var(&f.opts.SamplePercent, "sample-percent", d.SamplePercent, "with --verify sample: share of the media to read, in percent")
	fl.BoolVar(&f.sel.Force, "force", false, "override refusals that may safely be overridden (holders, virtual devices, loop backing files)")
	fl.BoolVar(&f.sel.All, "all", false, "every physical device that passes the guards")
	fl.StringSliceVar(&f.sel.Excludes, "exclude", nil, "with --all: skip a device by path, serial or WWN (repeatable)")
	fl.StringVar(&f.opts.StateDir, "state-dir", d.StateDir, "where firmware erase jobs are persisted, so an interrupted sanitize is resumed and a password lethe set is cleared by the next run")
	fl.BoolVar(&f.opts.AllowUnfreeze, "allow-unfreeze", d.AllowUnfreeze, "unfreeze ATA drives the BIOS froze by suspending this machine to RAM and resuming it (RTC wake alarm)")
	f.opts.ChunkMiB, f.opts.Workers = d.ChunkMiB, d.Workers
}

func (f *wipeFlags) addWipeFlags(cmd *cobra.Command) {
	f.addPlanFlags(cmd)
	d := station.DefaultOptions()
	fl := cmd.Flags()
	fl.StringVar(&f.opts.SampleSeed, "sample-seed", d.SampleSeed, "with --verify sample: 32-byte hex seed for the sampled positions (e.g. from the audit server); random if empty")
	fl.StringVar(&f.certDir, "cert-dir", "certificates", "directory for the signed certificates")
	fl.StringVar(&f.keyPath, "key", os.Getenv("LETHE_KEY"), "ed25519 signing key, PKCS#8 PEM (from lethe keygen; default $LETHE_KEY)")
	fl.StringVar(&f.personnel.Operator, "operator", os.Getenv("USER"), "name of the person performing the sanitization")
	fl.StringVar(&f.personnel.Organization, "organization", "", "organization performing the sanitization")
	fl.StringVar(&f.personnel.Site, "site", "", "location of the sanitization")
	fl.StringVar(&f.personnel.Job, "job", "", "job or ticket identifier")
	fl.StringVar(&f.personnel.AssetTag, "asset-tag", "", "organizationally assigned media or property number")
	fl.BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto, bar, log, none")
	fl.IntVar(&f.opts.ChunkMiB, "chunk-mib", d.ChunkMiB, "I/O size in MiB")
	fl.IntVar(&f.opts.Workers, "workers", d.Workers, "I/Os in flight per device")
	f.audit.add(fl)
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
	cfg, err := f.opts.Parse()
	if err != nil {
		return err
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
	f.sel.Args = args
	list, skips, err := station.Select(f.sel, logger)
	for _, s := range skips {
		fmt.Fprintf(cmd.ErrOrStderr(), "skipping %s: %s\n", s.Device.Path, s.Reason)
	}
	if err != nil {
		return err
	}
	drives := station.PlanAll(cmd.Context(), list, cfg)
	if err := station.Refusals(drives); err != nil {
		return err
	}
	if err := requireConfirmation(f.yes, list, "ERASE"); err != nil {
		return err
	}
	targets, err := station.OpenTargets(list, f.sel.Force)
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
	c := station.Certifier{Dir: f.certDir, Signers: []sign.Signer{sign.KeySigner{Key: key}},
		Personnel: f.personnel, Host: devices.Host.Host(), Tool: toolInfo()}
	results := station.Run(ctx, drives, targets, cfg, c, ui, logger)
	ui.Close()
	return f.audit.submit(cmd, f.certDir, key, results, summarize(cmd, results))
}

// summarize prints one line per drive and picks the exit code.
func summarize(cmd *cobra.Command, results []station.Result) error {
	out := cmd.OutOrStdout()
	bad := 0
	for _, r := range results {
		d := r.Drive.Device
		switch {
		case r.Report == nil:
			bad++
			fmt.Fprintf(out, "%-8s %s: %v\n", "FAILED", d.Label(), r.Err)
			continue
		case r.Err != nil:
			bad++
			fmt.Fprintf(out, "%-8s %s: %s; certificate NOT written: %v\n", r.Report.Status, d.Label(), r.Report.StatusReason, r.Err)
			continue
		}
		fmt.Fprintf(out, "%-8s %s: %s\n", r.Report.Status, d.Label(), r.Report.StatusReason)
		fmt.Fprintf(out, "         certificate: %s\n", r.CertPath)
		if r.Report.Status != wipe.StatusErased && r.Report.Status != wipe.StatusPartial {
			bad++
		}
	}
	if bad > 0 {
		return &exitError{exitFailed, fmt.Errorf("%d of %d drive(s) not erased", bad, len(results))}
	}
	return nil
}

// confirm asks the operator to type "yes" after naming every drive.
func confirm(in io.Reader, out io.Writer, list []*devices.Device, action string) error {
	fmt.Fprintf(out, "About to %s ALL DATA on %d device(s):\n", action, len(list))
	for _, d := range list {
		fmt.Fprintf(out, "  %-14s %-10s model %-24s serial %-20s %s\n", d.Path, devices.HumanBytes(d.SizeBytes), dash(d.Model), dash(d.Serial), d.Transport)
	}
	fmt.Fprint(out, "Type 'yes' to continue: ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return usageErr("no confirmation: nothing was written")
	}
	if strings.TrimSpace(line) != "yes" {
		return usageErr("not confirmed: nothing was written")
	}
	return nil
}

func requireConfirmation(yes bool, list []*devices.Device, action string) error {
	if yes {
		return nil
	}
	if !stdinIsTerminal() {
		return usageErr("refusing to %s without confirmation: stdin is not a terminal; pass --yes", action)
	}
	return confirm(os.Stdin, os.Stderr, list, action)
}

// keyOf is the public half of a signing key.
func keyOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }
