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
	"unicode/utf8"

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
	// ErrLastAdmin refuses a change that would leave no enabled admin:
	// nobody could then manage the store from the web or the API.
	ErrLastAdmin = errors.New("this is the last enabled admin account: make another admin first")
)

// InputError is a request the account rules refuse (a bad name, scope,
// lifetime).
type InputError struct{ Reason string }

func (e *InputError) Error() string { return e.Reason }

// PolicyError says why a password is not accepted.
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return "password policy: " + e.Reason }

// CheckPassword enforces the password policy: at least 8 characters of at
// least 3 kinds (lower case, upper case, digits, other).
func CheckPassword(pw string) error {
	if len([]rune(pw)) < 8 {
		return &PolicyError{"at least 8 characters"}
	}
	if len(pw) > MaxPasswordBytes {
		// bcrypt reads only the first 72 bytes; a longer password would
		// silently be a shorter one.
		return &PolicyError{fmt.Sprintf("at most %d bytes", MaxPasswordBytes)}
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

// MaxPasswordBytes is the longest password bcrypt can check (it reads 72
// bytes).
const MaxPasswordBytes = 72

// MaxNameBytes is the longest user name.
const MaxNameBytes = 64

// User is an account.
type User struct {
	Name        string
	Role        Role
	TOTPSecret  string // empty when the role needs none
	Failed      int
	LockedUntil time.Time
	Disabled    bool
	Created     time.Time
	// MustChangePassword is set while the password is one somebody else
	// chose (the first admin's, an admin's reset).
	MustChangePassword bool
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

// ValidName checks a user name: 1-64 bytes of printable characters
// without spaces, '/' or ':'.
func ValidName(n string) error {
	ok := n != "" && len(n) <= MaxNameBytes && utf8.ValidString(n)
	for _, r := range n {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '/' || r == ':' {
			ok = false
		}
	}
	if !ok {
		return &InputError{fmt.Sprintf("user name %q: 1-%d characters without spaces, '/' or ':'", Truncate(n, 80), MaxNameBytes)}
	}
	return nil
}

// Truncate cuts s for display in an error or event.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Create adds a user. Admins and auditors get a TOTP secret, returned in
// the User for enrolment in an authenticator app.
func (a *Accounts) Create(ctx context.Context, name, password string, role Role) (*User, error) {
	if err := ValidName(name); err != nil {
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
	return getUser(ctx, a.db, name)
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getUser(ctx context.Context, q queryer, name string) (*User, string, int64, error) {
	var u User
	var hash, role string
	var locked, created, lastStep int64
	var disabled, mustChange int
	err := q.QueryRowContext(ctx, `SELECT name, password_hash, role, totp_secret, last_totp_step, failed, locked_until, disabled, created_at,
		(SELECT COUNT(*) FROM must_change_password m WHERE m.user_name = users.name) FROM users WHERE name = ?`, name).
		Scan(&u.Name, &hash, &role, &u.TOTPSecret, &lastStep, &u.Failed, &locked, &disabled, &created, &mustChange)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", 0, ErrNotFound
	}
	if err != nil {
		return nil, "", 0, err
	}
	u.Role, u.Disabled, u.MustChangePassword = Role(role), disabled != 0, mustChange != 0
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
//
// Every step that must hold under concurrent logins is one atomic
// statement in the database (SQLite and MySQL alike), never a read
// followed by a write of the value read:
//
//   - an attempt is counted before the password is checked, so N parallel
//     guesses count N, and attempts beyond the limit are refused without a
//     check (the account locks);
//   - success is a compare-and-set that requires the account to be still
//     unlocked and, with TOTP, the code's time step to be later than the
//     last one accepted: of several parallel logins with one code, one
//     wins (RFC 6238 §5.2).
func (a *Accounts) Authenticate(ctx context.Context, name, password, code string) (LoginResult, error) {
	return a.authenticate(ctx, name, password, code, nil)
}

// authenticate is Authenticate; a non-nil passkey replaces the TOTP code
// as the second factor (see AuthenticatePasskey).
func (a *Accounts) authenticate(ctx context.Context, name, password, code string, passkey func(*User) error) (LoginResult, error) {
	now := a.now()
	if ValidName(name) != nil {
		return LoginResult{Reason: "invalid user name"}, ErrBadCredentials
	}
	if len(password) > 1024 {
		return LoginResult{Reason: "password too long"}, ErrBadCredentials
	}
	u, hash, lastStep, err := a.reserveAttempt(ctx, name, now)
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
	switch {
	case u.Disabled:
		res.Reason = "account disabled"
		return res, ErrBadCredentials
	case u.Locked(now):
		res.Reason = "account locked"
		return res, ErrLocked
	case u.Failed > a.policy.MaxFailures:
		// More attempts at once than the lockout allows: this one is
		// not even checked.
		res.Reason = "too many attempts"
		return a.lockNow(ctx, res, now)
	}
	fail := func(reason string) (LoginResult, error) {
		res.Reason = reason
		if u.Failed >= a.policy.MaxFailures {
			return a.lockNow(ctx, res, now)
		}
		return res, ErrBadCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return fail("wrong password")
	}
	var step int64
	useTOTP := u.Role.NeedsTOTP() && passkey == nil
	if u.Role.NeedsTOTP() && passkey != nil {
		if err := passkey(u); err != nil {
			return fail("passkey: " + err.Error())
		}
	} else if useTOTP {
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
	q := `UPDATE users SET failed = 0, locked_until = 0 WHERE name = ? AND disabled = 0 AND locked_until <= ?`
	args := []any{name, now.UnixNano()}
	if useTOTP {
		q = `UPDATE users SET failed = 0, locked_until = 0, last_totp_step = ? WHERE name = ? AND disabled = 0 AND locked_until <= ? AND last_totp_step < ?`
		args = []any{step, name, now.UnixNano(), step}
	}
	r, err := a.db.ExecContext(ctx, q, args...)
	if err != nil {
		return res, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		u.Failed = 0
		return res, nil
	}
	// Someone else changed the account while the password was checked.
	cur, _, _, err := a.get(ctx, name)
	switch {
	case err != nil:
		return res, err
	case cur.Disabled:
		res.Reason = "account disabled"
		return res, ErrBadCredentials
	case cur.Locked(now):
		res.Reason = "account locked while the password was checked"
		return res, ErrLocked
	}
	return fail("one-time code already used")
}

// reserveAttempt counts a login attempt before it is checked, in one
// transaction: the increment (which restarts at 1 when an earlier lock has
// expired) and the read of the account as it now is. A locked or disabled
// account is not counted.
func (a *Accounts) reserveAttempt(ctx context.Context, name string, now time.Time) (*User, string, int64, error) {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, "", 0, err
	}
	defer tx.Rollback()
	t := now.UnixNano()
	// Both SET expressions read the old row on SQLite; MySQL evaluates
	// them left to right, so failed comes first while locked_until still
	// holds its old value.
	if _, err := tx.ExecContext(ctx, `UPDATE users SET
			failed = CASE WHEN locked_until <> 0 THEN 1 ELSE failed + 1 END,
			locked_until = 0
		WHERE name = ? AND disabled = 0 AND locked_until <= ?`, name, t); err != nil {
		return nil, "", 0, err
	}
	u, hash, step, err := getUser(ctx, tx, name)
	if err != nil {
		return nil, "", 0, err
	}
	return u, hash, step, tx.Commit()
}

// lockNow locks the account unless it is locked already; LockedNow says
// whether this call locked it (one event per lockout).
func (a *Accounts) lockNow(ctx context.Context, res LoginResult, now time.Time) (LoginResult, error) {
	until := now.Add(a.policy.LockFor)
	r, err := a.db.ExecContext(ctx, `UPDATE users SET locked_until = ? WHERE name = ? AND locked_until <= ?`, until.UnixNano(), res.User.Name, now.UnixNano())
	if err != nil {
		return res, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		res.LockedNow = true
		res.User.LockedUntil = until
	}
	return res, ErrLocked
}

// ResetPassword sets a password chosen by somebody else (an admin, the
// host's admin command): the owner must change it, and every session and
// API token of the account ends, whoever held them.
func (a *Accounts) ResetPassword(ctx context.Context, name, password string) error {
	return a.setPassword(ctx, name, password, true, "")
}

// ChangePassword is the owner's own change: it ends every other session
// of the account (keep names the session to keep, by its secret; empty
// ends all). API tokens, which are the machines' own credentials, stay.
func (a *Accounts) ChangePassword(ctx context.Context, name, password, keep string) error {
	return a.setPassword(ctx, name, password, false, keep)
}

func (a *Accounts) setPassword(ctx context.Context, name, password string, reset bool, keep string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	if err := a.update(ctx, `UPDATE users SET password_hash = ?, password_changed_at = ?, failed = 0, locked_until = 0 WHERE name = ?`,
		string(hash), a.now().Unix(), name); err != nil {
		return err
	}
	if err := a.SetMustChangePassword(ctx, name, reset); err != nil {
		return err
	}
	if err := a.EndSessions(ctx, name, keep); err != nil {
		return err
	}
	if reset {
		return a.RevokeTokensOf(ctx, name)
	}
	return nil
}

// SetRole changes an account's role; it ends the account's sessions and
// API tokens (they were granted under the old role), refuses to demote
// the last enabled admin, and returns a new TOTP secret when the new role
// needs one the account lacks.
func (a *Accounts) SetRole(ctx context.Context, name string, role Role) (string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", &InputError{err.Error()}
	}
	var secret string
	err := a.adminGuarded(ctx, name, role != Admin, func(tx *sql.Tx, u *User) error {
		q, args := `UPDATE users SET role = ? WHERE name = ?`, []any{string(role), name}
		if role.NeedsTOTP() && u.TOTPSecret == "" {
			secret = totp.NewSecret()
			q, args = `UPDATE users SET role = ?, totp_secret = ?, last_totp_step = 0 WHERE name = ?`, []any{string(role), secret, name}
		}
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return "", err
	}
	if err := a.EndSessions(ctx, name, ""); err != nil {
		return "", err
	}
	return secret, a.RevokeTokensOf(ctx, name)
}

// adminGuarded runs change on account name in a transaction that first
// locks every admin row: when removes is set and name is the last
// enabled admin, it refuses with ErrLastAdmin. Two admins disabling each
// other at once cannot both succeed.
func (a *Accounts) adminGuarded(ctx context.Context, name string, removes bool, change func(*sql.Tx, *User) error) error {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q := `SELECT name, disabled FROM users WHERE role = 'admin' ORDER BY name`
	if a.db.Dialect == db.MySQL {
		q += ` FOR UPDATE`
	}
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	others := 0
	for rows.Next() {
		var n string
		var disabled int
		if err := rows.Scan(&n, &disabled); err != nil {
			rows.Close()
			return err
		}
		if n != name && disabled == 0 {
			others++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	u, _, _, err := getUser(ctx, tx, name)
	if err != nil {
		return err
	}
	if removes && u.Role == Admin && !u.Disabled && others == 0 {
		return fmt.Errorf("%s: %w", name, ErrLastAdmin)
	}
	if err := change(tx, u); err != nil {
		return err
	}
	return tx.Commit()
}

// EndSessions ends the sessions of an account, except keep (a session
// secret; empty for none).
func (a *Accounts) EndSessions(ctx context.Context, name, keep string) error {
	_, err := a.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_name = ? AND token_hash <> ?`, name, HashToken(keep))
	return err
}

// RevokeTokensOf revokes every API token of an account.
func (a *Accounts) RevokeTokensOf(ctx context.Context, name string) error {
	_, err := a.db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE user_name = ? AND revoked_at = 0`, a.now().Unix(), name)
	return err
}

// CountAdmins counts enabled admin accounts.
func (a *Accounts) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0`).Scan(&n)
	return n, err
}

// Unlock clears the failure count and lock.
func (a *Accounts) Unlock(ctx context.Context, name string) error {
	return a.update(ctx, `UPDATE users SET failed = 0, locked_until = 0 WHERE name = ?`, name)
}

// SetDisabled disables or re-enables an account (accounts are never
// deleted: the events naming them must stay meaningful). Disabling ends
// the account's sessions and API tokens, and is refused for the last
// enabled admin.
func (a *Accounts) SetDisabled(ctx context.Context, name string, disabled bool) error {
	v := 0
	if disabled {
		v = 1
	}
	err := a.adminGuarded(ctx, name, disabled, func(tx *sql.Tx, _ *User) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE name = ?`, v, name)
		return err
	})
	if err != nil || !disabled {
		return err
	}
	if err := a.EndSessions(ctx, name, ""); err != nil {
		return err
	}
	return a.RevokeTokensOf(ctx, name)
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
