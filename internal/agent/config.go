// Package agent is the boot image's unattended wipe (`lethe agent`, Run):
// its configuration (kernel command line and signed configuration files),
// the decision which disks are the boot medium, the console screen, the
// network bring-up, and the run itself, which wipes through the same
// pipeline as lethe wipe (package station) and delivers the certificates
// to the audit store before it powers off. The code that runs inside the
// boot image lives here and below (kmod, power, tpmkey).
package agent

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-project/lethe/internal/safetext"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
)

// Prefix starts every agent parameter on the kernel command line.
const Prefix = "lethe."

// End is what the agent does once it is finished.
type End string

// End actions.
const (
	EndPoweroff End = "poweroff"
	EndReboot   End = "reboot"
	EndShell    End = "shell" // exit; u-root's init starts the rescue shell
)

// Config is the agent's configuration. The zero value is not usable: start
// from Default().
type Config struct {
	// Policy is the wipe policy (purge, purge-or-fail, clear). Empty means
	// none was configured: the agent then wipes nothing (an interlock, so
	// that booting a bare image never erases a machine).
	Policy string
	// Method is the host overwrite method (random, zero, one, dod); empty
	// lets the planner choose as `lethe wipe` does.
	Method string
	// Verify is the read-back mode (last, all, sample, off).
	Verify string
	// SamplePercent is the share read back with Verify=sample.
	SamplePercent float64
	// Exclude names drives never to touch: serial, WWN, /dev path or
	// kernel name.
	Exclude []string
	// BootDev names the boot medium (kept). NoBootDisk is set by
	// bootdev=none: the image was not loaded from a local disk (network
	// boot, or a hypervisor's direct kernel boot).
	BootDev    []string
	NoBootDisk bool

	// Audit is the audit store's URL (https://host:port); AuditCA pins its
	// TLS certificate (sha256 of the DER certificate, hex); Token is the
	// enrollment token that registers the per-boot key.
	Audit   string
	AuditCA string
	Token   string

	Operator     string
	Organization string
	Site         string
	Job          string

	// End is what to do after a PASS; OnFail after a FAIL (a drive not
	// erased, or nothing wiped at all). A failure stays on the console by
	// default (shell), so that a machine that is off always means done.
	End    End
	OnFail End
	// Wait bounds how long the agent keeps trying to deliver certificates
	// after the last drive finished; Forever (the default) never gives up.
	Wait time.Duration
	// Delay is a pause, shown on the console, before the first write.
	Delay time.Duration
	// DryRun plans and shows everything, and writes nothing.
	DryRun bool
	// EnrollFirst waits, before the first write, until the audit store
	// has accepted the per-boot key (default on; lethe.enrollfirst=0).
	EnrollFirst bool
	// Unfreeze allows suspending the machine to RAM and resuming it to
	// unfreeze ATA drives the BIOS froze (lethe wipe --allow-unfreeze).
	Unfreeze bool
	// Net is "dhcp" (every Ethernet interface) or "none".
	Net string

	// ConfigURL is a signed configuration file to fetch; ConfigKey pins
	// the key that must have signed it; ConfigCA optionally pins the TLS
	// certificate of an https:// server.
	ConfigURL string
	ConfigKey string
	ConfigCA  string

	// Sources records where each setting came from ("cmdline" or
	// "config"), for the console and the log.
	Sources map[string]string
	// Notes are warnings to show (ignored or overridden parameters).
	Notes []string
}

// Forever is Config.Wait when the agent never gives up on unsent
// certificates.
const Forever time.Duration = -1

// Default is the configuration before any parameter is applied.
func Default() Config {
	return Config{
		Verify:        string(wipe.VerifyLast),
		SamplePercent: 10,
		End:           EndPoweroff,
		OnFail:        EndShell,
		Wait:          Forever,
		EnrollFirst:   true,
		Net:           "dhcp",
		Sources:       map[string]string{},
	}
}

// ConfigError is a configuration the agent refuses to run with.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string { return "configuration: " + strings.Join(e.Problems, "; ") }

// param is one agent setting: how to apply a value, and whether it may come
// from a (signed) configuration file or only from the command line.
type param struct {
	list      bool // values accumulate; a config file gives a JSON array
	cmdlineOK bool
	fileOK    bool
	set       func(c *Config, v string) error
}

// params is every setting the agent knows. An unknown lethe.* parameter is
// an error, never ignored: a misspelt lethe.exclude must not erase the disk
// it was meant to protect.
var params = map[string]param{
	"policy": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		p, err := wipe.ParsePolicy(v)
		if err != nil || v == "" {
			return fmt.Errorf("want purge, purge-or-fail or clear")
		}
		c.Policy = string(p)
		return nil
	}},
	"method": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		if _, err := wipe.ResolveMethod(v, nil, false); err != nil {
			return err
		}
		c.Method = v
		return nil
	}},
	"verify": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		m, err := wipe.ParseVerifyMode(v)
		if err != nil {
			return err
		}
		c.Verify = string(m)
		return nil
	}},
	"sample": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil || f <= 0 || f > 100 {
			return fmt.Errorf("want a percentage in (0, 100]")
		}
		c.SamplePercent = f
		return nil
	}},
	"exclude": {list: true, cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		c.Exclude = appendList(c.Exclude, v)
		return nil
	}},
	"bootdev": {list: true, cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		for _, s := range splitList(v) {
			if strings.EqualFold(s, "none") {
				c.NoBootDisk = true
				continue
			}
			if !slices.Contains(c.BootDev, s) {
				c.BootDev = append(c.BootDev, s)
			}
		}
		return nil
	}},
	"audit": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("want https://host:port")
		}
		c.Audit = strings.TrimRight(v, "/")
		return nil
	}},
	"auditca": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		p, err := ParseCertPin(v)
		if err != nil {
			return err
		}
		c.AuditCA = p
		return nil
	}},
	"token": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		if !strings.HasPrefix(v, "lenr_") {
			return fmt.Errorf("want an enrollment token (lenr_...)")
		}
		c.Token = v
		return nil
	}},
	"operator":     {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error { c.Operator = v; return nil }},
	"organization": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error { c.Organization = v; return nil }},
	"site":         {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error { c.Site = v; return nil }},
	"job":          {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error { c.Job = v; return nil }},
	"end": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		switch e := End(strings.ToLower(v)); e {
		case EndPoweroff, EndReboot, EndShell:
			c.End = e
			return nil
		}
		return fmt.Errorf("want poweroff, reboot or shell")
	}},
	"onfail": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		switch e := End(strings.ToLower(v)); e {
		case EndPoweroff, EndReboot, EndShell:
			c.OnFail = e
			return nil
		}
		return fmt.Errorf("want poweroff, reboot or shell")
	}},
	"wait": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		if strings.EqualFold(v, "forever") {
			c.Wait = Forever
			return nil
		}
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		c.Wait = d
		return nil
	}},
	"delay": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		c.Delay = d
		return nil
	}},
	"enrollfirst": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		b, err := parseBool(v)
		c.EnrollFirst = b
		return err
	}},
	"dryrun": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		b, err := parseBool(v)
		c.DryRun = b
		return err
	}},
	"unfreeze": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		b, err := parseBool(v)
		c.Unfreeze = b
		return err
	}},
	"net": {cmdlineOK: true, fileOK: true, set: func(c *Config, v string) error {
		switch v {
		case "dhcp", "none":
			c.Net = v
			return nil
		}
		return fmt.Errorf("want dhcp or none")
	}},
	// Where the configuration file comes from and who must have signed it
	// can only be set on the command line.
	"config": {cmdlineOK: true, set: func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("want an http:// or https:// URL")
		}
		c.ConfigURL = v
		return nil
	}},
	"configkey": {cmdlineOK: true, set: func(c *Config, v string) error {
		if _, err := ParseKeyPin(v); err != nil {
			return err
		}
		c.ConfigKey = v
		return nil
	}},
	"configca": {cmdlineOK: true, set: func(c *Config, v string) error {
		p, err := ParseCertPin(v)
		if err != nil {
			return err
		}
		c.ConfigCA = p
		return nil
	}},
}

// Params lists the parameter names the agent understands, sorted.
func Params() []string {
	var out []string
	for k := range params {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Set applies one setting from source ("cmdline" or "config"). A list
// setting accumulates; any other replaces an earlier value.
func (c *Config) Set(source, key, value string) error {
	p, ok := params[key]
	if !ok {
		return fmt.Errorf("%s%s: unknown parameter (known: %s)", Prefix, key, strings.Join(Params(), ", "))
	}
	if source == "config" && !p.fileOK {
		return fmt.Errorf("%s: may only be set on the kernel command line", key)
	}
	if source == "cmdline" && !p.cmdlineOK {
		return fmt.Errorf("%s%s: may only be set in the signed configuration", Prefix, key)
	}
	// Values go into certificates and onto the console verbatim: a newline
	// or an escape sequence could forge a line of either.
	if err := safetext.Check(value); err != nil {
		return fmt.Errorf("%s%s=%q: %w", Prefix, key, value, err)
	}
	if err := p.set(c, strings.TrimSpace(value)); err != nil {
		return fmt.Errorf("%s%s=%q: %w", Prefix, key, value, err)
	}
	if c.Sources == nil {
		c.Sources = map[string]string{}
	}
	c.Sources[key] = source
	return nil
}

// ParseCmdline reads the agent's parameters (lethe.KEY=VALUE) from a kernel
// command line, ignoring everything else. Later parameters replace earlier
// ones (the iPXE script's defaults come first, the site's lethe-args
// last); list parameters (exclude, bootdev) accumulate. It does not
// validate the combination: call Check once a configuration file, if
// any, has been applied.
func ParseCmdline(cmdline string) (Config, error) {
	c := Default()
	var problems []string
	for _, arg := range SplitCmdline(cmdline) {
		k, v, _ := strings.Cut(arg, "=")
		if !strings.HasPrefix(k, Prefix) {
			continue
		}
		if err := c.Set("cmdline", strings.TrimPrefix(k, Prefix), v); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return c, &ConfigError{Problems: problems}
	}
	return c, nil
}

// SplitCmdline splits a kernel command line into parameters the way the
// kernel does (lib/cmdline.c next_arg): on spaces, with double quotes
// grouping spaces into a value, e.g. lethe.operator="Jane Doe" or
// "lethe.site=dc 1". The quotes are removed.
func SplitCmdline(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && isSpace(r):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// isSpace is the kernel's isspace() for ASCII.
func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}

// Check validates the combination of settings. It returns a ConfigError
// listing every problem.
func (c *Config) Check() error {
	var p []string
	if c.Token != "" && c.Audit == "" {
		p = append(p, "lethe.token is set but lethe.audit is not: where should the key be registered?")
	}
	if c.Audit != "" {
		if c.AuditCA == "" {
			p = append(p, "lethe.audit needs lethe.auditca=sha256:HEX (the audit store's TLS certificate fingerprint): the image carries no CA bundle and trusts only what it is told")
		}
		if c.Token == "" {
			p = append(p, "lethe.audit needs lethe.token=lenr_... (an enrollment token): the store accepts only certificates signed by a registered key")
		}
		if c.Token != "" && c.Job == "" {
			p = append(p, "lethe.token needs lethe.job=JOB (the job the token was minted for): the store rejects certificates of another job")
		}
	}
	if c.ConfigURL != "" && c.ConfigKey == "" {
		p = append(p, "lethe.config needs lethe.configkey=ed25519:BASE64 or sha256:HEX: unsigned configuration files are not accepted")
	}
	if c.Audit != "" && c.Net == "none" {
		p = append(p, "lethe.net=none leaves no way to reach lethe.audit")
	}
	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// ParseCertPin normalizes a TLS certificate fingerprint: "sha256:HEX",
// plain HEX, or OpenSSL's colon-separated form, 32 bytes.
func ParseCertPin(s string) (string, error) {
	v := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "sha256:")
	v = strings.ReplaceAll(v, ":", "")
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != 32 {
		return "", errors.New("want sha256:HEX, the SHA-256 of the server's DER certificate (openssl x509 -noout -fingerprint -sha256)")
	}
	return hex.EncodeToString(b), nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func appendList(dst []string, v string) []string {
	for _, s := range splitList(v) {
		if !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

// parseDuration accepts Go durations (90s, 30m, 2h) and plain seconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration such as 90s, 30m or 2h")
	}
	return d, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "1", "y", "yes", "true", "on":
		return true, nil
	case "0", "n", "no", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("want 1 or 0")
}

// Options are the wipe pipeline's options for this configuration: lethe
// wipe's defaults (station.DefaultOptions) with the agent's settings
// applied, so that the agent wipes exactly as lethe wipe would with the
// same settings.
func (c Config) Options() station.Options {
	o := station.DefaultOptions()
	o.Policy = c.Policy
	o.Method = c.Method
	if c.Verify != "" {
		o.Verify = c.Verify
	}
	if c.SamplePercent != 0 {
		o.SamplePercent = c.SamplePercent
	}
	o.AllowUnfreeze = c.Unfreeze
	return o
}
