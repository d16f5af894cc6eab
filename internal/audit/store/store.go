// Package store is the audit store: it accepts signed certificates into a
// transparency log, keeps a searchable index of them, records auditors'
// validations and every security-relevant event as further log entries,
// and never deletes or changes an entry.
//
// The log is the record; everything else is derived from it. Every key
// that may sign certificates (and every revocation) is itself a log
// entry, so the index — certificates, validations, events, the trust
// state — can be rebuilt from the log alone. Accounts (password hashes,
// TOTP secrets, sessions, API tokens) are deliberately not in the log,
// which any reader may copy.
package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"
	"github.com/lethe-project/lethe/sign"

	"github.com/transparency-dev/tessera"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/dirlock"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/mirror"
	"github.com/lethe-project/lethe/internal/audit/tlog"
	"github.com/lethe-project/lethe/internal/durable"
)

// Config says where the store keeps its data and how it behaves.
type Config struct {
	// Dir holds keys, and for the embedded default also the log (log/)
	// and the index (index.db). One process at a time uses it.
	Dir string
	// MySQLDSN, when set, puts the log and the index in MySQL/MariaDB:
	// several servers, each with its own Dir holding a copy of keys/,
	// share one database and serve and ingest concurrently.
	MySQLDSN string
	// Origin names the log; fixed at first start.
	Origin string
	// CheckpointInterval: how often checkpoints are published (default
	// 200 ms for POSIX, 1 s for MySQL, Tessera's minimum there).
	CheckpointInterval time.Duration
	// AgentKeyTTL is how long a registered per-boot agent key may submit
	// (default 7 days: time for a spool to drain).
	AgentKeyTTL time.Duration
	Policy      accounts.Policy
	// BackupDir is where backups go (default Dir/backups); BackupKeep how
	// long they are kept (default 7 days). Both apply to every backup the
	// store writes: the daily one and those asked for through the API.
	BackupDir  string
	BackupKeep time.Duration
	// VerifyInterval is how often the running store re-verifies the whole
	// log against its signed checkpoint (default 1 hour; negative: only at
	// start). It always verifies at start.
	VerifyInterval time.Duration
	// SyncInterval is how often a store indexes entries that another
	// server appended and did not index (it died), or that a mirror
	// fetched (default 5 s; MySQL and mirrors only).
	SyncInterval time.Duration
	// Security bounds what unauthenticated requests can write to the log
	// and how fast they may come.
	Security SecurityConfig
	// Logger receives what the store does in the background (default
	// slog.Default()).
	Logger *slog.Logger
}

// Store is an open audit store.
type Store struct {
	cfg      Config
	DB       *db.DB
	log      logBackend
	Accounts *accounts.Accounts
	key      ed25519.PrivateKey // nil on a mirror
	pub      ed25519.PublicKey
	signer   sign.Signer
	origin   string
	clock    atomic.Pointer[func() time.Time]
	logger   *slog.Logger
	dirLock  *dirlock.Lock
	readOnly bool

	locks     sync.Map // certificate ID -> *sync.Mutex: one ingest per certificate at a time in this process
	integrity atomic.Pointer[IntegrityError]
	sec       *securityRecorder
	limits    *limiters

	stop context.CancelFunc
	bg   sync.WaitGroup
}

type diskConfig struct {
	Origin string `json:"origin"`
}

// Paths inside the data directory.
const (
	keyFile    = "keys/server.key"
	pubFile    = "keys/server.pub"
	vkeyFile   = "keys/log.vkey"
	configFile = "config.json"
	logDir     = "log"
	indexFile  = "index.db"
	lockFile   = "lock"
)

// ErrReadOnly refuses a write to a mirror.
var ErrReadOnly = errors.New("this store is a read-only mirror: nothing can be submitted or changed here")

// logBackend is the log as the store uses it: Tessera's appender, or a
// mirror's verified copy of another store's log (read only).
type logBackend interface {
	Fetcher() logverify.Fetcher
	Checkpoint(ctx context.Context) (*logverify.Checkpoint, error)
	Append(ctx context.Context, data []byte) (*tlog.Appended, error)
	// IntegratedSize counts the entries sequenced so far, which may be
	// more than the latest checkpoint covers.
	IntegratedSize(ctx context.Context) (uint64, error)
	VerifierKey() string
	Close(ctx context.Context) error
}

type appendLog struct{ *tlog.Log }

func (l appendLog) Fetcher() logverify.Fetcher { return l.Reader() }
func (l appendLog) IntegratedSize(ctx context.Context) (uint64, error) {
	return l.Reader().IntegratedSize(ctx)
}

func (c *Config) defaults() {
	if c.AgentKeyTTL == 0 {
		c.AgentKeyTTL = 7 * 24 * time.Hour
	}
	if c.Policy.MaxFailures == 0 {
		c.Policy = accounts.DefaultPolicy
	}
	if c.BackupDir == "" {
		c.BackupDir = filepath.Join(c.Dir, "backups")
	}
	if c.BackupKeep == 0 {
		c.BackupKeep = 7 * 24 * time.Hour
	}
	if c.VerifyInterval == 0 {
		c.VerifyInterval = time.Hour
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Security.defaults()
}

// Open opens or initializes the store in cfg.Dir. It refuses a data
// directory another process has open, and a log that fails its
// verification against the signed checkpoint (saying where).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("store: no data directory")
	}
	cfg.defaults()
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "keys"), 0o700); err != nil {
		return nil, err
	}
	if mirror.IsMirror(cfg.Dir) {
		return nil, fmt.Errorf("%s is a mirror of another store's log: open it with OpenMirror (lethe audit serve serves it read-only)", cfg.Dir)
	}
	lk, err := dirlock.Acquire(cfg.Dir, lockFile, "stop it first; to run several servers, use --mysql, each with its own data directory")
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, cfg, lk)
	if err != nil {
		lk.Release()
		return nil, err
	}
	return s, nil
}

func open(ctx context.Context, cfg Config, lk *dirlock.Lock) (*Store, error) {
	key, err := loadOrCreateKey(cfg.Dir)
	if err != nil {
		return nil, err
	}
	origin, err := loadOrCreateOrigin(cfg.Dir, cfg.Origin)
	if err != nil {
		return nil, err
	}
	s := newStore(cfg, lk)
	s.key, s.pub, s.signer, s.origin = key, key.Public().(ed25519.PublicKey), sign.KeySigner{Key: key}, origin

	var driver tessera.Driver
	interval := cfg.CheckpointInterval
	if cfg.MySQLDSN != "" {
		if s.DB, err = db.OpenMySQL(cfg.MySQLDSN); err != nil {
			return nil, err
		}
		if driver, err = tlog.NewMySQLDriver(ctx, s.DB.DB); err != nil {
			s.DB.Close()
			return nil, err
		}
		if interval < time.Second {
			interval = time.Second
		}
	} else {
		if s.DB, err = db.OpenSQLite(filepath.Join(cfg.Dir, indexFile)); err != nil {
			return nil, err
		}
		if driver, err = tlog.NewPOSIXDriver(ctx, filepath.Join(cfg.Dir, logDir)); err != nil {
			s.DB.Close()
			return nil, err
		}
		if interval == 0 {
			interval = 200 * time.Millisecond
		}
	}
	l, err := tlog.Open(ctx, driver, tlog.Options{Origin: origin, Key: key, CheckpointInterval: interval})
	if err != nil {
		s.DB.Close()
		return nil, err
	}
	s.log = appendLog{l}
	if err := durable.WriteFile(filepath.Join(cfg.Dir, vkeyFile), []byte(s.log.VerifierKey()+"\n"), 0o644); err != nil {
		s.closeLog(ctx)
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.closeLog(ctx)
		return nil, err
	}
	return s, nil
}

func newStore(cfg Config, lk *dirlock.Lock) *Store {
	s := &Store{cfg: cfg, logger: cfg.Logger, dirLock: lk}
	now := time.Now
	s.clock.Store(&now)
	s.limits = newLimiters(cfg.Security, s.now)
	return s
}

// start is the common second half of opening a store or a mirror: verify
// the log, bring the index up to date, start the background work.
func (s *Store) start(ctx context.Context) error {
	s.Accounts = accounts.New(s.DB, s.cfg.Policy)
	if _, err := s.waitCheckpoint(ctx); err != nil {
		return err
	}
	if err := s.backfillPayloadDigests(ctx); err != nil {
		return err
	}
	if _, err := s.VerifyLog(ctx); err != nil {
		return err
	}
	if err := s.reconcile(ctx); err != nil {
		return fmt.Errorf("rebuild index from the log: %w", err)
	}
	if err := s.logLegacyTrust(ctx); err != nil {
		return fmt.Errorf("record keys trusted before keys were logged: %w", err)
	}
	s.sec = newSecurityRecorder(s)
	bctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.every(bctx, s.cfg.Security.Window, "security summary", func(ctx context.Context) error { return s.sec.flush(ctx) })
	if s.cfg.VerifyInterval > 0 {
		s.every(bctx, s.cfg.VerifyInterval, "log verification", func(ctx context.Context) error {
			_, err := s.VerifyLog(ctx)
			return err
		})
	}
	if s.cfg.MySQLDSN != "" || s.readOnly {
		s.every(bctx, s.cfg.SyncInterval, "index catch-up", s.reconcile)
	}
	return nil
}

// every runs f at each interval until the store closes.
func (s *Store) every(ctx context.Context, d time.Duration, what string, f func(context.Context) error) {
	s.bg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := f(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("audit store: "+what, "err", err)
			}
		}
	})
}

func (s *Store) waitCheckpoint(ctx context.Context) (*logverify.Checkpoint, error) {
	if l, ok := s.log.(appendLog); ok {
		return l.WaitCheckpoint(ctx)
	}
	return s.log.Checkpoint(ctx)
}

func loadOrCreateKey(dir string) (ed25519.PrivateKey, error) {
	p := filepath.Join(dir, keyFile)
	if _, err := os.Stat(p); err == nil {
		return sign.LoadPrivateKey(p)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	pem, err := sign.MarshalPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(p, pem, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(dir, pubFile), sign.MarshalPublicKey(pub), 0o644); err != nil {
		return nil, err
	}
	return priv, nil
}

func loadOrCreateOrigin(dir, want string) (string, error) {
	p := filepath.Join(dir, configFile)
	var c diskConfig
	if b, err := os.ReadFile(p); err == nil {
		if err := json.Unmarshal(b, &c); err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		if want != "" && want != c.Origin {
			return "", fmt.Errorf("log origin is %q (in %s); it cannot change to %q", c.Origin, p, want)
		}
		return c.Origin, nil
	}
	c.Origin = want
	if c.Origin == "" {
		h, _ := os.Hostname()
		if h == "" {
			h = "localhost"
		}
		c.Origin = "lethe-audit/" + h
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	return c.Origin, writeFileSync(p, append(b, '\n'), 0o644)
}

func writeFileSync(p string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return durable.WriteFile(p, data, mode)
}

// Close records the pending security summary, publishes pending entries,
// closes the log and database and releases the data directory.
func (s *Store) Close(ctx context.Context) error {
	if s.stop != nil {
		s.stop()
		s.bg.Wait()
	}
	var err error
	if s.sec != nil {
		err = s.sec.flush(ctx)
	}
	if e := s.closeLog(ctx); err == nil {
		err = e
	}
	return err
}

func (s *Store) closeLog(ctx context.Context) error {
	err := s.log.Close(ctx)
	if e := s.DB.Close(); err == nil {
		err = e
	}
	s.dirLock.Release()
	return err
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.cfg.Dir }

// ReadOnly reports whether this is a mirror.
func (s *Store) ReadOnly() bool { return s.readOnly }

// Fetcher reads the log's checkpoint, tiles and entry bundles.
func (s *Store) Fetcher() logverify.Fetcher { return s.log.Fetcher() }

// Checkpoint is the log's latest checkpoint, verified.
func (s *Store) Checkpoint(ctx context.Context) (*logverify.Checkpoint, error) {
	return s.log.Checkpoint(ctx)
}

// LogKey is the signed-note key that verifies checkpoints.
func (s *Store) LogKey() string { return s.log.VerifierKey() }

// ServerKey is the public key that countersigns entries.
func (s *Store) ServerKey() ed25519.PublicKey { return s.pub }

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.clock.Store(&now); s.Accounts.SetClock(now) }

func (s *Store) now() time.Time { return (*s.clock.Load())() }

// Actor is who does something, for the audit event.
type Actor struct {
	Name   string
	Remote string
	// Session is the secret of the session acting, if any: a user's own
	// password change keeps it (never logged).
	Session string
}

// maxLeaf is the largest log entry Tessera stores (a bundle prefixes each
// entry with a 16-bit length).
const maxLeaf = 1<<16 - 1

// writable refuses writes to a mirror and to a store whose log failed its
// integrity check.
func (s *Store) writable() error {
	if s.readOnly {
		return ErrReadOnly
	}
	if ie := s.integrity.Load(); ie != nil {
		return ie
	}
	return nil
}

// Record appends an audit event and indexes it. It returns when the event
// is durably in the log.
func (s *Store) Record(ctx context.Context, e *entry.Entry) (uint64, error) {
	if err := s.writable(); err != nil {
		return 0, err
	}
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	e.Bound()
	leaf, err := entry.Sign(e, s.signer)
	if err != nil {
		return 0, err
	}
	if len(leaf) > maxLeaf {
		return 0, fmt.Errorf("log entry %s is %d bytes, more than the log's %d", e.Type, len(leaf), maxLeaf)
	}
	a, err := s.log.Append(ctx, leaf)
	if err != nil {
		return 0, err
	}
	if err := s.indexEntry(ctx, a.Index, e, leaf, nil); err != nil {
		return a.Index, err
	}
	return a.Index, nil
}

// event records an audit event. On a mirror, which has no log of its own,
// the event goes to the process log only.
func (s *Store) event(ctx context.Context, typ string, who Actor, object, result, detail string) error {
	if s.readOnly {
		s.logger.Info("audit event (mirror: not logged)", "type", typ, "subject", who.Name, "object", object, "result", result, "detail", detail, "remote", who.Remote)
		return nil
	}
	_, err := s.Record(ctx, &entry.Entry{Type: typ, Subject: who.Name, Object: object, Result: result, Detail: detail, Remote: who.Remote})
	if err != nil {
		return fmt.Errorf("record audit event %s: %w", typ, err)
	}
	return nil
}

// Event records an audit event (exported for the HTTP layer: logins,
// logouts, refusals).
func (s *Store) Event(ctx context.Context, typ string, who Actor, object, result, detail string) error {
	return s.event(ctx, typ, who, object, result, detail)
}

func (s *Store) lockFor(id string) func() {
	m, _ := s.locks.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
