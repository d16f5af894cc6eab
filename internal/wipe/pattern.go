package wipe

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/cert"
)

// Pattern is what one overwrite pass writes. Every pattern is a pure function
// of the device offset, so verification regenerates the expected bytes of any
// block without storing what was written, and an auditor can do the same from
// the parameters recorded in the certificate (PatternSpec).
type Pattern interface {
	// Fill writes into buf the bytes that belong at device offset off.
	Fill(buf []byte, off int64)
	// Mismatch reports whether buf, read from device offset off, differs
	// from the pattern. It may overwrite buf (the random pattern decrypts
	// in place); afterwards Differs tells which sectors differ.
	Mismatch(buf []byte, off int64) bool
	// Differs reports, after Mismatch returned true for buf, whether
	// buf[i:j] (a sector of it) differs.
	Differs(buf []byte, off int64, i, j int) bool
	// Spec is the serializable description recorded in certificates.
	Spec() PatternSpec
}

// PatternSpec describes a pattern completely enough to regenerate it
// (defined by the certificate schema).
type PatternSpec = cert.PatternSpec

// ParsePattern parses an operator's pattern name: zero, one, random, or a hex
// byte sequence such as 0xAA or 0x55AA55 (at most 512 bytes).
func ParsePattern(name string) (Pattern, error) {
	switch strings.ToLower(name) {
	case "zero", "zeros", "0x00":
		return BytePattern("zero", []byte{0x00}), nil
	case "one", "ones", "0xff":
		return BytePattern("one", []byte{0xFF}), nil
	case "random":
		return NewRandomPattern()
	}
	h, ok := strings.CutPrefix(strings.ToLower(name), "0x")
	if !ok || h == "" {
		return nil, fmt.Errorf("unknown pattern %q: want zero, one, random or a hex byte sequence like 0xAA55", name)
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) > 512 {
		return nil, fmt.Errorf("bad pattern %q: want 1 to 512 hex bytes after 0x", name)
	}
	return BytePattern("0x"+strings.ToUpper(h), b), nil
}

// PatternFromSpec rebuilds a pattern from its certificate record.
func PatternFromSpec(s PatternSpec) (Pattern, error) {
	switch s.Kind {
	case "bytes":
		b, err := hex.DecodeString(s.Bytes)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("pattern %q: bad bytes %q", s.Name, s.Bytes)
		}
		return BytePattern(s.Name, b), nil
	case "aes-128-ctr":
		key, err1 := hex.DecodeString(s.Key)
		iv, err2 := hex.DecodeString(s.IV)
		if err1 != nil || err2 != nil || len(key) != 16 || len(iv) != 16 {
			return nil, fmt.Errorf("pattern %q: bad AES-128-CTR key or IV", s.Name)
		}
		return newRandom(key, iv)
	}
	return nil, fmt.Errorf("pattern %q: unknown kind %q", s.Name, s.Kind)
}

// bytePattern repeats a byte sequence. A template of whole repetitions lets
// Fill and Mismatch work with copy and bytes.Equal (memmove/memequal speed).
type bytePattern struct {
	name     string
	seq      []byte
	template []byte // seq repeated, len a multiple of len(seq), >= 64 KiB
}

// BytePattern returns the pattern that repeats seq from device offset 0.
func BytePattern(name string, seq []byte) Pattern {
	n := (64 << 10) / len(seq)
	if n == 0 {
		n = 1
	}
	return &bytePattern{name: name, seq: bytes.Clone(seq), template: bytes.Repeat(seq, n+1)}
}

func (p *bytePattern) Spec() PatternSpec {
	return PatternSpec{Kind: "bytes", Name: p.name, Bytes: hex.EncodeToString(p.seq)}
}

// window returns the part of the template that starts with the byte at
// offset off; it holds at least len(template)-len(seq) bytes.
func (p *bytePattern) window(off int64) []byte {
	phase := int(off % int64(len(p.seq)))
	return p.template[phase : phase+len(p.template)-len(p.seq)]
}

func (p *bytePattern) Fill(buf []byte, off int64) {
	for len(buf) > 0 {
		n := copy(buf, p.window(off))
		buf = buf[n:]
		off += int64(n)
	}
}

func (p *bytePattern) Mismatch(buf []byte, off int64) bool {
	for len(buf) > 0 {
		w := p.window(off)
		n := min(len(w), len(buf))
		if !bytes.Equal(buf[:n], w[:n]) {
			return true
		}
		buf = buf[n:]
		off += int64(n)
	}
	return false
}

func (p *bytePattern) Differs(buf []byte, off int64, i, j int) bool {
	return p.Mismatch(buf[i:j], off+int64(i))
}

// randomPattern is the AES-128-CTR keystream. With AES-NI it is generated
// at several GB/s per core, faster than any drive writes (REFERENCE.md).
type randomPattern struct {
	block   cipher.Block
	key, iv []byte
}

// NewRandomPattern returns an AES-128-CTR pattern with a fresh random key and
// IV, as each random pass gets.
func NewRandomPattern() (Pattern, error) {
	key := make([]byte, 16)
	iv := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("random pattern key: %w", err)
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("random pattern iv: %w", err)
	}
	return newRandom(key, iv)
}

func newRandom(key, iv []byte) (*randomPattern, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("random pattern: %w", err)
	}
	return &randomPattern{block: b, key: bytes.Clone(key), iv: bytes.Clone(iv)}, nil
}

func (p *randomPattern) Spec() PatternSpec {
	return PatternSpec{Kind: "aes-128-ctr", Name: "random", Key: hex.EncodeToString(p.key), IV: hex.EncodeToString(p.iv)}
}

// stream returns the keystream positioned at device offset off, which must
// be a multiple of the AES block size (every I/O offset is sector-aligned).
// The counter for offset off is IV + off/16 as a 128-bit big-endian integer.
func (p *randomPattern) stream(off int64) cipher.Stream {
	if off%aes.BlockSize != 0 {
		panic(fmt.Sprintf("wipe: random pattern at unaligned offset %d", off))
	}
	hi := binary.BigEndian.Uint64(p.iv[:8])
	lo := binary.BigEndian.Uint64(p.iv[8:])
	add := uint64(off / aes.BlockSize)
	nlo := lo + add
	if nlo < lo {
		hi++
	}
	var ctr [16]byte
	binary.BigEndian.PutUint64(ctr[:8], hi)
	binary.BigEndian.PutUint64(ctr[8:], nlo)
	return cipher.NewCTR(p.block, ctr[:])
}

// Fill encrypts zeros from a small cache-resident buffer into buf, instead
// of clearing buf first: one pass over buf instead of two.
func (p *randomPattern) Fill(buf []byte, off int64) {
	st := p.stream(off)
	for len(buf) > 0 {
		n := min(len(buf), len(zeros))
		st.XORKeyStream(buf[:n], zeros[:n])
		buf = buf[n:]
	}
}

// Mismatch decrypts buf in place: where the device holds the keystream, buf
// becomes zero. One pass over memory instead of generate-then-compare; the
// zero check follows each piece while it is still in the CPU cache.
func (p *randomPattern) Mismatch(buf []byte, off int64) bool {
	const piece = 256 << 10
	st := p.stream(off)
	bad := false
	for len(buf) > 0 {
		n := min(len(buf), piece)
		st.XORKeyStream(buf[:n], buf[:n])
		bad = bad || !isZero(buf[:n])
		buf = buf[n:]
	}
	return bad
}

func (p *randomPattern) Differs(buf []byte, _ int64, i, j int) bool {
	return !isZero(buf[i:j])
}

var zeros = make([]byte, 64<<10)

// isZero reports whether b is all zero bytes, 64 KiB at a time through
// bytes.Equal (the runtime's vectorized memequal).
func isZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
