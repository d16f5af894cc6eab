package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/agent/kmod"
	"github.com/lethe-project/lethe/internal/agent/power"
	"github.com/lethe-project/lethe/internal/agent/tpmkey"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/image/manifest"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/sign"
)

// RunOptions are lethe agent's settings; the agent's real configuration
// comes from the kernel command line (Config).
type RunOptions struct {
	// Cmdline replaces /proc/cmdline when set.
	Cmdline string
	// Work holds the log, certificates and the audit spool.
	Work         string
	OutsideImage bool
	NoModules    bool
	// NoEnd exits when done instead of lethe.end/lethe.onfail.
	NoEnd bool
	// Out is the console outside the boot image (and standard output).
	Out io.Writer
	// Version and Tool are what certificates record of lethe.
	Version string
	Tool    cert.Tool
	// Log is where the agent's JSON log goes besides log (nil:
	// log only).
	Log *slog.Logger
}

// RefusedError is a run the agent refused before touching anything (lethe
// agent outside the boot image without --outside-image).
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// FailError is a run that ended FAIL: not every disk that should have
// been is erased with a certificate.
type FailError struct{ Reason string }

func (e *FailError) Error() string { return e.Reason }

// agentDrive is one disk of the run.
type agentDrive struct {
	disk   Disk
	plan   wipe.Plan
	caps   wipe.Capabilities
	target wipe.Target
	view   DriveView
	res    station.Result
	done   bool   // res is final
	spool  string // spool ID of its certificate
}

// agentRun is the state behind the console screen.
type agentRun struct {
	o      RunOptions
	log    *slog.Logger
	con    *Console
	start  time.Time
	mu     sync.Mutex
	cfg    Config
	header []string
	drives []*agentDrive
	net    string
	dlv    *station.Deliverer
	final  *Final
	status []string // fixed status lines (the end), replacing the live ones
	digest string
	keyID  string
	tpmID  string
	// quiet stops the screen redraws (the rescue shell owns the console).
	quiet atomic.Bool
}

// Run is lethe agent: the boot image's unattended wipe, configured by the
// kernel command line. It returns a *FailError when the run ends FAIL and
// a *RefusedError when it refused to start.
func Run(ctx context.Context, o RunOptions) error {
	img, _, imgErr := manifest.Running("/")
	if imgErr != nil && !o.OutsideImage {
		return &RefusedError{fmt.Sprintf("lethe agent runs in the boot image, where it wipes every disk but the boot medium; this is not the boot image (%v). Pass --outside-image if you really mean it", imgErr)}
	}
	if err := os.MkdirAll(o.Work, 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(o.Work, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	stdlog.SetOutput(logf) // u-root's DHCP client logs through the standard logger
	r := &agentRun{o: o, start: time.Now(), log: slog.New(slog.NewJSONHandler(logf, nil))}
	if o.OutsideImage {
		r.con = NewConsole(o.Out)
	} else {
		r.con = OpenConsoles(o.Out)
	}
	defer r.con.Close()
	if img != nil {
		r.digest = img.Digest
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				r.draw()
			}
		}
	}()
	r.event("lethe agent %s starting at %.2fs of uptime; image %s; log %s", o.Version, Uptime(), dash(r.digest), logf.Name())
	// ctx stays live through finish: the uploader keeps delivering while
	// the agent waits for receipts.
	pass, why := r.run(ctx)
	return r.finish(pass, why)
}

// run does the work and returns the verdict and, for a FAIL, why.
func (r *agentRun) run(ctx context.Context) (bool, string) {
	cmdline := r.o.Cmdline
	if cmdline == "" {
		b, err := os.ReadFile("/proc/cmdline")
		if err != nil {
			return false, fmt.Sprintf("read the kernel command line: %v", err)
		}
		cmdline = string(b)
	}
	cfg, err := ParseCmdline(cmdline)
	r.setConfig(cfg)
	if err != nil {
		return false, err.Error()
	}

	// Drivers first: disks and the entropy source the keys need.
	var nics <-chan struct{} = closedChan()
	if !r.o.NoModules {
		nics = r.loadModules(ctx)
	}

	netReady := make(chan struct{})
	if cfg.Net == "dhcp" && (cfg.Audit != "" || cfg.ConfigURL != "") {
		go func() {
			<-nics
			leases, err := DHCP(ctx, func(s string) { r.event("%s", s) })
			if err != nil {
				return
			}
			var parts []string
			for _, l := range leases {
				parts = append(parts, l.String())
			}
			r.mu.Lock()
			r.net = strings.Join(parts, "; ")
			r.mu.Unlock()
			r.event("network up: %s", strings.Join(parts, "; "))
			close(netReady)
		}()
	} else {
		close(netReady)
	}

	if cfg.ConfigURL != "" {
		if err := r.fetchConfig(ctx, &cfg, netReady); err != nil {
			return false, err.Error()
		}
		r.setConfig(cfg)
	}
	for _, n := range cfg.Notes {
		r.event("note: %s", n)
	}
	if err := cfg.Check(); err != nil {
		return false, err.Error()
	}

	// Keys: a per-boot ed25519 key in RAM, and the TPM's where there is one.
	_, bootKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return false, fmt.Sprintf("per-boot key: %v", err)
	}
	signers := []sign.Signer{sign.KeySigner{Key: bootKey}}
	r.keyID = sign.KeyID(bootKey.Public().(ed25519.PublicKey))
	r.event("per-boot signing key ed25519:%s (key ID %s)", base64.StdEncoding.EncodeToString(bootKey.Public().(ed25519.PublicKey)), r.keyID)
	host := devices.Host.Host()
	// The certificates carry the per-boot public key (host.bootKey), so
	// an auditor checks them offline with the store's receipt, without
	// building a key file from the console.
	host.BootKey = string(sign.MarshalPublicKey(bootKey.Public().(ed25519.PublicKey)))
	r.con.Print("lethe: per-boot public key (also in every certificate as host.bootKey):\n" + strings.TrimSpace(host.BootKey))
	if tk, err := tpmkey.Open(); err == nil {
		defer tk.Close()
		signers = append(signers, tk)
		host.TPMKey = tk.PublicPEM()
		r.tpmID = tk.KeyID()
		r.event("TPM signing key (%s hierarchy) key ID %s", tk.Hierarchy(), tk.KeyID())
	} else if !errors.Is(err, tpmkey.ErrNoTPM) {
		r.event("TPM present but not used: %v", err)
	}
	r.setConfig(cfg)
	r.event("host: %s", hostLine(host))

	if cfg.Audit != "" {
		if err := r.startDelivery(ctx, cfg, bootKey, netReady); err != nil {
			return false, err.Error()
		}
	}

	// Disks.
	list, err := devices.Discover()
	if err != nil {
		return false, fmt.Sprintf("find disks: %v", err)
	}
	disks, classErr := Classify(list, &cfg, ReadDeviceLabel)
	r.mu.Lock()
	for _, d := range disks {
		if d.Verdict == Skipped {
			continue
		}
		r.drives = append(r.drives, &agentDrive{disk: d, view: driveView(d)})
	}
	r.mu.Unlock()
	for _, d := range disks {
		if d.Verdict != Wipe && d.Verdict != Skipped {
			r.event("%s: %s", d.Dev.Label(), d.Reason)
		}
	}
	if classErr != nil {
		return false, classErr.Error() + "; nothing was written"
	}
	var todo []*agentDrive
	for _, d := range r.drives {
		if d.disk.Verdict == Wipe {
			todo = append(todo, d)
		}
	}
	r.event("%d disk(s): %d to wipe", len(r.drives), len(todo))
	if cfg.Policy == "" {
		return false, "lethe.policy is not set: nothing was written (set lethe.policy=purge to wipe)"
	}
	if len(todo) == 0 {
		return false, "no disk to wipe: nothing was written"
	}

	// Plan every drive the way lethe wipe does.
	wcfg, err := cfg.Options().Parse()
	if err != nil {
		return false, err.Error()
	}
	certDir := filepath.Join(r.o.Work, "certificates")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return false, err.Error()
	}
	devs := make([]*devices.Device, len(todo))
	for i, d := range todo {
		devs[i] = d.disk.Dev
	}
	plans := station.PlanAll(ctx, devs, wcfg)
	var ready []*agentDrive
	for i, d := range todo {
		d.plan, d.caps = plans[i].Plan, plans[i].Caps
		r.mu.Lock()
		d.view.Method = shortTechnique(d.plan)
		if d.plan.Refusal != "" {
			d.view.Result, d.view.Note = "REFUSED", "policy: "+d.plan.Refusal
		}
		r.mu.Unlock()
		if d.plan.Refusal != "" {
			r.event("%s: refused by lethe.policy=%s: %s", d.disk.Dev.Label(), cfg.Policy, d.plan.Refusal)
			continue
		}
		r.event("%s: %s (%s)", d.disk.Dev.Path, d.plan.Technique.Name, d.plan.Category)
		ready = append(ready, d)
	}
	if cfg.DryRun {
		return false, "dry run (lethe.dryrun): nothing was written"
	}
	if r.dlv != nil && cfg.EnrollFirst {
		if err := r.awaitEnrollment(ctx); err != nil {
			return false, err.Error()
		}
	}
	if cfg.Delay > 0 {
		r.event("wiping %d disk(s) in %s", len(ready), cfg.Delay)
		select {
		case <-ctx.Done():
			return false, "stopped"
		case <-time.After(cfg.Delay):
		}
	}
	for _, d := range ready {
		t, err := station.OpenTarget(d.disk.Dev, false)
		if err != nil {
			r.mu.Lock()
			d.view.Result, d.view.Note = "REFUSED", "open: "+err.Error()
			r.mu.Unlock()
			r.event("%s: cannot open: %v", d.disk.Dev.Path, err)
			continue
		}
		d.target = t
	}

	// Wipe in parallel, through the same pipeline as lethe wipe.
	go r.watchFirstWrite(ctx, ready)
	var run []station.Drive
	var targets []wipe.Target
	for _, d := range ready {
		if d.target != nil {
			run = append(run, station.Drive{Device: d.disk.Dev, Caps: d.caps, Plan: d.plan})
			targets = append(targets, d.target)
		}
	}
	personnel := cert.Personnel{Operator: cfg.Operator, Organization: cfg.Organization, Site: cfg.Site, Job: cfg.Job}
	if personnel.Operator == "" {
		personnel.Operator = "lethe agent (unattended)"
	}
	c := station.Certifier{Dir: certDir, Signers: signers, Personnel: personnel, Host: host, Tool: r.o.Tool}
	station.Run(ctx, run, targets, wcfg, c, r, r.log)

	// PASS only if every disk that is not kept on purpose was erased and
	// has a certificate: an internal disk a guard refused (read-only, ...)
	// still holds data.
	var bad []string
	for _, d := range r.drives {
		switch {
		case d.disk.Verdict == Refused && !(d.disk.Dev.Removable || d.disk.Dev.Transport == devices.TransportUSB):
			// Removable ones are shown but do not fail the machine: a
			// BMC's read-only virtual media is not the server's storage.
			bad = append(bad, fmt.Sprintf("%s refused (%s)", d.disk.Dev.Path, d.disk.Reason))
		case d.disk.Verdict != Wipe:
		case !d.done:
			bad = append(bad, fmt.Sprintf("%s %s", d.disk.Dev.Path, dash(d.view.Result)))
		case d.res.Status() != cert.StatusErased:
			bad = append(bad, fmt.Sprintf("%s %s", d.disk.Dev.Path, d.res.Status()))
		case !d.res.Erased():
			bad = append(bad, fmt.Sprintf("%s has no certificate", d.disk.Dev.Path))
		}
	}
	if len(bad) > 0 {
		return false, "not erased: " + strings.Join(bad, ", ")
	}
	return true, ""
}

// Finished implements station.Observer: it records one finished wipe and
// spools its certificate for delivery.
func (r *agentRun) Finished(res station.Result) {
	d := r.driveByPath(res.Drive.Device.Path)
	if d == nil {
		return
	}
	r.mu.Lock()
	d.res, d.done = res, true
	d.view.Phase = ""
	d.view.Result = string(res.Status())
	switch {
	case res.Report == nil:
		d.view.Note = fmt.Sprint(res.Err)
	case res.Report.Status != cert.StatusErased:
		d.view.Note = res.Report.StatusReason
	}
	d.view.Cert = "NONE"
	if res.CertPath != "" {
		d.view.Cert = "UNSENT"
	}
	r.mu.Unlock()
	if res.Report != nil {
		r.event("%s: %s: %s", d.disk.Dev.Label(), res.Report.Status, res.Report.StatusReason)
	} else {
		r.event("%s: FAILED: %v", d.disk.Dev.Label(), res.Err)
	}
	if res.CertPath == "" {
		r.event("!! %s: no certificate was written: %v", d.disk.Dev.Path, res.Err)
		return
	}
	r.event("%s: certificate %s", d.disk.Dev.Path, res.CertPath)
	if r.dlv == nil {
		return
	}
	id, err := r.dlv.Add(res.Certificate)
	if err != nil {
		r.event("!! %s: could not spool the certificate: %v", d.disk.Dev.Path, err)
		return
	}
	r.mu.Lock()
	d.spool = id
	r.mu.Unlock()
}

func (r *agentRun) driveByPath(path string) *agentDrive {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.drives {
		if d.disk.Dev.Path == path {
			return d
		}
	}
	return nil
}

// watchFirstWrite reports when the first write reaches any of the disks,
// from the kernel's own I/O counters (/sys/block/X/stat): the time from
// kernel start to the first write is what make bench-image measures.
func (r *agentRun) watchFirstWrite(ctx context.Context, ds []*agentDrive) {
	base := map[string]uint64{}
	for _, d := range ds {
		base[d.disk.Dev.Name] = writesCompleted(d.disk.Dev.Name)
	}
	for {
		for name, n := range base {
			if writesCompleted(name) > n {
				up := Uptime()
				r.event("first write completed on /dev/%s at %.2fs of uptime", name, up)
				r.con.Print(fmt.Sprintf("LETHE-AGENT-FIRST-WRITE uptime=%.2f device=/dev/%s", up, name))
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// writesCompleted is field 5 of /sys/block/NAME/stat (write I/Os
// completed; Documentation/block/stat.rst).
func writesCompleted(name string) uint64 {
	b, err := os.ReadFile(filepath.Join("/sys/block", name, "stat"))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 5 {
		return 0
	}
	var n uint64
	fmt.Sscan(f[4], &n)
	return n
}

func (r *agentRun) setConfig(cfg Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg = cfg
	h := devices.Host.Host()
	id := "host " + strings.TrimSpace(h.SystemVendor+" "+h.SystemProduct)
	for _, kv := range [][2]string{{"serial", h.SystemSerial}, {"asset", h.ChassisAssetTag}, {"uuid", h.SystemUUID}} {
		if kv[1] != "" {
			id += "  " + kv[0] + " " + kv[1]
		}
	}
	policy := cfg.Policy
	if policy == "" {
		policy = "NOT SET"
	}
	job := fmt.Sprintf("job %s  site %s  operator %s  policy %s  verify %s", dash(cfg.Job), dash(cfg.Site), dash(cfg.Operator), policy, cfg.Verify)
	if r.keyID != "" {
		job += "  key " + r.keyID[:8]
	}
	if r.tpmID != "" {
		job += "  TPM " + r.tpmID[:8]
	}
	r.header = []string{id, job}
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// lateModules are loaded after the disks are found, while the wipe
// starts: NIC drivers (large, and the network is needed only for the
// audit store) and keyboards.
var lateModules = []string{"e1000", "e1000e", "igb", "ixgbe", "i40e", "tg3", "bnxt_en", "mlx5_core", "virtio_net", "usbhid", "hid_generic"}

// loadModules loads the storage drivers and waits for the disks; it
// returns a channel closed once the late modules (NICs) are loaded too.
func (r *agentRun) loadModules(ctx context.Context) <-chan struct{} {
	start := time.Now()
	l := &kmod.Loader{}
	// usb-storage waits delay_use seconds (1) before scanning a device;
	// a boot stick must be seen before the agent decides what to wipe.
	if _, err := l.Load(kmod.Request{Name: "usb_storage", Params: "delay_use=0"}); err != nil {
		r.event("!! usb_storage: %v", err)
	}
	var early, late []kmod.Request
	if _, b, err := manifest.Running("/"); err == nil && len(b.DefaultModules) > 0 {
		for _, n := range b.DefaultModules {
			if slices.Contains(lateModules, kmod.Normalize(n)) {
				late = append(late, kmod.Request{Name: n})
			} else {
				early = append(early, kmod.Request{Name: n})
			}
		}
	}
	lateDone := make(chan struct{})
	results, err := l.Load(early...) // all default modules when early is empty
	r.moduleReport("drivers", results, err, start)
	if err != nil && results == nil {
		close(lateDone)
		return lateDone
	}
	go func() {
		defer close(lateDone)
		if len(late) == 0 {
			return
		}
		t := time.Now()
		res, err := (&kmod.Loader{}).Load(late...)
		r.moduleReport("network and keyboard drivers", res, err, t)
	}()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	disks, serr := kmod.Settle(sctx, "/sys", 300*time.Millisecond)
	cancel()
	uctx, ucancel := context.WithTimeout(ctx, 15*time.Second)
	if err := SettleUSB(uctx, "/sys", time.Second); err != nil {
		r.event("!! %v", err)
	}
	ucancel()
	if d, err := kmod.Settle(ctx, "/sys", 100*time.Millisecond); err == nil {
		disks = d
	}
	if serr != nil {
		r.event("!! %v", serr)
	}
	r.event("disks settled after %s: %s", time.Since(start).Round(time.Millisecond), dash(strings.Join(disks, " ")))
	return lateDone
}

func (r *agentRun) moduleReport(what string, results []kmod.Result, err error, start time.Time) {
	if err != nil && results == nil {
		r.event("!! %s: %v", what, err)
		return
	}
	loaded := 0
	var failedMods []string
	for _, m := range results {
		if m.OK() {
			loaded++
		} else if !m.Optional {
			failedMods = append(failedMods, m.Name)
		}
	}
	r.event("%s: %d modules in %s", what, loaded, time.Since(start).Round(time.Millisecond))
	if len(failedMods) > 0 {
		r.event("!! modules that failed to load: %s", strings.Join(failedMods, ", "))
	}
}

func (r *agentRun) fetchConfig(ctx context.Context, cfg *Config, netReady <-chan struct{}) error {
	r.event("waiting for the network to fetch %s", cfg.ConfigURL)
	select {
	case <-netReady:
	case <-ctx.Done():
		return ctx.Err()
	}
	wait := time.Second
	for attempt := 1; ; attempt++ {
		fc, keyID, err := FetchConfig(ctx, cfg.ConfigURL, cfg.ConfigKey, cfg.ConfigCA, time.Now())
		var fe *FetchError
		switch {
		case err == nil:
			if err := cfg.Apply(fc); err != nil {
				return err
			}
			r.event("configuration %s verified (signed by %.16s)%s", cfg.ConfigURL, keyID, map[bool]string{true: ": " + fc.Comment, false: ""}[fc.Comment != ""])
			return nil
		case errors.As(err, &fe):
			if attempt == 1 || attempt%10 == 0 {
				r.event("configuration not fetched yet: %v; retrying", err)
			}
		default:
			return fmt.Errorf("configuration %s refused: %w; nothing was written", cfg.ConfigURL, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (r *agentRun) startDelivery(ctx context.Context, cfg Config, key ed25519.PrivateKey, netReady <-chan struct{}) error {
	c, err := client.New(cfg.Audit, client.Options{HTTPClient: PinnedClient(cfg.AuditCA, 60*time.Second)})
	if err != nil {
		return err
	}
	sp, err := client.OpenSpool(filepath.Join(r.o.Work, "spool"), c)
	if err != nil {
		return err
	}
	d := station.NewDeliverer(c, sp, station.Enrollment{Token: cfg.Token, Job: cfg.Job, Key: key.Public().(ed25519.PublicKey)},
		client.Retry{Initial: time.Second, Max: 30 * time.Second}, func(f string, a ...any) { r.event(f, a...) })
	r.mu.Lock()
	r.dlv = d
	r.mu.Unlock()
	go d.Run(ctx, netReady)
	go func() {
		// Reflect delivery on the drive rows as it changes.
		for {
			ch := d.Changed()
			st := d.Status()
			r.mu.Lock()
			for _, dr := range r.drives {
				if dr.spool != "" {
					dr.view.Cert = certLabel(st.States[dr.spool])
				}
			}
			r.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
		}
	}()
	return nil
}

// awaitEnrollment waits, before the first write, until the audit store
// has accepted this boot's signing key (lethe.enrollfirst, on by default):
// a token the store refuses means no certificate of this boot could ever
// be delivered, so nothing is wiped.
func (r *agentRun) awaitEnrollment(ctx context.Context) error {
	announce := time.NewTicker(time.Minute)
	defer announce.Stop()
	said := false
	for {
		ch := r.dlv.Changed()
		st := r.dlv.Status()
		switch {
		case st.EnrollRefused != "":
			return fmt.Errorf("the audit store refused the enrollment token (%s): nothing was written, because no certificate of this boot could be delivered", st.EnrollRefused)
		case st.Enrolled:
			if said {
				r.event("enrollment confirmed by the audit store: wiping")
			}
			return nil
		}
		if !said {
			r.event("waiting for the audit store to confirm the enrollment before the first write (lethe.enrollfirst=0 wipes without waiting)")
			said = true
		}
		select {
		case <-ctx.Done():
			return errors.New("stopped while waiting for the enrollment: nothing was written")
		case <-ch:
		case <-announce.C:
			r.event("still waiting for the audit store to confirm the enrollment: %s; nothing written yet", dash(st.LastError))
		}
	}
}

// certLabel is how a certificate's delivery shows in its drive row.
func certLabel(d station.Delivery) string {
	switch d {
	case station.Delivered:
		return "sent"
	case station.Rejected, station.Unverified:
		return "REJECT"
	}
	return "UNSENT"
}

// finish shows the verdict, waits for the certificates to be delivered,
// prints the report, and ends as configured.
func (r *agentRun) finish(pass bool, why string) error {
	r.mu.Lock()
	cfg := r.cfg
	r.mu.Unlock()
	if !pass {
		r.event("FAIL: %s", why)
	}
	// No verdict banner while certificates are on their way: PASS means
	// erased AND delivered.
	unsent := r.waitForDelivery(cfg)
	r.mu.Lock()
	r.final = &Final{Pass: pass, Undelivered: len(unsent) > 0}
	r.mu.Unlock()

	end := cfg.End
	if !pass {
		end = cfg.OnFail
	}
	hopeless := r.dlv == nil || r.dlv.Status().Hopeless()
	if len(unsent) > 0 && cfg.Wait == Forever && end != EndShell {
		// Powering off would lose them: they exist only in RAM.
		end = EndShell
	}
	lines := r.verdictLines(pass, why, unsent, hopeless, end)
	r.mu.Lock()
	r.status = lines
	r.mu.Unlock()
	r.draw()
	r.report(pass, why, unsent, end)
	r.draw()

	switch {
	case r.o.OutsideImage || r.o.NoEnd:
		r.con.Print(fmt.Sprintf("lethe: would %s now (--no-end or not in the boot image: exiting instead)", end))
	case end == EndPoweroff:
		time.Sleep(200 * time.Millisecond) // let init copy what is left of stdout
		r.con.Close()
		if err := power.Off(); err != nil {
			return err
		}
	case end == EndReboot:
		time.Sleep(200 * time.Millisecond)
		r.con.Close()
		if err := power.Reboot(); err != nil {
			return err
		}
	case end == EndShell:
		r.rescueShell()
	}
	if !pass {
		return &FailError{dash(why)}
	}
	return nil
}

// rescueShell runs the image's shell on the console, again whenever it
// exits: the agent stays the uinit, so init never runs out of commands
// (which panics the kernel), and the certificates in RAM stay reachable.
func (r *agentRun) rescueShell() {
	r.quiet.Store(true)
	for {
		r.con.Print("lethe: rescue shell (certificates and the log are in " + r.o.Work + "; lethe audit flush --spool " + filepath.Join(r.o.Work, "spool") + " delivers them)")
		if err := runShell("/dev/console"); err != nil {
			r.con.Print("lethe: rescue shell: " + err.Error())
			time.Sleep(5 * time.Second)
		}
	}
}

// waitForDelivery keeps the deliverer going until every certificate has a
// verified receipt, delivery is hopeless, or lethe.wait runs out. It
// returns the drives whose certificates are still undelivered.
func (r *agentRun) waitForDelivery(cfg Config) []*agentDrive {
	unsent := func() []*agentDrive {
		r.mu.Lock()
		defer r.mu.Unlock()
		var out []*agentDrive
		for _, d := range r.drives {
			if d.res.CertPath != "" && (r.dlv == nil || r.dlv.State(d.spool) != station.Delivered) {
				out = append(out, d)
			}
		}
		return out
	}
	if r.dlv == nil {
		return unsent()
	}
	var deadline <-chan time.Time
	if cfg.Wait != Forever {
		t := time.NewTimer(cfg.Wait)
		defer t.Stop()
		deadline = t.C
	}
	announce := time.NewTicker(time.Minute)
	defer announce.Stop()
	for {
		changed := r.dlv.Changed()
		left := unsent()
		if len(left) == 0 {
			return nil
		}
		if r.dlv.Status().Hopeless() {
			return left
		}
		r.mu.Lock()
		r.status = nil
		base := r.statusLines()
		r.status = append([]string{fmt.Sprintf("! DELIVERING: %d CERTIFICATE(S) NOT YET RECEIVED by the audit store: in RAM only - do not power off", len(left))}, base...)
		r.mu.Unlock()
		r.draw()
		select {
		case <-changed:
		case <-deadline:
			r.event("!! giving up on the audit store after lethe.wait=%s", cfg.Wait)
			return unsent()
		case <-announce.C:
			r.event("waiting for the audit store: %d certificate(s) not yet received; they are in RAM only (%s): do not power off", len(left), filepath.Join(r.o.Work, "spool"))
		}
	}
}
