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

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/bays"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/hotplug"
)

func newStationCmd() *cobra.Command {
	var f wipeFlags
	var wipePresent, allowAnon, pdf bool
	var count int
	var only []string
	var screen string
	cmd := &cobra.Command{
		Use:   "station [flags]",
		Short: "A wiping station: wipe every drive hot-plugged into a bay or USB dock, one row per slot",
		Long: `Watch for drives being inserted into hot-swap bays and USB docks (kernel
uevents) and wipe each newly inserted drive by the configured policy, the
same way lethe wipe does: guards, probe and plan, erase, verify, a signed
certificate (with its PDF beside it), delivered to the audit store when one
is configured. One row per slot shows: empty, identifying, wiping with
progress and time left, ERASED or FAILED with REMOVE DRIVE, or NOT TOUCHED
with the reason.

Never touched: drives present when the station starts (unless
--wipe-present), the system disk and anything else the guards refuse
(mounted, swap, read-only, busy), and serials or WWNs in station.exclude
(--exclude). A drive pulled out during its wipe gets an ABORTED
certificate and its slot is free again. Settings come from the
configuration file (lethe config show); operator and organization are
required unless --allow-anonymous. Ctrl-C stops every running wipe (their
certificates say ABORTED; a firmware sanitize in a drive runs to its end).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStation(cmd, &f, stationOpts{wipePresent: wipePresent, allowAnon: allowAnon, count: count, screen: screen, only: only})
		},
	}
	fl := cmd.Flags()
	f.addPlanFlags(cmd)
	fl.MarkHidden("all")
	fl.MarkHidden("force")
	// --exclude here means station.exclude: serials or WWNs.
	fl.Lookup("exclude").Usage = "serial or WWN never to touch (repeatable; replaces station.exclude)"
	fl.StringVar(&f.certDir, "cert-dir", "", "directory for certificates, their PDFs and receipts (default "+"cert-dir of lethe config show)")
	fl.StringVar(&f.keyPath, "key", "", "ed25519 signing key (default: key of lethe config show)")
	fl.StringVar(&f.personnel.Operator, "operator", "", "person running the station")
	fl.StringVar(&f.personnel.Organization, "organization", "", "organization performing the sanitization")
	fl.StringVar(&f.personnel.Site, "site", "", "location")
	fl.StringVar(&f.personnel.Job, "job", "", "job or ticket identifier")
	fl.StringVar(&f.audit.url, "audit", "", "audit store URL (default: audit.url)")
	fl.StringVar(&f.audit.ca, "audit-ca", "", "audit store CA certificate (default: audit.ca)")
	fl.StringVar(&f.audit.token, "audit-token", "", "audit token (default: audit.token)")
	fl.IntVar(&f.chunkMiB, "chunk-mib", 4, "I/O size in MiB")
	fl.IntVar(&f.workers, "workers", 4, "I/Os in flight per drive")
	fl.BoolVar(&pdf, "pdf", true, "write a PDF beside each certificate")
	fl.BoolVar(&wipePresent, "wipe-present", false, "also wipe the drives present when the station starts (the guards still apply)")
	fl.BoolVar(&allowAnon, "allow-anonymous", false, "run without operator and organization (certificates then name nobody; an auditor may reject them)")
	fl.BoolVar(&f.yes, "yes", false, "do not ask for confirmation on a terminal")
	fl.StringSliceVar(&only, "only", nil, "serve only these drives: serial, WWN, or a glob over the slot (e.g. 'usb 2-*') or a loop device's backing file (repeatable)")
	fl.IntVar(&count, "count", 0, "stop after this many drives were wiped and removed (0: run until Ctrl-C)")
	fl.StringVar(&screen, "screen", "auto", "display: auto (screen on a terminal, lines otherwise), screen, lines")
	return cmd
}

type stationOpts struct {
	wipePresent, allowAnon bool
	count                  int
	screen                 string
	only                   []string
}

func runStation(cmd *cobra.Command, f *wipeFlags, o stationOpts) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	s := cfg.Settings()
	// The configuration fills what the flags did not say.
	f.keyPath, f.certDir = s.Key, s.CertDir
	f.personnel.Operator, f.personnel.Organization, f.personnel.Site = s.Operator, s.Organization, s.Site
	f.policy, f.verify = s.Policy, s.Verify
	f.audit.url, f.audit.ca, f.audit.token = s.Audit.URL, s.Audit.CA, s.Audit.Token
	if missing := s.Anonymous(); len(missing) > 0 && !o.allowAnon {
		return usageErr("no %s: certificates must name who sanitized and for whom (set them in %s or pass --operator/--organization; --allow-anonymous to go on without)", joinAnd(missing), cfg.File)
	}
	req, verify, err := f.request()
	if err != nil {
		return err
	}
	if f.keyPath == "" {
		return usageErr("no signing key: set key in %s, or pass --key FILE (create one with lethe keygen --out DIR)", cfg.File)
	}
	key, err := attest.LoadPrivateKey(f.keyPath)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := os.MkdirAll(f.certDir, 0o755); err != nil {
		return usageErr("cert-dir: %v", err)
	}
	w := &stationWiper{f: *f, req: req, verify: verify, key: key, host: devices.Host.Host(), exclude: s.Exclude,
		pdf: s.PDF, only: o.only, plans: map[string]planned{}}
	if s.Audit.URL != "" {
		opts := client.Options{CAFile: s.Audit.CA}
		if strings.HasPrefix(s.Audit.Token, "lapi_") {
			opts.Token = s.Audit.Token
		}
		c, err := client.New(s.Audit.URL, opts)
		if err != nil {
			return usageErr("audit: %v", err)
		}
		if w.spool, err = client.OpenSpool(filepath.Join(f.certDir, "audit-spool"), c); err != nil {
			return err
		}
		w.audit, w.token = c, s.Audit.Token
	}

	out := cmd.OutOrStdout()
	tty := false
	if fd, ok := out.(interface{ Fd() uintptr }); ok {
		tty = term.IsTerminal(int(fd.Fd()))
	}
	useScreen := o.screen == "screen" || (o.screen == "auto" && tty)
	if o.screen != "auto" && o.screen != "screen" && o.screen != "lines" {
		return usageErr("--screen %q: want auto, screen or lines", o.screen)
	}
	header := []string{
		fmt.Sprintf("lethe station %s  policy %s  verify %s  operator %s  organization %s", version, f.policy, f.verify, dash(s.Operator), dash(s.Organization)),
		"certificates: " + f.certDir,
	}
	if s.Audit.URL != "" {
		header = append(header, "audit store: "+s.Audit.URL)
	}
	if !f.yes && stdinIsTerminal() && tty {
		fmt.Fprintf(out, "%s\n\nEvery drive inserted from now on will be ERASED (policy %s), except excluded serials/WWNs and drives the guards refuse.\nType 'yes' to start the station: ", strings.Join(header, "\n"), f.policy)
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
	var ui stationUI
	if useScreen {
		ui = newStationScreen(out, header)
	} else {
		ui = &stationLines{w: out}
	}
	st := bays.New(w, bays.Options{WipePresent: o.wipePresent, Count: o.count, OnChange: ui.changed, Log: ui.logf})
	w.log = ui.logf
	ui.attach(st)
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ui.logf("station ready: certificates go to %s; %d drive(s) present at start are %s", f.certDir, len(watcher.Present()), map[bool]string{true: "wiped", false: "not touched"}[o.wipePresent])
	err = st.Run(ctx, watcher)
	ui.close()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "station stopped: %d drive(s) wiped and removed\n", st.Finished())
	return nil
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
