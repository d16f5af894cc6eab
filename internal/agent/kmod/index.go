// Package kmod ships kernel modules in the boot image and loads them there.
//
// At build time Scan reads a kernel's module tree (the .modinfo section of
// every .ko: depends=, softdep=, alias=) and Select picks the modules the
// image needs with everything they depend on, in load order. The result is
// an Index, written as modules.json next to the copied .ko files.
//
// In the boot image there is no modprobe and no /lib/modules (u-root's init
// would load every /lib/modules/*.ko alphabetically, without dependencies),
// so Load reads the Index and calls finit_module(2) itself, dependencies
// first, tolerating modules that are already loaded or built in.
package kmod

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// IndexFile is the name of the index inside a module directory.
const IndexFile = "modules.json"

// Dir is where the boot image keeps its modules: outside /lib/modules on
// purpose, see the package documentation.
const Dir = "/lib/lethe/modules"

// Index lists the modules of one module directory in load order: every
// module comes after its hard dependencies and its "pre:" soft
// dependencies.
type Index struct {
	// Kernel is the release the modules were built for (uname -r).
	Kernel string `json:"kernel"`
	// Modules are in load order.
	Modules []*Module `json:"modules"`
	// Builtin names modules that requests may name but that the kernel
	// has built in (from modules.builtin): loading them is a no-op.
	Builtin []string `json:"builtin,omitempty"`
}

// Module is one loadable module.
type Module struct {
	// Name is the module name with '-' normalized to '_', as the kernel
	// names it in /sys/module.
	Name string `json:"name"`
	// Path is the .ko file relative to the module directory.
	Path string `json:"path"`
	// Deps are hard dependencies (modinfo depends=): the module cannot
	// load without them.
	Deps []string `json:"deps,omitempty"`
	// SoftPre are soft dependencies to load first (modinfo softdep=
	// "pre:"), resolved to module names. Their failure is tolerated: a
	// CPU-specific implementation (e.g. crct10dif-pclmul) may refuse to
	// load where a generic one works.
	SoftPre []string `json:"softPre,omitempty"`
	// Default marks the modules Load loads when asked for none by name
	// (storage controllers, their transports, NICs) and their hard
	// dependencies; their soft dependencies come along through Plan.
	Default bool `json:"default,omitempty"`
}

// Normalize returns the kernel's name for a module: '-' becomes '_' and a
// trailing .ko is dropped.
func Normalize(name string) string {
	name = strings.TrimSuffix(filepath.Base(name), ".ko")
	return strings.ReplaceAll(name, "-", "_")
}

// ReadIndex reads dir/modules.json.
func ReadIndex(dir string) (*Index, error) {
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return nil, fmt.Errorf("read module index: %w", err)
	}
	var ix Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, fmt.Errorf("parse module index %s: %w", filepath.Join(dir, IndexFile), err)
	}
	if err := ix.check(); err != nil {
		return nil, fmt.Errorf("module index %s: %w", filepath.Join(dir, IndexFile), err)
	}
	return &ix, nil
}

// Write writes the index as indented JSON; the bytes depend only on the
// index, so images stay reproducible.
func (ix *Index) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ix)
}

// check verifies the load order: every dependency is listed before the
// module that needs it, or is built in.
func (ix *Index) check() error {
	seen := map[string]bool{}
	for _, b := range ix.Builtin {
		seen[b] = true
	}
	for _, m := range ix.Modules {
		if m.Name == "" || m.Path == "" {
			return fmt.Errorf("module entry without name or path: %+v", *m)
		}
		if filepath.IsAbs(m.Path) || strings.Contains(m.Path, "..") {
			return fmt.Errorf("module %s: path %q must be relative to the module directory", m.Name, m.Path)
		}
		for _, d := range slices.Concat(m.Deps, m.SoftPre) {
			if !seen[d] {
				return fmt.Errorf("module %s depends on %s, which is not listed before it", m.Name, d)
			}
		}
		if seen[m.Name] {
			return fmt.Errorf("module %s listed twice", m.Name)
		}
		seen[m.Name] = true
	}
	return nil
}

// ErrUnknownModule is returned for a name the index does not hold.
var ErrUnknownModule = errors.New("module not in the image")

// Lookup returns the module called name (either spelling of '-'/'_').
func (ix *Index) Lookup(name string) (*Module, bool) {
	name = Normalize(name)
	for _, m := range ix.Modules {
		if m.Name == name {
			return m, true
		}
	}
	return nil, false
}

// IsBuiltin reports whether name is built into the kernel.
func (ix *Index) IsBuiltin(name string) bool {
	return slices.Contains(ix.Builtin, Normalize(name))
}

// Plan returns the modules to load for names (all Default modules when
// names is empty), with their dependencies, in load order. Names of
// built-in modules are accepted and need nothing.
func (ix *Index) Plan(names ...string) ([]*Module, error) {
	want := map[string]bool{}
	var visit func(name string) error
	visit = func(name string) error {
		if want[name] || ix.IsBuiltin(name) {
			return nil
		}
		m, ok := ix.Lookup(name)
		if !ok {
			return fmt.Errorf("%w: %s (kernel %s)", ErrUnknownModule, name, ix.Kernel)
		}
		want[m.Name] = true
		for _, d := range slices.Concat(m.Deps, m.SoftPre) {
			if err := visit(d); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
		return nil
	}
	if len(names) == 0 {
		for _, m := range ix.Modules {
			if m.Default {
				names = append(names, m.Name)
			}
		}
	}
	for _, n := range names {
		if err := visit(Normalize(n)); err != nil {
			return nil, err
		}
	}
	var out []*Module
	for _, m := range ix.Modules {
		if want[m.Name] {
			out = append(out, m)
		}
	}
	return out, nil
}
