package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Scopes of an API token (the same names as audit/api's): a token may do
// what its scopes allow and its user's role allows, never more.
const (
	ScopeSubmit = "submit" // submit certificates
	ScopeRead   = "read"   // search and read certificates, events, the log
	ScopeAdmin  = "admin"  // the admin API (admin users only)
)

// Token lifetimes: a token always expires.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 366 * 24 * time.Hour
)

// APIToken describes a machine token (never its secret).
type APIToken struct {
	ID, Name, User   string
	Scopes           []string
	Created, Expires time.Time
	Revoked          bool
}

// Allows reports whether the token's scopes include scope.
func (t *APIToken) Allows(scope string) bool { return slices.Contains(t.Scopes, scope) }

// TokenSpec asks for an API token.
type TokenSpec struct {
	User, Name string
	// Scopes default to read only.
	Scopes []string
	// TTL defaults to DefaultTokenTTL; at most MaxTokenTTL.
	TTL time.Duration
}

// ParseScopes checks scope names (comma-separated entries are split).
func ParseScopes(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			p = strings.TrimSpace(p)
			switch p {
			case "":
				continue
			case ScopeSubmit, ScopeRead, ScopeAdmin:
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			default:
				return nil, &InputError{fmt.Sprintf("token scope %q: want submit, read or admin", Truncate(p, 40))}
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func validTokenName(n string) error {
	ok := n != "" && len(n) <= 64
	for _, r := range n {
		if !unicode.IsPrint(r) {
			ok = false
		}
	}
	if !ok {
		return &InputError{fmt.Sprintf("token name %q: 1-64 printable characters", Truncate(n, 80))}
	}
	return nil
}

// CreateAPIToken issues a token for a user's machine, with scopes within
// the user's role and an expiry. The secret is returned once and stored
// only as a hash.
func (a *Accounts) CreateAPIToken(ctx context.Context, spec TokenSpec) (string, *APIToken, error) {
	u, err := a.Get(ctx, spec.User)
	if err != nil {
		return "", nil, err
	}
	if u.Disabled {
		return "", nil, &InputError{fmt.Sprintf("user %s is disabled", spec.User)}
	}
	if err := validTokenName(spec.Name); err != nil {
		return "", nil, err
	}
	scopes, err := ParseScopes(spec.Scopes)
	if err != nil {
		return "", nil, err
	}
	if len(scopes) == 0 {
		scopes = []string{ScopeRead}
	}
	if slices.Contains(scopes, ScopeAdmin) && u.Role != Admin {
		return "", nil, &InputError{fmt.Sprintf("scope admin: user %s has role %s, not admin", u.Name, u.Role)}
	}
	ttl := spec.TTL
	switch {
	case ttl == 0:
		ttl = DefaultTokenTTL
	case ttl < 0 || ttl > MaxTokenTTL:
		return "", nil, &InputError{fmt.Sprintf("token lifetime %v: want up to %v (a token always expires)", ttl, MaxTokenTTL)}
	}
	tok := Secret("lapi_")
	t := &APIToken{ID: HashToken(tok)[:12], Name: spec.Name, User: spec.User, Scopes: scopes, Created: a.now().UTC()}
	t.Expires = t.Created.Add(ttl)
	_, err = a.db.ExecContext(ctx, `INSERT INTO api_tokens (id, token_hash, name, user_name, created_at, expires_at, revoked_at, scopes) VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
		t.ID, HashToken(tok), t.Name, t.User, t.Created.Unix(), t.Expires.Unix(), strings.Join(scopes, ","))
	if err != nil {
		return "", nil, err
	}
	return tok, t, nil
}

// APITokenUser authenticates a bearer token.
func (a *Accounts) APITokenUser(ctx context.Context, tok string) (*User, *APIToken, error) {
	var t APIToken
	var created, exp, revoked int64
	var scopes string
	err := a.db.QueryRowContext(ctx, `SELECT id, name, user_name, created_at, expires_at, revoked_at, scopes FROM api_tokens WHERE token_hash = ?`, HashToken(tok)).
		Scan(&t.ID, &t.Name, &t.User, &created, &exp, &revoked, &scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrBadToken
	}
	if err != nil {
		return nil, nil, err
	}
	if revoked != 0 || (exp != 0 && a.now().Unix() >= exp) {
		return nil, nil, ErrBadToken
	}
	u, err := a.Get(ctx, t.User)
	if err != nil || u.Disabled {
		return nil, nil, ErrBadToken
	}
	t.Created, t.Expires = time.Unix(created, 0), time.Unix(exp, 0)
	t.Scopes = splitScopes(scopes)
	return u, &t, nil
}

func splitScopes(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// RevokeAPIToken revokes a token by ID.
func (a *Accounts) RevokeAPIToken(ctx context.Context, id string) error {
	res, err := a.db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, a.now().Unix(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrBadToken
	}
	return nil
}

// ListAPITokens lists tokens.
func (a *Accounts) ListAPITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := a.db.QueryContext(ctx, `SELECT id, name, user_name, created_at, expires_at, revoked_at, scopes FROM api_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		var t APIToken
		var c, e, r int64
		var scopes string
		if err := rows.Scan(&t.ID, &t.Name, &t.User, &c, &e, &r, &scopes); err != nil {
			return nil, err
		}
		t.Created, t.Revoked, t.Scopes = time.Unix(c, 0), r != 0, splitScopes(scopes)
		if e != 0 {
			t.Expires = time.Unix(e, 0)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
