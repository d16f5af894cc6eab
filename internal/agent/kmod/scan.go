package kmod

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Info is what a .ko file says about itself in its .modinfo section
// (NUL-separated key=value strings written by the kernel's modpost).
type Info struct {
	Name string
	// Path is relative to the tree's root.
	Path string
	// Depends are the modules whose symbols this one uses.
	Depends []string
	// SoftPre and SoftPost are the names in softdep= "pre:" and "post:"
	// lists; they may be aliases (e.g. "crct10dif") rather than names.
	SoftPre  []string
	SoftPost []string
	// Aliases are the alias= entries (device IDs, crypto algorithm names).
	Aliases []string
}

// ParseModinfo decodes the .modinfo section of a kernel module.
func ParseModinfo(section []byte) Info {
	var inf Info
	for _, field := range bytes.Split(section, []byte{0}) {
		if len(field) == 0 {
			continue
		}
		key, val, ok := strings.Cut(string(field), "=")
		if !ok {
			continue // not a key=value string; modpost writes none, ignore
		}
		switch key {
		case "name":
			inf.Name = Normalize(val)
		case "depends":
			for _, d := range strings.Split(val, ",") {
				if d = strings.TrimSpace(d); d != "" {
					inf.Depends = append(inf.Depends, Normalize(d))
				}
			}
		case "softdep":
			pre, post := parseSoftdep(val)
			inf.SoftPre = append(inf.SoftPre, pre...)
			inf.SoftPost = append(inf.SoftPost, post...)
		case "alias":
			inf.Aliases = append(inf.Aliases, val)
		}
	}
	return inf
}

// parseSoftdep parses "pre: a b post: c" (modprobe.d(5) softdep syntax, as
// MODULE_SOFTDEP writes it). Names before any "pre:" or "post:" are
// ignored, as kmod ignores them (cifs writes such entries).
func parseSoftdep(s string) (pre, post []string) {
	var cur *[]string
	for _, tok := range strings.Fields(s) {
		switch tok {
		case "pre:":
			cur = &pre
		case "post:":
			cur = &post
		default:
			if cur != nil {
				*cur = append(*cur, tok)
			}
		}
	}
	return pre, post
}

// ReadModinfo reads the .modinfo section of the module file at path.
func ReadModinfo(path string) (Info, error) {
	f, err := elf.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return Info{}, fmt.Errorf("module %s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return Info{}, fmt.Errorf("module %s: .modinfo: %w", path, err)
	}
	inf := ParseModinfo(data)
	if inf.Name == "" {
		inf.Name = Normalize(path)
	}
	return inf, nil
}

// Tree is a kernel's module directory (lib/modules/RELEASE of a kernel
// package) with every module's modinfo read.
type Tree struct {
	Root    string
	Kernel  string
	Modules map[string]*Info
	// Builtin holds the names in modules.builtin.
	Builtin map[string]bool
}

// Scan reads every .ko under root, which is a lib/modules/RELEASE
// directory; the release is root's base name.
func Scan(root string) (*Tree, error) {
	t := &Tree{
		Root:    root,
		Kernel:  filepath.Base(root),
		Modules: map[string]*Info{},
		Builtin: map[string]bool{},
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return nil
		}
		inf, err := ReadModinfo(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		inf.Path = filepath.ToSlash(rel)
		if prev, dup := t.Modules[inf.Name]; dup {
			return fmt.Errorf("module %s found twice: %s and %s", inf.Name, prev.Path, inf.Path)
		}
		t.Modules[inf.Name] = &inf
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan modules: %w", err)
	}
	if len(t.Modules) == 0 {
		return nil, fmt.Errorf("scan modules: no .ko files under %s", root)
	}
	f, err := os.Open(filepath.Join(root, "modules.builtin"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" {
				t.Builtin[Normalize(line)] = true
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read modules.builtin: %w", err)
		}
	}
	return t, nil
}

// resolveSoft maps a softdep entry to module names: the module of that
// name, else every module declaring it as an alias (modprobe does the
// same). Unknown names resolve to nothing: soft dependencies are optional.
func (t *Tree) resolveSoft(name string) []string {
	n := Normalize(name)
	if _, ok := t.Modules[n]; ok {
		return []string{n}
	}
	if t.Builtin[n] {
		return []string{n}
	}
	var out []string
	for _, m := range t.Modules {
		if slices.Contains(m.Aliases, name) {
			out = append(out, m.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Select returns the index for the named modules plus everything they
// need, in load order. defaults are loaded by Load when no names are
// given; extras are shipped but loaded only by name. A name the kernel
// builds in is recorded as built in. A name that is neither is an error:
// the image must not silently lack a storage driver.
func (t *Tree) Select(defaults, extras []string) (*Index, error) {
	ix := &Index{Kernel: t.Kernel}
	isDefault := map[string]bool{}
	chosen := map[string]*Module{}
	builtin := map[string]bool{}
	var visit func(name string, via []string) error
	visit = func(name string, via []string) error {
		if chosen[name] != nil || builtin[name] {
			return nil
		}
		if t.Builtin[name] {
			builtin[name] = true
			return nil
		}
		inf, ok := t.Modules[name]
		if !ok {
			if len(via) > 0 {
				return fmt.Errorf("%w: %s (needed by %s)", ErrUnknownModule, name, strings.Join(via, " <- "))
			}
			return fmt.Errorf("%w: %s is neither a module nor built into kernel %s", ErrUnknownModule, name, t.Kernel)
		}
		m := &Module{Name: inf.Name, Path: inf.Path, Deps: slices.Clone(inf.Depends)}
		for _, s := range inf.SoftPre {
			m.SoftPre = append(m.SoftPre, t.resolveSoft(s)...)
		}
		slices.Sort(m.Deps)
		slices.Sort(m.SoftPre)
		m.SoftPre = slices.Compact(m.SoftPre)
		chosen[name] = m
		for _, d := range slices.Concat(m.Deps, m.SoftPre) {
			if err := visit(d, slices.Concat(via, []string{name})); err != nil {
				return err
			}
		}
		return nil
	}
	for _, group := range [][]string{defaults, extras} {
		for _, n := range group {
			if err := visit(Normalize(n), nil); err != nil {
				return nil, err
			}
		}
	}
	for _, n := range defaults {
		isDefault[Normalize(n)] = true
	}
	// Defaults pull their hard dependencies into the default set. Soft
	// dependencies stay optional: Plan still loads them before the module
	// that names them, but their failure is tolerated.
	var mark func(string)
	mark = func(n string) {
		m := chosen[n]
		if m == nil || m.Default {
			return
		}
		m.Default = true
		for _, d := range m.Deps {
			mark(d)
		}
	}
	for n := range isDefault {
		mark(n)
	}
	order, err := topoSort(chosen, builtin)
	if err != nil {
		return nil, err
	}
	ix.Modules = order
	for b := range builtin {
		ix.Builtin = append(ix.Builtin, b)
	}
	slices.Sort(ix.Builtin)
	return ix, ix.check()
}

// topoSort orders modules dependencies-first; among modules whose
// dependencies are all placed, the alphabetically first comes next, so the
// order depends only on the set (reproducible images).
func topoSort(mods map[string]*Module, builtin map[string]bool) ([]*Module, error) {
	placed := map[string]bool{}
	for b := range builtin {
		placed[b] = true
	}
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []*Module
	for len(out) < len(mods) {
		progress := false
		for _, n := range names {
			if placed[n] {
				continue
			}
			m := mods[n]
			ready := true
			for _, d := range slices.Concat(m.Deps, m.SoftPre) {
				if !placed[d] {
					ready = false
					break
				}
			}
			if ready {
				placed[n] = true
				out = append(out, m)
				progress = true
				break
			}
		}
		if !progress {
			var left []string
			for _, n := range names {
				if !placed[n] {
					left = append(left, n)
				}
			}
			return nil, fmt.Errorf("module dependency cycle among %s", strings.Join(left, ", "))
		}
	}
	return out, nil
}
