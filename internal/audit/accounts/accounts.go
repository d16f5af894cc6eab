// Package accounts manages the audit store's people and machines: users
// with roles, the password policy, lockout after failed logins, TOTP as the
// second factor for admins and auditors, browser sessions, and API tokens.
// It decides; the caller records each decision as an audit event.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/totp"
)

// Role is what an account may do.
type Role string

// Roles.
const (
	// Operator reads and submits certificates.
	Operator Role = "operator"
	// Auditor reads certificates and validates or rejects them.
	Auditor Role = "auditor"
	// Admin manages accounts, keys and tokens.
	Admin Role = "admin"
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Operator, Auditor, Admin:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want operator, auditor or admin", s)
}

// NeedsTOTP reports whether the role must log in with a second factor.
func (r Role) NeedsTOTP() bool { return r == Admin || r == Auditor }

// Policy is the lockout policy.
type Policy struct {
	MaxFailures int           // failed logins before the account locks
	LockFor     time.Duration // how long it stays locked
	SessionTTL  time.Duration
}

// DefaultPolicy locks an account for 15 minutes after 5 failed logins.
var DefaultPolicy = Policy{MaxFailures: 5, LockFor: 15 * time.Minute, SessionTTL: 8 * time.Hour}

// Errors callers branch on. Login failures deliberately say no more than
// ErrBadCredentials to the client; the audit event records the reason.
var (
	ErrBadCredentials = errors.New("wrong user name, password or one-time code")
	ErrLocked         = errors.New("account locked after repeated failed logins; try later or ask an admin")
	ErrTOTPRequired   = errors.New("a one-time code from the authenticator app is required")
	ErrExists         = errors.New("account already exists")
	ErrNotFound       = errors.New("no such account")
	ErrBadToken       = errors.New("invalid, expired or revoked token")
)

// PolicyError says why a password is not accepted.
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return "password policy: " + e.Reason }

// CheckPassword enforces the password policy: at least 8 characters of at
// least 3 kinds (lower case, upper case, digits, other).
func CheckPassword(pw string) error {
	if len([]rune(pw)) < 8 {
		return &PolicyError{"at least 8 characters"}
	}
	var lower, upper, digit, other int
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			other = 1
		}
	}
	if lower+upper+digit+other < 3 {
		return &PolicyError{"use at least 3 of: lower case, upper case, digits, other characters"}
	}
	return nil
}

// User is an account.
type User struct {
	Name        string
	Role        Role
	TOTPSecret  string // empty when the role needs none
	Failed      int
	LockedUntil time.Time
	Disabled    bool
	Created     time.Time
}

// Locked reports whether the account is locked at t.
func (u *User) Locked(t time.Time) bool { return t.Before(u.LockedUntil) }

var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)
	return h
})

// Accounts is the account database.
type Accounts struct {
	db     *db.DB
	policy Policy
	now    func() time.Time
}

// New uses the tables of d.
func New(d *db.DB, p Policy) *Accounts {
	return &Accounts{db: d, policy: p, now: time.Now}
}

// SetClock replaces the clock (tests).
func (a *Accounts) SetClock(now func() time.Time) { a.now = now }

// Policy returns the lockout policy.
func (a *Accounts) Policy() Policy { return a.policy }

func validName(n string) error {
	if n == "" || len(n) > 64 || strings.ContainsAny(n, " \t\n/:") {
		return fmt.Errorf("user name %q: 1-64 characters without spaces, '/' or ':'", n)
	}
	return nil
}

// Create adds a user. Admins and auditors get a TOTP secret, returned in
// the User for enrolment in an authenticator app.
func (a *Accounts) Create(ctx context.Context, name, password string, role Role) (*User, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	u := &User{Name: name, Role: role, Created: a.now().UTC()}
	if role.NeedsTOTP() {
		u.TOTPSecret = totp.NewSecret()
	}
	_, err = a.db.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, totp_secret, last_totp_step, failed, locked_until, disabled, created_at, password_changed_at)
		VALUES (?, ?, ?, ?, 0, 0, 0, 0, ?, ?)`, name, string(hash), string(role), u.TOTPSecret, u.Created.Unix(), u.Created.Unix())
	if db.IsDuplicate(err) {
		return nil, fmt.Errorf("%s: %w", name, ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// Count is the number of accounts.
func (a *Accounts) Count(ctx context.Context) (int, error) {
	var n int
	err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// Get reads a user.
func (a *Accounts) Get(ctx context.Context, name string) (*User, error) {
	u, _, _, err := a.get(ctx, name)
	return u, err
}

func (a *Accounts) get(ctx context.Context, name string) (*User, string, int64, error) {
	var u User
	var hash, role string
	var locked, created, lastStep int64
	var disabled int
	err := a.db.QueryRowContext(ctx, `SELECT name, password_hash, role, totp_secret, last_totp_step, failed, locked_until, disabled, created_at FROM users WHERE name = ?`, name).
		Scan(&u.Name, &hash, &role, &u.TOTPSecret, &lastStep, &u.Failed, &locked, &disabled, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", 0, ErrNotFound
	}
	if err != nil {
		return nil, "", 0, err
	}
	u.Role, u.Disabled = Role(role), disabled != 0
	u.LockedUntil, u.Created = time.Unix(0, locked), time.Unix(created, 0)
	return &u, hash, lastStep, nil
}

// List lists all users.
func (a *Accounts) List(ctx context.Context) ([]User, error) {
	rows, err := a.db.QueryContext(ctx, `SELECT name FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	var out []User
	for _, n := range names {
		u, err := a.Get(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// LoginResult tells the caller what happened, for the audit event.
type LoginResult struct {
	User *User
	// Reason is the precise cause of a failure (for the event log only).
	Reason string
	// LockedNow is set when this failure locked the account.
	LockedNow bool
}

// Authenticate checks a password and, for roles that need it, a TOTP
// code. Failures count towards the lockout; a locked account is refused
// even with the right password. A TOTP code is accepted once only.
func (a *Accounts) Authenticate(ctx context.Context, name, password, code string) (LoginResult, error) {
	return a.authenticate(ctx, name, password, code, nil)
}

// authenticate is Authenticate; a non-nil passkey replaces the TOTP code
// as the second factor (see AuthenticatePasskey).
func (a *Accounts) authenticate(ctx context.Context, name, password, code string, passkey func(*User) error) (LoginResult, error) {
	now := a.now()
	u, hash, lastStep, err := a.get(ctx, name)
	if errors.Is(err, ErrNotFound) {
		// Spend the time a real check would, so timing does not reveal
		// which names exist.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return LoginResult{Reason: "unknown user"}, ErrBadCredentials
	}
	if err != nil {
		return LoginResult{}, err
	}
	res := LoginResult{User: u}
	if u.Disabled {
		res.Reason = "account disabled"
		return res, ErrBadCredentials
	}
	if u.Locked(now) {
		res.Reason = "account locked"
		return res, ErrLocked
	}
	fail := func(reason string) (LoginResult, error) {
		res.Reason = reason
		u.Failed++
		locked := int64(0)
		if u.Failed >= a.policy.MaxFailures {
			u.LockedUntil = now.Add(a.policy.LockFor)
			locked = u.LockedUntil.UnixNano()
			res.LockedNow = true
		}
		if _, err := a.db.ExecContext(ctx, `UPDATE users SET failed = ?, locked_until = ? WHERE name = ?`, u.Failed, locked, name); err != nil {
			return res, err
		}
		if res.LockedNow {
			return res, ErrLocked
		}
		return res, ErrBadCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return fail("wrong password")
	}
	step := lastStep
	if u.Role.NeedsTOTP() && passkey != nil {
		if err := passkey(u); err != nil {
			return fail("passkey: " + err.Error())
		}
	} else if u.Role.NeedsTOTP() {
		if code == "" {
			return fail("no one-time code")
		}
		n, ok := totp.Validate(u.TOTPSecret, strings.TrimSpace(code), now)
		switch {
		case !ok:
			return fail("wrong one-time code")
		case int64(n) <= lastStep:
			return fail("one-time code already used")
		}
		step = int64(n)
	}
	u.Failed = 0
	_, err = a.db.ExecContext(ctx, `UPDATE users SET failed = 0, locked_until = 0, last_totp_step = ? WHERE name = ?`, step, name)
	return res, err
}

// SetPassword changes a password (policy applies).
func (a *Accounts) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	return a.update(ctx, `UPDATE users SET password_hash = ?, password_changed_at = ? WHERE name = ?`, string(hash), a.now().Unix(), name)
}

// Unlock clears the failure count and lock.
func (a *Accounts) Unlock(ctx context.Context, name string) error {
	return a.update(ctx, `UPDATE users SET failed = 0, locked_until = 0 WHERE name = ?`, name)
}

// SetDisabled disables or re-enables an account (accounts are never
// deleted: the events naming them must stay meaningful).
func (a *Accounts) SetDisabled(ctx context.Context, name string, disabled bool) error {
	v := 0
	if disabled {
		v = 1
	}
	if err := a.update(ctx, `UPDATE users SET disabled = ? WHERE name = ?`, v, name); err != nil {
		return err
	}
	if disabled {
		_, err := a.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_name = ?`, name)
		return err
	}
	return nil
}

func (a *Accounts) update(ctx context.Context, q string, args ...any) error {
	res, err := a.db.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := a.Get(ctx, args[len(args)-1].(string)); err != nil {
			return err
		}
	}
	return nil
}

// Secret makes a random token with a recognizable prefix.
func Secret(prefix string) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is how tokens are stored: only their SHA-256.
func HashToken(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// Session is a logged-in browser or API session.
type Session struct {
	User    *User
	CSRF    string
	Expires time.Time
}

// NewSession starts a session for an authenticated user and returns its
// secret (for a cookie or bearer header).
func (a *Accounts) NewSession(ctx context.Context, u *User) (string, *Session, error) {
	tok := Secret("lses_")
	s := &Session{User: u, CSRF: Secret(""), Expires: a.now().Add(a.policy.SessionTTL)}
	_, err := a.db.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		HashToken(tok), u.Name, s.CSRF, a.now().Unix(), s.Expires.Unix())
	return tok, s, err
}

// Session looks up a live session.
func (a *Accounts) Session(ctx context.Context, tok string) (*Session, error) {
	var name, csrf string
	var exp int64
	err := a.db.QueryRowContext(ctx, `SELECT user_name, csrf, expires_at FROM sessions WHERE token_hash = ?`, HashToken(tok)).Scan(&name, &csrf, &exp)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && a.now().Unix() >= exp) {
		return nil, ErrBadToken
	}
	if err != nil {
		return nil, err
	}
	u, err := a.Get(ctx, name)
	if err != nil || u.Disabled {
		return nil, ErrBadToken
	}
	return &Session{User: u, CSRF: csrf, Expires: time.Unix(exp, 0)}, nil
}

// EndSession logs out.
func (a *Accounts) EndSession(ctx context.Context, tok string) error {
	_, err := a.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, HashToken(tok))
	return err
}

// APIToken describes a machine token (never its secret).
type APIToken struct {
	ID, Name, User   string
	Created, Expires time.Time
	Revoked          bool
}

// CreateAPIToken issues a token for a user's machine; ttl 0 means no
// expiry. The secret is returned once and stored only as a hash.
func (a *Accounts) CreateAPIToken(ctx context.Context, user, name string, ttl time.Duration) (string, *APIToken, error) {
	if _, err := a.Get(ctx, user); err != nil {
		return "", nil, err
	}
	tok := Secret("lapi_")
	t := &APIToken{ID: HashToken(tok)[:12], Name: name, User: user, Created: a.now().UTC()}
	exp := int64(0)
	if ttl > 0 {
		t.Expires = t.Created.Add(ttl)
		exp = t.Expires.Unix()
	}
	_, err := a.db.ExecContext(ctx, `INSERT INTO api_tokens (id, token_hash, name, user_name, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, 0)`,
		t.ID, HashToken(tok), name, user, t.Created.Unix(), exp)
	if err != nil {
		return "", nil, err
	}
	return tok, t, nil
}

// APITokenUser authenticates a bearer token.
func (a *Accounts) APITokenUser(ctx context.Context, tok string) (*User, *APIToken, error) {
	var t APIToken
	var created, exp, revoked int64
	err := a.db.QueryRowContext(ctx, `SELECT id, name, user_name, created_at, expires_at, revoked_at FROM api_tokens WHERE token_hash = ?`, HashToken(tok)).
		Scan(&t.ID, &t.Name, &t.User, &created, &exp, &revoked)
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
	t.Created = time.Unix(created, 0)
	return u, &t, nil
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
	rows, err := a.db.QueryContext(ctx, `SELECT id, name, user_name, created_at, expires_at, revoked_at FROM api_tokens ORDER BY created_at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		var t APIToken
		var c, e, r int64
		if err := rows.Scan(&t.ID, &t.Name, &t.User, &c, &e, &r); err != nil {
			return nil, err
		}
		t.Created, t.Revoked = time.Unix(c, 0), r != 0
		if e != 0 {
			t.Expires = time.Unix(e, 0)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
