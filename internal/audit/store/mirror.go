package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/audit/logverify"
	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/dirlock"
	"github.com/lethe-project/lethe/internal/audit/mirror"
	"github.com/lethe-project/lethe/internal/audit/tlog"
)

// OpenMirror opens a mirror directory (internal/audit/mirror) as a
// read-only store: the log is the mirror's verified copy, searched through
// an index of its own (rebuilt from the log, and kept up with what `lethe
// audit mirror` fetches), with accounts of its own. Nothing can be
// submitted, validated or trusted there; its audit events go to the
// process log, as it has no log of its own to append to.
func OpenMirror(ctx context.Context, cfg Config) (*Store, error) {
	if !mirror.IsMirror(cfg.Dir) {
		return nil, fmt.Errorf("%s is not a mirror (no %s)", cfg.Dir, mirror.File)
	}
	cfg.MySQLDSN = ""
	cfg.defaults()
	lk, err := dirlock.Acquire(cfg.Dir, lockFile, "another process serves this mirror")
	if err != nil {
		return nil, err
	}
	s := newStore(cfg, lk)
	s.readOnly = true
	vkey, err := os.ReadFile(filepath.Join(cfg.Dir, vkeyFile))
	if err != nil {
		lk.Release()
		return nil, err
	}
	if s.pub, err = logverify.PublicKey(string(vkey)); err != nil {
		lk.Release()
		return nil, err
	}
	v, _ := logverify.NoteVerifier(string(vkey))
	s.origin = v.Name()
	if s.DB, err = db.OpenSQLite(filepath.Join(cfg.Dir, indexFile)); err != nil {
		lk.Release()
		return nil, err
	}
	s.log = &mirrorLog{f: client.FileFetcher{Root: filepath.Join(cfg.Dir, logDir)}, vkey: strings.TrimSpace(string(vkey))}
	if err := s.start(ctx); err != nil {
		s.closeLog(ctx)
		return nil, err
	}
	return s, nil
}

// mirrorLog is a mirror's copy of a log: read only.
type mirrorLog struct {
	f    client.FileFetcher
	vkey string
}

func (m *mirrorLog) Fetcher() logverify.Fetcher { return m.f }
func (m *mirrorLog) Checkpoint(ctx context.Context) (*logverify.Checkpoint, error) {
	raw, err := m.f.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("the mirror holds no checkpoint yet (run lethe audit mirror first): %w", err)
	}
	return logverify.ParseCheckpoint(raw, m.vkey)
}
func (m *mirrorLog) Append(context.Context, []byte) (*tlog.Appended, error) {
	return nil, ErrReadOnly
}
func (m *mirrorLog) IntegratedSize(ctx context.Context) (uint64, error) {
	cp, err := m.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	return cp.Size, nil
}
func (m *mirrorLog) VerifierKey() string         { return m.vkey }
func (m *mirrorLog) Close(context.Context) error { return nil }
