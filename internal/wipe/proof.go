package wipe

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"slices"

	"github.com/lethe-project/lethe/cert"
)

// A firmware erase is a black box: the drive says it succeeded. Proof makes
// that claim checkable from the host (DESIGN.md §3): before erasing, lethe
// fingerprints sampled blocks and plants random canary blocks; afterwards no
// canary may survive, no informative sampled block may still equal its
// pre-image, and the content must be what the technique implies.

// canaryMagic starts every canary block, so a surviving canary is
// recognizable even where it was not planted (remapped, or misread).
var canaryMagic = []byte("LETHE-CANARY-v1\x00")

// Expectation is what a sanitized block should read back as (defined by
// the certificate schema).
type Expectation = cert.Expectation

// ProofBlock is one block the proof looks at (defined by the certificate
// schema).
type ProofBlock = cert.ProofBlock

// Evidence is the before/after proof of a firmware erase, recorded in the
// certificate.
type Evidence struct {
	Seed         string       `json:"seed"` // hex; positions and canary content derive from it
	BlockBytes   int          `json:"blockBytes"`
	Fingerprints []ProofBlock `json:"fingerprints"`
	Canaries     []ProofBlock `json:"canaries"`
	Expect       Expectation  `json:"expect"`
	// Results, filled by CheckProof. CanariesSurvived counts probe blocks
	// (canary or sampled) that read back with canary content.
	CanariesSurvived   int      `json:"canariesSurvived"`
	UnchangedBlocks    int      `json:"unchangedBlocks"`
	UnexpectedBlocks   int      `json:"unexpectedBlocks"`
	UnreadableBlocks   int      `json:"unreadableBlocks"`
	InformativeSamples int      `json:"informativeSamples"`
	Deallocated        bool     `json:"readsFromDeallocated"`
	DeallocatedNote    string   `json:"deallocatedNote,omitempty"`
	Result             string   `json:"result"` // "passed", "failed", "pending"
	Problems           []string `json:"problems,omitempty"`
	canaryContent      [][]byte
}

// ProofOptions sizes the proof.
type ProofOptions struct {
	Fingerprints int // sampled blocks (default 256)
	Canaries     int // planted blocks (default 64)
	// BlockBytes is the probe size (default max(4096, sector)).
	BlockBytes int
}

// PrepareProof fingerprints and plants canaries on t before a firmware
// erase. It writes (the canaries) — only call it on a drive about to be
// erased.
func PrepareProof(t Target, seed []byte, opt ProofOptions) (*Evidence, error) {
	if len(seed) != 32 {
		return nil, fmt.Errorf("proof seed must be 32 bytes")
	}
	if opt.Fingerprints <= 0 {
		opt.Fingerprints = 256
	}
	if opt.Canaries <= 0 {
		opt.Canaries = 64
	}
	bs := opt.BlockBytes
	if bs <= 0 {
		bs = max(4096, t.SectorSize())
	}
	size := t.Size()
	nblocks := size / int64(bs)
	if nblocks < 4 {
		return nil, fmt.Errorf("proof: device of %d bytes is too small for %d-byte probes", size, bs)
	}
	rng := mrand.New(mrand.NewChaCha8([32]byte(seed)))
	// Distinct blocks: canaries first (they must not overlap fingerprints,
	// or the fingerprint would record canary content), then fingerprints,
	// including the first and last block.
	used := map[int64]bool{}
	pick := func() (int64, bool) {
		for range 64 {
			b := rng.Int64N(nblocks)
			if !used[b] {
				used[b] = true
				return b, true
			}
		}
		return 0, false
	}
	ncan := min(int64(opt.Canaries), nblocks/4)
	var canaries []int64
	for range ncan {
		if b, ok := pick(); ok {
			canaries = append(canaries, b)
		}
	}
	fps := []int64{}
	for _, b := range []int64{0, nblocks - 1} {
		if !used[b] {
			used[b] = true
			fps = append(fps, b)
		}
	}
	for range min(int64(opt.Fingerprints), nblocks/2) {
		if b, ok := pick(); ok {
			fps = append(fps, b)
		}
	}
	slices.Sort(canaries)
	slices.Sort(fps)

	ev := &Evidence{Seed: hex.EncodeToString(seed), BlockBytes: bs, Result: "pending"}
	buf, err := alignedBuffer(bs)
	if err != nil {
		return nil, err
	}
	defer freeBuffer(buf)
	for _, b := range fps {
		off := b * int64(bs)
		if _, err := t.ReadAt(buf, off); err != nil {
			return nil, fmt.Errorf("proof: fingerprint block at %d: %w", off, err)
		}
		ev.Fingerprints = append(ev.Fingerprints, ProofBlock{Offset: off, Before: digest(buf), Uniform: isUniform(buf)})
	}
	// Canary content: magic, index, then the keystream of a key derived
	// from the seed, so each canary is unique and not all zeros.
	key := sha256.Sum256(append([]byte("lethe canary key"), seed...))
	pat, err := newRandom(key[:16], key[16:])
	if err != nil {
		return nil, err
	}
	for i, b := range canaries {
		off := b * int64(bs)
		pat.Fill(buf, off)
		copy(buf, canaryMagic)
		copy(buf[len(canaryMagic):], fmt.Sprintf("%08d", i))
		if _, err := t.WriteAt(buf, off); err != nil {
			return nil, fmt.Errorf("proof: plant canary at %d: %w", off, err)
		}
		ev.Canaries = append(ev.Canaries, ProofBlock{Offset: off, Before: digest(buf)})
		ev.canaryContent = append(ev.canaryContent, bytes.Clone(buf))
	}
	if err := t.Sync(); err != nil {
		return nil, fmt.Errorf("proof: flush canaries: %w", err)
	}
	// Read the canaries back: a drive that drops writes would make the
	// proof meaningless.
	for i, c := range ev.Canaries {
		if _, err := t.ReadAt(buf, c.Offset); err != nil || !bytes.Equal(buf, ev.canaryContent[i]) {
			return nil, fmt.Errorf("proof: canary at %d did not read back as written (%v): the drive does not store writes", c.Offset, err)
		}
	}
	return ev, nil
}

// CheckProof reads the probes after the erase and decides whether the
// erase is proven. expect is what the technique implies.
func CheckProof(t Target, ev *Evidence, expect Expectation) error {
	ev.Expect = expect
	var pat Pattern
	if expect.Kind == "pattern" {
		if expect.Pattern == nil {
			return fmt.Errorf("proof: pattern expectation without a pattern")
		}
		p, err := PatternFromSpec(*expect.Pattern)
		if err != nil {
			return err
		}
		pat = p
	}
	buf, err := alignedBuffer(ev.BlockBytes)
	if err != nil {
		return err
	}
	defer freeBuffer(buf)
	check := func(p *ProofBlock) {
		if _, err := t.ReadAt(buf, p.Offset); err != nil {
			p.Outcome = "unreadable"
			ev.UnreadableBlocks++
			return
		}
		p.After = digest(buf)
		switch {
		case bytes.Contains(buf, canaryMagic):
			// A canary's content, wherever it turns up: in its own
			// block, or in another (remapped rather than erased).
			p.Outcome = "canary"
			ev.CanariesSurvived++
		case p.After == p.Before && !p.Uniform:
			p.Outcome = "unchanged"
		case !matches(buf, p.Offset, expect, pat):
			p.Outcome = "unexpected"
			ev.UnexpectedBlocks++
		default:
			p.Outcome = "expected"
		}
	}
	for i := range ev.Canaries {
		check(&ev.Canaries[i])
	}
	for i := range ev.Fingerprints {
		p := &ev.Fingerprints[i]
		check(p)
		if !p.Uniform {
			ev.InformativeSamples++
		}
		if p.Outcome == "unchanged" && !p.Uniform {
			ev.UnchangedBlocks++
		}
	}
	ev.Problems = nil
	if ev.CanariesSurvived > 0 {
		ev.Problems = append(ev.Problems, fmt.Sprintf("canary content survived the erase in %d probe block(s) (%d canaries planted)", ev.CanariesSurvived, len(ev.Canaries)))
	}
	if ev.UnchangedBlocks > 0 {
		ev.Problems = append(ev.Problems, fmt.Sprintf("%d of %d sampled blocks still hold their old content", ev.UnchangedBlocks, ev.InformativeSamples))
	}
	if ev.UnexpectedBlocks > 0 {
		ev.Problems = append(ev.Problems, fmt.Sprintf("%d blocks changed but do not read back as %s", ev.UnexpectedBlocks, expectName(expect)))
	}
	if ev.UnreadableBlocks > 0 {
		ev.Problems = append(ev.Problems, fmt.Sprintf("%d probe blocks could not be read", ev.UnreadableBlocks))
	}
	if len(ev.Problems) == 0 {
		ev.Result = "passed"
	} else {
		ev.Result = "failed"
	}
	return nil
}

func expectName(e Expectation) string {
	switch e.Kind {
	case "pattern":
		return "the overwrite pattern " + e.Pattern.Name
	case "changed":
		return "new content"
	}
	return e.Kind + "s"
}

func matches(buf []byte, off int64, e Expectation, pat Pattern) bool {
	switch e.Kind {
	case "zero":
		return isZero(buf)
	case "ones":
		for _, b := range buf {
			if b != 0xFF {
				return false
			}
		}
		return true
	case "pattern":
		return !pat.Mismatch(buf, off)
	}
	return true // "changed": any content that is not the old one
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func isUniform(b []byte) bool {
	for _, c := range b[1:] {
		if c != b[0] {
			return false
		}
	}
	return true
}

// ProofRecord is the certificate's form of the evidence. The pre-images are
// gone with the erase, so per-block hashes would prove nothing more to an
// auditor than a commitment to them does; they stay in the job state, and
// the certificate carries where lethe looked, a digest over what it saw
// before and after, the counts, and every probe that did not check out.
// This keeps a certificate well under the audit store's envelope limit.
type ProofRecord = cert.ProofRecord

// Record returns the certificate's compact form of the evidence.
func (ev *Evidence) Record() *ProofRecord {
	if ev == nil {
		return nil
	}
	r := &ProofRecord{
		Seed: ev.Seed, BlockBytes: ev.BlockBytes, Expect: ev.Expect,
		CanariesPlanted: len(ev.Canaries), FingerprintsTaken: len(ev.Fingerprints), InformativeSamples: ev.InformativeSamples,
		CanariesSurvived: ev.CanariesSurvived, UnchangedBlocks: ev.UnchangedBlocks, UnexpectedBlocks: ev.UnexpectedBlocks,
		UnreadableBlocks: ev.UnreadableBlocks, Deallocated: ev.Deallocated, DeallocatedNote: ev.DeallocatedNote,
		Result: ev.Result, Problems: ev.Problems,
	}
	before, after := sha256.New(), sha256.New()
	checked := false
	for _, list := range [][]ProofBlock{ev.Canaries, ev.Fingerprints} {
		for _, p := range list {
			before.Write([]byte(p.Before))
			after.Write([]byte(p.After))
			checked = checked || p.Outcome != ""
			if p.Outcome != "" && p.Outcome != "expected" && len(r.Failures) < cert.MaxProofFailures {
				r.Failures = append(r.Failures, p)
			}
		}
	}
	for _, p := range ev.Canaries {
		r.CanaryOffsets = append(r.CanaryOffsets, p.Offset)
	}
	for _, p := range ev.Fingerprints {
		r.FingerprintOffsets = append(r.FingerprintOffsets, p.Offset)
	}
	r.BeforeDigest = hex.EncodeToString(before.Sum(nil))
	if checked {
		r.AfterDigest = hex.EncodeToString(after.Sum(nil))
	}
	return r
}
