package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAPIBackupHonoursRetention: a backup asked for through the API keeps
// backups for the store's retention setting, like the daily ones (issue
// 12.16: it deleted those older than 7 days whatever --backup-keep said).
// Backups are of the embedded store only (MySQL is backed up with
// MariaDB's tools), so this runs on POSIX+SQLite.
func TestAPIBackupHonoursRetention(t *testing.T) {
	cfg := backends["posix-sqlite"](t).config(t)
	cfg.BackupKeep = 30 * 24 * time.Hour
	cfg.BackupDir = filepath.Join(t.TempDir(), "elsewhere")
	e := newEnv(t, cfg)
	os.MkdirAll(cfg.BackupDir, 0o700)
	now := time.Now().UTC()
	old := map[string]bool{}
	for _, age := range []time.Duration{10 * 24 * time.Hour, 29 * 24 * time.Hour, 31 * 24 * time.Hour} {
		p := filepath.Join(cfg.BackupDir, "lethe-audit-"+now.Add(-age).Format("20060102T150405Z")+".tar.gz")
		os.WriteFile(p, []byte("old"), 0o600)
		old[p] = age < cfg.BackupKeep
	}
	path, err := e.admin.Backup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != cfg.BackupDir {
		t.Fatalf("backup written to %s, not the configured %s", path, cfg.BackupDir)
	}
	for p, kept := range old {
		if _, err := os.Stat(p); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", filepath.Base(p), err == nil, kept)
		}
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", " =1+1": "' =1+1", "+x": "'+x", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\t=x": "'\t=x", "\r=x": "'\r=x",
		"plain": "plain", "": "", "   ": "   ", "a=b": "a=b", "2026-01-01T00:00:00Z": "2026-01-01T00:00:00Z",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
