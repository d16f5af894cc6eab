// Package guestproto is the contract between the QEMU test harness
// (package qemutest, on the host) and its runner inside the guest
// (qemutest/guestrun): the layout of the 9p share they exchange files
// through and the console markers the runner prints.
package guestproto

// MountTag is the 9p tag of the share; the guest mounts it at MountPoint.
const (
	MountTag   = "lethe"
	MountPoint = "/mnt/lethe"
)

// Paths inside the share.
const (
	PlanFile = "plan.json" // the steps to run, written by the host
	StepsDir = "steps"     // step scripts, written by the host
	OutDir   = "out"       // everything the guest writes back
	// ResultsFile is written by the runner after the last step.
	ResultsFile = "out/results.json"
)

// Console markers. The runner prints StartMarker when it starts (with
// the uptime) and EndMarker as its very last line before powering off.
const (
	StartMarker = "LETHE-TEST-START"
	EndMarker   = "LETHE-TEST-END"
)

// Plan is plan.json.
type Plan struct {
	Steps []Step `json:"steps"`
}

// Step is one shell script the runner executes with /bin/sh (u-root's
// gosh), in the share's root directory, with OUT=/mnt/lethe/out and
// SHARE=/mnt/lethe in its environment.
type Step struct {
	Name string `json:"name"`
	// Script is the path of the script relative to the share.
	Script string `json:"script"`
	// ContinueOnError runs the next steps even if this one fails.
	ContinueOnError bool `json:"continueOnError,omitempty"`
	// TimeoutSeconds kills the step after that long (0: no limit besides
	// the harness's).
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// Results is results.json.
type Results struct {
	// UptimeStart is the guest's uptime (seconds since the kernel
	// started) when the runner began: the time from kernel start to the
	// image's uinit running.
	UptimeStart float64 `json:"uptimeStart"`
	// UptimeReady is the uptime once the share was mounted.
	UptimeReady float64      `json:"uptimeReady"`
	Steps       []StepResult `json:"steps"`
	// Error is set when the runner itself failed (no share, bad plan).
	Error string `json:"error,omitempty"`
}

// StepResult is the outcome of one step. Its standard output and error
// are in out/NAME.stdout and out/NAME.stderr.
type StepResult struct {
	Name        string  `json:"name"`
	ExitCode    int     `json:"exitCode"`
	Error       string  `json:"error,omitempty"`
	UptimeStart float64 `json:"uptimeStart"`
	UptimeEnd   float64 `json:"uptimeEnd"`
	Ran         bool    `json:"ran"`
}
