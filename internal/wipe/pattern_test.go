package wipe

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/testutil"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRandomPatternNISTVector checks the keystream against NIST SP 800-38A
// Appendix F.5.1 (CTR-AES128.Encrypt): keystream = ciphertext XOR plaintext.
func TestRandomPatternNISTVector(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	iv := unhex(t, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
	plain := unhex(t, "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710")
	cipher := unhex(t, "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff 5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee")
	p, err := newRandom(key, iv)
	if err != nil {
		t.Fatal(err)
	}
	ks := make([]byte, 64)
	p.Fill(ks, 0)
	for i := range ks {
		ks[i] ^= plain[i]
	}
	if !bytes.Equal(ks, cipher) {
		t.Fatalf("keystream XOR plaintext = %x, want %x", ks, cipher)
	}
	// Every block is addressable on its own: block 2 at offset 32.
	blk := make([]byte, 16)
	p.Fill(blk, 32)
	for i := range blk {
		blk[i] ^= plain[32+i]
	}
	if !bytes.Equal(blk, cipher[32:48]) {
		t.Fatalf("block at offset 32 = %x, want %x", blk, cipher[32:48])
	}
}

// TestRandomPatternCounterCarry checks that the 128-bit counter carries from
// the low into the high 64 bits, as SP 800-38A's standard incrementing
// function does.
func TestRandomPatternCounterCarry(t *testing.T) {
	key := unhex(t, "000102030405060708090a0b0c0d0e0f")
	iv := unhex(t, "0000000000000001ffffffffffffffff")
	p, err := newRandom(key, iv)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	p.Fill(got, 16) // counter iv+1 = 0000000000000002 0000000000000000
	b, _ := aes.NewCipher(key)
	want := make([]byte, 16)
	b.Encrypt(want, unhex(t, "00000000000000020000000000000000"))
	if !bytes.Equal(got, want) {
		t.Fatalf("block after carry = %x, want %x", got, want)
	}
}

// TestRandomPatternMatchesOpenSSL is the auditor's check from the
// certificate documentation: openssl regenerates the pass from key and IV.
func TestRandomPatternMatchesOpenSSL(t *testing.T) {
	testutil.RequireCommand(t, "openssl")
	pat, err := NewRandomPattern()
	if err != nil {
		t.Fatal(err)
	}
	spec := pat.Spec()
	const n = 1 << 20
	cmd := exec.Command("openssl", "enc", "-aes-128-ctr", "-K", spec.Key, "-iv", spec.IV)
	cmd.Stdin = bytes.NewReader(make([]byte, n))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	ours := make([]byte, n)
	pat.Fill(ours, 0)
	if !bytes.Equal(out, ours) {
		t.Fatal("AES-128-CTR stream differs from openssl enc -aes-128-ctr")
	}
	// And from the middle: offset 4096 continues the same stream.
	mid := make([]byte, 4096)
	pat.Fill(mid, 4096)
	if !bytes.Equal(mid, out[4096:8192]) {
		t.Fatal("stream at offset 4096 differs from openssl")
	}
}

func TestBytePatternPhase(t *testing.T) {
	p, err := ParsePattern("0xAABBCC")
	if err != nil {
		t.Fatal(err)
	}
	full := make([]byte, 300000)
	p.Fill(full, 0)
	for i, b := range full {
		if b != []byte{0xAA, 0xBB, 0xCC}[i%3] {
			t.Fatalf("byte %d = %#x", i, b)
		}
	}
	for _, off := range []int64{1, 2, 512, 65537, 131071} {
		part := make([]byte, 70000)
		p.Fill(part, off)
		if !bytes.Equal(part, full[off:off+70000]) {
			t.Fatalf("Fill at offset %d disagrees with the full stream", off)
		}
		if p.Mismatch(part, off) {
			t.Fatalf("Mismatch at offset %d on correct data", off)
		}
		part[69999] ^= 1
		if !p.Mismatch(part, off) {
			t.Fatalf("Mismatch missed a flipped last byte at offset %d", off)
		}
	}
}

func TestMismatchFindsSectors(t *testing.T) {
	for _, name := range []string{"zero", "one", "random", "0x55AA"} {
		t.Run(name, func(t *testing.T) {
			p, err := ParsePattern(name)
			if err != nil {
				t.Fatal(err)
			}
			const off = 1 << 20
			buf := make([]byte, 8*512)
			p.Fill(buf, off)
			buf[3*512+17] ^= 0x40
			buf[6*512] ^= 0x01
			if !p.Mismatch(buf, off) {
				t.Fatal("mismatch not detected")
			}
			var bad []int
			for s := 0; s < 8; s++ {
				if p.Differs(buf, off, s*512, (s+1)*512) {
					bad = append(bad, s)
				}
			}
			if len(bad) != 2 || bad[0] != 3 || bad[1] != 6 {
				t.Fatalf("differing sectors %v, want [3 6]", bad)
			}
		})
	}
}

func TestParsePattern(t *testing.T) {
	for _, tc := range []struct {
		in, name, errPart string
	}{
		{"zero", "zero", ""},
		{"ONE", "one", ""},
		{"0xff", "one", ""},
		{"0xaa55", "0xAA55", ""},
		{"random", "random", ""},
		{"", "", "unknown pattern"},
		{"0x", "", "unknown pattern"},
		{"0xZZ", "", "bad pattern"},
		{"twos", "", "unknown pattern"},
		{"0x" + strings.Repeat("ab", 513), "", "bad pattern"},
	} {
		p, err := ParsePattern(tc.in)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("ParsePattern(%q) error = %v, want %q", tc.in, err, tc.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", tc.in, err)
			continue
		}
		if got := p.Spec().Name; got != tc.name {
			t.Errorf("ParsePattern(%q) name = %q, want %q", tc.in, got, tc.name)
		}
	}
}

func TestPatternFromSpecRoundTrip(t *testing.T) {
	for _, name := range []string{"zero", "random", "0x0102030405"} {
		p, _ := ParsePattern(name)
		q, err := PatternFromSpec(p.Spec())
		if err != nil {
			t.Fatal(err)
		}
		a, b := make([]byte, 8192), make([]byte, 8192)
		p.Fill(a, 4096)
		q.Fill(b, 4096)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: pattern rebuilt from its spec differs", name)
		}
	}
	for _, bad := range []PatternSpec{
		{Kind: "aes-128-ctr", Key: "00", IV: "00"},
		{Kind: "bytes", Bytes: ""},
		{Kind: "xor"},
	} {
		if _, err := PatternFromSpec(bad); err == nil {
			t.Errorf("PatternFromSpec(%+v) accepted a bad spec", bad)
		}
	}
}

func BenchmarkFillRandom(b *testing.B) {
	p, _ := NewRandomPattern()
	buf := make([]byte, 4<<20)
	b.SetBytes(int64(len(buf)))
	for i := 0; b.Loop(); i++ {
		p.Fill(buf, int64(i)*int64(len(buf)))
	}
}

// BenchmarkMismatchRandom measures generating a chunk and checking it, as a
// write pass followed by its read-back costs in CPU.
func BenchmarkMismatchRandom(b *testing.B) {
	p, _ := NewRandomPattern()
	buf := make([]byte, 4<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		p.Fill(buf, 0)
		if p.Mismatch(buf, 0) {
			b.Fatal("mismatch")
		}
	}
}

func BenchmarkFillZero(b *testing.B) {
	p, _ := ParsePattern("zero")
	buf := make([]byte, 4<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		p.Fill(buf, 0)
	}
}
