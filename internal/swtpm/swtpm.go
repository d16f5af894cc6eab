// Package swtpm runs Debian's TPM 2.0 emulator (swtpm) for tests: on a
// Unix socket for a host-side client, or as the backend of a QEMU guest's
// TPM (tpm-tis over a control socket).
package swtpm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/testutil"
)

// TPM is a running swtpm.
type TPM struct {
	// Dir holds the TPM's state (its seeds: the same Dir gives the same
	// primary keys).
	Dir string
	// Server is the socket host clients send TPM commands to (empty for
	// a QEMU backend); Ctrl is the control socket.
	Server, Ctrl string
	cmd          *exec.Cmd
	done         chan struct{}
}

// Start starts swtpm with its state in dir (a new temporary directory
// when empty). With forQEMU the TPM is a QEMU backend (QEMUArgs);
// otherwise it listens for commands on Server. It is stopped when the
// test ends. In CI a missing swtpm fails the test.
func Start(t testing.TB, dir string, forQEMU bool) *TPM {
	t.Helper()
	bin := testutil.RequireCommand(t, "swtpm")
	if dir == "" {
		dir = t.TempDir()
	}
	// Unix socket paths are limited to 108 bytes; t.TempDir() can be long.
	sock, err := os.MkdirTemp("", "swtpm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sock) })
	tp := &TPM{Dir: dir, Ctrl: filepath.Join(sock, "ctrl"), done: make(chan struct{})}
	args := []string{"socket", "--tpm2", "--tpmstate", "dir=" + dir, "--ctrl", "type=unixio,path=" + tp.Ctrl}
	if forQEMU {
		args = append(args, "--terminate")
	} else {
		tp.Server = filepath.Join(sock, "server")
		args = append(args, "--server", "type=unixio,path="+tp.Server, "--flags", "not-need-init,startup-clear")
	}
	tp.cmd = exec.Command(bin, args...)
	tp.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := os.Create(filepath.Join(sock, "log"))
	tp.cmd.Stdout, tp.cmd.Stderr = out, out
	if err := tp.cmd.Start(); err != nil {
		t.Fatalf("swtpm: %v", err)
	}
	go func() { tp.cmd.Wait(); out.Close(); close(tp.done) }()
	t.Cleanup(tp.Stop)
	wait := tp.Ctrl
	if tp.Server != "" {
		wait = tp.Server
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(wait); err == nil {
			break
		}
		select {
		case <-tp.done:
			log, _ := os.ReadFile(filepath.Join(sock, "log"))
			t.Fatalf("swtpm exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not create %s", wait)
		}
	}
	return tp
}

// QEMUArgs attach the TPM to a QEMU guest as a TIS device.
func (tp *TPM) QEMUArgs() []string {
	return []string{"-chardev", "socket,id=tpmchr,path=" + tp.Ctrl, "-tpmdev", "emulator,id=tpm0,chardev=tpmchr", "-device", "tpm-tis,tpmdev=tpm0"}
}

// Stop ends swtpm (it is safe to call twice).
func (tp *TPM) Stop() {
	select {
	case <-tp.done:
		return
	default:
	}
	_ = syscall.Kill(-tp.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-tp.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-tp.cmd.Process.Pid, syscall.SIGKILL)
		<-tp.done
	}
}

// String describes the TPM for logs.
func (tp *TPM) String() string { return fmt.Sprintf("swtpm (state %s)", tp.Dir) }
