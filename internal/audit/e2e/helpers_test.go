// Package e2e runs the lethe binary end to end: a real audit server on
// loopback fed by real wipes of loop devices, crashes, backups.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/totp"
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
type server struct {
	cmd  *exec.Cmd
	URL  string
	Data string
	// startLine is what the server printed when it started listening.
	startLine string
	CA        string
	done      chan struct{}
	log       *bytes.Buffer
	mu        sync.Mutex
}

var listenRE = regexp.MustCompile(`listening on (https://\S+)`)

// startServer starts the audit store on a free loopback port.
func startServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	return startServerAt(t, data, "127.0.0.1:0", extra...)
}

func startServerAt(t *testing.T, data, listen string, extra ...string) *server {
	t.Helper()
	args := append([]string{"audit", "serve", "--data", data, "--listen", listen, "--log-format", "text"}, extra...)
	cmd := exec.Command(lethe(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, Data: data, CA: filepath.Join(data, "tls", "cert.pem"), done: make(chan struct{}), log: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{s: s}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if listenRE.MatchString(sc.Text()) {
				lines <- sc.Text()
			}
		}
	}()
	select {
	case s.startLine = <-lines:
		s.URL = listenRE.FindStringSubmatch(s.startLine)[1]
	case <-s.done:
		t.Fatalf("audit server exited: %s", s.stderr())
	case <-time.After(60 * time.Second):
		t.Fatalf("audit server did not start: %s", s.stderr())
	}
	return s
}

type lockedWriter struct{ s *server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

func (s *server) stderr() string { s.mu.Lock(); defer s.mu.Unlock(); return s.log.String() }

// stop ends the server with SIGTERM (a clean shutdown).
func (s *server) stop(t *testing.T) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// kill ends the server with SIGKILL: no shutdown at all.
func (s *server) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

func (s *server) client(t *testing.T, token string) *client.Client {
	c, err := client.New(s.URL, client.Options{CAFile: s.CA, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// initialAdmins holds, per data directory, the first admin's credentials
// after the first login changed the password (the store then removes
// initial-admin.json).
var initialAdmins sync.Map

// admin logs in as the initial admin; the first time, it chooses a new
// password as the store requires.
func (s *server) admin(t *testing.T) *client.Client {
	t.Helper()
	var ia store.InitialAdmin
	if v, ok := initialAdmins.Load(s.Data); ok {
		ia = v.(store.InitialAdmin)
	} else {
		b, err := os.ReadFile(filepath.Join(s.Data, store.InitialAdminFile))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(b, &ia)
	}
	code, _ := totp.Code(ia.TOTPSecret, time.Now())
	c, err := s.client(t, "").Login(context.Background(), ia.User, ia.Password, code)
	if err != nil {
		t.Fatalf("admin login: %v", err)
	}
	if _, ok := initialAdmins.Load(s.Data); !ok {
		changed := ia
		changed.Password = ia.Password + "-Own1"
		if err := c.Do(context.Background(), "POST", "/v1/account/password", map[string]string{"old": ia.Password, "new": changed.Password}, nil); err != nil {
			t.Fatalf("first admin login: change the initial password: %v", err)
		}
		initialAdmins.Store(s.Data, changed)
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
