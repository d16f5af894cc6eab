// Package simdrive is what lethe's drive simulators (nvmesim, atasim,
// scsisim) offer a test besides their command transport, so that one
// scenario suite (internal/wipe's fwsuite_test.go) can drive all three
// alike: move a running operation on, make the next sanitize fail, cut
// the power, and read what the drive was sent and what its medium holds.
package simdrive

import "github.com/lethe-project/lethe/internal/devices/simdisk"

// Drive is a simulated drive under test.
type Drive interface {
	// Advance moves a running sanitize (or format) n steps.
	Advance(n int) error
	// FailNextSanitize makes the next, or the running, sanitize fail
	// when it reaches step.
	FailNextSanitize(step int)
	// PowerCycle cuts the power and restores it: a sanitize resumes, a
	// failure mode persists, volatile state is lost.
	PowerCycle()
	// Sanitizing reports whether a sanitize is running.
	Sanitizing() bool
	// CommandLog lists every command the drive received, one line each,
	// in the simulator's own notation.
	CommandLog() []string
	// Medium is the medium of the drive (NVMe: namespace 1), for raw
	// inspection under the deallocation map.
	Medium() *simdisk.Disk
}
