package cert

import (
	"bytes"
	"testing"
)

func seedOf(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSampleCoverage(t *testing.T) {
	for _, tc := range []struct {
		size    int64
		percent float64
	}{
		{4 << 30, 10},
		{64 << 20, 10},
		{1 << 20, 10},
		{10<<20 + 3*512, 25},
		{512 * 7, 10}, // fewer units than subsections
		{8 << 40, 1},  // an 8 TiB drive
	} {
		unit := DefaultUnit(tc.size, 512)
		s, err := NewSample(tc.size, unit, tc.percent, seedOf(7))
		if err != nil {
			t.Fatal(err)
		}
		if s.Coverage < tc.percent {
			t.Errorf("size %d: coverage %.3f%% < %.1f%%", tc.size, s.Coverage, tc.percent)
		}
		m := (tc.size + unit - 1) / unit
		if want := min(int64(MinSubsections), m); int64(s.Subsection) != want {
			t.Errorf("size %d: %d subsections, want %d", tc.size, s.Subsection, want)
		}
		offs := s.Offsets()
		if offs[0] != 0 {
			t.Errorf("size %d: first LBA not sampled", tc.size)
		}
		if last := offs[len(offs)-1]; last+unit < tc.size {
			t.Errorf("size %d: last LBA not sampled (last unit at %d)", tc.size, last)
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] <= offs[i-1] {
				t.Fatalf("size %d: offsets not strictly increasing at %d", tc.size, i)
			}
		}
		// Every subsection got at least one unit.
		hit := make([]bool, s.Subsection)
		for _, o := range offs {
			u := o / unit
			for i := range int64(s.Subsection) {
				if u >= i*m/int64(s.Subsection) && u < (i+1)*m/int64(s.Subsection) {
					hit[i] = true
				}
			}
			if tc.size > 1<<40 {
				break // too slow to check every unit of the 8 TiB case
			}
		}
		if tc.size <= 1<<40 {
			for i, h := range hit {
				if !h {
					t.Errorf("size %d: subsection %d not sampled", tc.size, i)
					break
				}
			}
		}
	}
}

func TestSampleDeterministic(t *testing.T) {
	a, _ := NewSample(1<<30, 65536, 10, seedOf(1))
	b, _ := NewSample(1<<30, 65536, 10, seedOf(1))
	c, _ := NewSample(1<<30, 65536, 10, seedOf(2))
	if !equalInts(a.Offsets(), b.Offsets()) {
		t.Fatal("same seed gave different positions")
	}
	if equalInts(a.Offsets(), c.Offsets()) {
		t.Fatal("different seeds gave the same positions")
	}
}

// TestSampleGolden pins the algorithm: an independent implementation of
// lethe-sample-v1 (documented on Sample) must produce these offsets.
func TestSampleGolden(t *testing.T) {
	s, err := NewSample(1<<30, 1<<16, 10, seedOf(0x42))
	if err != nil {
		t.Fatal(err)
	}
	offs := s.Offsets()
	if s.Units != 2002 || len(offs) != 2002 || s.Subsection != 1000 || s.Bytes != 131203072 {
		t.Fatalf("units %d subsections %d bytes %d", s.Units, s.Subsection, s.Bytes)
	}
	got := offs[:8]
	want := goldenSampleOffsets
	if !equalInts(got, want) {
		t.Fatalf("first offsets %v, want %v (the sampling algorithm changed: that breaks every recorded seed)", got, want)
	}
}

// goldenSampleOffsets are the first eight offsets of NewSample(1 GiB,
// 64 KiB units, 10%, seed 0x42 x 32): 16384 units, 16 or 17 per subsection,
// two drawn from each, plus the first and last unit.
var goldenSampleOffsets = []int64{0, 262144, 917504, 1048576, 1441792, 2490368, 2949120, 3473408}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSampleRejectsBadInput(t *testing.T) {
	if _, err := NewSample(1<<20, 512, 10, []byte{1}); err == nil {
		t.Error("short seed accepted")
	}
	if _, err := NewSample(1<<20, 512, 0, seedOf(1)); err == nil {
		t.Error("0% accepted")
	}
	if _, err := NewSample(1<<20, 512, 101, seedOf(1)); err == nil {
		t.Error("101% accepted")
	}
	if _, err := NewSample(0, 512, 10, seedOf(1)); err == nil {
		t.Error("empty device accepted")
	}
}

func TestCeilFrac(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		n, k int64
	}{{10, 10, 1}, {10, 11, 2}, {10, 1, 1}, {33.33, 100, 34}, {100, 7, 7}, {0.01, 10000, 1}, {0.01, 10001, 2}} {
		if got := ceilFrac(tc.p, tc.n); got != tc.k {
			t.Errorf("ceilFrac(%v, %d) = %d, want %d", tc.p, tc.n, got, tc.k)
		}
	}
}
