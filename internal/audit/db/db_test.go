package db

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMigrateFromVersion1: a database made by the first release (no
// schema_version, version 1 tables) is brought to the current version:
// API tokens get scopes and an expiry 90 days after the upgrade, keys and
// tokens are marked as not yet logged; migrating again changes nothing.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "index.db")
	raw, err := sql.Open("sqlite", "file:"+p)
	if err != nil {
		t.Fatal(err)
	}
	r := (&DB{Dialect: SQLite}).replacer()
	for _, s := range schema {
		if _, err := raw.Exec(r.Replace(s)); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-400 * 24 * time.Hour).Unix()
	for _, q := range []string{
		`INSERT INTO api_tokens (id, token_hash, name, user_name, created_at, expires_at, revoked_at) VALUES ('t1', 'h1', 'n', 'u', ?, 0, 0)`,
		`INSERT INTO station_keys (key_id, name, public_key, added_by, added_at, revoked_at) VALUES ('k1', 'n', 'pem', 'a', ?, 0)`,
	} {
		if _, err := raw.Exec(q, old); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	for range 2 {
		d, err := OpenSQLite(p)
		if err != nil {
			t.Fatal(err)
		}
		var scopes string
		var exp int64
		if err := d.QueryRowContext(ctx, `SELECT scopes, expires_at FROM api_tokens WHERE id = 't1'`).Scan(&scopes, &exp); err != nil {
			t.Fatal(err)
		}
		if scopes != "submit,read" || time.Until(time.Unix(exp, 0)) < 89*24*time.Hour {
			t.Fatalf("old token: scopes %q, expires %v", scopes, time.Unix(exp, 0))
		}
		var logged int
		if err := d.QueryRowContext(ctx, `SELECT logged FROM station_keys WHERE key_id = 'k1'`).Scan(&logged); err != nil || logged != 0 {
			t.Fatalf("old station key: logged %d, %v", logged, err)
		}
		if v, _ := d.GetMeta(ctx, "schema_version"); v != "2" {
			t.Fatalf("schema_version %q", v)
		}
		d.Close()
	}
	// A database from a newer lethe is refused.
	d, _ := OpenSQLite(p)
	d.SetMeta(ctx, "schema_version", "99")
	d.Close()
	if _, err := OpenSQLite(p); err == nil || !strings.Contains(err.Error(), "newer lethe") {
		t.Fatalf("a newer schema: %v", err)
	}
}
