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
)

// InitialAdmin is the first account, created on first start and written
// to initial-admin.json (mode 0600) in the data directory.
type InitialAdmin struct {
	User       string `json:"user"`
	Password   string `json:"password"`
	TOTPSecret string `json:"totpSecret"`
	TOTPURI    string `json:"totpUri"`
}

// InitialAdminFile is where Bootstrap writes the first admin's credentials.
const InitialAdminFile = "initial-admin.json"

// Bootstrap creates the first admin when there are no accounts.
func (s *Store) Bootstrap(ctx context.Context) (*InitialAdmin, error) {
	n, err := s.Accounts.Count(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	pw := accounts.Secret("Aa1-")
	u, err := s.Accounts.Create(ctx, "admin", pw, accounts.Admin)
	if err != nil {
		return nil, err
	}
	ia := &InitialAdmin{User: u.Name, Password: pw, TOTPSecret: u.TOTPSecret, TOTPURI: totp.URI("lethe-audit", u.Name, u.TOTPSecret)}
	b, _ := json.MarshalIndent(ia, "", "  ")
	if err := writeFileSync(filepath.Join(s.cfg.Dir, InitialAdminFile), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	if err := s.Accounts.SetMustChangePassword(ctx, u.Name, true); err != nil {
		return nil, err
	}
	return ia, s.event(ctx, entry.TypeAdmin+".user.create", Actor{Name: "server"}, "user:admin", entry.ResultSuccess, "initial admin account (role admin)")
}

// Login authenticates and starts a session, recording the login, the
// failure, or the lockout as audit events.
func (s *Store) Login(ctx context.Context, name, password, code, remote string) (string, *accounts.Session, error) {
	who := Actor{Name: name, Remote: remote}
	res, err := s.Accounts.Authenticate(ctx, name, password, code)
	if err != nil {
		if !errors.Is(err, accounts.ErrBadCredentials) && !errors.Is(err, accounts.ErrLocked) {
			return "", nil, err
		}
		if rerr := s.event(ctx, entry.TypeLoginFailed, who, "session", entry.ResultFailure, res.Reason); rerr != nil {
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
		detail = "password + TOTP"
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
		return rerr
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

// SetUserDisabled disables or enables an account.
func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool, who Actor) error {
	act := "user.enable"
	if disabled {
		act = "user.disable"
	}
	return s.admin(ctx, act, who, "user:"+name, s.Accounts.SetDisabled(ctx, name, disabled), "")
}

// SetPassword changes a password (an admin resetting, or a user's own).
func (s *Store) SetPassword(ctx context.Context, name, password string, who Actor) error {
	return s.admin(ctx, "user.password", who, "user:"+name, s.Accounts.SetPassword(ctx, name, password), "")
}

// CreateAPIToken issues a machine token for a user.
func (s *Store) CreateAPIToken(ctx context.Context, user, name string, ttl time.Duration, who Actor) (string, *accounts.APIToken, error) {
	tok, t, err := s.Accounts.CreateAPIToken(ctx, user, name, ttl)
	obj := "api-token"
	if t != nil {
		obj += ":" + t.ID
	}
	return tok, t, s.admin(ctx, "token.create", who, obj, err, fmt.Sprintf("for user %s: %s", user, name))
}

// RevokeAPIToken revokes a machine token.
func (s *Store) RevokeAPIToken(ctx context.Context, id string, who Actor) error {
	return s.admin(ctx, "token.revoke", who, "api-token:"+id, s.Accounts.RevokeAPIToken(ctx, id), "")
}

// RemoveInitialAdminFile deletes the first-start credentials file once
// the admin has changed the password.
func (s *Store) RemoveInitialAdminFile() {
	_ = os.Remove(filepath.Join(s.cfg.Dir, InitialAdminFile))
}
