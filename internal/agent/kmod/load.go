package kmod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Status is what happened to one module.
type Status string

// Load outcomes.
const (
	Loaded  Status = "loaded"  // finit_module succeeded
	Already Status = "already" // it was loaded before (EEXIST, or live in /sys/module)
	Builtin Status = "builtin" // the kernel has it built in
	Failed  Status = "failed"  // finit_module failed
	Skipped Status = "skipped" // a hard dependency failed, so it was not tried
)

// Result is the outcome for one module.
type Result struct {
	Name   string        `json:"name"`
	Status Status        `json:"status"`
	Error  string        `json:"error,omitempty"`
	Took   time.Duration `json:"took"`
	// Optional is set for modules reached only through soft dependencies:
	// their failure does not make Load fail.
	Optional bool `json:"optional,omitempty"`
}

// OK reports whether the module is usable after Load.
func (r Result) OK() bool { return r.Status == Loaded || r.Status == Already || r.Status == Builtin }

// Request names a module to load, with optional parameters
// ("dev_size_mb=64 num_tgts=2") for the module itself; its dependencies
// load without parameters.
type Request struct {
	Name   string
	Params string
}

// ParseRequest parses "name [param=value ...]".
func ParseRequest(s string) Request {
	name, params, _ := strings.Cut(strings.TrimSpace(s), " ")
	return Request{Name: Normalize(name), Params: strings.TrimSpace(params)}
}

// Loader loads modules from a module directory.
type Loader struct {
	// Dir holds modules.json and the .ko files (default: Dir).
	Dir string
	// SysModule is where the kernel lists loaded modules (default
	// /sys/module); tests point it elsewhere.
	SysModule string
	// finit loads one module file; finit_module(2) by default.
	finit func(f *os.File, params string) error
}

// Load loads the requested modules (every Default module when reqs is
// empty) with their dependencies in load order. It goes on after a failure
// so one broken driver does not keep the others' disks from showing up, and
// returns every outcome plus an error naming each required module that is
// not usable.
func (l *Loader) Load(reqs ...Request) ([]Result, error) {
	dir := l.Dir
	if dir == "" {
		dir = Dir
	}
	ix, err := ReadIndex(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	params := map[string]string{}
	for _, r := range reqs {
		names = append(names, r.Name)
		if r.Params != "" {
			params[Normalize(r.Name)] = r.Params
		}
	}
	plan, err := ix.Plan(names...)
	if err != nil {
		return nil, err
	}
	required := ix.requiredSet(names)
	state := map[string]Status{}
	for _, b := range ix.Builtin {
		state[b] = Builtin
	}
	var results []Result
	var errs []error
	for _, n := range names {
		if ix.IsBuiltin(n) {
			results = append(results, Result{Name: Normalize(n), Status: Builtin})
		}
	}
	for _, m := range plan {
		res := Result{Name: m.Name, Optional: !required[m.Name]}
		start := time.Now()
		var bad []string
		for _, d := range m.Deps {
			if s := state[d]; s != Loaded && s != Already && s != Builtin {
				bad = append(bad, d)
			}
		}
		if len(bad) > 0 {
			res.Status = Skipped
			res.Error = "dependency not loaded: " + strings.Join(bad, ", ")
		} else {
			res.Status, err = l.loadOne(dir, m, params[m.Name])
			if err != nil {
				res.Error = err.Error()
			}
		}
		res.Took = time.Since(start)
		state[m.Name] = res.Status
		if !res.OK() && !res.Optional {
			errs = append(errs, fmt.Errorf("module %s: %s: %s", m.Name, res.Status, res.Error))
		}
		results = append(results, res)
	}
	return results, errors.Join(errs...)
}

// requiredSet is the closure of names over hard dependencies: modules that
// must load. Everything else in a plan came in as a soft dependency.
func (ix *Index) requiredSet(names []string) map[string]bool {
	req := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		m, ok := ix.Lookup(n)
		if !ok || req[m.Name] {
			return
		}
		req[m.Name] = true
		for _, d := range m.Deps {
			visit(d)
		}
	}
	if len(names) == 0 {
		for _, m := range ix.Modules {
			if m.Default {
				names = append(names, m.Name)
			}
		}
	}
	for _, n := range names {
		visit(n)
	}
	return req
}

func (l *Loader) loadOne(dir string, m *Module, params string) (Status, error) {
	sys := l.SysModule
	if sys == "" {
		sys = "/sys/module"
	}
	// A module compiled in or loaded earlier shows up in /sys/module with
	// initstate "live" (built-in ones have no initstate file).
	if st, err := os.ReadFile(filepath.Join(sys, m.Name, "initstate")); err == nil && strings.TrimSpace(string(st)) == "live" {
		return Already, nil
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(m.Path)))
	if err != nil {
		return Failed, err
	}
	defer f.Close()
	finit := l.finit
	if finit == nil {
		finit = func(f *os.File, params string) error { return unix.FinitModule(int(f.Fd()), params, 0) }
	}
	switch err := finit(f, params); {
	case err == nil:
		return Loaded, nil
	case errors.Is(err, unix.EEXIST):
		return Already, nil
	default:
		return Failed, fmt.Errorf("finit_module %s: %w", m.Path, err)
	}
}
