// Package db opens the audit store's relational database: SQLite (the
// embedded default, modernc's pure-Go driver) or MySQL/MariaDB (scale-out),
// and creates the tables. Queries elsewhere stay in the SQL both speak.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
		d.Close()
		return nil, err
	}
	return db, nil
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
	db := &DB{DB: d, Dialect: MySQL}
	if err := db.migrate(context.Background()); err != nil {
		d.Close()
		return nil, err
	}
	return db, nil
}

// IsDuplicate reports a unique-constraint violation.
func IsDuplicate(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// Columns that are keys need a bounded type on MySQL.
func (db *DB) migrate(ctx context.Context) error {
	key, text, blob, big := "TEXT", "TEXT", "BLOB", "INTEGER"
	if db.Dialect == MySQL {
		key, text, blob, big = "VARCHAR(191)", "TEXT", "LONGBLOB", "BIGINT"
	}
	r := strings.NewReplacer("$KEY", key, "$TEXT", text, "$BLOB", blob, "$INT", big)
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
	return nil
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
