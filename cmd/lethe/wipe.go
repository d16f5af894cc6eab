//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/config"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/progress"
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
	// allowAnon lets a run go on without operator or organization; the
	// certificates then say so (personnel.anonymous).
	allowAnon bool
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
	fl.BoolVar(&f.opts.AllNamespaces, "all-namespaces", d.AllNamespaces, "allow an NVMe sanitize or all-namespace format that also erases namespaces other than the one named, or ones lethe cannot enumerate (the certificate lists every namespace)")
	f.opts.ChunkMiB, f.opts.Workers = d.ChunkMiB, d.Workers
}

func (f *wipeFlags) addWipeFlags(cmd *cobra.Command) {
	f.addPlanFlags(cmd)
	d := station.DefaultOptions()
	fl := cmd.Flags()
	fl.StringVar(&f.opts.SampleSeed, "sample-seed", d.SampleSeed, "with --verify sample: 32-byte hex seed for the sampled positions (e.g. from the audit server); random if empty")
	fl.StringVar(&f.certDir, "cert-dir", "", "directory for the signed certificates, their PDFs, receipts and lethe.log (default: cert-dir in lethe config show, "+config.DefaultCertDir+")")
	fl.StringVar(&f.keyPath, "key", "", "ed25519 signing key, PKCS#8 PEM (from lethe keygen; default: key in lethe config show, or $LETHE_KEY)")
	fl.StringVar(&f.personnel.Operator, "operator", "", "name of the person performing the sanitization (default: operator in the configuration)")
	fl.StringVar(&f.personnel.Organization, "organization", "", "organization performing the sanitization (default: organization in the configuration)")
	fl.StringVar(&f.personnel.Site, "site", "", "location of the sanitization (default: site in the configuration)")
	fl.StringVar(&f.personnel.Job, "job", "", "job or ticket identifier")
	fl.StringVar(&f.personnel.AssetTag, "asset-tag", "", "organizationally assigned media or property number")
	fl.BoolVar(&f.allowAnon, "allow-anonymous", false, "go on without operator or organization (the certificates record that they name nobody; an auditor may reject them)")
	fl.Bool("pdf", true, "write a PDF beside each certificate (default: pdf in the configuration)")
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
swapped-on, system, read-only and busy devices are refused.

Exit status: 0 only when every drive is ERASED; 1 a drive is PARTIAL
(e.g. --verify off), FAILED or ABORTED; 2 usage error or refusal (nothing
written).`,
		RunE: func(cmd *cobra.Command, args []string) error { return runWipe(cmd, f, args) },
	}
	f.addWipeFlags(cmd)
	return cmd
}

func runWipe(cmd *cobra.Command, f wipeFlags, args []string) error {
	settings, err := f.applyConfig(cmd)
	if err != nil {
		return err
	}
	cfg, err := f.opts.Parse()
	if err != nil {
		return err
	}
	if f.keyPath == "" {
		return usageErr("no signing key: set key in the configuration (lethe config show), pass --key FILE or set LETHE_KEY (create one with lethe keygen --out DIR)")
	}
	key, err := sign.LoadPrivateKey(f.keyPath)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := os.MkdirAll(f.certDir, 0o755); err != nil {
		return usageErr("--cert-dir: %v", err)
	}
	rl, err := startRunLog(f.certDir)
	if err != nil {
		return usageErr("--cert-dir: %v", err)
	}
	defer rl.Close()
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
	if err := requireConfirmation(f.yes, drives, cfg, "ERASE"); err != nil {
		return err
	}
	targets, err := station.OpenTargets(list, f.sel.Force)
	if err != nil {
		return err
	}
	ctx, stopped := interruptible(cmd.Context())
	defer stopped()

	ui, err := newProgressUI(f.progress)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "certificates: %s\nlog:          %s\n", f.certDir, rl.Path)
	if _, ok := ui.(*boardUI); ok {
		rl.Quiet() // the board owns the terminal: only warnings and errors above it
	}
	c := station.Certifier{Dir: f.certDir, Signers: []sign.Signer{sign.KeySigner{Key: key}},
		Personnel: f.personnel, Host: devices.Host.Host(), Tool: toolInfo()}
	results := station.Run(ctx, drives, targets, cfg, c, ui, logger)
	ui.Close()
	if settings.PDF {
		for _, r := range results {
			if r.CertPath == "" {
				continue
			}
			if err := writeCertPDF(r.CertPath, r.Certificate); err != nil {
				logger.Warn("PDF not written", "certificate", r.CertPath, "error", err)
			}
		}
	}
	return f.audit.submit(cmd, f.certDir, key, results, summarize(cmd, results))
}

// applyConfig fills the flags the operator did not give from the
// configuration file and the environment (package config), and refuses a
// run that would name nobody in its certificates unless --allow-anonymous.
func (f *wipeFlags) applyConfig(cmd *cobra.Command) (config.Settings, error) {
	c, err := loadConfig(cmd)
	if err != nil {
		return config.Settings{}, err
	}
	s := c.Settings()
	f.keyPath, f.certDir = s.Key, s.CertDir
	f.personnel.Operator, f.personnel.Organization, f.personnel.Site = s.Operator, s.Organization, s.Site
	f.opts.Policy, f.opts.Verify = s.Policy, s.Verify
	f.audit.url, f.audit.ca, f.audit.token = s.Audit.URL, s.Audit.CA, s.Audit.Token
	if missing := s.Anonymous(); len(missing) > 0 {
		if !f.allowAnon {
			where := "the configuration file " + c.File
			if c.FileMissing {
				where = c.File + " (not present yet)"
			}
			return s, usageErr("no %s: a certificate must name who sanitized the drive and for whom, or an auditor rejects it; "+
				"pass --operator NAME --organization ORG, set them in %s, or pass --allow-anonymous (recorded in each certificate); nothing was written", joinAnd(missing), where)
		}
		f.personnel.Anonymous = true
	}
	return s, nil
}

// interruptible is ctx, cancelled by the first Ctrl-C or SIGTERM, which
// also prints what stopping means. Only a real signal prints it: stop
// (deferred by the caller when the run ends normally) ends the watch
// silently. A second Ctrl-C kills the process the usual way.
func interruptible(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-sigs:
			signal.Stop(sigs)
			fmt.Fprintln(os.Stderr, "\nlethe: stopping; host overwrites stop now and their certificates say ABORTED (a firmware erase in a drive cannot be stopped: lethe says what happens to it)")
			cancel()
		case <-done:
		}
	}()
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
}

// summarize prints a few lines per drive and picks the exit code. On a
// terminal the lines are wrapped to its width (never cut); for scripts
// each item stays on one line.
func summarize(cmd *cobra.Command, results []station.Result) error {
	out := cmd.OutOrStdout()
	width := 0
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = w - 1
		}
	}
	put := func(first, rest, text string) {
		if width <= 0 {
			fmt.Fprintln(out, first+text)
			return
		}
		for i, l := range wrapText(text, width-len(first)) {
			if i == 0 {
				fmt.Fprintln(out, first+l)
			} else {
				fmt.Fprintln(out, rest+l)
			}
		}
	}
	const indent = "         "
	bad := 0
	dirs := map[string]bool{}
	for _, r := range results {
		d := r.Drive.Device
		switch {
		case r.Report == nil:
			bad++
			put(fmt.Sprintf("%-8s ", "FAILED"), indent, fmt.Sprintf("%s: %v", d.Label(), r.Err))
			continue
		case r.Err != nil:
			bad++
			put(fmt.Sprintf("%-8s ", r.Report.Status), indent, fmt.Sprintf("%s: %s; certificate NOT written: %v", d.Label(), r.Report.StatusReason, r.Err))
			continue
		}
		if !r.Erased() {
			// PARTIAL is not a success: the result is not proven.
			bad++
		}
		if width > 0 {
			// A terminal: one line per drive (the board above has its
			// duration and speed), the reason only where it is not ERASED,
			// and the directory once below.
			line := fmt.Sprintf("%s  %s", d.Path, filepath.Base(r.CertPath))
			if fileExists(certBase(r.CertPath) + ".pdf") {
				line += " (+ .pdf)"
			}
			put(fmt.Sprintf("%-8s ", r.Report.Status), indent, line)
			if r.Report.Status != wipe.StatusErased {
				put(indent, indent, r.Report.StatusReason)
			}
			dirs[filepath.Dir(r.CertPath)] = true
			continue
		}
		put(fmt.Sprintf("%-8s ", r.Report.Status), indent, fmt.Sprintf("%s: %s", d.Label(), r.Report.StatusReason))
		put(indent+"certificate: ", indent+"             ", r.CertPath)
		if pdf := certBase(r.CertPath) + ".pdf"; fileExists(pdf) {
			put(indent+"PDF:         ", indent+"             ", pdf)
		}
	}
	for dir := range dirs {
		put("certificates and PDFs in ", "  ", dir)
	}
	if bad > 0 {
		return &exitError{exitFailed, fmt.Errorf("%d of %d drive(s) not erased", bad, len(results))}
	}
	return nil
}

// wrapText breaks s at spaces into lines of at most w columns; a word
// longer than a line (a path) is broken where it must be.
func wrapText(s string, w int) []string {
	if w < 20 {
		w = 20
	}
	var out []string
	for len(s) > w {
		at := strings.LastIndexByte(s[:w+1], ' ')
		if at <= 0 {
			at = w
		}
		out = append(out, strings.TrimRight(s[:at], " "))
		s = strings.TrimLeft(s[at:], " ")
	}
	return append(out, s)
}

// confirm asks the operator to type "yes" after naming every drive with
// what will be done to it: technique and category, an estimate of the
// time, and whether it can be stopped once started.
func confirm(in io.Reader, out io.Writer, drives []station.Drive, cfg station.Config, action string) error {
	fmt.Fprintf(out, "About to %s ALL DATA on %d device(s):\n", action, len(drives))
	for _, dr := range drives {
		d, p := dr.Device, dr.Plan
		fmt.Fprintf(out, "  %s  %s  model %s  serial %s  %s\n", d.Path, devices.HumanBytes(d.SizeBytes), dash(d.Model), dash(d.Serial), d.Transport)
		fmt.Fprintf(out, "      %s -> %s\n", p.Technique.Name, strings.ToUpper(string(p.Category)))
		est, basis := estimate(dr, cfg)
		if est > 0 {
			fmt.Fprintf(out, "      takes about %s (%s)\n", progress.Clock(est), basis)
		} else {
			fmt.Fprintf(out, "      duration unknown (%s)\n", basis)
		}
		fmt.Fprintf(out, "      %s\n", stoppable(p))
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

// Assumed sequential speeds for an estimate before anything ran: a hard
// disk's outer-track write speed, and a conservative SSD one. The
// progress display shows the real time left once data moves.
const (
	assumedHDDRate = 150e6
	assumedSSDRate = 1e9
)

// estimate is the time a drive's plan should take: the drive's own
// estimate for a firmware erase, else the bytes a host overwrite writes
// and reads back at an assumed speed for its medium.
func estimate(dr station.Drive, cfg station.Config) (time.Duration, string) {
	p, d := dr.Plan, dr.Device
	if p.Estimate > 0 {
		return p.Estimate, "the drive's own estimate"
	}
	if p.Technique.ID != wipe.TechOverwrite {
		return 0, "the drive reports no estimate"
	}
	passes := int64(max(len(p.Method.Passes), 1))
	bytes := float64(d.SizeBytes * passes)
	switch cfg.Verify {
	case wipe.VerifyLast:
		bytes += float64(d.SizeBytes)
	case wipe.VerifyAll:
		bytes += float64(d.SizeBytes * passes)
	case wipe.VerifySample:
		bytes += float64(d.SizeBytes) * cfg.SamplePercent / 100
	}
	rate, what := assumedSSDRate, "assuming ~1 GB/s"
	if d.Media == devices.MediaHDD {
		rate, what = assumedHDDRate, "assuming ~150 MB/s for a hard disk"
	}
	return time.Duration(bytes / rate * float64(time.Second)), fmt.Sprintf("%d pass(es) and the read-back, %s", passes, what)
}

// stoppable says what Ctrl-C does to the plan.
func stoppable(p wipe.Plan) string {
	if p.Technique.ID == wipe.TechOverwrite {
		return "can be stopped: Ctrl-C stops it at once (its certificate then says ABORTED)"
	}
	return "CANNOT be stopped once started: it runs inside the drive (a sanitize even resumes after a power loss)"
}

func requireConfirmation(yes bool, drives []station.Drive, cfg station.Config, action string) error {
	if yes {
		return nil
	}
	if !stdinIsTerminal() {
		return usageErr("refusing to %s without confirmation: stdin is not a terminal; pass --yes", action)
	}
	return confirm(os.Stdin, os.Stderr, drives, cfg, action)
}

// keyOf is the public half of a signing key.
func keyOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }
