// Package manifest describes a lethe boot image and lets the running image
// and an auditor name it by the same digest.
//
// An initramfs file built by lethe has two segments, which the kernel
// unpacks in turn (the layout early-microcode initramfs files use):
//
//	[ header: uncompressed newc cpio holding etc/lethe/image.json ]
//	[ zero padding to a 512-byte boundary                          ]
//	[ body: zstd-compressed newc cpio: everything else             ]
//
// The image digest is the sha256 of the body segment's bytes. A file
// cannot hold its own hash, so the header, which is outside the hashed
// range, carries it: the agent reads /etc/lethe/image.json and records the
// digest in every certificate (cert.Tool.ImageDigest), and anyone holding
// the file recomputes it with Inspect (`lethe image digest FILE`). The body
// holds etc/lethe/build.json, so the digest also covers the build inputs:
// lethe's version, the Go toolchain, and the kernel package and vmlinuz
// hashes the image was built for.
//
// Whoever can change the image can change what the agent reports, so the
// digest is evidence of which released image ran, to be checked against
// the list of released digests, not a defence against a forged image.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Names of the files in a built image's directory that a network boot
// serves (iPXE fetches the script, which fetches the kernel and initramfs).
const (
	KernelFile    = "vmlinuz"
	InitramfsFile = "initramfs.cpio.zst"
	IPXEFile      = "boot.ipxe"
)

// Schema identifies the manifest format.
const Schema = "lethe.image/v1"

// Paths of the manifest files inside the image (relative to its root).
const (
	ImagePath = "etc/lethe/image.json" // in the header segment
	BuildPath = "etc/lethe/build.json" // in the body segment, covered by the digest
)

// Alignment is where the body starts: the first multiple of Alignment
// after the header segment.
const Alignment = 512

// Image is etc/lethe/image.json: the digest of the body.
type Image struct {
	Schema string `json:"schema"`
	// Digest is "sha256:" and the hex sha256 of the body segment.
	Digest string `json:"digest"`
	// BodySize is the body segment's length in bytes.
	BodySize int64 `json:"bodySize"`
	// Compression of the body ("zstd").
	Compression string `json:"compression"`
}

// Build is etc/lethe/build.json: what the image was built from.
type Build struct {
	Schema string `json:"schema"`
	Lethe  struct {
		Version   string `json:"version"`
		GoVersion string `json:"goVersion"`
	} `json:"lethe"`
	// URoot and MkUImage are the module versions of u-root and mkuimage.
	URoot    string `json:"uroot"`
	MkUImage string `json:"mkuimage"`
	Kernel   Kernel `json:"kernel"`
	// Commands are the Go packages in the busybox binary.
	Commands []string `json:"commands"`
	// DefaultModules load at boot; ExtraModules load by name.
	DefaultModules []string `json:"defaultModules"`
	ExtraModules   []string `json:"extraModules"`
}

// Kernel is the Debian kernel package an image is built for.
type Kernel struct {
	// Package and Version name the binary package
	// (linux-image-6.1.0-56-amd64 6.1.192-2); Release is uname -r.
	Package string `json:"package"`
	Version string `json:"version"`
	Release string `json:"release"`
	// DebSHA256 is the sha256 of the .deb as the repository lists it.
	DebSHA256 string `json:"debSha256"`
	// VmlinuzSHA256 is the sha256 of the kernel image in the package.
	VmlinuzSHA256 string `json:"vmlinuzSha256"`
}

// Running reads the manifests of the image the system booted from; root
// is "/" in the image. It fails outside a lethe image.
func Running(root string) (*Image, *Build, error) {
	var img Image
	if err := readJSON(filepath.Join(root, ImagePath), &img); err != nil {
		return nil, nil, err
	}
	var b Build
	if err := readJSON(filepath.Join(root, BuildPath), &b); err != nil {
		return nil, nil, err
	}
	if img.Schema != Schema || b.Schema != Schema {
		return nil, nil, fmt.Errorf("image manifest schema %q/%q, want %q", img.Schema, b.Schema, Schema)
	}
	if !validDigest(img.Digest) {
		return nil, nil, fmt.Errorf("image manifest: malformed digest %q", img.Digest)
	}
	return &img, &b, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("image manifest: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("image manifest %s: %w", path, err)
	}
	return nil
}

func validDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// Digest returns the image digest of a body segment.
func Digest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Marshal encodes v as the image stores it: indented JSON with a final
// newline; the bytes depend only on v.
func Marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteImage writes an initramfs: the header segment holding img (whose
// Digest and BodySize are filled in from body), padding, then body.
func WriteImage(w io.Writer, img Image, body []byte) (Image, error) {
	img.Schema = Schema
	img.Digest = Digest(body)
	img.BodySize = int64(len(body))
	js, err := Marshal(img)
	if err != nil {
		return img, err
	}
	var hdr cpioWriter
	hdr.dir("etc")
	hdr.dir("etc/lethe")
	hdr.file(ImagePath, js)
	hdr.trailer()
	if pad := len(hdr.buf) % Alignment; pad != 0 {
		hdr.buf = append(hdr.buf, make([]byte, Alignment-pad)...)
	}
	if _, err := w.Write(hdr.buf); err != nil {
		return img, err
	}
	_, err = w.Write(body)
	return img, err
}

// Report is what Inspect finds in an initramfs file.
type Report struct {
	// Image is the header's manifest.
	Image Image `json:"image"`
	// BodyOffset is where the body segment starts.
	BodyOffset int64 `json:"bodyOffset"`
	// Computed is the digest of the bytes at BodyOffset..+BodySize.
	Computed string `json:"computed"`
	// Appended counts bytes after the body: segments someone added
	// (a test overlay does; a released image has none).
	Appended int64 `json:"appended"`
	// FileSHA256 is the sha256 of the whole file.
	FileSHA256 string `json:"fileSha256"`
}

// OK reports whether the body matches the header's digest.
func (r *Report) OK() bool { return r.Computed == r.Image.Digest }

// ErrNotLetheImage is returned for files without a lethe header segment.
var ErrNotLetheImage = errors.New("not a lethe initramfs (no etc/lethe/image.json header segment)")

// Inspect reads an initramfs file and recomputes its image digest.
func Inspect(r io.ReaderAt, size int64) (*Report, error) {
	const maxHeader = 64 << 10
	n := min(size, maxHeader)
	head := make([]byte, n)
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	files, end, err := readCPIO(head)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotLetheImage, err)
	}
	js, ok := files[ImagePath]
	if !ok {
		return nil, ErrNotLetheImage
	}
	rep := &Report{}
	if err := json.Unmarshal(js, &rep.Image); err != nil {
		return nil, fmt.Errorf("image header %s: %w", ImagePath, err)
	}
	if rep.Image.Schema != Schema {
		return nil, fmt.Errorf("image header schema %q, want %q", rep.Image.Schema, Schema)
	}
	rep.BodyOffset = (end + Alignment - 1) / Alignment * Alignment
	if rep.Image.BodySize < 0 || rep.BodyOffset+rep.Image.BodySize > size {
		return nil, fmt.Errorf("image header says the body has %d bytes at %d, the file has %d", rep.Image.BodySize, rep.BodyOffset, size)
	}
	body := sha256.New()
	if _, err := io.Copy(body, io.NewSectionReader(r, rep.BodyOffset, rep.Image.BodySize)); err != nil {
		return nil, err
	}
	rep.Computed = "sha256:" + hex.EncodeToString(body.Sum(nil))
	rep.Appended = size - rep.BodyOffset - rep.Image.BodySize
	whole := sha256.New()
	if _, err := io.Copy(whole, io.NewSectionReader(r, 0, size)); err != nil {
		return nil, err
	}
	rep.FileSHA256 = hex.EncodeToString(whole.Sum(nil))
	return rep, nil
}

// InspectFile is Inspect on a file.
func InspectFile(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Inspect(f, st.Size())
}
