package accounts

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/totp"
)

func TestPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"Short1!", false},      // 7 characters
		{"alllowercase", false}, // one kind
		{"lowerUPPER", false},   // two kinds
		{"lowerUPPER1", true},   // three kinds
		{"lower123!!", true},    // lower, digit, other
		{"ÜBERgroß12", true},    // unicode letters count
		{"12345678", false},     // digits only
		{"Passwort-ohne", true}, // upper, lower, other
	} {
		err := CheckPassword(tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.pw, err)
		}
	}
}

func newAccounts(t *testing.T) (*Accounts, *time.Time) {
	d, err := db.OpenSQLite(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	a := New(d, Policy{MaxFailures: 3, LockFor: time.Minute, SessionTTL: time.Hour})
	now := time.Unix(1_800_000_000, 0)
	a.SetClock(func() time.Time { return now })
	return a, &now
}

func TestLoginLockoutAndTOTP(t *testing.T) {
	ctx := context.Background()
	a, now := newAccounts(t)
	u, err := a.Create(ctx, "alice", "Correct-horse1", Admin)
	if err != nil {
		t.Fatal(err)
	}
	if u.TOTPSecret == "" {
		t.Fatal("admin has no TOTP secret")
	}
	if _, err := a.Create(ctx, "alice", "Correct-horse1", Admin); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := a.Create(ctx, "bob", "weak", Operator); err == nil {
		t.Fatal("weak password accepted")
	}
	code := func() string { c, _ := totp.Code(u.TOTPSecret, *now); return c }

	// Password without code: refused for an admin.
	if r, err := a.Authenticate(ctx, "alice", "Correct-horse1", ""); !errors.Is(err, ErrBadCredentials) || r.Reason != "no one-time code" {
		t.Fatalf("no code: %+v %v", r, err)
	}
	if _, err := a.Authenticate(ctx, "alice", "Correct-horse1", code()); err != nil {
		t.Fatal(err)
	}
	// The same code again is a replay.
	if r, err := a.Authenticate(ctx, "alice", "Correct-horse1", code()); err == nil || r.Reason != "one-time code already used" {
		t.Fatalf("replayed code: %+v %v", r, err)
	}
	*now = now.Add(totp.Step)
	// Failures lock the account; then even the right password is refused.
	a.Authenticate(ctx, "alice", "wrong", "")
	r, err := a.Authenticate(ctx, "alice", "wrong", "")
	if !errors.Is(err, ErrLocked) || !r.LockedNow {
		t.Fatalf("third failure (with the replay) should lock: %+v %v", r, err)
	}
	if _, err := a.Authenticate(ctx, "alice", "Correct-horse1", code()); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked account let in: %v", err)
	}
	*now = now.Add(2 * time.Minute)
	if _, err := a.Authenticate(ctx, "alice", "Correct-horse1", code()); err != nil {
		t.Fatalf("after the lock expired: %v", err)
	}
	// Operators need no second factor.
	if _, err := a.Create(ctx, "op", "Operator-pw1", Operator); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "op", "Operator-pw1", ""); err != nil {
		t.Fatal(err)
	}
	if r, err := a.Authenticate(ctx, "nobody", "x", ""); !errors.Is(err, ErrBadCredentials) || r.Reason != "unknown user" {
		t.Fatalf("unknown user: %+v %v", r, err)
	}
}

func TestSessionsAndAPITokens(t *testing.T) {
	ctx := context.Background()
	a, now := newAccounts(t)
	u, _ := a.Create(ctx, "op", "Operator-pw1", Operator)
	tok, _, err := a.NewSession(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := a.Session(ctx, tok); err != nil || s.User.Name != "op" {
		t.Fatalf("session: %v", err)
	}
	api, info, err := a.CreateAPIToken(ctx, TokenSpec{User: "op", Name: "station-1", TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := a.APITokenUser(ctx, api); err != nil || got.Name != "op" {
		t.Fatalf("api token: %v", err)
	}
	*now = now.Add(90 * time.Minute)
	if _, err := a.Session(ctx, tok); !errors.Is(err, ErrBadToken) {
		t.Fatal("expired session accepted")
	}
	if err := a.RevokeAPIToken(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.APITokenUser(ctx, api); !errors.Is(err, ErrBadToken) {
		t.Fatal("revoked token accepted")
	}
	if _, _, err := a.APITokenUser(ctx, "lapi_forged"); !errors.Is(err, ErrBadToken) {
		t.Fatal("forged token accepted")
	}
}
