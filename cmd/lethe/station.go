//go:build linux

package main

import (
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

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/bays"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/hotplug"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/sign"
)

func newStationCmd() *cobra.Command {
	var f wipeFlags
	var o stationOpts
	cmd := &cobra.Command{
		Use:   "station [flags]",
		Short: "A wiping station: wipe every drive hot-plugged into a bay or USB dock, one row per slot",
		Long: `Watch for drives being inserted into hot-swap bays and USB docks (kernel
uevents) and wipe each newly inserted drive by the configured policy, the
same way lethe wipe does: guards, probe and plan, erase, verify, a signed
certificate (with its PDF beside it), delivered to the audit store when one
is configured (its receipt beside it). One row per slot shows: empty,
identifying, wiping with progress and time left, ERASED or FAILED with
REMOVE DRIVE, or NOT TOUCHED with the reason.

Never touched: drives present when the station starts (unless
--wipe-present), the system disk and anything else the guards refuse
(mounted, swap, read-only, busy), serials or WWNs in station.exclude
(--exclude), and, with --only, every drive it does not name. A drive pulled
out during its wipe gets an ABORTED certificate and its slot is free again.
Settings come from the configuration file (lethe config show); operator and
organization are required unless --allow-anonymous. Ctrl-C stops every
running wipe (their certificates say ABORTED; a firmware sanitize in a
drive runs to its end).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStation(cmd, &f, o) },
	}
	fl := cmd.Flags()
	f.addPlanFlags(cmd)
	fl.MarkHidden("all")
	fl.MarkHidden("force")
	// --exclude here means station.exclude: serials or WWNs.
	fl.Lookup("exclude").Usage = "serial or WWN never to touch (repeatable; replaces station.exclude)"
	fl.StringVar(&f.certDir, "cert-dir", "", "directory for certificates, their PDFs and receipts (default: cert-dir in lethe config show)")
	fl.StringVar(&f.keyPath, "key", "", "ed25519 signing key (default: key in lethe config show)")
	fl.StringVar(&f.personnel.Operator, "operator", "", "person running the station")
	fl.StringVar(&f.personnel.Organization, "organization", "", "organization performing the sanitization")
	fl.StringVar(&f.personnel.Site, "site", "", "location")
	fl.StringVar(&f.personnel.Job, "job", "", "job or ticket identifier")
	fl.StringVar(&f.audit.url, "audit", "", "audit store URL (default: audit.url)")
	fl.StringVar(&f.audit.ca, "audit-ca", "", "audit store CA certificate (default: audit.ca)")
	fl.StringVar(&f.audit.token, "audit-token", "", "audit token (default: audit.token)")
	fl.IntVar(&f.opts.ChunkMiB, "chunk-mib", f.opts.ChunkMiB, "I/O size in MiB")
	fl.IntVar(&f.opts.Workers, "workers", f.opts.Workers, "I/Os in flight per drive")
	fl.Bool("pdf", true, "write a PDF beside each certificate (default: station.pdf)")
	fl.StringVar(&o.printCmd, "print-cmd", "", "print each certificate's PDF with this command, the PDF's path appended (e.g. 'lp -d bench3')")
	fl.BoolVar(&o.wipePresent, "wipe-present", false, "also wipe the drives present when the station starts (the guards still apply)")
	fl.BoolVar(&o.allowAnon, "allow-anonymous", false, "run without operator and organization (recorded in each certificate; an auditor may reject them)")
	fl.BoolVar(&f.yes, "yes", false, "do not ask for confirmation on a terminal")
	fl.StringSliceVar(&o.only, "only", nil, "serve only these drives: serial, WWN, or a glob over the slot (e.g. 'usb 2-*') or a loop device's backing file (repeatable)")
	fl.IntVar(&o.count, "count", 0, "stop after this many drives were wiped and removed (0: run until Ctrl-C)")
	fl.StringVar(&o.screen, "screen", "auto", "display: auto (screen on a terminal, lines otherwise), screen, lines")
	return cmd
}

type stationOpts struct {
	wipePresent, allowAnon bool
	count                  int
	screen                 string
	only                   []string
	printCmd               string
}

func runStation(cmd *cobra.Command, f *wipeFlags, o stationOpts) error {
	cfgFile, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	s := cfgFile.Settings()
	// The configuration fills what the flags did not say.
	f.keyPath, f.certDir = s.Key, s.CertDir
	f.personnel.Operator, f.personnel.Organization, f.personnel.Site = s.Operator, s.Organization, s.Site
	f.opts.Policy, f.opts.Verify = s.Policy, s.Verify
	f.audit.url, f.audit.ca, f.audit.token = s.Audit.URL, s.Audit.CA, s.Audit.Token
	if missing := s.Anonymous(); len(missing) > 0 && !o.allowAnon {
		return usageErr("no %s: certificates must name who sanitized and for whom (set them in %s or pass --operator/--organization; --allow-anonymous to go on without)", joinAnd(missing), cfgFile.File)
	}
	f.personnel.Anonymous = len(s.Anonymous()) > 0
	cfg, err := f.opts.Parse()
	if err != nil {
		return err
	}
	if f.keyPath == "" {
		return usageErr("no signing key: set key in %s, or pass --key FILE (create one with lethe keygen --out DIR)", cfgFile.File)
	}
	key, err := sign.LoadPrivateKey(f.keyPath)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := os.MkdirAll(f.certDir, 0o755); err != nil {
		return usageErr("cert-dir: %v", err)
	}
	w := &stationWiper{cfg: cfg, logger: logger, exclude: s.Exclude, pdf: s.PDF, only: o.only, printCmd: strings.Fields(o.printCmd), plans: map[string]station.Drive{},
		cert: station.Certifier{Dir: f.certDir, Signers: []sign.Signer{sign.KeySigner{Key: key}}, Personnel: f.personnel,
			Host: devices.Host.Host(), Tool: toolInfo()}}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := cmd.OutOrStdout()
	tty := false
	if fd, ok := out.(interface{ Fd() uintptr }); ok {
		tty = term.IsTerminal(int(fd.Fd()))
	}
	if o.screen != "auto" && o.screen != "screen" && o.screen != "lines" {
		return usageErr("--screen %q: want auto, screen or lines", o.screen)
	}
	useScreen := o.screen == "screen" || (o.screen == "auto" && tty)
	header := []string{
		fmt.Sprintf("lethe station %s  policy %s  verify %s  operator %s  organization %s", version, f.opts.Policy, f.opts.Verify, dash(s.Operator), dash(s.Organization)),
		"certificates: " + f.certDir,
	}
	if s.Audit.URL != "" {
		header = append(header, "audit store: "+s.Audit.URL)
	}
	if !f.yes && stdinIsTerminal() && tty {
		fmt.Fprintf(out, "%s\n\nEvery drive inserted from now on will be ERASED (policy %s), except excluded serials/WWNs and drives the guards refuse.\nType 'yes' to start the station: ", strings.Join(header, "\n"), f.opts.Policy)
		var answer string
		fmt.Fscanln(os.Stdin, &answer)
		if answer != "yes" {
			return usageErr("not confirmed: the station did not start")
		}
	}

	watcher, err := hotplug.New(hotplug.Options{})
	if err != nil {
		return err
	}
	rl, err := startRunLog(f.certDir)
	if err != nil {
		return usageErr("cert-dir: %v", err)
	}
	defer rl.Close()
	var ui stationUI
	if useScreen {
		ui = newStationScreen(out, header)
		// The screen owns the terminal: the log file gets everything,
		// the screen's event area warnings and errors.
		rl.Quiet()
		prev := logOutput.Set(lineFunc(func(l string) { ui.logf("%s", l) }))
		defer logOutput.Set(prev)
	} else {
		ui = &stationLines{w: out}
	}
	w.log = ui.logf
	if s.Audit.URL != "" {
		opts := client.Options{CAFile: s.Audit.CA}
		var enr station.Enrollment
		switch {
		case strings.HasPrefix(s.Audit.Token, "lapi_"):
			opts.Token = s.Audit.Token
		case strings.HasPrefix(s.Audit.Token, "lenr_"):
			enr = station.Enrollment{Token: s.Audit.Token, Key: keyOf(key), Job: f.personnel.Job}
		}
		c, err := client.New(s.Audit.URL, opts)
		if err != nil {
			return usageErr("audit: %v", err)
		}
		sp, err := client.OpenSpool(filepath.Join(f.certDir, "audit-spool"), c)
		if err != nil {
			return err
		}
		w.spoolDir = sp.Dir()
		w.dlv = station.NewDeliverer(c, sp, enr, client.Retry{Initial: 500 * time.Millisecond, Max: 10 * time.Second}, ui.logf)
		go w.dlv.Run(ctx, closedChan())
	}
	st := bays.New(w, bays.Options{WipePresent: o.wipePresent, Count: o.count, OnChange: ui.changed, Log: ui.logf})
	ui.attach(st)
	ui.logf("station ready: certificates go to %s; %d drive(s) present at start are %s", f.certDir, len(watcher.Present()), map[bool]string{true: "wiped", false: "not touched"}[o.wipePresent])
	err = st.Run(ctx, watcher)
	ui.close()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "station stopped: %d drive(s) wiped and removed\n", st.Finished())
	return nil
}

// lineFunc is an io.Writer that hands each complete line to f.
type lineFunc func(string)

func (f lineFunc) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		f(l)
	}
	return len(p), nil
}

// stationUI shows the station: a full screen on a terminal, or one line
// per event for logs and serial consoles.
type stationUI interface {
	attach(*bays.Station)
	changed()
	logf(format string, args ...any)
	close()
}

// stationLines prints each event as a line, and each slot's state when it
// changes (not every progress tick).
type stationLines struct {
	mu   sync.Mutex
	w    io.Writer
	st   *bays.Station
	last map[string]string
}

func (l *stationLines) attach(st *bays.Station) { l.st = st }

func (l *stationLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s lethe station: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (l *stationLines) changed() {
	if l.st == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]string{}
	}
	for _, s := range l.st.Slots() {
		// Progress is reported every 10 % (not every tick).
		st := string(s.Phase)
		if s.Phase == bays.Wiping && s.Progress.Total > 0 {
			st = fmt.Sprintf("wiping %s %d %d%%", s.Progress.Phase, s.Progress.Pass, s.Progress.Done*10/s.Progress.Total*10)
		}
		if s.Phase == bays.Done {
			st = "done " + s.Result
		}
		if l.last[s.Key] != st {
			l.last[s.Key] = st
			fmt.Fprintf(l.w, "%s lethe station: slot %s: %s\n", time.Now().UTC().Format("15:04:05"), s.Label, bays.State(s, time.Now()))
		}
	}
}

func (l *stationLines) close() {}

// stationScreen redraws the whole screen on change, at most 4 times a
// second.
type stationScreen struct {
	mu      sync.Mutex
	w       io.Writer
	header  []string
	st      *bays.Station
	events  []string
	dirty   chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

func newStationScreen(w io.Writer, header []string) *stationScreen {
	s := &stationScreen{w: w, header: header, dirty: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	io.WriteString(w, "\x1b[?1049h") // the alternate screen: the shell's scrollback stays as it was
	go s.loop()
	return s
}

func (s *stationScreen) attach(st *bays.Station) { s.st = st; s.changed() }

func (s *stationScreen) changed() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

func (s *stationScreen) logf(format string, args ...any) {
	s.mu.Lock()
	s.events = append(s.events, time.Now().Format("15:04:05 ")+fmt.Sprintf(format, args...))
	if len(s.events) > 100 {
		s.events = s.events[len(s.events)-100:]
	}
	s.mu.Unlock()
	s.changed()
}

func (s *stationScreen) loop() {
	defer close(s.stopped)
	tick := time.NewTicker(time.Second) // time left and elapsed move
	defer tick.Stop()
	for {
		select {
		case <-s.dirty:
		case <-tick.C:
		case <-s.stop:
			return
		}
		s.draw()
		time.Sleep(250 * time.Millisecond)
	}
}

func (s *stationScreen) size() (int, int) {
	if f, ok := s.w.(interface{ Fd() uintptr }); ok {
		if cw, ch, err := term.GetSize(int(f.Fd())); err == nil && cw > 0 {
			return cw, ch
		}
	}
	return 80, 25
}

func (s *stationScreen) draw() {
	if s.st == nil {
		return
	}
	w, h := s.size()
	s.mu.Lock()
	ev := append([]string(nil), s.events...)
	s.mu.Unlock()
	lines := bays.Render(s.header, s.st.Slots(), ev, time.Now(), w-1, h)
	io.WriteString(s.w, "\x1b[H\x1b[2J"+strings.Join(lines, "\r\n"))
}

func (s *stationScreen) close() {
	close(s.stop)
	<-s.stopped
	io.WriteString(s.w, "\x1b[?1049l")
	// The last events stay in the shell's scrollback.
	s.mu.Lock()
	defer s.mu.Unlock()
	w, _ := s.size()
	for _, e := range s.events[max(0, len(s.events)-20):] {
		for _, l := range bays.Wrap(e, w-1) {
			fmt.Fprintln(s.w, l)
		}
	}
}
