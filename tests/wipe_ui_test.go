package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/testutil"
)

// TestNoFalseStoppingMessage runs many short wipes (image files: each
// ends within milliseconds of its start, where the race that printed the
// message lived) and checks that "stopping" never appears; then stops one
// wipe with SIGINT, where it must appear exactly once.
func TestNoFalseStoppingMessage(t *testing.T) {
	s := newStation(t)
	dir := t.TempDir()
	const runs = 40
	for i := range runs {
		img := filepath.Join(dir, "disk.img")
		if err := os.WriteFile(img, make([]byte, 64<<10), 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustLethe(t, 0, s.wipeArgs("--method", "zero", img)...)
		if strings.Contains(r.stderr+r.stdout, "stopping") {
			t.Fatalf("run %d printed a stopping message without an interrupt:\n%s", i, r)
		}
	}
	// A real interrupt: a big sparse image with three passes and a full
	// read-back takes long enough to be stopped.
	img := filepath.Join(dir, "big.img")
	f, _ := os.Create(img)
	f.Truncate(2 << 30)
	f.Close()
	cmd := exec.Command(letheBin, s.wipeArgs("--method", "dod", "--verify", "all", img)...)
	cmd.Env = append(os.Environ(), "LETHE_KEY=", "LETHE_CONFIG=/dev/null")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if n := strings.Count(out.String(), "lethe: stopping"); n != 1 {
		t.Errorf("SIGINT: %d stopping messages (err %v):\n%s", n, err, out.String())
	}
	if !strings.Contains(out.String(), "ABORTED") {
		t.Errorf("SIGINT: no ABORTED result:\n%s", out.String())
	}
}

// TestWipeRefusesAnonymous: without operator and organization nothing is
// written; --allow-anonymous goes on and the certificate records it.
func TestWipeRefusesAnonymous(t *testing.T) {
	s := newStation(t)
	img := filepath.Join(t.TempDir(), "disk.img")
	os.WriteFile(img, []byte(strings.Repeat("customer ", 1000)), 0o600)
	r := lethe(t, "wipe", "--yes", "--key", s.key, "--cert-dir", s.certs, "--progress", "none", "--operator", "A. Tech", img)
	if r.code != 2 || !strings.Contains(r.stderr, "no organization") || !strings.Contains(r.stderr, "--allow-anonymous") {
		t.Fatalf("wipe without organization: %s", r)
	}
	if data, _ := os.ReadFile(img); !strings.HasPrefix(string(data), "customer") {
		t.Fatal("a refused wipe wrote")
	}
	mustLethe(t, 0, "wipe", "--yes", "--key", s.key, "--cert-dir", s.certs, "--progress", "none", "--allow-anonymous", img)
	certs := s.certFiles(t)
	if len(certs) != 1 {
		t.Fatalf("certificates %v", certs)
	}
	p := readCert(t, s, certs[0]).Predicate
	if !p.Personnel.Anonymous || p.Personnel.Operator != "" || p.SchemaVersion != "2" {
		t.Errorf("personnel %+v, schema %s", p.Personnel, p.SchemaVersion)
	}
	if _, err := os.Stat(strings.TrimSuffix(certs[0], ".cert.json") + ".pdf"); err != nil {
		t.Errorf("no PDF beside the certificate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.certs, "lethe.log")); err != nil {
		t.Errorf("no lethe.log beside the certificates: %v", err)
	}
}

// TestWipeScreenTmux wipes three loop devices at once under tmux at 80x25
// and 120x40 and reads the screen while it runs and at the end: every
// drive has a line with phase, percentage, speed, elapsed and time left;
// no line is as wide as the terminal; no log line runs through the drive
// lines; each drive ends with its average speed, duration and status; the
// certificate directory is printed in full.
func TestWipeScreenTmux(t *testing.T) {
	testutil.RequireRoot(t)
	for _, size := range [][2]int{{80, 25}, {120, 40}} {
		t.Run(strings.Join([]string{itoaT(size[0]), itoaT(size[1])}, "x"), func(t *testing.T) {
			s := newStation(t)
			var devs []string
			for range 3 {
				// 4 passes over 256 MiB with a full read-back of each: a
				// few seconds, enough for several frames.
				devs = append(devs, newLoop(t, 256<<20).Path)
			}
			args := append(s.wipeArgs("--progress", "bar", "--method", "dod", "--final-zero", "--verify", "all"), devs...)
			cmdline := "LETHE_CONFIG=/dev/null " + letheBin + " " + strings.Join(args, " ") + "; echo EXIT=$?; sleep 60"
			tm := startTmux(t, size[0], size[1], cmdline)
			screen := tm.waitFor("left", 30*time.Second)
			tm.checkFits(screen)
			all := strings.Join(screen, "\n")
			for _, want := range []string{"elapsed", "B/s", "overwrite"} {
				if !strings.Contains(all, want) {
					t.Errorf("running screen lacks %q:\n%s", want, all)
				}
			}
			screen = tm.waitFor("EXIT=", 120*time.Second)
			tm.checkFits(screen)
			all = strings.Join(screen, "\n")
			if !strings.Contains(all, "EXIT=0") {
				t.Fatalf("wipe failed:\n%s", all)
			}
			for _, d := range devs {
				if !strings.Contains(all, filepath.Base(d)+"  ERASED") {
					t.Errorf("final screen lacks %s:\n%s", d, all)
				}
			}
			if n := strings.Count(all, "ERASED  256.0 MiB in"); n < 3 {
				t.Errorf("%d final drive lines with size and duration:\n%s", n, all)
			}
			if strings.Count(all, "average") < 3 || !strings.Contains(all, "certificates: "+s.certs) {
				t.Errorf("final screen:\n%s", all)
			}
			if strings.Contains(all, "level=INFO") || strings.Contains(all, "msg=") {
				t.Errorf("log lines on the screen:\n%s", all)
			}
		})
	}
}

func itoaT(n int) string { return strconv.Itoa(n) }
