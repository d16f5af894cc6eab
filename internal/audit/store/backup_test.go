package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/audit/certtest"
)

// TestBackupRetention: backups are written with their time in the name
// and those older than the configured retention are removed (here 3
// days, not the default 7: the setting is honoured by every backup the
// store writes, which all go through BackupFile); the newest restores into
// an empty directory and re-verifies, against the pinned log key.
func TestBackupRetention(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, Config{Dir: t.TempDir(), Origin: "test.lethe/backup", BackupKeep: 3 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := st.AddStationKey(ctx, "s", pub, Actor{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { return now })
	dir := filepath.Join(st.Dir(), "backups")
	vkey := st.LogKey()
	var names []string
	for day := range 10 {
		if _, _, err := st.Ingest(ctx, Submission{Envelope: certtest.MustSign(key, certtest.Drive{Serial: "B-" + now.Format("0102"), Ended: now})}); err != nil {
			t.Fatal(err)
		}
		p, err := st.BackupFile(ctx)
		if err != nil {
			t.Fatalf("day %d: %v", day, err)
		}
		names = append(names, p)
		now = now.Add(24 * time.Hour)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.tar.gz"))
	if len(left) != 4 { // today and the 3 days before
		t.Fatalf("%d backups kept: %v", len(left), left)
	}
	if _, err := os.Stat(names[5]); !os.IsNotExist(err) {
		t.Fatal("the 4-day-old backup was kept")
	}
	f, err := os.Open(names[len(names)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Restore(ctx, f, filepath.Join(t.TempDir(), "restored"), VerifyOptions{LogKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Certificates != 10 || rep.Unindexed != 0 || !rep.Pinned || rep.Keys != 1 {
		t.Fatalf("restored: %+v", rep)
	}
}
