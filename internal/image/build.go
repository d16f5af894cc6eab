// Package image builds lethe's network boot image: a Debian kernel, a u-root
// initramfs whose uinit is `lethe agent`, and an iPXE script. See README.md
// in this directory for the layout, the reproducibility rules and how to
// serve it over PXE.
package image

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/uio/llog"

	"github.com/lethe-project/lethe/internal/agent/kmod"
	"github.com/lethe-project/lethe/internal/image/manifest"
)

// Module is lethe's Go module path.
const Module = "github.com/lethe-project/lethe"

// GuestBuildTag is set when compiling the image's busybox binary.
const GuestBuildTag = "lethe_guest"

// File names in the output directory. The three a network boot serves are
// defined by the image layout (package manifest), so that the PXE server
// knows them without importing the builder.
const (
	KernelFile    = manifest.KernelFile
	InitramfsFile = manifest.InitramfsFile
	IPXEFile      = manifest.IPXEFile
	ManifestFile  = "image.json"
	SumsFile      = "SHA256SUMS"
	GuideFile     = "README.txt"
)

//go:embed README.md
var guide []byte

// Options configure Build. The zero value builds the default image from
// the current kernel in the apt repositories.
type Options struct {
	// Out is the output directory (created if missing).
	Out string
	// Source is the root of lethe's Go module; default: found upwards
	// from the working directory.
	Source string
	// CacheDir keeps downloaded kernel packages and their unpacked trees;
	// default DefaultCacheDir().
	CacheDir string
	// KernelPackage is resolved with apt (default DefaultKernelPackage).
	KernelPackage string
	// KernelDeb uses this .deb instead of asking apt (offline builds,
	// pinning an exact kernel).
	KernelDeb string
	// Version is stamped into the lethe binary (lethe --version) and the
	// build manifest.
	Version string
	// Cmdline is added to the kernel command line in boot.ipxe after
	// DefaultCmdline: the agent's configuration (lethe.*=...).
	Cmdline string
	// IPXEBase is where boot.ipxe fetches the kernel and initramfs from
	// unless ${lethe-base} is set; default tftp://${next-server}.
	IPXEBase string
	// GOROOT is the Go toolchain that compiles the image's binaries;
	// default: FindGo.
	GOROOT string
	// Log receives progress lines (default: discarded).
	Log io.Writer
}

// Result describes a built image.
type Result struct {
	Dir       string `json:"-"`
	Kernel    string `json:"-"`
	Initramfs string `json:"-"`
	IPXE      string `json:"-"`
	// Digest is the image digest certificates record (see package
	// manifest): sha256 of the initramfs body segment.
	Digest string `json:"digest"`
	// InitramfsSHA256 and InitramfsSize describe the whole initramfs file.
	InitramfsSHA256 string `json:"initramfsSha256"`
	InitramfsSize   int64  `json:"initramfsSize"`
	// BodySize is the compressed body; UncompressedSize the cpio in it.
	BodySize         int64          `json:"bodySize"`
	UncompressedSize int64          `json:"uncompressedSize"`
	KernelSHA256     string         `json:"kernelSha256"`
	KernelSize       int64          `json:"kernelSize"`
	Cmdline          string         `json:"cmdline"`
	Build            manifest.Build `json:"build"`
	// Modules is the shipped module index.
	Modules *kmod.Index `json:"modules"`
	// Took is how long the build ran.
	Took time.Duration `json:"-"`
}

// DefaultCmdline is the kernel command line boot.ipxe and the QEMU tests
// start from: serial and screen consoles, no reboot loop on panic (a
// machine that panics must stay visible on the console), and quiet
// enough that the agent's screen stays readable.
const DefaultCmdline = "console=tty0 console=ttyS0,115200 panic=0 loglevel=4"

// buildMu serializes builds in one process: Build sets GOAMD64 in the
// process environment, which the go command it runs inherits.
var buildMu sync.Mutex

// Build builds the image into opts.Out.
func Build(ctx context.Context, opts Options) (*Result, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	start := time.Now()
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	logf := func(format string, args ...any) { fmt.Fprintf(logw, format+"\n", args...) }

	if opts.Out == "" {
		return nil, errors.New("image build: no output directory")
	}
	src := opts.Source
	if src == "" {
		var err error
		if src, err = FindSource("."); err != nil {
			return nil, err
		}
	}
	src, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	cache := opts.CacheDir
	if cache == "" {
		if cache, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	// Find Go before downloading a kernel: without it nothing can be built.
	goroot := opts.GOROOT
	if goroot == "" {
		if goroot, err = FindGo(ctx); err != nil {
			return nil, err
		}
	}
	goBin := filepath.Join(goroot, "bin", "go")
	logf("go: %s", goBin)

	var k *Kernel
	if opts.KernelDeb != "" {
		logf("kernel: unpacking %s", opts.KernelDeb)
		k, err = UnpackKernel(ctx, cache, opts.KernelDeb)
	} else {
		logf("kernel: resolving %s with apt", cmpOr(opts.KernelPackage, DefaultKernelPackage))
		k, err = FetchKernel(ctx, cache, opts.KernelPackage)
	}
	if err != nil {
		return nil, fmt.Errorf("image build: %w", err)
	}
	logf("kernel: %s %s (%s)", k.Package, k.Version, k.Release)

	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "lethe-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	stage := filepath.Join(tmp, "stage")
	ix, err := stageModules(k, filepath.Join(stage, "modules"))
	if err != nil {
		return nil, fmt.Errorf("image build: %w", err)
	}
	logf("modules: %d shipped (%d load at boot)", len(ix.Modules), countDefault(ix))

	// The lethe_guest tag leaves the image builder out of the image's own
	// lethe (cmd/lethe/image_build_guest.go). GOROOT is always set: a
	// lethe built with -trimpath has no GOROOT of its own, and gobusybox
	// would then run "bin/go" relative to the working directory.
	env := golang.Default(golang.DisableCGO(), golang.WithGOOS("linux"), golang.WithGOARCH("amd64"),
		golang.WithWorkingDir(src), golang.WithBuildTag(GuestBuildTag), golang.WithGOROOT(goroot))
	goVersion, err := env.Version()
	if err != nil {
		return nil, fmt.Errorf("image build: go version: %w", err)
	}
	b := manifest.Build{
		Schema:         manifest.Schema,
		URoot:          modVersion(ctx, goBin, src, "github.com/u-root/u-root"),
		MkUImage:       modVersion(ctx, goBin, src, "github.com/u-root/mkuimage"),
		Kernel:         k.Info(),
		Commands:       append(slices.Clone(Commands), Module+"/cmd/lethe"),
		DefaultModules: slices.Clone(DefaultModules),
		ExtraModules:   slices.Clone(ExtraModules),
	}
	b.Lethe.Version = opts.Version
	b.Lethe.GoVersion = goVersion
	buildJSON, err := manifest.Marshal(b)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(stage, "build.json"), buildJSON, 0o644); err != nil {
		return nil, err
	}

	// GOAMD64=v1: the image runs on any x86-64 server, and under QEMU TCG.
	restore := setenv("GOAMD64", "v1")
	defer restore()

	bodyCPIO := filepath.Join(tmp, "body.cpio")
	ldflags := fmt.Sprintf("-ldflags=-s -w -buildid= -X %s/cmd/lethe.version=%s", Module, opts.Version)
	logf("initramfs: compiling busybox (%d commands + lethe) with %s", len(Commands), goVersion)
	l := llog.New(slog.LevelWarn, func(format string, v ...any) { logf("mkuimage: "+format, v...) })
	err = uimage.Create(l,
		uimage.WithReplaceEnv(env),
		uimage.WithBaseArchive(uimage.DefaultRamfs()),
		uimage.WithBusyboxCommands(append(slices.Clone(Commands), filepath.Join(src, LetheCommand))...),
		uimage.WithBusyboxBuildOpts(&golang.BuildOpts{ExtraArgs: []string{ldflags}}),
		uimage.WithInit("init"),
		uimage.WithUinit("lethe", "agent"),
		uimage.WithShell("gosh"),
		uimage.WithSkipLDD(),
		uimage.WithFiles(
			filepath.Join(stage, "modules")+":"+strings.TrimPrefix(kmod.Dir, "/"),
			filepath.Join(stage, "build.json")+":"+manifest.BuildPath,
		),
		uimage.WithTempDir(tmp),
		uimage.WithCPIOOutput(bodyCPIO),
	)
	if err != nil {
		return nil, fmt.Errorf("image build: mkuimage: %w", err)
	}
	raw, err := os.ReadFile(bodyCPIO)
	if err != nil {
		return nil, err
	}
	logf("initramfs: compressing %d bytes", len(raw))
	body, err := Compress(raw)
	if err != nil {
		return nil, err
	}

	res := &Result{
		Dir:              opts.Out,
		Kernel:           filepath.Join(opts.Out, KernelFile),
		Initramfs:        filepath.Join(opts.Out, InitramfsFile),
		IPXE:             filepath.Join(opts.Out, IPXEFile),
		BodySize:         int64(len(body)),
		UncompressedSize: int64(len(raw)),
		KernelSHA256:     k.VmlinuzSHA256,
		Build:            b,
		Modules:          ix,
		Cmdline:          strings.TrimSpace(DefaultCmdline + " " + opts.Cmdline),
	}
	var initrd bytes.Buffer
	img, err := manifest.WriteImage(&initrd, manifest.Image{Compression: "zstd"}, body)
	if err != nil {
		return nil, err
	}
	res.Digest = img.Digest
	res.InitramfsSize = int64(initrd.Len())
	res.InitramfsSHA256 = manifest.Digest(initrd.Bytes())[len("sha256:"):]
	kernel, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		return nil, err
	}
	res.KernelSize = int64(len(kernel))

	ipxe := IPXEScript(IPXEOptions{Base: opts.IPXEBase, Cmdline: res.Cmdline, Digest: res.Digest, InitramfsSHA256: res.InitramfsSHA256, KernelSHA256: res.KernelSHA256})
	manifestJSON, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	sums := fmt.Sprintf("%s  %s\n%s  %s\n%s  %s\n",
		res.KernelSHA256, KernelFile,
		res.InitramfsSHA256, InitramfsFile,
		manifest.Digest([]byte(ipxe))[len("sha256:"):], IPXEFile)
	for name, data := range map[string][]byte{
		KernelFile:    kernel,
		InitramfsFile: initrd.Bytes(),
		IPXEFile:      []byte(ipxe),
		ManifestFile:  append(manifestJSON, '\n'),
		SumsFile:      []byte(sums),
		GuideFile:     guide,
	} {
		if err := writeFileAtomic(filepath.Join(opts.Out, name), data); err != nil {
			return nil, err
		}
	}
	res.Took = time.Since(start)
	logf("image: %s (initramfs %s, %d bytes; kernel %d bytes) in %s", res.Digest, InitramfsFile, res.InitramfsSize, res.KernelSize, res.Took.Round(time.Second))
	return res, nil
}

// Info is the kernel's entry in the build manifest.
func (k *Kernel) Info() manifest.Kernel {
	return manifest.Kernel{Package: k.Package, Version: k.Version, Release: k.Release, DebSHA256: k.DebSHA256, VmlinuzSHA256: k.VmlinuzSHA256}
}

// Compress compresses an initramfs body with zstd. The encoder is
// single-threaded at a fixed level, so the same input gives the same bytes
// (for a given klauspost/compress version, which go.sum pins). The Linux
// initramfs unpacker reads zstd (CONFIG_RD_ZSTD).
func Compress(raw []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBestCompression),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true),
	)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(raw, nil), nil
}

// stageModules copies the selected modules and writes modules.json under
// dir, with fixed modes so the archive does not depend on the umask.
func stageModules(k *Kernel, dir string) (*kmod.Index, error) {
	tree, err := kmod.Scan(k.ModulesDir)
	if err != nil {
		return nil, err
	}
	ix, err := tree.Select(DefaultModules, ExtraModules)
	if err != nil {
		return nil, err
	}
	for _, m := range ix.Modules {
		data, err := os.ReadFile(filepath.Join(k.ModulesDir, filepath.FromSlash(m.Path)))
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(dir, filepath.FromSlash(m.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return nil, err
		}
		if err := os.Chmod(dst, 0o644); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := ix.Write(&buf); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, kmod.IndexFile), buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return ix, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o755)
		}
		return err
	})
}

func countDefault(ix *kmod.Index) int {
	n := 0
	for _, m := range ix.Modules {
		if m.Default {
			n++
		}
	}
	return n
}

// FindSource finds lethe's module root at or above dir.
func FindSource(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			first, _, _ := strings.Cut(string(data), "\n")
			if strings.TrimSpace(first) == "module "+Module {
				return d, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("image build needs lethe's source tree (go.mod of %s) at or above %s: run it from a checkout or pass --source", Module, dir)
		}
	}
}

// ErrNoGo says the Go toolchain the image build needs was not found.
var ErrNoGo = errors.New("lethe image build compiles lethe and u-root for the image and needs the Go toolchain (the version go.mod names, Go 1.26): install it (https://go.dev/doc/install), then put its bin directory on PATH or set GOROOT, or pass --goroot")

// FindGo finds the Go toolchain's root: $GOROOT, else the toolchain this
// lethe was built with when its GOROOT is recorded and still there (not
// with -trimpath, as `make build` does), else `go env GOROOT` of the go
// command on PATH.
func FindGo(ctx context.Context) (string, error) {
	has := func(root string) bool {
		fi, err := os.Stat(filepath.Join(root, "bin", "go"))
		return root != "" && err == nil && !fi.IsDir()
	}
	if r := os.Getenv("GOROOT"); r != "" {
		if has(r) {
			return r, nil
		}
		return "", fmt.Errorf("GOROOT=%s has no bin/go: %w", r, ErrNoGo)
	}
	//lint:ignore SA1019 runtime.GOROOT is what we want when the build recorded one.
	if r := runtime.GOROOT(); has(r) {
		return r, nil
	}
	bin, err := exec.LookPath("go")
	if err != nil {
		return "", ErrNoGo
	}
	out, err := exec.CommandContext(ctx, bin, "env", "GOROOT").Output()
	if r := strings.TrimSpace(string(out)); err == nil && has(r) {
		return r, nil
	}
	return "", fmt.Errorf("%s env GOROOT: %v: %w", bin, err, ErrNoGo)
}

// modVersion is the version of module path that the source tree's go.mod
// selects: the one the busybox is compiled with.
func modVersion(ctx context.Context, goBin, src, path string) string {
	cmd := exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}", path)
	cmd.Dir = src
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func setenv(key, val string) (restore func()) {
	old, had := os.LookupEnv(key)
	os.Setenv(key, val)
	return func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	}
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
