package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/totp"
	"github.com/lethe-project/lethe/internal/durable"
)

// InitialAdmin is the first account, created on first start and written
// to initial-admin.json (mode 0600) in the data directory. The file is
// removed as soon as that account's password changes (or the account is
// disabled): it must not keep a valid password on disk.
type InitialAdmin struct {
	User       string `json:"user"`
	Password   string `json:"password"`
	TOTPSecret string `json:"totpSecret"`
	TOTPURI    string `json:"totpUri"`
}

// InitialAdminFile is where Bootstrap writes the first admin's credentials.
const InitialAdminFile = "initial-admin.json"

// ErrAccountsLost says that the index knows of accounts created earlier
// (their events are in the log) but holds none: the index was lost and
// rebuilt from the log, which never holds passwords. The store does not
// silently make a new admin then: create one on the host with
// `lethe audit admin user create`.
var ErrAccountsLost = errors.New("the index was rebuilt from the log, which holds no accounts: create an admin on the store's host with `lethe audit admin --data DIR user create NAME --role admin`")

// Bootstrap creates the first admin when the store has never had an
// account. It never overwrites an existing credentials file.
func (s *Store) Bootstrap(ctx context.Context) (*InitialAdmin, error) {
	n, err := s.Accounts.Count(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	if !s.readOnly {
		var created int
		if err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE type = ? AND result = ?`,
			entry.TypeAdmin+".user.create", entry.ResultSuccess).Scan(&created); err != nil {
			return nil, err
		}
		if created > 0 {
			return nil, ErrAccountsLost
		}
	}
	pw := accounts.Secret("Aa1-")
	u, err := s.Accounts.Create(ctx, "admin", pw, accounts.Admin)
	if errors.Is(err, accounts.ErrExists) {
		return nil, nil // another server sharing the database made it
	}
	if err != nil {
		return nil, err
	}
	ia := &InitialAdmin{User: u.Name, Password: pw, TOTPSecret: u.TOTPSecret, TOTPURI: totp.URI("lethe-audit", u.Name, u.TOTPSecret)}
	b, _ := json.MarshalIndent(ia, "", "  ")
	if err := durable.WriteNew(filepath.Join(s.cfg.Dir, InitialAdminFile), append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("first admin: %w (a stale %s is in the way: remove it)", err, InitialAdminFile)
	}
	if err := s.Accounts.SetMustChangePassword(ctx, u.Name, true); err != nil {
		return nil, err
	}
	return ia, s.event(ctx, entry.TypeAdmin+".user.create", Actor{Name: "server"}, "user:admin", entry.ResultSuccess, "initial admin account (role admin)")
}

// retireInitialAdmin removes initial-admin.json once the password in it
// no longer works for its account.
func (s *Store) retireInitialAdmin(name string) {
	p := filepath.Join(s.cfg.Dir, InitialAdminFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	var ia InitialAdmin
	if json.Unmarshal(b, &ia) == nil && ia.User == name {
		if err := durable.Remove(p); err != nil {
			s.logger.Error("audit store: remove "+p, "err", err)
		}
	}
}

// InitialAdminPending reports whether initial-admin.json still exists.
func (s *Store) InitialAdminPending() bool {
	_, err := os.Stat(filepath.Join(s.cfg.Dir, InitialAdminFile))
	return err == nil
}

// Login authenticates and starts a session, recording the login and the
// lockout as audit events; failures are recorded within the bounds of
// SecurityConfig, and attempts beyond the rate limits are refused
// (ErrRateLimited) and only counted.
func (s *Store) Login(ctx context.Context, name, password, code, remote string) (string, *accounts.Session, error) {
	return s.login(ctx, name, remote, "TOTP", func() (accounts.LoginResult, error) {
		return s.Accounts.Authenticate(ctx, name, password, code)
	})
}

// login runs one authentication (password and a second factor) within
// the rate limits, records failures, lockouts and the login, and starts
// the session.
func (s *Store) login(ctx context.Context, name, remote, factor string, authenticate func() (accounts.LoginResult, error)) (string, *accounts.Session, error) {
	who := Actor{Name: name, Remote: remote}
	if err := s.limit("login", remote, name); err != nil {
		s.sec.countOnly(entry.TypeLoginFailed, who, "rate limited")
		return "", nil, err
	}
	res, err := authenticate()
	if err != nil {
		if !errors.Is(err, accounts.ErrBadCredentials) && !errors.Is(err, accounts.ErrLocked) {
			return "", nil, err
		}
		if rerr := s.sec.record(ctx, entry.TypeLoginFailed, who, "session", entry.ResultFailure, res.Reason); rerr != nil {
			return "", nil, rerr
		}
		if res.LockedNow {
			if rerr := s.event(ctx, entry.TypeLocked, Actor{Name: "server", Remote: remote}, "user:"+name, entry.ResultSuccess,
				fmt.Sprintf("%d failed logins; locked until %s", s.Accounts.Policy().MaxFailures, res.User.LockedUntil.UTC().Format(time.RFC3339))); rerr != nil {
				return "", nil, rerr
			}
		}
		return "", nil, err
	}
	tok, sess, err := s.Accounts.NewSession(ctx, res.User)
	if err != nil {
		return "", nil, err
	}
	detail := "password"
	if res.User.Role.NeedsTOTP() {
		detail = "password + " + factor
	}
	return tok, sess, s.event(ctx, entry.TypeLogin, who, "session", entry.ResultSuccess, detail)
}

// Logout ends a session.
func (s *Store) Logout(ctx context.Context, tok string, who Actor) error {
	if err := s.Accounts.EndSession(ctx, tok); err != nil {
		return err
	}
	return s.event(ctx, entry.TypeLogout, who, "session", entry.ResultSuccess, "")
}

// admin records an admin action's outcome, success or failure.
func (s *Store) admin(ctx context.Context, action string, who Actor, object string, err error, detail string) error {
	result := entry.ResultSuccess
	if err != nil {
		result, detail = entry.ResultFailure, err.Error()
	}
	if rerr := s.event(ctx, entry.TypeAdmin+"."+action, who, object, result, detail); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// CreateUser adds an account.
func (s *Store) CreateUser(ctx context.Context, name, password string, role accounts.Role, who Actor) (*accounts.User, error) {
	u, err := s.Accounts.Create(ctx, name, password, role)
	return u, s.admin(ctx, "user.create", who, "user:"+name, err, "role "+string(role))
}

// UnlockUser clears a lockout.
func (s *Store) UnlockUser(ctx context.Context, name string, who Actor) error {
	return s.admin(ctx, "user.unlock", who, "user:"+name, s.Accounts.Unlock(ctx, name), "")
}

// SetUserDisabled disables or enables an account. Disabling ends its
// sessions and API tokens and is refused for the last enabled admin.
func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool, who Actor) error {
	act := "user.enable"
	if disabled {
		act = "user.disable"
	}
	err := s.Accounts.SetDisabled(ctx, name, disabled)
	if err == nil && disabled {
		s.retireInitialAdmin(name)
	}
	return s.admin(ctx, act, who, "user:"+name, err, "")
}

// SetPassword sets a password: the owner's own change when who is the
// account itself (ChangeOwnPassword), else an admin's reset
// (ResetPassword).
func (s *Store) SetPassword(ctx context.Context, name, password string, who Actor) error {
	if who.Name == name {
		return s.ChangeOwnPassword(ctx, name, password, who)
	}
	return s.ResetPassword(ctx, name, password, who)
}

// ResetPassword is a password set by somebody else (an admin, the host's
// admin command): it ends every session and API token of the account,
// and its owner must choose their own at the next login.
func (s *Store) ResetPassword(ctx context.Context, name, password string, who Actor) error {
	err := s.Accounts.ResetPassword(ctx, name, password)
	if err == nil {
		s.retireInitialAdmin(name)
	}
	return s.admin(ctx, "user.password", who, "user:"+name, err, "reset by an admin: sessions and API tokens ended; to be changed by its owner")
}

// ChangeOwnPassword is a user choosing their own password: every other
// session of the account ends (who.Session, the one in use, stays), the
// obligation to change it is cleared, and for the first admin the
// first-start credentials file goes.
func (s *Store) ChangeOwnPassword(ctx context.Context, name, password string, who Actor) error {
	err := s.Accounts.ChangePassword(ctx, name, password, who.Session)
	if err == nil {
		s.retireInitialAdmin(name)
	}
	return s.admin(ctx, "user.password", who, "user:"+name, err, "changed by its owner: other sessions ended")
}

// SetRole changes an account's role: it ends the account's sessions and
// API tokens and is refused for the last enabled admin. A role that needs
// TOTP gets a secret if the account had none (returned once).
func (s *Store) SetRole(ctx context.Context, name string, role accounts.Role, who Actor) (string, error) {
	secret, err := s.Accounts.SetRole(ctx, name, role)
	return secret, s.admin(ctx, "user.role", who, "user:"+name, err, "role "+string(role)+"; sessions and API tokens ended")
}

// CreateAPIToken issues a machine token for a user.
func (s *Store) CreateAPIToken(ctx context.Context, spec accounts.TokenSpec, who Actor) (string, *accounts.APIToken, error) {
	tok, t, err := s.Accounts.CreateAPIToken(ctx, spec)
	obj := "api-token"
	detail := fmt.Sprintf("for user %s: %s", spec.User, spec.Name)
	if t != nil {
		obj += ":" + t.ID
		detail += fmt.Sprintf(" (scopes %v, expires %s)", t.Scopes, t.Expires.Format(time.RFC3339))
	}
	return tok, t, s.admin(ctx, "token.create", who, obj, err, detail)
}

// RevokeAPIToken revokes a machine token.
func (s *Store) RevokeAPIToken(ctx context.Context, id string, who Actor) error {
	return s.admin(ctx, "token.revoke", who, "api-token:"+id, s.Accounts.RevokeAPIToken(ctx, id), "")
}
