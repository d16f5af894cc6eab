//go:build linux

package main

import (
	"errors"
	"os"
	"runtime"
	"sync"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/agent"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/image/manifest"
	"github.com/lethe-project/lethe/internal/station"
	"golang.org/x/term"
)

// engineUsageError reports the engine's errors that mean "usage or
// refusal, nothing written" (exit 2): a guard's refusal, bad input, an
// option the pipeline cannot use, the agent refusing to run here.
func engineUsageError(err error) bool {
	var ie *devices.InputError
	var oe *station.OptionError
	var re *station.RefusedError
	var ar *agent.RefusedError
	return devices.IsRefusal(err) || errors.As(err, &ie) || errors.As(err, &oe) || errors.As(err, &re) || errors.As(err, &ar)
}

// toolInfo is the certificate's tool section. Running from the boot image
// (lethe agent, or lethe wipe in its rescue shell), it records the image
// digest: which image, down to the kernel, did the work.
func toolInfo() cert.Tool {
	return cert.Tool{Name: "lethe", Version: version, GoVersion: runtime.Version(), ImageDigest: runningImageDigest()}
}

var runningImage = sync.OnceValue(func() string {
	img, _, err := manifest.Running("/")
	if err != nil {
		return ""
	}
	return img.Digest
})

func runningImageDigest() string { return runningImage() }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }
