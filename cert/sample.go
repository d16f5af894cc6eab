package cert

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/bits"
	mrand "math/rand/v2"
	"slices"
)

// SampleAlgorithm names the sampling procedure below; it is recorded in
// certificates so an auditor can recompute the sampled positions.
const SampleAlgorithm = "lethe-sample-v1"

// MinSubsections is the number of equal subsections sampled verification
// draws from (NIST SP 800-88 Rev. 1 §4.7.1 suggests at least 1000 when the
// media allows it).
const MinSubsections = 1000

// Sample describes a sampled verification: which units of the device were
// read. It is a pure function of (SizeBytes, UnitBytes, Percent, Seed):
//
//  1. The device is cut into M = ceil(SizeBytes/UnitBytes) units; unit j is
//     bytes [j*UnitBytes, min((j+1)*UnitBytes, SizeBytes)).
//  2. S = min(1000, M) subsections; subsection i holds units
//     [floor(i*M/S), floor((i+1)*M/S)).
//  3. From subsection i with n units, k = ceil(Percent/100 * n) distinct
//     units are drawn with Floyd's algorithm: for j = n-k .. n-1, t =
//     uniform(j+1); take t unless already taken, else take j.
//  4. uniform(n) reads 64-bit little-endian words from the ChaCha8 stream
//     (C2SP chacha8rand) seeded with Seed, rejects x >= 2^64 - (2^64 mod n)
//     and returns x mod n. Subsections are processed in order, drawing from
//     one stream.
//  5. The first and last units (holding the first and last LBA) are added.
type Sample struct {
	Algorithm  string  `json:"algorithm"`
	Seed       string  `json:"seed"` // 32 bytes, hex
	SizeBytes  int64   `json:"sizeBytes"`
	UnitBytes  int64   `json:"unitBytes"`
	Percent    float64 `json:"percent"`
	Subsection int     `json:"subsections"`
	Units      int     `json:"units"`       // units read
	Bytes      int64   `json:"bytes"`       // bytes read
	Coverage   float64 `json:"coveragePct"` // 100 * Bytes / SizeBytes

	units []int64
}

// NewSeed returns a fresh 32-byte sampling seed.
func NewSeed() ([]byte, error) {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("sampling seed: %w", err)
	}
	return seed, nil
}

// DefaultUnit picks the sample unit for a device: large enough that reads
// are efficient on rotating media, small enough that each of the 1000
// subsections holds about ten units. A power of two, at least one sector,
// at most 1 MiB.
func DefaultUnit(size int64, sector int) int64 {
	target := size / (MinSubsections * 10)
	u := int64(sector)
	for u*2 <= target && u < 1<<20 {
		u *= 2
	}
	return u
}

// NewSample computes the sampled units for a device of size bytes.
func NewSample(size, unit int64, percent float64, seed []byte) (*Sample, error) {
	if len(seed) != 32 {
		return nil, fmt.Errorf("sample seed must be 32 bytes, got %d", len(seed))
	}
	if percent <= 0 || percent > 100 {
		return nil, fmt.Errorf("sample percent %.2f out of range (0, 100]", percent)
	}
	if unit <= 0 || size <= 0 {
		return nil, fmt.Errorf("sample of %d bytes in %d-byte units: nothing to sample", size, unit)
	}
	m := (size + unit - 1) / unit
	s := min(int64(MinSubsections), m)
	rng := mrand.NewChaCha8([32]byte(seed))
	taken := map[int64]bool{0: true, m - 1: true}
	for i := range s {
		lo, hi := i*m/s, (i+1)*m/s
		n := hi - lo
		k := min(int64(ceilFrac(percent, n)), n)
		picked := map[int64]bool{}
		for j := n - k; j < n; j++ {
			t := uniform(rng, uint64(j+1))
			if picked[int64(t)] {
				t = uint64(j)
			}
			picked[int64(t)] = true
		}
		for u := range picked {
			taken[lo+u] = true
		}
	}
	units := make([]int64, 0, len(taken))
	for u := range taken {
		units = append(units, u)
	}
	slices.Sort(units)
	sm := &Sample{
		Algorithm:  SampleAlgorithm,
		Seed:       hex.EncodeToString(seed),
		SizeBytes:  size,
		UnitBytes:  unit,
		Percent:    percent,
		Subsection: int(s),
		Units:      len(units),
		units:      units,
	}
	for _, u := range units {
		sm.Bytes += min(unit, size-u*unit)
	}
	sm.Coverage = 100 * float64(sm.Bytes) / float64(size)
	return sm, nil
}

// ceilFrac returns ceil(percent/100 * n) computed exactly for the
// percentages operators use (up to two decimals).
func ceilFrac(percent float64, n int64) int64 {
	hundredths := int64(percent*100 + 0.5)
	num := hundredths * n
	k := num / 10000
	if num%10000 != 0 {
		k++
	}
	return max(k, 1)
}

// uniform returns a uniform integer in [0, n) from rng by rejection.
func uniform(rng *mrand.ChaCha8, n uint64) uint64 {
	if n <= 1 {
		return 0
	}
	// Reject the top (2^64 mod n) values so every residue is equally likely.
	_, rem := bits.Div64(1, 0, n)
	limit := -rem // 2^64 - (2^64 mod n), wrapping to 0 when rem == 0
	for {
		x := rng.Uint64()
		if rem == 0 || x < limit {
			return x % n
		}
	}
}

// Offsets returns the byte offset of each sampled unit, in ascending order.
func (s *Sample) Offsets() []int64 {
	out := make([]int64, len(s.units))
	for i, u := range s.units {
		out[i] = u * s.UnitBytes
	}
	return out
}
