package qemutest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/u-root/mkuimage/cpio"
	"golang.org/x/sys/unix"

	"github.com/lethe-project/lethe/internal/image"
	"github.com/lethe-project/lethe/internal/testutil"
)

// Image is a built boot image plus the test initramfs derived from it.
type Image struct {
	// Dir holds the released artifacts exactly as `lethe image build`
	// writes them (vmlinuz, initramfs.cpio.zst, boot.ipxe, ...).
	Dir string
	// Kernel is Dir/vmlinuz.
	Kernel string
	// Initramfs is the released initramfs; TestInitramfs is it plus the
	// test overlay (guestrun as /bin/uinit), which the guests boot.
	Initramfs     string
	TestInitramfs string
	// Digest is the image digest of the released image; the test
	// initramfs has the same one (the overlay is appended after the
	// body, outside the hashed range).
	Digest string
	// Result is the build's manifest.
	Result image.Result
	// Built is true when this process built the image (not the cache);
	// BuildTook says how long it took.
	Built     bool
	BuildTook time.Duration
}

var (
	imageMu    sync.Mutex
	imageCache *Image
	imageErr   error
)

// GetImage returns the boot image for this source tree, building it at
// most once per content hash: once per `go test` process, and across runs
// through the cache directory (LETHE_CACHE, else $XDG_CACHE_HOME/lethe or
// ~/.cache/lethe). Concurrent test processes wait for one build (flock).
// It needs apt-get, dpkg-deb and the Go toolchain; outside CI it skips
// when they are missing.
func GetImage(t testing.TB) *Image {
	t.Helper()
	for _, c := range []string{"apt-get", "apt-cache", "dpkg-deb", "go"} {
		testutil.RequireCommand(t, c)
	}
	imageMu.Lock()
	defer imageMu.Unlock()
	if imageCache == nil && imageErr == nil {
		imageCache, imageErr = buildCached(t)
	}
	if imageErr != nil {
		t.Fatalf("boot image: %v", imageErr)
	}
	return imageCache
}

// CacheDir is where kernel packages and built images are kept.
func CacheDir() (string, error) {
	if d := os.Getenv("LETHE_CACHE"); d != "" {
		return d, nil
	}
	return image.DefaultCacheDir()
}

func buildCached(t testing.TB) (*Image, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	src, err := image.FindSource(".")
	if err != nil {
		return nil, err
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	rec, err := image.ResolveKernelPackage(ctx, "")
	if err != nil {
		return nil, err
	}
	key, err := sourceKey(src, rec.SHA256)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cache, "images", key[:24])
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(dir + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()

	img := &Image{Dir: filepath.Join(dir, "release")}
	if data, err := os.ReadFile(filepath.Join(dir, "complete.json")); err == nil && json.Unmarshal(data, &img.Result) == nil {
		t.Logf("boot image %s from cache %s", img.Result.Digest, dir)
	} else {
		os.RemoveAll(dir)
		start := time.Now()
		var log bytes.Buffer
		res, err := image.Build(ctx, image.Options{Out: img.Dir, Source: src, CacheDir: cache, Version: "test", Log: &log})
		if err != nil {
			return nil, fmt.Errorf("%w\n%s", err, log.String())
		}
		img.Result, img.Built, img.BuildTook = *res, true, time.Since(start)
		t.Logf("built boot image %s in %s", res.Digest, img.BuildTook.Round(time.Second))
		if err := writeTestInitramfs(ctx, src, img.Dir, dir); err != nil {
			return nil, err
		}
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "complete.json"), data, 0o644); err != nil {
			return nil, err
		}
		prune(filepath.Dir(dir), dir, 3)
	}
	img.Kernel = filepath.Join(img.Dir, image.KernelFile)
	img.Initramfs = filepath.Join(img.Dir, image.InitramfsFile)
	img.TestInitramfs = filepath.Join(dir, "test-initramfs.cpio")
	img.Digest = img.Result.Digest
	return img, nil
}

// sourceKey hashes what the image and the test overlay are built from:
// lethe's non-test Go files (except this harness's host side), go.mod,
// go.sum, everything under image/ (README.md is embedded), the Go
// toolchain, and the kernel package's sha256.
func sourceKey(src, kernelSHA string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "go %s\nkernel %s\nschema 1\n", runtime.Version(), kernelSHA)
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "out", "bin", "testdata", "certificates":
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		inImageDir := strings.HasPrefix(rel, "image"+string(filepath.Separator))
		switch {
		case strings.HasSuffix(rel, "_test.go"):
		case filepath.Dir(rel) == filepath.Join("internal", "qemutest"):
			// The host side of the harness: not in the image or the overlay.
		case strings.HasSuffix(rel, ".go"), rel == "go.mod", rel == "go.sum", inImageDir:
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.Sort(files)
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", rel, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// writeTestInitramfs builds guestrun and writes the test initramfs: the
// released initramfs, zero padding, and an uncompressed cpio overlay that
// replaces /bin/uinit with guestrun and empties /etc/uinit.flags. The
// kernel unpacks segments in order, and a later entry replaces an earlier
// one of the same name, so the released bytes stay untouched.
func writeTestInitramfs(ctx context.Context, src, release, dir string) error {
	bin := filepath.Join(dir, "guestrun")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "./internal/qemutest/guestrun")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build guestrun: %v\n%s", err, out)
	}
	runner, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	base, err := os.ReadFile(filepath.Join(release, image.InitramfsFile))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.Write(base)
	for buf.Len()%512 != 0 {
		buf.WriteByte(0)
	}
	w := cpio.Newc.Writer(&buf)
	recs := []cpio.Record{
		cpio.Directory("bin", 0o755),
		cpio.Directory("etc", 0o755),
		cpio.StaticRecord(runner, cpio.Info{Name: "bin/uinit", Mode: cpio.S_IFREG | 0o755}),
		cpio.StaticFile("etc/uinit.flags", "", 0o444),
	}
	if err := cpio.WriteRecords(w, recs); err != nil {
		return err
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "test-initramfs.cpio"), buf.Bytes(), 0o644)
}

// copyFile copies src to dst.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// prune removes all but the newest keep built images under images (and
// never current), so a developer's or CI machine's cache does not grow
// with every source change. Images another process holds are left alone.
func prune(images, current string, keep int) {
	ents, err := os.ReadDir(images)
	if err != nil {
		return
	}
	type built struct {
		dir string
		mod time.Time
	}
	var all []built
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(images, e.Name())
		st, err := os.Stat(filepath.Join(d, "complete.json"))
		if err != nil {
			continue // being built, or a broken build: the builder cleans it up
		}
		all = append(all, built{d, st.ModTime()})
	}
	slices.SortFunc(all, func(a, b built) int { return b.mod.Compare(a.mod) })
	for i, b := range all {
		if i < keep || b.dir == current {
			continue
		}
		f, err := os.OpenFile(b.dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			// The empty lock file stays: removing it would let two
			// processes lock different files for the same key.
			os.RemoveAll(b.dir)
			unix.Flock(int(f.Fd()), unix.LOCK_UN)
		}
		f.Close()
	}
}
