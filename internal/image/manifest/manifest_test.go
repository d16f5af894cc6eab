package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/mkuimage/cpio"

	"github.com/lethe-project/lethe/internal/testutil"
)

func build(t *testing.T, body []byte) ([]byte, Image) {
	t.Helper()
	var buf bytes.Buffer
	img, err := WriteImage(&buf, Image{Compression: "zstd"}, body)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), img
}

func TestWriteInspectRoundTrip(t *testing.T) {
	body := bytes.Repeat([]byte("lethe body "), 1000)
	file, img := build(t, body)
	sum := sha256.Sum256(body)
	if want := "sha256:" + hex.EncodeToString(sum[:]); img.Digest != want {
		t.Fatalf("digest %s, want %s", img.Digest, want)
	}
	rep, err := Inspect(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Appended != 0 || rep.Image.BodySize != int64(len(body)) || rep.BodyOffset%Alignment != 0 {
		t.Errorf("report %+v", rep)
	}
	if !bytes.Equal(file[rep.BodyOffset:], body) {
		t.Error("body is not at BodyOffset")
	}
	whole := sha256.Sum256(file)
	if rep.FileSHA256 != hex.EncodeToString(whole[:]) {
		t.Error("file sha256 wrong")
	}
	// The same body gives the same bytes.
	again, _ := build(t, body)
	if !bytes.Equal(file, again) {
		t.Error("WriteImage is not deterministic")
	}
}

func TestInspectDetectsChanges(t *testing.T) {
	body := bytes.Repeat([]byte{0x28, 0xb5, 0x2f, 0xfd}, 300)
	file, _ := build(t, body)

	tampered := bytes.Clone(file)
	tampered[len(tampered)-1] ^= 1
	rep, err := Inspect(bytes.NewReader(tampered), int64(len(tampered)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Error("a changed body still matches the header")
	}

	// An overlay appended after the body (as the test harness does)
	// keeps the digest and is reported.
	appended := append(bytes.Clone(file), make([]byte, 700)...)
	rep, err = Inspect(bytes.NewReader(appended), int64(len(appended)))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Appended != 700 {
		t.Errorf("appended: ok=%v appended=%d", rep.OK(), rep.Appended)
	}

	truncated := file[:len(file)-10]
	if _, err := Inspect(bytes.NewReader(truncated), int64(len(truncated))); err == nil {
		t.Error("a truncated file passed")
	}
	for name, data := range map[string][]byte{
		"zstd":  {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0},
		"empty": nil,
		"other cpio": func() []byte {
			var w cpioWriter
			w.file("etc/other", []byte("x"))
			w.trailer()
			return w.buf
		}(),
	} {
		if _, err := Inspect(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrNotLetheImage) {
			t.Errorf("%s: %v, want ErrNotLetheImage", name, err)
		}
	}
}

// TestHeaderReadableByOtherTools checks the header segment with GNU cpio
// and with mkuimage's newc reader: the kernel must see the same archive.
func TestHeaderReadableByOtherTools(t *testing.T) {
	file, img := build(t, []byte("body"))
	rep, _ := Inspect(bytes.NewReader(file), int64(len(file)))
	header := file[:rep.BodyOffset]

	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(header)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
		if r.Name == ImagePath {
			data, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			if !strings.Contains(string(data), img.Digest) {
				t.Errorf("mkuimage reads %s as %q", ImagePath, data)
			}
			if r.Mode != modeFile || r.UID != 0 || r.MTime != 0 {
				t.Errorf("record %+v", r.Info)
			}
		}
	}
	if strings.Join(names, " ") != "etc etc/lethe "+ImagePath {
		t.Errorf("records %v", names)
	}

	testutil.RequireCommand(t, "cpio")
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-idm", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(header)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, ImagePath))
	if err != nil || !strings.Contains(string(b), img.Digest) {
		t.Errorf("GNU cpio extracted %q (%v)", b, err)
	}
}

func TestRunning(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/lethe"), 0o755)
	if _, _, err := Running(root); err == nil {
		t.Error("Running outside an image succeeded")
	}
	img := Image{Schema: Schema, Digest: Digest([]byte("x")), BodySize: 1, Compression: "zstd"}
	b := Build{Schema: Schema, Kernel: Kernel{Release: "6.1.0-56-amd64"}}
	ij, _ := Marshal(img)
	bj, _ := Marshal(b)
	os.WriteFile(filepath.Join(root, ImagePath), ij, 0o644)
	os.WriteFile(filepath.Join(root, BuildPath), bj, 0o644)
	gi, gb, err := Running(root)
	if err != nil {
		t.Fatal(err)
	}
	if gi.Digest != img.Digest || gb.Kernel.Release != "6.1.0-56-amd64" {
		t.Errorf("Running = %+v %+v", gi, gb)
	}
	img.Digest = "sha256:nothex"
	ij, _ = Marshal(img)
	os.WriteFile(filepath.Join(root, ImagePath), ij, 0o644)
	if _, _, err := Running(root); err == nil {
		t.Error("malformed digest accepted")
	}
}

func FuzzReadCPIO(f *testing.F) {
	var buf bytes.Buffer
	WriteImage(&buf, Image{Compression: "zstd"}, []byte("body"))
	f.Add(buf.Bytes())
	f.Add([]byte("070701"))
	f.Add(bytes.Repeat([]byte("0"), 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, end, err := readCPIO(data)
		if err != nil {
			return
		}
		if end < 0 || end > int64(len(data)) {
			t.Fatalf("end %d outside 0..%d", end, len(data))
		}
		_ = files
		// Inspect must not panic on anything either.
		Inspect(bytes.NewReader(data), int64(len(data)))
	})
}
