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

// TestDailyBackupsKeptSevenDays: backups are written with their time in
// the name and those older than the retention are removed; the newest
// restores into an empty directory and re-verifies.
func TestDailyBackupsKeptSevenDays(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, Config{Dir: t.TempDir(), Origin: "test.lethe/backup"})
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
	var names []string
	for day := range 10 {
		if _, _, err := st.Ingest(ctx, Submission{Envelope: certtest.MustSign(key, certtest.Drive{Serial: "B-" + now.Format("0102"), Ended: now})}); err != nil {
			t.Fatal(err)
		}
		p, err := st.BackupFile(ctx, dir, 7*24*time.Hour)
		if err != nil {
			t.Fatalf("day %d: %v", day, err)
		}
		names = append(names, p)
		now = now.Add(24 * time.Hour)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.tar.gz"))
	if len(left) != 8 { // today and the 7 days before
		t.Fatalf("%d backups kept: %v", len(left), left)
	}
	if _, err := os.Stat(names[0]); !os.IsNotExist(err) {
		t.Fatal("the 9-day-old backup was kept")
	}
	f, err := os.Open(names[len(names)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Restore(ctx, f, filepath.Join(t.TempDir(), "restored"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Certificates != 10 || rep.Unindexed != 0 {
		t.Fatalf("restored: %+v", rep)
	}
}
