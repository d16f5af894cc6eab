package wipe

import "github.com/lethe-project/lethe/cert"

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
