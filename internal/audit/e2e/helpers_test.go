// Package e2e runs the lethe binary end to end: a real audit server on
// loopback fed by real wipes of loop devices, crashes, backups.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/storeproc"
)

var (
	buildOnce sync.Once
	lethePath string
	buildErr  error
)

// lethe builds the binary once per test run.
func lethe(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lethe-e2e-bin-*")
		if err != nil {
			buildErr = err
			return
		}
		lethePath = filepath.Join(dir, "lethe")
		out, err := exec.Command("go", "build", "-o", lethePath, "github.com/lethe-project/lethe/cmd/lethe").CombinedOutput()
		if err != nil {
			buildErr = err
			lethePath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build lethe: %v\n%s", buildErr, lethePath)
	}
	return lethePath
}

// server is a `lethe audit serve` subprocess.
type server struct{ *storeproc.Server }

// startServer starts the audit store on a free loopback port.
func startServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	return startServerAt(t, data, "127.0.0.1:0", extra...)
}

func startServerAt(t *testing.T, data, listen string, extra ...string) *server {
	t.Helper()
	s, err := storeproc.Start(lethe(t), data, listen, extra...)
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &server{s}
}

func (s *server) stderr() string { return s.Stderr() }

// stop ends the server with SIGTERM (a clean shutdown).
func (s *server) stop(*testing.T) { s.Stop() }

// kill ends the server with SIGKILL: no shutdown at all.
func (s *server) kill() { s.Kill() }

func (s *server) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := s.Client(token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// admin logs in as the initial admin; the first time, it chooses a new
// password as the store requires.
func (s *server) admin(t *testing.T) *client.Client {
	t.Helper()
	c, err := s.Admin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// run runs lethe and returns its combined output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(lethe(t), args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, code := run(t, args...)
	if code != 0 {
		t.Fatalf("lethe %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}
