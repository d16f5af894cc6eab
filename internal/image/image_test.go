package image

import (
	"bytes"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestParseAptRecord(t *testing.T) {
	// `apt-cache show --no-all-versions linux-image-amd64` on bookworm,
	// abridged; a second stanza must be ignored.
	out := []byte(`Package: linux-image-amd64
Source: linux-signed-amd64 (6.1.192+2)
Version: 6.1.192-2
Installed-Size: 13
Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)
Description-en: Linux for 64-bit PCs (meta-package)
 This package depends on the latest Linux kernel and modules for use on PCs
 with AMD64, Intel 64 or VIA Nano processors.
Filename: pool/updates/main/l/linux-signed-amd64/linux-image-amd64_6.1.192-2_amd64.deb
Size: 1480
SHA256: 0f3c1b0f0d0e6b5b3a1f1e4b1a7d9c1e2f3a4b5c6d7e8f90112233445566778

Package: linux-image-amd64
Version: 6.1.176-1
`)
	r, err := parseAptRecord(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Package != "linux-image-amd64" || r.Version != "6.1.192-2" || !strings.HasPrefix(r.Depends, "linux-image-6.1.0-56-amd64 ") ||
		r.SHA256 != "0f3c1b0f0d0e6b5b3a1f1e4b1a7d9c1e2f3a4b5c6d7e8f90112233445566778" || !strings.HasSuffix(r.Filename, "_amd64.deb") {
		t.Errorf("parsed %+v", r)
	}
	if _, err := parseAptRecord([]byte("N: Unable to locate package nosuch\n")); err == nil {
		t.Error("no record: accepted")
	}
}

func TestKernelDependency(t *testing.T) {
	for deps, want := range map[string]string{
		"linux-image-6.1.0-56-amd64 (= 6.1.192-2)":                                             "linux-image-6.1.0-56-amd64",
		"kmod, linux-image-6.1.0-56-amd64-unsigned (= 6.1.192-2) | linux-image-6.1.0-56-amd64": "linux-image-6.1.0-56-amd64-unsigned",
		"linux-base, linux-image-6.12.9-1-cloud-amd64":                                         "linux-image-6.12.9-1-cloud-amd64",
	} {
		got, err := kernelDependency(deps)
		if err != nil || got != want {
			t.Errorf("kernelDependency(%q) = %q, %v; want %q", deps, got, err, want)
		}
	}
	if _, err := kernelDependency("kmod, initramfs-tools"); err == nil {
		t.Error("no kernel among the dependencies: accepted")
	}
	if m := kernelPkgRE.FindStringSubmatch("linux-image-6.1.0-56-amd64"); m == nil || m[1] != "6.1.0-56-amd64" {
		t.Errorf("release of linux-image-6.1.0-56-amd64: %v", m)
	}
}

func TestIPXEScript(t *testing.T) {
	s := IPXEScript(IPXEOptions{Cmdline: DefaultCmdline + " lethe.site=dc1", Digest: "sha256:ab", InitramfsSHA256: "cd", KernelSHA256: "ef"})
	for _, want := range []string{
		"#!ipxe\n",
		"# lethe boot image sha256:ab\n",
		"isset ${lethe-base} || set lethe-base tftp://${next-server}\n",
		"kernel ${lethe-base}/vmlinuz initrd=initramfs.cpio.zst " + DefaultCmdline + " lethe.site=dc1 " + NetbootCmdline + " ${lethe-args} || goto failed\n",
		"initrd ${lethe-base}/initramfs.cpio.zst || goto failed\n",
		"boot || goto failed\n",
		"goto retry\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if !strings.HasPrefix(s, "#!ipxe\n") {
		t.Error("iPXE needs the #!ipxe signature on the first line")
	}
	s = IPXEScript(IPXEOptions{Base: "http://10.0.0.5/lethe/"})
	if !strings.Contains(s, "set lethe-base http://10.0.0.5/lethe\n") {
		t.Errorf("base URL not used:\n%s", s)
	}
}

func TestCompressDeterministic(t *testing.T) {
	raw := bytes.Repeat([]byte("070701 initramfs content "), 1<<16)
	a, err := Compress(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Compress(raw)
	if !bytes.Equal(a, b) {
		t.Fatal("Compress is not deterministic")
	}
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	got, err := dec.DecodeAll(a, nil)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("round trip: %v", err)
	}
	// The magic the kernel's initramfs unpacker looks for (RFC 8878 §3.1.1).
	if !bytes.HasPrefix(a, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Errorf("not a zstd frame: % x", a[:4])
	}
}

// TestToolsGoListsCommands keeps tools.go (what go mod tidy sees) in step
// with Commands (what the image compiles).
func TestToolsGoListsCommands(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "tools.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var imports []string
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		imports = append(imports, p)
	}
	want := slices.Clone(Commands)
	slices.Sort(want)
	slices.Sort(imports)
	if !slices.Equal(imports, want) {
		t.Errorf("tools.go imports %v\nCommands are      %v", imports, want)
	}
}

func TestFindSource(t *testing.T) {
	src, err := FindSource(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(src, "cmd", "lethe")); err != nil {
		t.Errorf("FindSource = %s: %v", src, err)
	}
	if _, err := FindSource(t.TempDir()); err == nil {
		t.Error("FindSource outside the tree succeeded")
	}
}
