package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/audit/dirlock"
	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/sign"
)

// TestBackupRetention: backups are written with their time in the name
// and those older than the configured retention are removed (here 3
// days, not the default 7: the setting is honoured by every backup the
// store writes, which all go through BackupFile); the newest restores into
// an empty directory and re-verifies, against the pinned log key.
func TestBackupRetention(t *testing.T) {
	ctx := context.Background()
	st, key := openWithStation(t, Config{Dir: t.TempDir(), Origin: "test.lethe/backup", BackupKeep: 3 * 24 * time.Hour})
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

// TestOneProcessPerDataDirectory: a second store on the same data
// directory refuses to open, saying who holds it (issue 12.17); once the
// first closes, it opens.
func TestOneProcessPerDataDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, Config{Dir: dir, Origin: "test.lethe/lock"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, Config{Dir: dir})
	if !errors.Is(err, dirlock.ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second open: %v", err)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st, err = Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	st.Close(ctx)
}

// TestVerifyDirPinnedKey: a pinned log key is the key checked, never the
// directory's own (issue 12.11: a store signed by another key verified
// "OK"), and a restore is checked against it too.
func TestVerifyDirPinnedKey(t *testing.T) {
	ctx := context.Background()
	var dirs [2]string
	var vkeys [2]string
	for i := range dirs {
		dirs[i] = t.TempDir()
		st, err := Open(ctx, Config{Dir: dirs[i], Origin: "test.lethe/pinned"})
		if err != nil {
			t.Fatal(err)
		}
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := st.AddStationKey(ctx, "s", pub, Actor{Name: "t"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Ingest(ctx, Submission{Envelope: certtest.MustSign(key, certtest.Drive{Serial: fmt.Sprint("PIN-", i)})}); err != nil {
			t.Fatal(err)
		}
		vkeys[i] = st.LogKey()
		if i == 1 {
			var buf bytes.Buffer
			if _, err := st.Backup(ctx, &buf); err != nil {
				t.Fatal(err)
			}
			st.Close(ctx)
			if _, err := Restore(ctx, &buf, filepath.Join(t.TempDir(), "r"), VerifyOptions{LogKey: vkeys[0]}); err == nil {
				t.Fatal("a backup of another log restored against the pinned key")
			}
			continue
		}
		st.Close(ctx)
	}
	if rep, err := VerifyDir(ctx, dirs[0], VerifyOptions{LogKey: vkeys[0]}); err != nil || !rep.Pinned || rep.Certificates != 1 {
		t.Fatalf("own key: %+v %v", rep, err)
	}
	if _, err := VerifyDir(ctx, dirs[1], VerifyOptions{LogKey: vkeys[0]}); err == nil {
		t.Fatal("a log of another key verified against the pinned key")
	}
	// Replacing the directory's keys does not help: the checkpoint is
	// checked with the pinned key.
	for _, f := range []string{"keys/log.vkey", "keys/server.pub"} {
		b, _ := os.ReadFile(filepath.Join(dirs[0], f))
		os.WriteFile(filepath.Join(dirs[1], f), b, 0o644)
	}
	if _, err := VerifyDir(ctx, dirs[1], VerifyOptions{LogKey: vkeys[0]}); err == nil {
		t.Fatal("a log of another key verified after its key files were replaced")
	}
	if rep, err := VerifyDir(ctx, dirs[1], VerifyOptions{}); err == nil || rep != nil && rep.Pinned {
		t.Fatalf("unpinned, replaced keys: %+v %v", rep, err)
	}
}

// TestLegacyTrustLoggedAtUpgrade: a key that a lethe from before keys were
// logged trusted (only in the index) is written to the log at the next
// start, so that the index can then be rebuilt from the log alone and the
// copy of the log verifies without the index.
func TestLegacyTrustLoggedAtUpgrade(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, Config{Dir: dir, Origin: "test.lethe/legacy"})
	if err != nil {
		t.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := st.DB.ExecContext(ctx, `INSERT INTO station_keys (key_id, name, public_key, added_by, added_at, revoked_at, logged) VALUES (?, 'old', ?, 'admin', 1, 0, 0)`,
		sign.KeyID(pub), string(sign.MarshalPublicKey(pub))); err != nil {
		t.Fatal(err)
	}
	rc, _, err := st.Ingest(ctx, Submission{Envelope: certtest.MustSign(key, certtest.Drive{Serial: "LEGACY-1"})})
	if err != nil {
		t.Fatal(err)
	}
	st.Close(ctx)
	if st, err = Open(ctx, Config{Dir: dir}); err != nil { // the upgrade start
		t.Fatal(err)
	}
	st.Close(ctx)
	for _, f := range []string{"index.db", "index.db-wal", "index.db-shm"} {
		os.Remove(filepath.Join(dir, f))
	}
	rep, err := VerifyDir(ctx, dir, VerifyOptions{})
	if err != nil || rep.LegacyKeys != 1 || rep.Keys != 1 {
		t.Fatalf("verify without the index: %+v %v", rep, err)
	}
	if st, err = Open(ctx, Config{Dir: dir}); err != nil { // rebuilt from the log
		t.Fatal(err)
	}
	defer st.Close(ctx)
	c, err := st.Certificate(ctx, rc.CertificateID)
	if err != nil {
		t.Fatal(err)
	}
	if chk := st.Check(ctx, c); !chk.SignatureOK || !chk.InclusionOK {
		t.Fatalf("after the rebuild: %+v", chk)
	}
}
