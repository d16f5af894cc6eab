package accounts

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/internal/audit/totp"
	"golang.org/x/crypto/bcrypt"

	"github.com/lethe-project/lethe/internal/audit/db"
)

// AuthenticatePasskey is Authenticate with a passkey (WebAuthn) as the
// second factor instead of a TOTP code: verify is called with the account
// once the password is right and must check the assertion. A failed
// assertion counts towards the lockout like a wrong code.
func (a *Accounts) AuthenticatePasskey(ctx context.Context, name, password string, verify func(*User) error) (LoginResult, error) {
	if verify == nil {
		return LoginResult{}, errors.New("no passkey check")
	}
	return a.authenticate(ctx, name, password, "", verify)
}

// Passkey is a registered WebAuthn credential of an account. The log
// entry at LogIndex (passkey.registered) is the authoritative record;
// this row is derived from it.
type Passkey struct {
	CredentialID []byte
	User         string
	Name         string
	PublicKey    []byte // COSE_Key, as the authenticator sent it
	SignCount    uint32
	AAGUID       string
	// Flags are the authenticator data flags at registration (WebAuthn
	// §6.1: UP, UV, BE, BS); BE must not change later.
	Flags    byte
	LogIndex uint64
	Created  time.Time
	Revoked  bool
}

// ErrNoPasskey is returned for an unknown or revoked credential.
var ErrNoPasskey = errors.New("no such passkey")

// Passkeys lists a user's credentials, revoked ones included, oldest first.
func (a *Accounts) Passkeys(ctx context.Context, user string) ([]Passkey, error) {
	rows, err := a.db.QueryContext(ctx, `SELECT credential_id, user_name, name, public_key, sign_count, aaguid, flags, log_index, created_at, revoked_at
		FROM passkeys WHERE user_name = ? ORDER BY log_index`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// ActivePasskeys lists a user's credentials that are not revoked.
func (a *Accounts) ActivePasskeys(ctx context.Context, user string) ([]Passkey, error) {
	all, err := a.Passkeys(ctx, user)
	if err != nil {
		return nil, err
	}
	var out []Passkey
	for _, p := range all {
		if !p.Revoked {
			out = append(out, p)
		}
	}
	return out, nil
}

// GetPasskey reads one active credential of user.
func (a *Accounts) GetPasskey(ctx context.Context, user string, id []byte) (*Passkey, error) {
	row := a.db.QueryRowContext(ctx, `SELECT credential_id, user_name, name, public_key, sign_count, aaguid, flags, log_index, created_at, revoked_at
		FROM passkeys WHERE credential_id = ? AND user_name = ?`, credKey(id), user)
	p, err := scanPasskey(row)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && p.Revoked) {
		return nil, ErrNoPasskey
	}
	return p, err
}

// UpdateSignCount stores an authenticator's signature counter after an
// assertion (a counter that goes backwards hints at a cloned key; the
// WebAuthn library reports that).
func (a *Accounts) UpdateSignCount(ctx context.Context, id []byte, count uint32) error {
	_, err := a.db.ExecContext(ctx, `UPDATE passkeys SET sign_count = ? WHERE credential_id = ?`, count, credKey(id))
	return err
}

func scanPasskey(sc interface{ Scan(...any) error }) (*Passkey, error) {
	var p Passkey
	var id string
	var count, flags, idx, created, revoked int64
	if err := sc.Scan(&id, &p.User, &p.Name, &p.PublicKey, &count, &p.AAGUID, &flags, &idx, &created, &revoked); err != nil {
		return nil, err
	}
	raw, err := credBytes(id)
	if err != nil {
		return nil, err
	}
	p.CredentialID, p.SignCount, p.Flags, p.LogIndex = raw, uint32(count), byte(flags), uint64(idx)
	p.Created, p.Revoked = time.Unix(created, 0).UTC(), revoked != 0
	return &p, nil
}

// MustChangePassword reports whether the account's password was set by
// someone else (the first start, or an admin) and not yet changed by its
// owner.
func (a *Accounts) MustChangePassword(ctx context.Context, user string) (bool, error) {
	var n int
	err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM must_change_password WHERE user_name = ?`, user).Scan(&n)
	return n > 0, err
}

// SetMustChangePassword marks or clears the account's obligation to
// choose its own password.
func (a *Accounts) SetMustChangePassword(ctx context.Context, user string, must bool) error {
	if !must {
		_, err := a.db.ExecContext(ctx, `DELETE FROM must_change_password WHERE user_name = ?`, user)
		return err
	}
	_, err := a.db.ExecContext(ctx, `INSERT INTO must_change_password (user_name) VALUES (?)`, user)
	if db.IsDuplicate(err) {
		return nil
	}
	return err
}

// ResetTOTP gives the account a new TOTP secret (a lost authenticator
// app) and returns it; codes of the old secret stop working.
func (a *Accounts) ResetTOTP(ctx context.Context, name string) (string, error) {
	u, err := a.Get(ctx, name)
	if err != nil {
		return "", err
	}
	if !u.Role.NeedsTOTP() {
		return "", &InputError{Reason: fmt.Sprintf("%s is an %s and logs in without a one-time code", name, u.Role)}
	}
	secret := newTOTPSecret()
	if err := a.update(ctx, `UPDATE users SET totp_secret = ?, last_totp_step = 0 WHERE name = ?`, secret, name); err != nil {
		return "", err
	}
	// Whoever holds the lost authenticator may hold a session too.
	return secret, a.EndSessions(ctx, name, "")
}

func newTOTPSecret() string { return totp.NewSecret() }

// credKey is how a credential ID is stored: unpadded base64url (at most
// 171 characters for the 128-byte IDs the registration accepts).
func credKey(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

func credBytes(k string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(k) }

// SaveCeremony keeps a started WebAuthn ceremony's state until the browser
// answers (at most until expires).
func (a *Accounts) SaveCeremony(ctx context.Context, id, user, kind string, data []byte, expires time.Time) error {
	_, _ = a.db.ExecContext(ctx, `DELETE FROM webauthn_ceremonies WHERE expires_at < ?`, a.now().Unix())
	_, err := a.db.ExecContext(ctx, `INSERT INTO webauthn_ceremonies (id, user_name, kind, data, expires_at) VALUES (?, ?, ?, ?, ?)`,
		id, user, kind, data, expires.Unix())
	return err
}

// ErrNoCeremony is returned for an unknown, finished or expired ceremony.
var ErrNoCeremony = errors.New("passkey request expired or already used; try again")

// TakeCeremony returns a ceremony's state and forgets it: each challenge
// is answered once.
func (a *Accounts) TakeCeremony(ctx context.Context, id, user, kind string) ([]byte, error) {
	var data []byte
	var exp int64
	err := a.db.QueryRowContext(ctx, `SELECT data, expires_at FROM webauthn_ceremonies WHERE id = ? AND user_name = ? AND kind = ?`, id, user, kind).Scan(&data, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoCeremony
	}
	if err != nil {
		return nil, err
	}
	res, err := a.db.ExecContext(ctx, `DELETE FROM webauthn_ceremonies WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 || a.now().Unix() > exp {
		return nil, ErrNoCeremony // a concurrent finish took it, or it is stale
	}
	return data, nil
}

// CheckCurrentPassword checks an account's password without counting a
// failure (the caller already holds a session of that account: this is a
// re-confirmation, e.g. before a password change).
func (a *Accounts) CheckCurrentPassword(ctx context.Context, name, password string) (bool, error) {
	_, hash, _, err := a.get(ctx, name)
	if err != nil {
		return false, err
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil, nil
}
