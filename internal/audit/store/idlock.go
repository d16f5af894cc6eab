package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/internal/audit/db"
)

// lockID serializes the work on one certificate or key: the check "is it
// logged already?" and the append that follows must not interleave with
// another request for the same thing, or the log would hold it twice.
//
// Within a process a mutex does it. Servers sharing a MySQL database also
// take a MySQL named lock, which the database drops with the connection
// if its holder dies, and leave a claim row while they work: a claim found
// by the next holder means the previous one died between the log append
// and the index, so the index is first brought up to the log (stale is
// true; catchUp has run).
func (s *Store) lockID(ctx context.Context, id string) (unlock func(), stale bool, err error) {
	release := s.lockFor(id)
	if s.DB.Dialect != db.MySQL {
		return release, false, nil
	}
	h := sha256.Sum256([]byte(id))
	unlockDB, err := s.DB.NamedLock(ctx, "lethe:"+hex.EncodeToString(h[:])[:56], time.Minute)
	if err != nil {
		release()
		return nil, false, err
	}
	done := func() {
		_, _ = s.DB.ExecContext(context.Background(), `DELETE FROM ingest_claims WHERE certificate_id = ?`, id)
		unlockDB()
		release()
	}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO ingest_claims (certificate_id, claimed_at) VALUES (?, ?)`, id, s.now().Unix())
	switch {
	case db.IsDuplicate(err):
		stale = true
		if err := s.catchUp(ctx); err != nil {
			done()
			return nil, false, fmt.Errorf("index entries of a server that stopped mid-ingest: %w", err)
		}
	case err != nil:
		unlockDB()
		release()
		return nil, false, err
	}
	return done, stale, nil
}

// catchUp waits until a published checkpoint covers every entry sequenced
// so far, then indexes what the index lacks.
func (s *Store) catchUp(ctx context.Context) error {
	n, err := s.log.IntegratedSize(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		cp, err := s.log.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if cp.Size >= n {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no checkpoint covers the %d sequenced entries after a minute (latest: %d)", n, cp.Size)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return s.reconcile(ctx)
}
