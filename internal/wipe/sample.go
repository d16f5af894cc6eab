package wipe

import (
	"fmt"
	"math"

	"github.com/lethe-project/lethe/cert"
)

// Sampled verification is defined by the certificate schema, so that an
// auditor recomputes the same positions (cert.NewSample).
type Sample = cert.Sample

// Sampling helpers (see package cert).
var (
	NewSample   = cert.NewSample
	NewSeed     = cert.NewSeed
	DefaultUnit = cert.DefaultUnit
)

// Sampling constants (see package cert).
const (
	SampleAlgorithm = cert.SampleAlgorithm
	MinSubsections  = cert.MinSubsections
)

// CheckSamplePercent refuses a sample percentage outside (0, 100] or with
// more than two decimals: the sample draws ceil(h·n/10000) units per
// subsection with h the percentage in whole hundredths (cert.NewSample),
// so a third decimal would be rounded away silently and the certificate
// would record a figure that was not used.
func CheckSamplePercent(p float64) error {
	if !(p > 0 && p <= 100) {
		return fmt.Errorf("sample percent %g: want a value in (0, 100]", p)
	}
	if h := p * 100; math.Abs(h-math.Round(h)) > 1e-6 {
		return fmt.Errorf("sample percent %g: at most two decimals (the sample is drawn in whole hundredths of a percent)", p)
	}
	return nil
}
