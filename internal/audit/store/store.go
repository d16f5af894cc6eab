// Package store is the audit store: it accepts signed certificates into a
// transparency log, keeps a searchable index of them, records auditors'
// validations and every security-relevant event as further log entries,
// and never deletes or changes an entry.
package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lethe-project/lethe/sign"

	"github.com/transparency-dev/tessera"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/tlog"
	"github.com/lethe-project/lethe/internal/durable"
)

// Config says where the store keeps its data.
type Config struct {
	// Dir holds keys, and for the embedded default also the log (log/)
	// and the index (index.db).
	Dir string
	// MySQLDSN, when set, puts the log and the index in MySQL/MariaDB
	// (scale-out): several servers with the same keys share one database.
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
}

// Store is an open audit store.
type Store struct {
	cfg      Config
	DB       *db.DB
	log      *tlog.Log
	Accounts *accounts.Accounts
	key      ed25519.PrivateKey
	signer   sign.Signer
	origin   string
	now      func() time.Time

	locks sync.Map // certificate ID -> *sync.Mutex: one ingest per certificate at a time
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
)

// Open opens or initializes the store in cfg.Dir.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("store: no data directory")
	}
	if cfg.AgentKeyTTL == 0 {
		cfg.AgentKeyTTL = 7 * 24 * time.Hour
	}
	if cfg.Policy.MaxFailures == 0 {
		cfg.Policy = accounts.DefaultPolicy
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "keys"), 0o700); err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(cfg.Dir)
	if err != nil {
		return nil, err
	}
	origin, err := loadOrCreateOrigin(cfg.Dir, cfg.Origin)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, key: key, signer: sign.KeySigner{Key: key}, origin: origin, now: time.Now}

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
	s.log, err = tlog.Open(ctx, driver, tlog.Options{Origin: origin, Key: key, CheckpointInterval: interval})
	if err != nil {
		s.DB.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, vkeyFile), []byte(s.log.VerifierKey()+"\n"), 0o644); err != nil {
		s.Close(ctx)
		return nil, err
	}
	s.Accounts = accounts.New(s.DB, cfg.Policy)
	if _, err := s.log.WaitCheckpoint(ctx); err != nil {
		s.Close(ctx)
		return nil, err
	}
	if err := s.reconcile(ctx); err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("rebuild index from the log: %w", err)
	}
	return s, nil
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

// Close publishes pending entries and closes the log and database.
func (s *Store) Close(ctx context.Context) error {
	err := s.log.Close(ctx)
	if e := s.DB.Close(); err == nil {
		err = e
	}
	return err
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.cfg.Dir }

// Log is the transparency log.
func (s *Store) Log() *tlog.Log { return s.log }

// LogKey is the signed-note key that verifies checkpoints.
func (s *Store) LogKey() string { return s.log.VerifierKey() }

// ServerKey is the public key that countersigns entries.
func (s *Store) ServerKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now; s.Accounts.SetClock(now) }

// Actor is who does something, for the audit event.
type Actor struct {
	Name   string
	Remote string
}

// Record appends an audit event and indexes it. It returns when the event
// is durably in the log.
func (s *Store) Record(ctx context.Context, e *entry.Entry) (uint64, error) {
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	leaf, err := entry.Sign(e, s.signer)
	if err != nil {
		return 0, err
	}
	a, err := s.log.Append(ctx, leaf)
	if err != nil {
		return 0, err
	}
	if err := s.indexEntry(ctx, s.DB, a.Index, e, leaf, nil); err != nil {
		return a.Index, err
	}
	return a.Index, nil
}

// event is shorthand for recording an event whose failure to record is
// itself reported: the action stands, but the caller learns the log is
// unwell.
func (s *Store) event(ctx context.Context, typ string, who Actor, object, result, detail string) error {
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
