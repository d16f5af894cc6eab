package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	stdlog "log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/agent"
	"github.com/lethe-project/lethe/internal/agent/kmod"
	"github.com/lethe-project/lethe/internal/agent/power"
	"github.com/lethe-project/lethe/internal/agent/tpmkey"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/image/manifest"
	"github.com/lethe-project/lethe/internal/wipe"
)

// agentOptions are lethe agent's flags; the agent's real configuration
// comes from the kernel command line (see the agent package).
type agentOptions struct {
	cmdline      string
	work         string
	outsideImage bool
	noModules    bool
	noEnd        bool
}

func newAgentCmd() *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "The boot image's unattended wipe: every disk but the boot medium, certificates to the audit store",
		Long: `Run the boot image's unattended wipe, configured by lethe.* parameters on the
kernel command line (and a signed configuration file it names): load the
storage and network drivers, bring the network up with DHCP, find every
disk, keep the boot medium and excluded disks, wipe the rest in parallel
per policy, sign a certificate per drive with a per-boot key (and the TPM's
key where there is a TPM), deliver every certificate to the audit store,
and power off once the store has them all.

Without lethe.policy=... it wipes nothing. See README.md ("The boot image
and the agent") for every parameter. Outside the boot image it refuses to
run unless --outside-image is given: it would wipe this machine's disks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd, o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.cmdline, "cmdline", "", "read lethe.* parameters from this string instead of /proc/cmdline")
	fl.StringVar(&o.work, "work", "/run/lethe", "directory for the log, certificates and the audit spool")
	fl.BoolVar(&o.outsideImage, "outside-image", false, "run outside the boot image (never powers off; wipes what it finds!)")
	fl.BoolVar(&o.noModules, "no-modules", false, "do not load kernel modules")
	fl.BoolVar(&o.noEnd, "no-end", false, "exit when done instead of lethe.end/lethe.onfail (when run from the rescue shell)")
	cmd.AddCommand(newAgentSignConfigCmd(), newAgentCheckConfigCmd())
	return cmd
}

// agentDrive is one disk of the run.
type agentDrive struct {
	disk   agent.Disk
	plan   wipe.Plan
	caps   wipe.Capabilities
	target wipe.Target
	view   agent.DriveView
	res    driveResult
	spool  string // spool ID of its certificate
}

// agentRun is the state behind the console screen.
type agentRun struct {
	o      agentOptions
	con    *agent.Console
	start  time.Time
	mu     sync.Mutex
	cfg    agent.Config
	header []string
	drives []*agentDrive
	net    string
	upl    *agent.Uploader
	final  *agent.Final
	status []string // fixed status lines (the end), replacing the live ones
	digest string
	keyID  string
	tpmID  string
	// quiet stops the screen redraws (the rescue shell owns the console).
	quiet atomic.Bool
}

func runAgent(cmd *cobra.Command, o agentOptions) error {
	img, _, imgErr := manifest.Running("/")
	if imgErr != nil && !o.outsideImage {
		return usageErr("lethe agent runs in the boot image, where it wipes every disk but the boot medium; this is not the boot image (%v). Pass --outside-image if you really mean it", imgErr)
	}
	if err := os.MkdirAll(o.work, 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(o.work, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	log.SetOutput(logf)
	log.SetFormatter(&logrus.JSONFormatter{})
	stdlog.SetOutput(logf) // u-root's DHCP client logs through the standard logger

	r := &agentRun{o: o, start: time.Now()}
	if o.outsideImage {
		r.con = agent.NewConsole(cmd.OutOrStdout())
	} else {
		r.con = agent.OpenConsoles(cmd.OutOrStdout())
	}
	defer r.con.Close()
	if img != nil {
		r.digest = img.Digest
	}
	ctx, cancel := context.WithCancel(cmd.Context())
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
	r.event("lethe agent %s starting at %.2fs of uptime; image %s; log %s", version, agent.Uptime(), dash(r.digest), logf.Name())
	// ctx stays live through finish: the uploader keeps delivering while
	// the agent waits for receipts.
	pass, why := r.run(ctx)
	return r.finish(pass, why)
}

// run does the work and returns the verdict and, for a FAIL, why.
func (r *agentRun) run(ctx context.Context) (bool, string) {
	cmdline := r.o.cmdline
	if cmdline == "" {
		b, err := os.ReadFile("/proc/cmdline")
		if err != nil {
			return false, fmt.Sprintf("read the kernel command line: %v", err)
		}
		cmdline = string(b)
	}
	cfg, err := agent.ParseCmdline(cmdline)
	r.setConfig(cfg)
	if err != nil {
		return false, err.Error()
	}

	// Drivers first: disks and the entropy source the keys need.
	var nics <-chan struct{} = closedChan()
	if !r.o.noModules {
		nics = r.loadModules(ctx)
	}

	netReady := make(chan struct{})
	if cfg.Net == "dhcp" && (cfg.Audit != "" || cfg.ConfigURL != "") {
		go func() {
			<-nics
			leases, err := agent.DHCP(ctx, func(s string) { r.event("%s", s) })
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
		if err := r.startUploader(ctx, cfg, bootKey, netReady); err != nil {
			return false, err.Error()
		}
	}

	// Disks.
	list, err := devices.Discover()
	if err != nil {
		return false, fmt.Sprintf("find disks: %v", err)
	}
	disks, classErr := agent.Classify(list, &cfg, agent.ReadDeviceLabel)
	r.mu.Lock()
	for _, d := range disks {
		if d.Verdict == agent.Skipped {
			continue
		}
		r.drives = append(r.drives, &agentDrive{disk: d, view: driveView(d)})
	}
	r.mu.Unlock()
	for _, d := range disks {
		if d.Verdict != agent.Wipe && d.Verdict != agent.Skipped {
			r.event("%s: %s", d.Dev.Label(), d.Reason)
		}
	}
	if classErr != nil {
		return false, classErr.Error() + "; nothing was written"
	}
	var todo []*agentDrive
	for _, d := range r.drives {
		if d.disk.Verdict == agent.Wipe {
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
	f, verify, err := agentWipeFlags(cfg, filepath.Join(r.o.work, "certificates"))
	if err != nil {
		return false, err.Error()
	}
	if err := os.MkdirAll(f.certDir, 0o700); err != nil {
		return false, err.Error()
	}
	devs := make([]*devices.Device, len(todo))
	for i, d := range todo {
		devs[i] = d.disk.Dev
	}
	plans := planAll(ctx, devs, mustRequest(f), f.firmware())
	var ready []*agentDrive
	for i, d := range todo {
		d.plan, d.caps = plans[i].plan, plans[i].caps
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
	if cfg.Delay > 0 {
		r.event("wiping %d disk(s) in %s", len(ready), cfg.Delay)
		select {
		case <-ctx.Done():
			return false, "stopped"
		case <-time.After(cfg.Delay):
		}
	}
	for _, d := range ready {
		t, err := wipe.Open(d.disk.Dev.Path, wipe.OpenOptions{})
		if err == nil && t.Size() != d.disk.Dev.SizeBytes {
			t.Close()
			err = fmt.Errorf("size changed from %d to %d bytes since it was found", d.disk.Dev.SizeBytes, t.Size())
		}
		if err != nil {
			r.mu.Lock()
			d.view.Result, d.view.Note = "REFUSED", "open: "+err.Error()
			r.mu.Unlock()
			r.event("%s: cannot open: %v", d.disk.Dev.Path, err)
			continue
		}
		d.target = t
	}

	// Wipe in parallel, through the same path as lethe wipe.
	go r.watchFirstWrite(ctx, ready)
	var wg sync.WaitGroup
	for _, d := range ready {
		if d.target == nil {
			continue
		}
		wg.Go(func() {
			defer d.target.Close()
			res := wipeOne(ctx, planned{d.disk.Dev, d.caps, d.plan}, d.target, f, verify, nil, signers, host, r)
			r.drive(d, res)
		})
	}
	wg.Wait()

	// PASS only if every disk that is not kept on purpose was erased and
	// has a certificate: an internal disk a guard refused (read-only, ...)
	// still holds data.
	var bad []string
	for _, d := range r.drives {
		switch {
		case d.disk.Verdict == agent.Refused && !(d.disk.Dev.Removable || d.disk.Dev.Transport == devices.TransportUSB):
			// Removable ones are shown but do not fail the machine: a
			// BMC's read-only virtual media is not the server's storage.
			bad = append(bad, fmt.Sprintf("%s refused (%s)", d.disk.Dev.Path, d.disk.Reason))
		case d.disk.Verdict != agent.Wipe:
		case d.view.Result != string(wipe.StatusErased):
			bad = append(bad, fmt.Sprintf("%s %s", d.disk.Dev.Path, dash(d.view.Result)))
		case d.res.certPath == "":
			bad = append(bad, fmt.Sprintf("%s has no certificate", d.disk.Dev.Path))
		}
	}
	if len(bad) > 0 {
		return false, "not erased: " + strings.Join(bad, ", ")
	}
	return true, ""
}

// drive records one finished wipe and spools its certificate.
func (r *agentRun) drive(d *agentDrive, res driveResult) {
	r.mu.Lock()
	d.res = res
	d.view.Phase = ""
	if res.report != nil {
		d.view.Result = string(res.report.Status)
		if res.report.Status != wipe.StatusErased {
			d.view.Note = res.report.StatusReason
		}
	} else {
		d.view.Result = string(wipe.StatusFailed)
		d.view.Note = fmt.Sprint(res.err)
	}
	d.view.Cert = "NONE"
	if res.certPath != "" {
		d.view.Cert = "UNSENT"
	}
	r.mu.Unlock()
	if res.report != nil {
		r.event("%s: %s: %s", d.disk.Dev.Label(), res.report.Status, res.report.StatusReason)
	} else {
		r.event("%s: FAILED: %v", d.disk.Dev.Label(), res.err)
	}
	if res.certPath == "" {
		r.event("!! %s: no certificate was written: %v", d.disk.Dev.Path, res.err)
		return
	}
	r.event("%s: certificate %s", d.disk.Dev.Path, res.certPath)
	if r.upl == nil {
		return
	}
	data, err := os.ReadFile(res.certPath)
	if err == nil {
		var id string
		id, err = r.upl.Add(data)
		r.mu.Lock()
		d.spool = id
		r.mu.Unlock()
	}
	if err != nil {
		r.event("!! %s: could not spool the certificate: %v", d.disk.Dev.Path, err)
	}
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
				up := agent.Uptime()
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

func (r *agentRun) setConfig(cfg agent.Config) {
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
	if err := agent.SettleUSB(uctx, "/sys", time.Second); err != nil {
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

func (r *agentRun) fetchConfig(ctx context.Context, cfg *agent.Config, netReady <-chan struct{}) error {
	r.event("waiting for the network to fetch %s", cfg.ConfigURL)
	select {
	case <-netReady:
	case <-ctx.Done():
		return ctx.Err()
	}
	wait := time.Second
	for attempt := 1; ; attempt++ {
		fc, keyID, err := agent.FetchConfig(ctx, cfg.ConfigURL, cfg.ConfigKey, cfg.ConfigCA, time.Now())
		var fe *agent.FetchError
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

func (r *agentRun) startUploader(ctx context.Context, cfg agent.Config, key ed25519.PrivateKey, netReady <-chan struct{}) error {
	c, err := client.New(cfg.Audit, client.Options{HTTPClient: agent.PinnedClient(cfg.AuditCA, 60*time.Second)})
	if err != nil {
		return err
	}
	sp, err := client.OpenSpool(filepath.Join(r.o.work, "spool"), c)
	if err != nil {
		return err
	}
	u := agent.NewUploader(c, sp, cfg.Token, cfg.Job, key.Public().(ed25519.PublicKey), client.Retry{Initial: time.Second, Max: 30 * time.Second},
		func(f string, a ...any) { r.event(f, a...) })
	r.mu.Lock()
	r.upl = u
	r.mu.Unlock()
	go u.Run(ctx, netReady)
	go func() {
		// Reflect delivery on the drive rows.
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			st := u.Status()
			r.mu.Lock()
			for _, d := range r.drives {
				if d.spool == "" {
					continue
				}
				switch st.States[d.spool] {
				case "sent":
					d.view.Cert = "sent"
				case "rejected", "unverified":
					d.view.Cert = "REJECT"
				}
			}
			r.mu.Unlock()
		}
	}()
	return nil
}

// agentWipeFlags are lethe wipe's flags with their defaults (so the agent
// wipes exactly as lethe wipe would with the same options) and the
// agent's configuration applied.
func agentWipeFlags(cfg agent.Config, certDir string) (wipeFlags, wipe.VerifyMode, error) {
	var f wipeFlags
	f.addWipeFlags(&cobra.Command{})
	f.policy = cfg.Policy
	f.method = cfg.Method
	f.verify = cfg.Verify
	f.samplePercent = cfg.SamplePercent
	f.certDir = certDir
	f.allowUnfreeze = cfg.Unfreeze
	f.progress = "none"
	f.yes = true
	f.personnel = cert.Personnel{Operator: cfg.Operator, Organization: cfg.Organization, Site: cfg.Site, Job: cfg.Job}
	if f.personnel.Operator == "" {
		f.personnel.Operator = "lethe agent (unattended)"
	}
	_, verify, err := f.request()
	return f, verify, err
}

func mustRequest(f wipeFlags) wipe.Request {
	req, _, _ := f.request()
	return req
}

// finish shows the verdict, waits for the certificates to be delivered,
// prints the report, and ends as configured.
func (r *agentRun) finish(pass bool, why string) error {
	r.mu.Lock()
	cfg := r.cfg
	r.final = &agent.Final{Pass: pass}
	r.mu.Unlock()
	if !pass {
		r.event("FAIL: %s", why)
	}
	unsent := r.waitForDelivery(cfg)

	end := cfg.End
	if !pass {
		end = cfg.OnFail
	}
	hopeless := r.upl == nil || r.upl.Hopeless()
	if len(unsent) > 0 && cfg.Wait == agent.Forever && end != agent.EndShell {
		// Powering off would lose them: they exist only in RAM.
		end = agent.EndShell
	}
	lines := r.verdictLines(pass, why, unsent, hopeless, end)
	r.mu.Lock()
	r.status = lines
	r.mu.Unlock()
	r.draw()
	r.report(pass, why, unsent, end)
	r.draw()

	code := 0
	if !pass {
		code = exitFailed
	}
	switch {
	case r.o.outsideImage || r.o.noEnd:
		r.con.Print(fmt.Sprintf("lethe: would %s now (--no-end or not in the boot image: exiting instead)", end))
	case end == agent.EndPoweroff:
		time.Sleep(200 * time.Millisecond) // let init copy what is left of stdout
		r.con.Close()
		if err := power.Off(); err != nil {
			return err
		}
	case end == agent.EndReboot:
		time.Sleep(200 * time.Millisecond)
		r.con.Close()
		if err := power.Reboot(); err != nil {
			return err
		}
	case end == agent.EndShell:
		r.rescueShell()
	}
	if code != 0 {
		return &exitError{code, errors.New(dash(why))}
	}
	return nil
}

// rescueShell runs the image's shell on the console, again whenever it
// exits: the agent stays the uinit, so init never runs out of commands
// (which panics the kernel), and the certificates in RAM stay reachable.
func (r *agentRun) rescueShell() {
	r.quiet.Store(true)
	for {
		r.con.Print("lethe: rescue shell (certificates and the log are in " + r.o.work + "; lethe audit flush --spool " + filepath.Join(r.o.work, "spool") + " delivers them)")
		if err := runShell("/dev/console"); err != nil {
			r.con.Print("lethe: rescue shell: " + err.Error())
			time.Sleep(5 * time.Second)
		}
	}
}

// waitForDelivery keeps the uploader going until every certificate has a
// receipt, delivery is hopeless, or lethe.wait runs out. It returns the
// drives whose certificates are still undelivered.
func (r *agentRun) waitForDelivery(cfg agent.Config) []*agentDrive {
	unsent := func() []*agentDrive {
		r.mu.Lock()
		defer r.mu.Unlock()
		var out []*agentDrive
		for _, d := range r.drives {
			if d.res.certPath != "" && d.view.Cert != "sent" {
				out = append(out, d)
			}
		}
		return out
	}
	if r.upl == nil {
		return unsent()
	}
	start := time.Now()
	announced := time.Time{}
	for {
		// The drive rows follow the uploader every 500 ms.
		time.Sleep(600 * time.Millisecond)
		left := unsent()
		if len(left) == 0 {
			return nil
		}
		if r.upl.Hopeless() {
			return left
		}
		if cfg.Wait != agent.Forever && time.Since(start) >= cfg.Wait {
			r.event("!! giving up on the audit store after lethe.wait=%s", cfg.Wait)
			return left
		}
		if time.Since(announced) >= time.Minute {
			announced = time.Now()
			r.event("waiting for the audit store: %d certificate(s) not yet received; they are in RAM only (%s): do not power off", len(left), filepath.Join(r.o.work, "spool"))
		}
		r.mu.Lock()
		r.status = nil
		base := r.statusLines()
		r.status = append([]string{fmt.Sprintf("! %d CERTIFICATE(S) NOT YET RECEIVED by the audit store: in RAM only - do not power off", len(left))}, base...)
		r.mu.Unlock()
		r.draw()
	}
}
