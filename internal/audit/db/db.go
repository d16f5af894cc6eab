// Package db opens the audit store's relational database: SQLite (the
// embedded default, modernc's pure-Go driver) or MySQL/MariaDB (scale-out),
// and creates the tables. Queries elsewhere stay in the SQL both speak.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Dialect names the SQL engine.
type Dialect string

// Dialects.
const (
	SQLite Dialect = "sqlite"
	MySQL  Dialect = "mysql"
)

// DB is the store's database.
type DB struct {
	*sql.DB
	Dialect Dialect
	locks   *sql.DB // MySQL: the pool for named locks
}

// OpenSQLite opens (creating) a SQLite file in WAL mode. The index is
// derived from the log and rebuilt from it after a crash, so commits need
// not wait for a full fsync (synchronous=NORMAL keeps them atomic).
func OpenSQLite(path string) (*DB, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	d, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// SQLite has one writer; one connection avoids SQLITE_BUSY storms
	// under load and keeps reads consistent with the last write.
	d.SetMaxOpenConns(1)
	db := &DB{DB: d, Dialect: SQLite}
	if err := db.migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenSQLiteReadOnly opens an existing SQLite index to read it, changing
// nothing (offline verification of a backup or a stopped store).
func OpenSQLiteReadOnly(path string) (*sql.DB, error) {
	d, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return d, nil
}

// OpenMySQL opens a MySQL/MariaDB database by DSN (go-sql-driver format).
func OpenMySQL(dsn string) (*DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql DSN: %w", err)
	}
	cfg.ParseTime = true
	d, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	d.SetMaxOpenConns(64)
	// Named locks (GET_LOCK) hold a connection each for as long as they
	// are held; they get their own pool so that they can never take the
	// connections the log needs to make progress.
	l, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		d.Close()
		return nil, err
	}
	l.SetMaxOpenConns(32)
	db := &DB{DB: d, Dialect: MySQL, locks: l}
	if err := db.migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.locks != nil {
		db.locks.Close()
	}
	return db.DB.Close()
}

// namedLock takes a MySQL named lock (GET_LOCK), held by one connection:
// if the process dies, the server drops the connection and the lock with
// it, so a lock never outlives its holder.
func (db *DB) namedLock(ctx context.Context, name string, wait time.Duration) (func(), error) {
	pool := db.locks
	if pool == nil {
		pool = db.DB
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, ?)`, name, int(wait.Seconds())).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if !got.Valid || got.Int64 != 1 {
		conn.Close()
		return nil, fmt.Errorf("lock %s: not granted within %v", name, wait)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT RELEASE_LOCK(?)`, name)
		conn.Close()
	}, nil
}

// NamedLock serializes work across every server sharing a MySQL database
// (name at most 64 characters). On SQLite, which one process owns, it is
// not available: callers use an in-process lock there.
func (db *DB) NamedLock(ctx context.Context, name string, wait time.Duration) (func(), error) {
	if db.Dialect != MySQL {
		return nil, errors.New("named locks need MySQL")
	}
	return db.namedLock(ctx, name, wait)
}

// Counter reads a monotonic counter (0 if unset).
func (db *DB) Counter(ctx context.Context, k string) (uint64, error) {
	var n uint64
	err := db.QueryRowContext(ctx, `SELECT n FROM counters WHERE k = ?`, k).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// RaiseCounter sets a counter to n unless it is already higher: several
// servers may advance it at once, and it never goes back.
func (db *DB) RaiseCounter(ctx context.Context, k string, n uint64) error {
	if _, err := db.ExecContext(ctx, `UPDATE counters SET n = ? WHERE k = ? AND n < ?`, n, k, n); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, `INSERT INTO counters (k, n) VALUES (?, ?)`, k, n)
	if IsDuplicate(err) {
		return nil
	}
	return err
}

// Tables are the tables the store keeps, in an order that can be dropped
// (tests drop them to prove everything is rebuilt from the log).
var Tables = []string{"meta", "counters", "ingest_claims", "certificates", "validations", "events", "station_keys", "agent_keys",
	"enrollment_tokens", "users", "api_tokens", "sessions", "passkeys", "webauthn_ceremonies", "must_change_password"}

func isDuplicateColumn(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1060
	}
	return strings.Contains(err.Error(), "duplicate column name")
}

// IsDuplicate reports a unique-constraint violation.
func IsDuplicate(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// SchemaVersion is the version of the tables this code reads and writes.
const SchemaVersion = 2

// migrate brings the tables to SchemaVersion. Version 1 is the layout of
// the first release (created with IF NOT EXISTS, so a database from before
// versions were recorded is version 1 too); each later version is a list of
// statements applied once, in order. On MySQL several servers may start at
// once: a named lock serializes them.
func (db *DB) migrate(ctx context.Context) error {
	if db.Dialect == MySQL {
		unlock, err := db.namedLock(ctx, "lethe_audit_migrate", time.Minute)
		if err != nil {
			return fmt.Errorf("create tables: %w", err)
		}
		defer unlock()
	}
	r := db.replacer()
	for _, s := range schema {
		if _, err := db.ExecContext(ctx, r.Replace(s)); err != nil {
			return fmt.Errorf("create tables: %w", err)
		}
	}
	for _, s := range indexes {
		// CREATE INDEX IF NOT EXISTS: SQLite and MariaDB (not MySQL 8).
		if _, err := db.ExecContext(ctx, r.Replace(s)); err != nil {
			return fmt.Errorf("create index: %w", err)
		}
	}
	v := 1
	if s, err := db.GetMeta(ctx, "schema_version"); err != nil {
		return err
	} else if s != "" {
		if v, err = strconv.Atoi(s); err != nil {
			return fmt.Errorf("schema_version %q: %w", s, err)
		}
	}
	if v > SchemaVersion {
		return fmt.Errorf("the database has schema version %d; this lethe knows up to %d: run a newer lethe", v, SchemaVersion)
	}
	for ; v < SchemaVersion; v++ {
		for _, s := range migrations[v+1] {
			// A crash in the middle of a migration leaves some columns
			// added: adding them again is not an error.
			if _, err := db.ExecContext(ctx, r.Replace(s)); err != nil && !isDuplicateColumn(err) {
				return fmt.Errorf("migrate tables to version %d: %w", v+1, err)
			}
		}
		if err := db.SetMeta(ctx, "schema_version", strconv.Itoa(v+1)); err != nil {
			return err
		}
	}
	return nil
}

// Columns that are keys need a bounded type on MySQL.
func (db *DB) replacer() *strings.Replacer {
	key, text, blob, big, now := "TEXT", "TEXT", "BLOB", "INTEGER", "CAST(strftime('%s','now') AS INTEGER)"
	if db.Dialect == MySQL {
		key, text, blob, big, now = "VARCHAR(191)", "TEXT", "LONGBLOB", "BIGINT", "UNIX_TIMESTAMP()"
	}
	return strings.NewReplacer("$KEY", key, "$TEXT", text, "$BLOB", blob, "$INT", big, "$NOW", now)
}

// migrations[v] takes the tables from version v-1 to v.
var migrations = map[int][]string{
	2: {
		// API tokens get scopes (what a machine may do within its user's
		// role) and an expiry; a token from before had its user's whole
		// role: it keeps what an operator could do, and expires 90 days
		// after the upgrade.
		`ALTER TABLE api_tokens ADD COLUMN scopes $KEY NOT NULL DEFAULT ''`,
		`UPDATE api_tokens SET scopes = 'submit,read' WHERE scopes = ''`,
		`UPDATE api_tokens SET expires_at = $NOW + 7776000 WHERE expires_at = 0`,
		// Agent keys and unused enrollment tokens can be revoked.
		`ALTER TABLE agent_keys ADD COLUMN revoked_at $INT NOT NULL DEFAULT 0`,
		`ALTER TABLE enrollment_tokens ADD COLUMN revoked_at $INT NOT NULL DEFAULT 0`,
		// Keys and enrollment tokens are log entries; rows from before
		// (logged = 0) are written to the log once, at the next start.
		`ALTER TABLE station_keys ADD COLUMN logged $INT NOT NULL DEFAULT 0`,
		`ALTER TABLE agent_keys ADD COLUMN logged $INT NOT NULL DEFAULT 0`,
		`ALTER TABLE enrollment_tokens ADD COLUMN logged $INT NOT NULL DEFAULT 0`,
		// A certificate is identified by its signed payload, not by the
		// envelope's bytes (filled in for older rows by the store).
		`ALTER TABLE certificates ADD COLUMN payload_sha256 $KEY NOT NULL DEFAULT ''`,
		`CREATE INDEX IF NOT EXISTS cert_payload ON certificates (payload_sha256)`,
		// Monotonic counters shared by several servers (log entries
		// indexed, the last verified checkpoint's size).
		`CREATE TABLE IF NOT EXISTS counters (k $KEY NOT NULL PRIMARY KEY, n $INT NOT NULL)`,
		// A certificate being ingested (MySQL: several servers), so that a
		// server that died between the log append and the index is noticed.
		`CREATE TABLE IF NOT EXISTS ingest_claims (certificate_id $KEY NOT NULL PRIMARY KEY, claimed_at $INT NOT NULL)`,
	},
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS meta (k $KEY NOT NULL PRIMARY KEY, v $TEXT NOT NULL)`,
	// certificates is the search index: one row per accepted certificate,
	// derived from its log entry.
	`CREATE TABLE IF NOT EXISTS certificates (
		log_index $INT NOT NULL PRIMARY KEY,
		certificate_id $KEY NOT NULL UNIQUE,
		envelope_sha256 $KEY NOT NULL UNIQUE,
		status $KEY NOT NULL, category $KEY NOT NULL, technique $KEY NOT NULL,
		drive_serial $KEY NOT NULL, drive_model $KEY NOT NULL, wwn $KEY NOT NULL,
		host_serial $KEY NOT NULL, hostname $KEY NOT NULL, job $KEY NOT NULL,
		operator $KEY NOT NULL, organization $KEY NOT NULL, site $KEY NOT NULL,
		started $INT NOT NULL, ended $INT NOT NULL, received $INT NOT NULL,
		signer_key_id $KEY NOT NULL, signer_kind $KEY NOT NULL, submitter $KEY NOT NULL,
		validation $KEY NOT NULL, validated_by $KEY NOT NULL, validated_at $INT NOT NULL,
		envelope $BLOB NOT NULL, receipt $BLOB NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS validations (
		log_index $INT NOT NULL PRIMARY KEY, certificate_id $KEY NOT NULL, decision $KEY NOT NULL,
		auditor $KEY NOT NULL, comment $TEXT NOT NULL, at $INT NOT NULL)`,
	// events are the audit events (logins, admin actions...), each also an
	// entry in the log.
	`CREATE TABLE IF NOT EXISTS events (
		log_index $INT NOT NULL PRIMARY KEY, at $INT NOT NULL, type $KEY NOT NULL,
		subject $KEY NOT NULL, object $KEY NOT NULL, result $KEY NOT NULL, detail $TEXT NOT NULL, remote $KEY NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS station_keys (
		key_id $KEY NOT NULL PRIMARY KEY, name $KEY NOT NULL, public_key $TEXT NOT NULL,
		added_by $KEY NOT NULL, added_at $INT NOT NULL, revoked_at $INT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS agent_keys (
		key_id $KEY NOT NULL PRIMARY KEY, public_key $TEXT NOT NULL, job $KEY NOT NULL,
		token_id $KEY NOT NULL, registered_at $INT NOT NULL, expires_at $INT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS enrollment_tokens (
		id $KEY NOT NULL PRIMARY KEY, token_hash $KEY NOT NULL UNIQUE, job $KEY NOT NULL,
		created_by $KEY NOT NULL, created_at $INT NOT NULL, expires_at $INT NOT NULL,
		max_uses $INT NOT NULL, uses $INT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS users (
		name $KEY NOT NULL PRIMARY KEY, password_hash $TEXT NOT NULL, role $KEY NOT NULL,
		totp_secret $TEXT NOT NULL, last_totp_step $INT NOT NULL, failed $INT NOT NULL,
		locked_until $INT NOT NULL, disabled $INT NOT NULL, created_at $INT NOT NULL, password_changed_at $INT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS api_tokens (
		id $KEY NOT NULL PRIMARY KEY, token_hash $KEY NOT NULL UNIQUE, name $KEY NOT NULL,
		user_name $KEY NOT NULL, created_at $INT NOT NULL, expires_at $INT NOT NULL, revoked_at $INT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS sessions (
		token_hash $KEY NOT NULL PRIMARY KEY, user_name $KEY NOT NULL, csrf $KEY NOT NULL,
		created_at $INT NOT NULL, expires_at $INT NOT NULL)`,
	// passkeys are auditors' and admins' WebAuthn credentials, derived from
	// their passkey.registered / passkey.revoked log entries.
	`CREATE TABLE IF NOT EXISTS passkeys (
		credential_id $KEY NOT NULL PRIMARY KEY, user_name $KEY NOT NULL, name $KEY NOT NULL,
		public_key $BLOB NOT NULL, sign_count $INT NOT NULL, aaguid $KEY NOT NULL, flags $INT NOT NULL,
		log_index $INT NOT NULL, created_at $INT NOT NULL, revoked_at $INT NOT NULL)`,
	// webauthn_ceremonies hold a started WebAuthn ceremony (its challenge)
	// until the browser answers, so any server behind one database can
	// finish it.
	`CREATE TABLE IF NOT EXISTS webauthn_ceremonies (
		id $KEY NOT NULL PRIMARY KEY, user_name $KEY NOT NULL, kind $KEY NOT NULL,
		data $BLOB NOT NULL, expires_at $INT NOT NULL)`,
	// must_change_password lists accounts whose password an admin (or the
	// first start) set: they must choose their own before doing anything.
	`CREATE TABLE IF NOT EXISTS must_change_password (user_name $KEY NOT NULL PRIMARY KEY)`,
}

var indexes = []string{
	`CREATE INDEX IF NOT EXISTS cert_serial ON certificates (drive_serial)`,
	`CREATE INDEX IF NOT EXISTS cert_wwn ON certificates (wwn)`,
	`CREATE INDEX IF NOT EXISTS cert_host ON certificates (host_serial)`,
	`CREATE INDEX IF NOT EXISTS cert_job ON certificates (job)`,
	`CREATE INDEX IF NOT EXISTS cert_ended ON certificates (ended)`,
	`CREATE INDEX IF NOT EXISTS val_cert ON validations (certificate_id)`,
	`CREATE INDEX IF NOT EXISTS ev_at ON events (at)`,
	`CREATE INDEX IF NOT EXISTS passkey_user ON passkeys (user_name)`,
	`CREATE INDEX IF NOT EXISTS cert_site ON certificates (site)`,
}

// GetMeta reads a meta value ("" if unset).
func (db *DB) GetMeta(ctx context.Context, k string) (string, error) {
	var v string
	err := db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = ?`, k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMeta writes a meta value.
func (db *DB) SetMeta(ctx context.Context, k, v string) error {
	res, err := db.ExecContext(ctx, `UPDATE meta SET v = ? WHERE k = ?`, v, k)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	_, err = db.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES (?, ?)`, k, v)
	if IsDuplicate(err) { // MySQL reports 0 rows affected when v is unchanged
		return nil
	}
	return err
}
