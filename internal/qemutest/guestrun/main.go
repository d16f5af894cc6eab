// Command guestrun is the uinit of lethe's QEMU test images. It never goes
// into a released image: the harness (package qemutest) appends it to a
// copy of the released initramfs as /bin/uinit, in place of `lethe agent`.
//
// It loads the modules the 9p share needs, mounts the share, runs the
// step scripts listed in plan.json with /bin/sh (u-root's gosh), writes
// each step's output and exit code back into the share, prints the end
// marker, drains the console and powers the guest off.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lethe-project/lethe/internal/agent/kmod"
	"github.com/lethe-project/lethe/internal/agent/power"
	"github.com/lethe-project/lethe/internal/qemutest/guestproto"
)

func main() {
	res := guestproto.Results{UptimeStart: uptime()}
	fmt.Printf("%s uptime=%.2f\n", guestproto.StartMarker, res.UptimeStart)
	status := "ok"
	if err := run(&res); err != nil {
		res.Error = err.Error()
		status = "error"
		fmt.Fprintf(os.Stderr, "guestrun: %v\n", err)
	}
	if err := writeResults(&res); err != nil {
		status = "error"
		fmt.Fprintf(os.Stderr, "guestrun: %v\n", err)
	}
	unix.Sync()
	_ = unix.Unmount(guestproto.MountPoint, 0)
	fmt.Printf("%s status=%s uptime=%.2f\n", guestproto.EndMarker, status, uptime())
	if err := power.Off(); err != nil {
		fmt.Fprintf(os.Stderr, "guestrun: power off: %v\n", err)
		os.Exit(1)
	}
}

func run(res *guestproto.Results) error {
	// virtio_pci finds the 9p device, virtio_rng seeds the random pool
	// (TCG has no RDRAND; without it getrandom(2) blocks for minutes). The
	// disks' drivers are left to the steps, so tests see module loading as
	// the agent does it.
	l := &kmod.Loader{}
	if _, err := l.Load(kmod.Request{Name: "virtio_pci"}, kmod.Request{Name: "virtio_rng"}, kmod.Request{Name: "9pnet_virtio"}, kmod.Request{Name: "9p"}); err != nil {
		return fmt.Errorf("load the share's modules: %w", err)
	}
	if err := mountShare(); err != nil {
		return err
	}
	res.UptimeReady = uptime()
	data, err := os.ReadFile(filepath.Join(guestproto.MountPoint, guestproto.PlanFile))
	if err != nil {
		return fmt.Errorf("read plan: %w", err)
	}
	var plan guestproto.Plan
	if err := json.Unmarshal(data, &plan); err != nil {
		return fmt.Errorf("parse plan: %w", err)
	}
	out := filepath.Join(guestproto.MountPoint, guestproto.OutDir)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, st := range plan.Steps {
		sr := runStep(st, out)
		res.Steps = append(res.Steps, sr)
		if (sr.ExitCode != 0 || sr.Error != "") && !st.ContinueOnError {
			break
		}
	}
	return nil
}

// mountShare mounts the 9p share, retrying while the virtio device is
// still being probed.
func mountShare() error {
	if err := os.MkdirAll(guestproto.MountPoint, 0o755); err != nil {
		return err
	}
	opts := "trans=virtio,version=9p2000.L,msize=262144,cache=none"
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := unix.Mount(guestproto.MountTag, guestproto.MountPoint, "9p", 0, opts)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mount 9p share %q: %w", guestproto.MountTag, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func runStep(st guestproto.Step, out string) (sr guestproto.StepResult) {
	sr = guestproto.StepResult{Name: st.Name, UptimeStart: uptime(), Ran: true}
	defer func() { sr.UptimeEnd = uptime() }()
	fmt.Printf("guestrun: step %s\n", st.Name)
	stdout, err1 := os.Create(filepath.Join(out, st.Name+".stdout"))
	stderr, err2 := os.Create(filepath.Join(out, st.Name+".stderr"))
	if err := errors.Join(err1, err2); err != nil {
		sr.ExitCode, sr.Error = -1, err.Error()
		return sr
	}
	defer stdout.Close()
	defer stderr.Close()
	ctx := context.Background()
	if st.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(st.TimeoutSeconds)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", filepath.Join(guestproto.MountPoint, filepath.FromSlash(st.Script)))
	cmd.Dir = guestproto.MountPoint
	// A timed-out step is killed with everything it started.
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
	cmd.Env = append(os.Environ(), "OUT="+out, "SHARE="+guestproto.MountPoint, "STEP="+st.Name)
	// The console gets a copy, so a failing test's log shows what the
	// step printed.
	cmd.Stdout = io.MultiWriter(stdout, os.Stdout)
	cmd.Stderr = io.MultiWriter(stderr, os.Stderr)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		sr.ExitCode = ee.ExitCode()
		if ctx.Err() != nil {
			sr.Error = fmt.Sprintf("killed after %ds", st.TimeoutSeconds)
		}
	default:
		sr.ExitCode, sr.Error = -1, err.Error()
	}
	unix.Sync()
	fmt.Printf("guestrun: step %s exit %d\n", st.Name, sr.ExitCode)
	return sr
}

func writeResults(res *guestproto.Results) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(guestproto.MountPoint, guestproto.ResultsFile)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// uptime is seconds since the kernel started (/proc/uptime).
func uptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return -1
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return -1
	}
	return v
}
