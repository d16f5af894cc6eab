package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/testutil"
)

// tmuxSession runs a command in a detached tmux session of the given size;
// capture returns the visible screen.
type tmuxSession struct {
	t    *testing.T
	name string
	w, h int
}

func startTmux(t *testing.T, w, h int, command string) *tmuxSession {
	t.Helper()
	testutil.RequireCommand(t, "tmux")
	s := &tmuxSession{t: t, name: filepath.Base(t.TempDir()), w: w, h: h}
	cmd := exec.Command("tmux", "new-session", "-d", "-s", s.name, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), command)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "LETHE_KEY=", "LETHE_CONFIG=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", s.name).Run() })
	return s
}

func (s *tmuxSession) capture() []string {
	out, err := exec.Command("tmux", "capture-pane", "-p", "-t", s.name).Output()
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
}

// waitFor polls the screen until it shows want; it returns that screen.
func (s *tmuxSession) waitFor(want string, timeout time.Duration) []string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var last []string
	for time.Now().Before(deadline) {
		last = s.capture()
		if strings.Contains(strings.Join(last, "\n"), want) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("%dx%d screen never showed %q; last screen:\n%s", s.w, s.h, want, strings.Join(last, "\n"))
	return nil
}

// checkFits fails if a line fills the whole width: the program then drew a
// line as wide as the terminal, which wraps on some terminals.
func (s *tmuxSession) checkFits(screen []string) {
	s.t.Helper()
	for i, l := range screen {
		if len([]rune(l)) >= s.w {
			s.t.Errorf("%dx%d: line %d fills the width: %q", s.w, s.h, i, l)
		}
	}
	if len(screen) > s.h {
		s.t.Errorf("%dx%d: %d lines", s.w, s.h, len(screen))
	}
}

// TestStationScreenTmux runs lethe station's full-screen display in tmux
// at 80x25 and 120x40 while a loop device is inserted and wiped: one row
// per slot, the full certificate directory, REMOVE DRIVE, and no line
// wider than the terminal.
func TestStationScreenTmux(t *testing.T) {
	testutil.RequireRoot(t)
	for _, size := range [][2]int{{80, 25}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			s := newStation(t)
			disks := t.TempDir()
			cfg := filepath.Join(t.TempDir(), "lethe.yaml")
			os.WriteFile(cfg, []byte("key: "+s.key+"\ncert-dir: "+s.certs+"\noperator: Tmux Tech\norganization: Test Org\n"), 0o600)
			cmd := letheBin + " station --config " + cfg + " --screen screen --yes --count 1 --method zero --only '" + filepath.Join(disks, "*") + "'; sleep 60"
			tm := startTmux(t, size[0], size[1], cmd)
			screen := tm.waitFor("station ready", 20*time.Second)
			_ = screen
			tm.waitFor("SLOT", 20*time.Second)
			l := newLoop(t, 64<<20, testutil.LoopOptions{Dir: disks})
			name := filepath.Base(l.Path)
			screen = tm.waitFor("REMOVE DRIVE", 60*time.Second)
			tm.checkFits(screen)
			all := strings.Join(screen, "\n")
			for _, want := range []string{"certificates: " + s.certs, name, "ERASED", "operator Tmux Tech"} {
				if !strings.Contains(all, want) {
					t.Errorf("screen lacks %q:\n%s", want, all)
				}
			}
			exec.Command("losetup", "-d", l.Path).Run()
			// --count 1: the station stops once the drive is removed and
			// leaves its events in the shell's scrollback.
			screen = tm.waitFor("station stopped: 1 drive(s) wiped and removed", 20*time.Second)
			tm.checkFits(screen)
		})
	}
}
