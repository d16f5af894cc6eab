// Package tlog is the audit store's append-only transparency log: a
// Trillian Tessera log (POSIX directory or MySQL/MariaDB) that publishes
// signed checkpoints and inclusion proofs. The offline checks that verify
// them are in audit/logverify.
package tlog

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/mysql"
)

// Options configure a log.
type Options struct {
	// Origin names the log in its checkpoints (and is the verifier key's
	// name).
	Origin string
	// Key signs checkpoints.
	Key ed25519.PrivateKey
	// CheckpointInterval is how often a new checkpoint is published; an
	// appender waiting for its inclusion proof waits up to this long.
	CheckpointInterval time.Duration
	// BatchMaxAge and BatchMaxSize bound how entries are grouped before
	// they are sequenced.
	BatchMaxAge  time.Duration
	BatchMaxSize uint
}

// Log is an open, appendable transparency log.
type Log struct {
	add      tessera.AddFn
	reader   tessera.LogReader
	awaiter  *tessera.PublicationAwaiter
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	vkey     string
}

// NewMySQLDriver stores the log in a MySQL or MariaDB database, creating
// Tessera's tables if they do not exist. Several servers may share it.
func NewMySQLDriver(ctx context.Context, db *sql.DB) (tessera.Driver, error) {
	if err := createMySQLSchema(ctx, db); err != nil {
		return nil, err
	}
	return mysql.New(ctx, db)
}

// Open starts appending to the log stored by driver.
func Open(ctx context.Context, driver tessera.Driver, o Options) (*Log, error) {
	signer, err := logverify.NoteSigner(o.Origin, o.Key)
	if err != nil {
		return nil, err
	}
	vkey, err := logverify.VerifierKey(o.Origin, o.Key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = time.Second
	}
	if o.BatchMaxAge == 0 {
		o.BatchMaxAge = 50 * time.Millisecond
	}
	if o.BatchMaxSize == 0 {
		o.BatchMaxSize = 256
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithCheckpointInterval(o.CheckpointInterval).
		WithBatching(o.BatchMaxSize, o.BatchMaxAge).
		// Garbage collection removes partial tiles superseded by full ones;
		// keep it, it never touches committed data.
		WithShutdownTimeout(30 * time.Second)
	lctx, cancel := context.WithCancel(context.Background())
	app, shutdown, reader, err := tessera.NewAppender(lctx, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open log: %w", err)
	}
	poll := o.CheckpointInterval / 4
	if poll < 10*time.Millisecond {
		poll = 10 * time.Millisecond
	}
	return &Log{
		add:      app.Add,
		reader:   reader,
		awaiter:  tessera.NewPublicationAwaiter(lctx, reader.ReadCheckpoint, poll),
		shutdown: shutdown,
		cancel:   cancel,
		vkey:     vkey,
	}, nil
}

// VerifierKey is the signed-note key that verifies this log's checkpoints.
func (l *Log) VerifierKey() string { return l.vkey }

// Reader gives read access to checkpoints, tiles and entry bundles.
func (l *Log) Reader() tessera.LogReader { return l.reader }

// Appended is an entry durably in the log, with a checkpoint that commits
// to it and its inclusion proof against that checkpoint.
type Appended struct {
	Index      uint64
	Checkpoint *logverify.Checkpoint
	Proof      [][]byte
}

// Append adds data and waits until a published checkpoint includes it.
// When it returns without error the entry is durable: it survives a crash
// of the process.
func (l *Log) Append(ctx context.Context, data []byte) (*Appended, error) {
	idx, raw, err := l.awaiter.Await(ctx, l.add(ctx, tessera.NewEntry(data)))
	if err != nil {
		return nil, fmt.Errorf("append to log: %w", err)
	}
	cp, err := logverify.ParseCheckpoint(raw, l.vkey)
	if err != nil {
		return nil, err
	}
	p, err := logverify.InclusionProof(ctx, l.reader, idx.Index, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof for entry %d: %w", idx.Index, err)
	}
	return &Appended{Index: idx.Index, Checkpoint: cp, Proof: p}, nil
}

// Checkpoint is the latest published checkpoint, verified.
func (l *Log) Checkpoint(ctx context.Context) (*logverify.Checkpoint, error) {
	raw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("log has no checkpoint yet: %w", err)
		}
		return nil, err
	}
	return logverify.ParseCheckpoint(raw, l.vkey)
}

// WaitCheckpoint waits until a checkpoint has been published (a new log
// publishes its empty tree's first).
func (l *Log) WaitCheckpoint(ctx context.Context) (*logverify.Checkpoint, error) {
	for {
		cp, err := l.Checkpoint(ctx)
		if err == nil {
			return cp, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close integrates and publishes everything appended, then stops.
func (l *Log) Close(ctx context.Context) error {
	err := l.shutdown(ctx)
	l.cancel()
	return err
}
