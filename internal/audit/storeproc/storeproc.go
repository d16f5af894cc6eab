//go:build linux

// Package storeproc runs `lethe audit serve` as a subprocess on loopback
// for end-to-end tests, and logs in as its first administrator the way an
// operator does on a fresh store (the first login must change the
// password). The end-to-end suites of the audit store and of the boot
// agent share it so that both drive the store the same way.
package storeproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/totp"
)

// Server is one running `lethe audit serve`.
type Server struct {
	URL  string // https://127.0.0.1:PORT
	Port int
	Data string // the data directory
	CA   string // the store's self-signed TLS certificate
	// StartLine is what the server printed when it began to listen.
	StartLine string

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

var listenRE = regexp.MustCompile(`listening on (https://[^\s/]+:(\d+))`)

// startTimeout bounds how long a store may take to open its data
// directory and listen; a cold store creates keys and a TLS certificate.
const startTimeout = 60 * time.Second

// Start runs bin ("lethe") as `audit serve --data DATA --listen LISTEN
// EXTRA...` and waits until it listens. When it returns an error after the
// process started, the Server it returns must still be stopped.
func Start(bin, data, listen string, extra ...string) (*Server, error) {
	args := append([]string{"audit", "serve", "--data", data, "--listen", listen, "--log-format", "text"}, extra...)
	s := &Server{Data: data, CA: filepath.Join(data, "tls", "cert.pem"), done: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	// Its own process group: a test's ^C or a SIGKILL of the test binary
	// does not leave the store holding the data directory's lock.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.cmd.Stderr = (*stderrLog)(s)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if listenRE.MatchString(sc.Text()) {
				select {
				case lines <- sc.Text():
				default:
				}
			}
		}
	}()
	select {
	case s.StartLine = <-lines:
	case <-s.done:
		return s, fmt.Errorf("audit server exited: %s", s.Stderr())
	case <-time.After(startTimeout):
		return s, fmt.Errorf("audit server did not start within %v: %s", startTimeout, s.Stderr())
	}
	m := listenRE.FindStringSubmatch(s.StartLine)
	s.URL = m[1]
	s.Port, _ = strconv.Atoi(m[2])
	return s, nil
}

type stderrLog Server

func (w *stderrLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.Write(p)
}

// Stderr is everything the server logged so far.
func (s *Server) Stderr() string { s.mu.Lock(); defer s.mu.Unlock(); return s.log.String() }

// Stop ends the server with SIGTERM (a clean shutdown) and, if it has not
// ended 40 s later, with SIGKILL.
func (s *Server) Stop() {
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

// Kill ends the server with SIGKILL: no shutdown at all, as a crash.
func (s *Server) Kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Client is an API client that trusts the store's certificate; token may
// be empty.
func (s *Server) Client(token string) (*client.Client, error) {
	return client.New(s.URL, client.Options{CAFile: s.CA, Token: token})
}

// initialAdmins holds, per data directory, the first admin's credentials
// after the first login changed the password (the store then removes
// initial-admin.json).
var initialAdmins sync.Map

// Admin logs in as the store's first administrator. The first time for a
// data directory it changes the initial password, as the store requires,
// and remembers the new one for later logins in this process.
func (s *Server) Admin(ctx context.Context) (*client.Client, error) {
	var ia store.InitialAdmin
	if v, ok := initialAdmins.Load(s.Data); ok {
		ia = v.(store.InitialAdmin)
	} else {
		b, err := os.ReadFile(filepath.Join(s.Data, store.InitialAdminFile))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &ia); err != nil {
			return nil, fmt.Errorf("%s: %w", store.InitialAdminFile, err)
		}
	}
	c, err := s.Client("")
	if err != nil {
		return nil, err
	}
	code, err := totp.Code(ia.TOTPSecret, time.Now())
	if err != nil {
		return nil, err
	}
	ac, err := c.Login(ctx, ia.User, ia.Password, code)
	if err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	if _, ok := initialAdmins.Load(s.Data); !ok {
		changed := ia
		changed.Password = ia.Password + "-Own1"
		if err := ac.Do(ctx, "POST", "/v1/account/password", map[string]string{"old": ia.Password, "new": changed.Password}, nil); err != nil {
			return nil, fmt.Errorf("first admin login: change the initial password: %w", err)
		}
		initialAdmins.Store(s.Data, changed)
	}
	return ac, nil
}
