package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"
)

// IntegrityError means the log failed its verification against the signed
// checkpoint: an entry bundle or hash tile was altered, or the log was
// rolled back. A store in this state refuses to serve and to write; it
// says where, and an operator has to investigate (restore the log from a
// backup or a mirror) and restart it.
type IntegrityError struct {
	Err error
	At  time.Time
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("log integrity check failed at %s: %v; the store refuses to serve until an operator restores the log and restarts it",
		e.At.UTC().Format(time.RFC3339), e.Err)
}

func (e *IntegrityError) Unwrap() error { return e.Err }

// Healthy is nil, or the integrity failure that stopped the store.
func (s *Store) Healthy() error {
	if ie := s.integrity.Load(); ie != nil {
		return ie
	}
	return nil
}

// VerifyLog re-verifies the whole log against its latest signed checkpoint
// and against the checkpoint verified last time (append-only): at start,
// on the VerifyInterval schedule, and on request. On failure the store
// stops serving (Healthy) and the error says where.
func (s *Store) VerifyLog(ctx context.Context) (*logverify.Checkpoint, error) {
	cp, err := s.log.Checkpoint(ctx)
	if err == nil {
		var prev *logverify.Checkpoint
		if prev, err = s.verifiedCheckpoint(ctx); err == nil {
			err = logverify.Audit(ctx, s.log.Fetcher(), cp, prev)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		ie := &IntegrityError{Err: err, At: s.now()}
		s.integrity.Store(ie)
		s.logger.Error("audit store: LOG INTEGRITY FAILURE", "err", err)
		return nil, ie
	}
	if err := s.saveVerifiedCheckpoint(ctx, cp); err != nil {
		return cp, err
	}
	return cp, nil
}

func (s *Store) verifiedCheckpoint(ctx context.Context) (*logverify.Checkpoint, error) {
	raw, err := s.DB.GetMeta(ctx, "verified_checkpoint")
	if err != nil || raw == "" {
		return nil, err
	}
	cp, err := logverify.ParseCheckpoint([]byte(raw), s.LogKey())
	if err != nil {
		return nil, fmt.Errorf("the checkpoint this store verified last: %w", err)
	}
	return cp, nil
}

func (s *Store) saveVerifiedCheckpoint(ctx context.Context, cp *logverify.Checkpoint) error {
	prev, err := s.verifiedCheckpoint(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if prev != nil && prev.Size >= cp.Size {
		return nil
	}
	return s.DB.SetMeta(ctx, "verified_checkpoint", string(cp.Raw))
}
