package image_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/mkuimage/cpio"

	"github.com/lethe-project/lethe/internal/agent/kmod"
	"github.com/lethe-project/lethe/internal/image"
	"github.com/lethe-project/lethe/internal/image/manifest"
	"github.com/lethe-project/lethe/internal/qemutest"
	"github.com/lethe-project/lethe/internal/testutil"
)

// bodyRecords decompresses an initramfs body and returns its records.
func bodyRecords(t *testing.T, path string) map[string]cpio.Record {
	t.Helper()
	rep, err := manifest.InspectFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(data[rep.BodyOffset:rep.BodyOffset+rep.Image.BodySize], nil)
	if err != nil {
		t.Fatalf("decompress body: %v", err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]cpio.Record{}
	for _, r := range recs {
		if _, dup := m[r.Name]; dup {
			t.Errorf("%s twice in the archive", r.Name)
		}
		m[r.Name] = r
	}
	return m
}

func content(t *testing.T, r cpio.Record) []byte {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBuiltImageContents checks what `lethe image build` produced: the
// digest, the layout of the archive, the manifests, the modules.
func TestBuiltImageContents(t *testing.T) {
	img := qemutest.GetImage(t)

	rep, err := manifest.InspectFile(img.Initramfs)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Computed != img.Digest || rep.Appended != 0 {
		t.Errorf("released initramfs: %+v, want digest %s and nothing appended", rep, img.Digest)
	}
	if rep.FileSHA256 != img.Result.InitramfsSHA256 {
		t.Errorf("file sha256 %s, manifest says %s", rep.FileSHA256, img.Result.InitramfsSHA256)
	}
	trep, err := manifest.InspectFile(img.TestInitramfs)
	if err != nil {
		t.Fatal(err)
	}
	if !trep.OK() || trep.Computed != img.Digest || trep.Appended == 0 {
		t.Errorf("test initramfs: %+v: want the released digest plus an appended overlay", trep)
	}

	recs := bodyRecords(t, img.Initramfs)
	for name, target := range map[string]string{
		"init":          "bbin/init",
		"bin/uinit":     "../bbin/lethe",
		"bin/sh":        "../bbin/gosh",
		"bin/defaultsh": "../bbin/gosh",
		"bbin/lethe":    "bb",
		"bbin/dhclient": "bb",
	} {
		r, ok := recs[name]
		if !ok || r.Mode&cpio.S_IFMT != cpio.S_IFLNK || string(content(t, r)) != target {
			t.Errorf("%s: want a symlink to %s, got %+v", name, target, r.Info)
		}
	}
	if flags := string(content(t, recs["etc/uinit.flags"])); !strings.Contains(flags, "agent") {
		t.Errorf("etc/uinit.flags = %q: the uinit must run lethe agent", flags)
	}
	for name, r := range recs {
		if r.MTime != 0 || r.UID != 0 || r.GID != 0 {
			t.Errorf("%s: mtime %d uid %d gid %d: not reproducible", name, r.MTime, r.UID, r.GID)
		}
		if strings.HasPrefix(name, "lib/modules/") {
			t.Errorf("%s: u-root's init would load it blindly", name)
		}
	}

	var b manifest.Build
	if err := json.Unmarshal(content(t, recs[manifest.BuildPath]), &b); err != nil {
		t.Fatal(err)
	}
	if b.Kernel != img.Result.Build.Kernel || b.Lethe.Version != "test" || b.URoot != "v0.16.0" {
		t.Errorf("build.json %+v", b)
	}
	if sum := sha256File(t, img.Kernel); sum != b.Kernel.VmlinuzSHA256 {
		t.Errorf("vmlinuz sha256 %s, build.json says %s", sum, b.Kernel.VmlinuzSHA256)
	}

	var ix kmod.Index
	if err := json.Unmarshal(content(t, recs[strings.TrimPrefix(kmod.Dir, "/")+"/"+kmod.IndexFile]), &ix); err != nil {
		t.Fatal(err)
	}
	if ix.Kernel != b.Kernel.Release {
		t.Errorf("modules for %s in an image for %s", ix.Kernel, b.Kernel.Release)
	}
	for _, m := range ix.Modules {
		if _, ok := recs[strings.TrimPrefix(kmod.Dir, "/")+"/"+m.Path]; !ok {
			t.Errorf("module %s: %s not in the archive", m.Name, m.Path)
		}
	}
	for _, n := range slices.Concat(image.DefaultModules, image.ExtraModules) {
		if _, ok := ix.Lookup(n); !ok && !ix.IsBuiltin(n) {
			t.Errorf("module %s not shipped", n)
		}
	}
	if m, _ := ix.Lookup("nvme"); m == nil || !m.Default {
		t.Error("nvme is not a default module")
	}
	if m, _ := ix.Lookup("scsi_debug"); m == nil || m.Default {
		t.Error("scsi_debug must ship but load only by name")
	}

	// The iPXE script names the files that are there.
	ipxe, err := os.ReadFile(filepath.Join(img.Dir, image.IPXEFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ipxe), img.Digest) || !strings.Contains(string(ipxe), img.Result.InitramfsSHA256) {
		t.Errorf("boot.ipxe does not name this image:\n%s", ipxe)
	}
	if testutil.InCI() || commandExists("sha256sum") {
		cmd := exec.Command("sha256sum", "-c", image.SumsFile)
		cmd.Dir = img.Dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
		}
	}
	t.Logf("image %s: initramfs %.1f MiB (body %.1f MiB, %.1f MiB uncompressed), kernel %.1f MiB, %d modules",
		img.Digest, mib(img.Result.InitramfsSize), mib(img.Result.BodySize), mib(img.Result.UncompressedSize), mib(img.Result.KernelSize), len(ix.Modules))
}

// TestReproducibleBuild builds the image a second time and compares the
// bytes. It costs a full build (~1 min on two cores).
func TestReproducibleBuild(t *testing.T) {
	img := qemutest.GetImage(t)
	cache, err := qemutest.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var log bytes.Buffer
	res, err := image.Build(ctx, image.Options{Out: out, CacheDir: cache, Version: "test", Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if res.Digest != img.Digest {
		t.Errorf("second build: digest %s, first %s", res.Digest, img.Digest)
	}
	for _, f := range []string{image.InitramfsFile, image.KernelFile, image.IPXEFile, image.SumsFile} {
		if a, b := sha256File(t, filepath.Join(out, f)), sha256File(t, filepath.Join(img.Dir, f)); a != b {
			t.Errorf("%s differs between two builds", f)
		}
	}
}

// TestModulesMatchDepmod cross-checks the dependencies read from .modinfo
// against kmod's depmod on the same kernel: for every shipped module, the
// modules it needs (transitively) are the ones modules.dep lists.
func TestModulesMatchDepmod(t *testing.T) {
	for _, c := range []string{"apt-get", "apt-cache", "dpkg-deb", "depmod", "cp"} {
		testutil.RequireCommand(t, c)
	}
	cache, err := qemutest.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	k, err := image.FetchKernel(context.Background(), cache, "")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := kmod.Scan(k.ModulesDir)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := tree.Select(image.DefaultModules, image.ExtraModules)
	if err != nil {
		t.Fatal(err)
	}

	// depmod writes into the tree: run it on a hard-linked copy.
	base := t.TempDir()
	dst := filepath.Join(base, "lib", "modules")
	os.MkdirAll(dst, 0o755)
	if out, err := exec.Command("cp", "-al", k.ModulesDir, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -al: %v: %s", err, out)
	}
	if out, err := exec.Command("depmod", "-b", base, k.Release).CombinedOutput(); err != nil {
		t.Fatalf("depmod -b: %v: %s", err, out)
	}
	f, err := os.Open(filepath.Join(dst, k.Release, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	depmod := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		mod, deps, _ := strings.Cut(sc.Text(), ":")
		var names []string
		for _, d := range strings.Fields(deps) {
			names = append(names, kmod.Normalize(d))
		}
		slices.Sort(names)
		depmod[kmod.Normalize(mod)] = names
	}
	if len(depmod) < 1000 {
		t.Fatalf("modules.dep has %d entries", len(depmod))
	}
	for _, m := range ix.Modules {
		var closure []string
		seen := map[string]bool{}
		var walk func(string)
		walk = func(n string) {
			mm, _ := ix.Lookup(n)
			for _, d := range mm.Deps {
				if !seen[d] {
					seen[d] = true
					closure = append(closure, d)
					walk(d)
				}
			}
		}
		walk(m.Name)
		slices.Sort(closure)
		want, ok := depmod[m.Name]
		if !ok {
			t.Errorf("%s: not in modules.dep", m.Name)
			continue
		}
		if !slices.Equal(closure, want) {
			t.Errorf("%s: needs %v, depmod says %v", m.Name, closure, want)
		}
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return manifest.Digest(data)[len("sha256:"):]
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func commandExists(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
