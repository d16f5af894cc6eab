package station

import (
	"encoding/hex"
	"fmt"

	"github.com/lethe-project/lethe/internal/wipe"
)

// Options are a run's settings as people write them: flags, the agent's
// kernel command line or a configuration file. DefaultOptions gives
// lethe wipe's defaults; Parse checks and types them once.
type Options struct {
	Policy        string   // purge, purge-or-fail, clear
	Technique     string   // force one technique by id
	Method        string   // host overwrite method
	Passes        []string // custom passes
	FinalZero     bool
	Verify        string // last (full), all, sample, off
	SamplePercent float64
	SampleSeed    string // 64 hex digits; empty: random
	ChunkMiB      int
	Workers       int
	StateDir      string
	AllowUnfreeze bool
	// AllNamespaces lets an NVMe erase that acts on the whole subsystem
	// (every Sanitize, a Format NVM whose FNA reaches all namespaces) run
	// when it would erase namespaces other than the one being wiped, or
	// ones lethe cannot enumerate; the certificate lists every one.
	AllNamespaces bool
}

// DefaultOptions are lethe wipe's defaults.
func DefaultOptions() Options {
	return Options{Policy: string(wipe.PolicyPurge), Verify: string(wipe.VerifyLast), SamplePercent: 10,
		ChunkMiB: 4, Workers: 4, StateDir: wipe.DefaultStateDir}
}

// Config is a run's typed configuration.
type Config struct {
	Request       wipe.Request
	Verify        wipe.VerifyMode
	SamplePercent float64
	SampleSeed    []byte
	IO            wipe.IOOptions
	Firmware      wipe.FirmwareOptions
}

// OptionError is a setting that cannot be used (a usage error: nothing
// was written).
type OptionError struct{ Msg string }

func (e *OptionError) Error() string { return e.Msg }

func optionErr(format string, args ...any) error { return &OptionError{fmt.Sprintf(format, args...)} }

// Parse checks the options and types them.
func (o Options) Parse() (Config, error) {
	var c Config
	policy, err := wipe.ParsePolicy(o.Policy)
	if err != nil {
		return c, optionErr("%v", err)
	}
	m, err := wipe.ResolveMethod(o.Method, o.Passes, o.FinalZero)
	if err != nil {
		return c, optionErr("%v", err)
	}
	if c.Verify, err = wipe.ParseVerifyMode(o.Verify); err != nil {
		return c, optionErr("%v", err)
	}
	if o.SamplePercent <= 0 || o.SamplePercent > 100 {
		return c, optionErr("--sample-percent %.2f: want a value in (0, 100]", o.SamplePercent)
	}
	c.SamplePercent = o.SamplePercent
	if o.SampleSeed != "" {
		if c.SampleSeed, err = hex.DecodeString(o.SampleSeed); err != nil || len(c.SampleSeed) != 32 {
			return c, optionErr("--sample-seed: want 64 hex digits (32 bytes)")
		}
	}
	tech := wipe.TechniqueID(o.Technique)
	if tech != "" {
		if _, ok := wipe.LookupTechnique(tech); !ok {
			return c, optionErr("--technique %q: no such technique (lethe devices lists them)", o.Technique)
		}
	}
	explicit := o.Method != "" || len(o.Passes) > 0 || o.FinalZero
	if tech != "" && explicit && tech != wipe.TechOverwrite {
		return c, optionErr("--method/--passes describe a host overwrite; they do not combine with --technique %s", tech)
	}
	if o.ChunkMiB <= 0 || o.ChunkMiB > 256 || o.Workers <= 0 || o.Workers > 64 {
		return c, optionErr("--chunk-mib must be 1..256 and --workers 1..64")
	}
	c.Request = wipe.Request{Policy: policy, Technique: tech, Method: m, MethodExplicit: explicit}
	c.IO = wipe.IOOptions{ChunkBytes: o.ChunkMiB << 20, Workers: o.Workers}
	c.Firmware = wipe.FirmwareOptions{StateDir: o.StateDir, AllowUnfreeze: o.AllowUnfreeze, AllNamespaces: o.AllNamespaces}
	return c, nil
}
