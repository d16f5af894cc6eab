package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultKernelPackage is Debian's metapackage that depends on the current
// kernel of the release (linux-image-6.1.0-N-amd64 on bookworm). Resolving
// it through apt picks whatever the configured repositories carry today.
const DefaultKernelPackage = "linux-image-amd64"

// Kernel is a Debian kernel package, downloaded and unpacked in the cache.
type Kernel struct {
	// Package and Version name the binary package (linux-image-6.1.0-56-amd64
	// 6.1.192-2); Release is its uname -r (6.1.0-56-amd64).
	Package string `json:"package"`
	Version string `json:"version"`
	Release string `json:"release"`
	// DebSHA256 is the sha256 of the .deb file, as the repository's
	// Packages index lists it.
	DebSHA256 string `json:"debSha256"`
	// VmlinuzSHA256 is the sha256 of the kernel image in the package.
	VmlinuzSHA256 string `json:"vmlinuzSha256"`

	// Deb is the cached .deb; Root the directory it is unpacked in;
	// Vmlinuz the kernel image and ModulesDir lib/modules/RELEASE there.
	Deb        string `json:"-"`
	Root       string `json:"-"`
	Vmlinuz    string `json:"-"`
	ModulesDir string `json:"-"`
}

// aptRecord holds the fields of `apt-cache show` that we use.
type aptRecord struct {
	Package, Version, Filename, SHA256, Depends string
}

// parseAptRecord parses the first stanza of `apt-cache show` output.
func parseAptRecord(out []byte) (aptRecord, error) {
	var r aptRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // end of the first stanza
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Package":
			r.Package = v
		case "Version":
			r.Version = v
		case "Filename":
			r.Filename = v
		case "SHA256":
			r.SHA256 = v
		case "Depends":
			r.Depends = v
		}
	}
	if r.Package == "" || r.Version == "" {
		return r, fmt.Errorf("apt-cache show: no package record in %q", firstLine(out))
	}
	return r, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

var kernelPkgRE = regexp.MustCompile(`^linux-image-(\d+\.\d+\.\d+-\d+-[a-z0-9-]+?)(-unsigned)?$`)

// kernelDependency picks the concrete kernel package out of the
// metapackage's Depends line ("linux-image-6.1.0-56-amd64 (= 6.1.192-2)").
func kernelDependency(depends string) (string, error) {
	for _, alt := range strings.Split(depends, ",") {
		for _, d := range strings.Split(alt, "|") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), " ")
			if kernelPkgRE.MatchString(name) {
				return name, nil
			}
		}
	}
	return "", fmt.Errorf("no linux-image-RELEASE package among the dependencies %q", depends)
}

func aptShow(ctx context.Context, pkg string) (aptRecord, error) {
	cmd := exec.CommandContext(ctx, "apt-cache", "show", "--no-all-versions", pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return aptRecord{}, fmt.Errorf("apt-cache show %s: %v: %s (run apt-get update?)", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return parseAptRecord(out)
}

// ResolveKernelPackage turns a package name into the concrete kernel
// package apt would install: a metapackage such as linux-image-amd64 is
// followed to the linux-image-RELEASE package it depends on.
func ResolveKernelPackage(ctx context.Context, pkg string) (aptRecord, error) {
	if pkg == "" {
		pkg = DefaultKernelPackage
	}
	rec, err := aptShow(ctx, pkg)
	if err != nil {
		return rec, err
	}
	if !kernelPkgRE.MatchString(rec.Package) {
		dep, err := kernelDependency(rec.Depends)
		if err != nil {
			return rec, fmt.Errorf("%s: %w", pkg, err)
		}
		if rec, err = aptShow(ctx, dep); err != nil {
			return rec, err
		}
	}
	if rec.SHA256 == "" || rec.Filename == "" {
		return rec, fmt.Errorf("apt-cache show %s: no Filename/SHA256 (not a downloadable package?)", rec.Package)
	}
	return rec, nil
}

// FetchKernel resolves pkg (DefaultKernelPackage when empty) with apt,
// downloads it with `apt-get download` into cacheDir/debs unless a file
// with the repository's sha256 is there already, and unpacks it.
func FetchKernel(ctx context.Context, cacheDir, pkg string) (*Kernel, error) {
	rec, err := ResolveKernelPackage(ctx, pkg)
	if err != nil {
		return nil, err
	}
	debs := filepath.Join(cacheDir, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return nil, err
	}
	deb := filepath.Join(debs, filepath.Base(rec.Filename))
	if sum, err := fileSHA256(deb); err != nil || sum != rec.SHA256 {
		tmp, err := os.MkdirTemp(debs, "download-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		cmd := exec.CommandContext(ctx, "apt-get", "download", rec.Package+"="+rec.Version)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("apt-get download %s=%s: %v: %s", rec.Package, rec.Version, err, out)
		}
		got := filepath.Join(tmp, filepath.Base(rec.Filename))
		sum, err := fileSHA256(got)
		if err != nil {
			return nil, fmt.Errorf("apt-get download %s: %w", rec.Package, err)
		}
		if sum != rec.SHA256 {
			return nil, fmt.Errorf("apt-get download %s: sha256 %s, the repository says %s", rec.Package, sum, rec.SHA256)
		}
		if err := os.Rename(got, deb); err != nil {
			return nil, err
		}
	}
	return UnpackKernel(ctx, cacheDir, deb)
}

// UnpackKernel unpacks a kernel .deb (once: the result is cached under
// cacheDir/kernels by the .deb's sha256) and finds vmlinuz and the modules.
func UnpackKernel(ctx context.Context, cacheDir, deb string) (*Kernel, error) {
	sum, err := fileSHA256(deb)
	if err != nil {
		return nil, err
	}
	ctl, err := exec.CommandContext(ctx, "dpkg-deb", "-f", deb, "Package", "Version").Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-deb -f %s: %w", deb, err)
	}
	rec, err := parseAptRecord(ctl)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", deb, err)
	}
	m := kernelPkgRE.FindStringSubmatch(rec.Package)
	if m == nil {
		return nil, fmt.Errorf("%s: package %s is not a linux-image-RELEASE package", deb, rec.Package)
	}
	k := &Kernel{Package: rec.Package, Version: rec.Version, Release: m[1], DebSHA256: sum, Deb: deb}
	k.Root = filepath.Join(cacheDir, "kernels", sum[:16])
	if _, err := os.Stat(filepath.Join(k.Root, ".complete")); err != nil {
		if err := os.MkdirAll(filepath.Dir(k.Root), 0o755); err != nil {
			return nil, err
		}
		tmp, err := os.MkdirTemp(filepath.Dir(k.Root), "unpack-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, tmp).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("dpkg-deb -x %s: %v: %s", deb, err, out)
		}
		if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
			return nil, err
		}
		os.RemoveAll(k.Root) // a partial unpack from an interrupted run
		if err := os.Rename(tmp, k.Root); err != nil {
			return nil, err
		}
	}
	k.Vmlinuz = filepath.Join(k.Root, "boot", "vmlinuz-"+k.Release)
	k.ModulesDir = filepath.Join(k.Root, "lib", "modules", k.Release)
	if k.VmlinuzSHA256, err = fileSHA256(k.Vmlinuz); err != nil {
		return nil, fmt.Errorf("kernel package %s: %w", k.Package, err)
	}
	if _, err := os.Stat(k.ModulesDir); err != nil {
		return nil, fmt.Errorf("kernel package %s: %w", k.Package, err)
	}
	return k, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DefaultCacheDir is $XDG_CACHE_HOME/lethe, or ~/.cache/lethe.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "lethe"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", errors.New("no cache directory: set XDG_CACHE_HOME or pass --cache")
	}
	return filepath.Join(d, "lethe"), nil
}
