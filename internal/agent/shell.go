package agent

import (
	"os"
	"os/exec"
	"syscall"
)

// runShell runs /bin/defaultsh (u-root's gosh) with tty as its
// controlling terminal, standard input and output, and waits for it.
func runShell(tty string) error {
	f, err := os.OpenFile(tty, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command("/bin/defaultsh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, f
	cmd.Env = append(os.Environ(), "TERM=linux")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	return cmd.Run()
}
