//go:build linux

// Package mariadbtest starts a throwaway MariaDB server (Debian's
// mariadb-server) on loopback in a test's temporary directory, for the
// tests that run the audit store on Tessera's MySQL backend.
package mariadbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"

	"github.com/lethe-project/lethe/internal/testutil"
)

// Server is a running MariaDB instance owned by one test.
type Server struct {
	Addr string // 127.0.0.1:port
	dir  string
}

// Start installs a data directory and starts mariadbd on 127.0.0.1 with a
// free port; it is stopped when the test ends. It fails in CI and skips
// elsewhere when MariaDB is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	mariadbd := testutil.RequireCommand(t, "mariadbd")
	install := testutil.RequireCommand(t, "mariadb-install-db")
	dir, err := os.MkdirTemp("", "lethe-mariadb-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	user := []string{}
	if os.Geteuid() == 0 {
		user = []string{"--user=root"} // mariadbd refuses to run as root without it
	}
	args := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}, user...)
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	port := freePort(t)
	logf, err := os.Create(filepath.Join(dir, "mariadbd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mariadbd, append([]string{"--no-defaults", "--datadir=" + data,
		"--socket=" + filepath.Join(dir, "sock"), "--port=" + fmt.Sprint(port), "--bind-address=127.0.0.1",
		"--skip-log-bin", "--innodb-buffer-pool-size=64M", "--max-connections=500",
		"--pid-file=" + filepath.Join(dir, "pid")}, user...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := sql.Open("mysql", s.DSN(""))
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "mariadbd.log"))
			t.Fatalf("mariadbd did not come up on %s: %v\n%s", s.Addr, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// DSN is the go-sql-driver DSN for database name (empty: none).
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("root@tcp(%s)/%s?parseTime=true&multiStatements=false", s.Addr, name)
}

// NewDatabase creates a fresh database and returns its DSN.
func (s *Server) NewDatabase(t testing.TB, name string) string {
	t.Helper()
	db, err := sql.Open("mysql", s.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name = strings.NewReplacer("/", "_", "-", "_").Replace(name)
	if _, err := db.ExecContext(context.Background(), "CREATE DATABASE `"+name+"`"); err != nil {
		t.Fatal(err)
	}
	return s.DSN(name)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
