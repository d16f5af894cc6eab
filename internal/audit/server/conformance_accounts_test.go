package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/certtest"
)

func createUser(t *testing.T, e *env, name, pw, role string) *api.User {
	t.Helper()
	u, err := e.admin.CreateUser(context.Background(), api.CreateUserRequest{Name: name, Password: pw, Role: role})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return u
}

func user(t *testing.T, e *env, name string) api.User {
	t.Helper()
	us, err := e.admin.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("no user %s", name)
	return api.User{}
}

// parallel runs f n times at once and returns the errors.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errs
}

// testParallelLockout: failed logins are counted atomically, so parallel
// guesses lock the account (issue 12.1: 15 parallel wrong passwords left
// failedLogins=1, and the right password still logged in after 45).
func testParallelLockout(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	createUser(t, e, "lock-target", "Correct-pw-1", "operator")
	errs := parallel(15, func(int) error {
		_, err := e.anon.Login(ctx, "lock-target", "Wrong-guess-1", "")
		return err
	})
	for _, err := range errs {
		if k := client.Kind(err); k != api.KindBadCredentials && k != api.KindLocked {
			t.Fatalf("wrong password: %v", err)
		}
	}
	u := user(t, e, "lock-target")
	if !u.Locked || u.Failed < 5 {
		t.Fatalf("after 15 parallel wrong passwords: locked %v, %d failed logins counted", u.Locked, u.Failed)
	}
	// 45 more guesses with the right password among them: still locked.
	var in atomic.Int32
	parallel(46, func(i int) error {
		pw := "Wrong-guess-2"
		if i == 23 {
			pw = "Correct-pw-1"
		}
		if _, err := e.anon.Login(ctx, "lock-target", pw, ""); err == nil {
			in.Add(1)
		}
		return nil
	})
	if in.Load() != 0 {
		t.Fatal("the right password logged in while the account was locked")
	}
	_, err := e.anon.Login(ctx, "lock-target", "Correct-pw-1", "")
	wantReject(t, err, http.StatusLocked, api.KindLocked)
	if err := e.admin.UserAction(ctx, "lock-target", "unlock"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.anon.Login(ctx, "lock-target", "Correct-pw-1", ""); err != nil {
		t.Fatalf("after an admin unlocked it: %v", err)
	}
}

// testTOTPOnce: a TOTP code is accepted once, also by parallel logins
// (issue 12.2: 4 parallel logins with one code gave 4 sessions).
func testTOTPOnce(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	u := createUser(t, e, "totp-once", "Auditor-pw-1", "auditor")
	code := nextCode(u.Name, u.TOTPSecret)
	var ok atomic.Int32
	errs := parallel(4, func(int) error {
		_, err := e.anon.Login(ctx, "totp-once", "Auditor-pw-1", code)
		if err == nil {
			ok.Add(1)
		}
		return err
	})
	if ok.Load() != 1 {
		t.Fatalf("%d of 4 parallel logins with one code succeeded: %v", ok.Load(), errs)
	}
}

// testCredentialChangesEndSessions: a password reset, a disable and a role
// change end every session and API token of the account (issue 12.3).
func testCredentialChangesEndSessions(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	for _, change := range []struct {
		name string
		do   func(user string) error
	}{
		{"reset", func(u string) error { return e.admin.SetPassword(ctx, u, "Reset-by-admin-2") }},
		{"disable", func(u string) error { return e.admin.UserAction(ctx, u, "disable") }},
		{"role", func(u string) error { _, err := e.admin.SetRole(ctx, u, "auditor"); return err }},
	} {
		name := "ends-" + change.name
		createUser(t, e, name, "Operator-pw-1", "operator")
		sess := e.login(t, name, "Operator-pw-1", "")
		tok, err := e.admin.CreateAPIToken(ctx, name, "machine")
		if err != nil {
			t.Fatal(err)
		}
		machine := e.anon.WithToken(tok.Token)
		for _, c := range []*client.Client{sess, machine} {
			if err := c.Do(ctx, "GET", "/v1/certificates", nil, nil); err != nil {
				t.Fatalf("%s before the change: %v", change.name, err)
			}
		}
		if err := change.do(name); err != nil {
			t.Fatalf("%s: %v", change.name, err)
		}
		for _, c := range []*client.Client{sess, machine} {
			err := c.Do(ctx, "GET", "/v1/certificates", nil, nil)
			wantReject(t, err, http.StatusUnauthorized, api.KindUnauthorized)
		}
	}
	// Re-enabled, the account logs in again, but its token stays revoked.
	if err := e.admin.UserAction(ctx, "ends-disable", "enable"); err != nil {
		t.Fatal(err)
	}
	e.login(t, "ends-disable", "Operator-pw-1", "")
	// The reset password works and must be changed by its owner.
	res := api.LoginResponse{}
	if err := e.anon.Do(ctx, "POST", "/v1/session", api.LoginRequest{User: "ends-reset", Password: "Reset-by-admin-2"}, &res); err != nil || !res.MustChangePassword {
		t.Fatalf("login after reset: %v, mustChangePassword %v", err, res.MustChangePassword)
	}
}

// testTokenScopes: API tokens carry a scope (submit, read, admin) within
// their user's role, and always expire (issue 12.9).
func testTokenScopes(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	createUser(t, e, "scoped", "Operator-pw-1", "operator")
	read, err := e.admin.CreateAPIToken(ctx, "scoped", "reader")
	if err != nil {
		t.Fatal(err)
	}
	if len(read.Scopes) != 1 || read.Scopes[0] != api.ScopeRead {
		t.Fatalf("default scopes %v, want [read]", read.Scopes)
	}
	if d := time.Until(read.Expires); d < 89*24*time.Hour || d > 91*24*time.Hour {
		t.Fatalf("default token expiry %v from now, want 90 days", d)
	}
	submit, err := e.admin.NewAPIToken(ctx, api.APITokenRequest{User: "scoped", Name: "station", Scopes: []string{api.ScopeSubmit}, TTL: "48h"})
	if err != nil {
		t.Fatal(err)
	}
	pub, key := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "scoped-station", pub); err != nil {
		t.Fatal(err)
	}
	cert := certtest.MustSign(key, certtest.Drive{Serial: "SCOPE-1", Job: "SCOPE"})
	_, err = e.anon.WithToken(read.Token).Submit(ctx, cert)
	wantReject(t, err, http.StatusForbidden, api.KindForbidden)
	if _, err := e.anon.WithToken(submit.Token).Submit(ctx, cert); err != nil {
		t.Fatalf("submit with a submit token: %v", err)
	}
	if err := e.anon.WithToken(read.Token).Do(ctx, "GET", "/v1/certificates?serial=SCOPE-1", nil, nil); err != nil {
		t.Fatalf("read with a read token: %v", err)
	}
	err = e.anon.WithToken(submit.Token).Do(ctx, "GET", "/v1/certificates", nil, nil)
	wantReject(t, err, http.StatusForbidden, api.KindForbidden)
	// An admin's read token is not an admin token.
	adminRead, err := e.admin.CreateAPIToken(ctx, "admin", "admin-reader")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.anon.WithToken(adminRead.Token).Users(ctx)
	wantReject(t, err, http.StatusForbidden, api.KindForbidden)
	adminTok, err := e.admin.NewAPIToken(ctx, api.APITokenRequest{User: "admin", Name: "automation", Scopes: []string{"admin", "read"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.anon.WithToken(adminTok.Token).Users(ctx); err != nil {
		t.Fatalf("admin token: %v", err)
	}
	// Scopes never exceed the role; lifetimes are bounded.
	_, err = e.admin.NewAPIToken(ctx, api.APITokenRequest{User: "scoped", Name: "x", Scopes: []string{"admin"}})
	wantReject(t, err, http.StatusBadRequest, api.KindMalformed)
	_, err = e.admin.NewAPIToken(ctx, api.APITokenRequest{User: "scoped", Name: "x", TTL: "9000h"})
	wantReject(t, err, http.StatusBadRequest, api.KindMalformed)
	_, err = e.admin.NewAPIToken(ctx, api.APITokenRequest{User: "scoped", Name: "x", Scopes: []string{"everything"}})
	wantReject(t, err, http.StatusBadRequest, api.KindMalformed)
	// A validation is a person's act: never with a token.
	createUser(t, e, "token-auditor", "Auditor-pw-1", "auditor")
	at, err := e.admin.NewAPIToken(ctx, api.APITokenRequest{User: "token-auditor", Name: "x", Scopes: []string{"read", "submit"}})
	if err != nil {
		t.Fatal(err)
	}
	var row api.SearchResult
	if err := e.anon.WithToken(read.Token).Do(ctx, "GET", "/v1/certificates?serial=SCOPE-1", nil, &row); err != nil || len(row.Certificates) != 1 {
		t.Fatalf("search: %v", err)
	}
	err = e.anon.WithToken(at.Token).Do(ctx, "POST", "/v1/certificates/"+row.Certificates[0].CertificateID+"/validations", api.ValidationRequest{Decision: "approved"}, nil)
	wantReject(t, err, http.StatusForbidden, api.KindForbidden)
	// Tokens expire.
	short, err := e.admin.NewAPIToken(ctx, api.APITokenRequest{User: "scoped", Name: "short", TTL: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(short.Expires) + 100*time.Millisecond)
	err = e.anon.WithToken(short.Token).Do(ctx, "GET", "/v1/certificates", nil, nil)
	wantReject(t, err, http.StatusUnauthorized, api.KindUnauthorized)
	ts, err := e.admin.APITokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range ts {
		if tk.Expires.IsZero() || len(tk.Scopes) == 0 {
			t.Errorf("token %s without expiry or scope: %+v", tk.ID, tk)
		}
	}
}

// testLastAdmin: the last enabled admin cannot be disabled or demoted
// (issue 12.8: an admin could disable the last admin with no way back),
// and the first admin's credentials file goes once its password changes.
func testLastAdmin(t *testing.T, _ *env, b backend) {
	ctx := context.Background()
	e := newEnv(t, b.config(t)) // a store of its own: it counts admins
	err := e.admin.UserAction(ctx, "admin", "disable")
	wantReject(t, err, http.StatusConflict, api.KindLastAdmin)
	_, err = e.admin.SetRole(ctx, "admin", "operator")
	wantReject(t, err, http.StatusConflict, api.KindLastAdmin)
	second := createUser(t, e, "admin2", "Second-admin-1", "admin")
	admin2 := e.login(t, "admin2", "Second-admin-1", second.TOTPSecret)
	if err := admin2.UserAction(ctx, "admin2", "disable"); err != nil {
		t.Fatal(err) // admin is still there
	}
	err = e.admin.UserAction(ctx, "admin", "disable")
	wantReject(t, err, http.StatusConflict, api.KindLastAdmin)
	if err := e.admin.UserAction(ctx, "admin2", "enable"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.SetRole(ctx, "admin2", "auditor"); err != nil {
		t.Fatal(err)
	}
	if u := user(t, e, "admin2"); u.Role != "auditor" {
		t.Fatalf("admin2 is %s", u.Role)
	}
	// Two admins disabling each other at once: one of them stays.
	if _, err := e.admin.SetRole(ctx, "admin2", "admin"); err != nil {
		t.Fatal(err)
	}
	errs := parallel(2, func(i int) error {
		if i == 0 {
			return e.st.SetUserDisabled(ctx, "admin2", true, store.Actor{Name: "admin"})
		}
		return e.st.SetUserDisabled(ctx, "admin", true, store.Actor{Name: "admin2"})
	})
	if n, err := e.st.Accounts.CountAdmins(ctx); err != nil || n != 1 || (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("two admins disabling each other: %d enabled admins left (%v), errors %v", n, err, errs)
	}
	// initial-admin.json is removed when its password changes (newEnv
	// changed it: the file is gone), and not before.
	if _, err := os.Stat(filepath.Join(e.cfg.Dir, store.InitialAdminFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("initial-admin.json still there after the password changed: %v", err)
	}
	fresh := openEnv(t, b.config(t))
	ia, err := fresh.st.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(fresh.cfg.Dir, store.InitialAdminFile)
	first := fresh.login(t, ia.User, ia.Password, ia.TOTPSecret)
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("initial-admin.json gone before the password changed: %v", err)
	}
	if err := first.Do(ctx, "POST", "/v1/account/password", api.PasswordChange{Old: ia.Password, New: "Changed-by-owner-1"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s still there after the password changed: %v", file, err)
	}
	if u, err := fresh.st.Accounts.Get(ctx, "admin"); err != nil || u.MustChangePassword {
		t.Fatalf("the owner changed the password, yet must change it: %+v %v", u, err)
	}
	// The session that changed it goes on.
	if _, err := first.Users(ctx); err != nil {
		t.Fatalf("the owner's session after the change: %v", err)
	}
}

// testRevokePasskeys: an admin revokes a lost security key (lethe audit
// admin user reset-passkeys uses the same route); the key then signs
// nothing, and what it signed before stays valid.
func testRevokePasskeys(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	pub, key := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "pk-station", pub); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, serial := range []string{"PK-1", "PK-2"} {
		rc, err := e.anon.Submit(ctx, certtest.MustSign(key, certtest.Drive{Serial: serial}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rc.CertificateID)
	}
	u := createUser(t, e, "pk-auditor", "Pk-auditor-pw-1", "auditor")
	auditor := e.login(t, "pk-auditor", "Pk-auditor-pw-1", u.TOTPSecret)
	soft := passkeyOf(t, e, auditor)
	validate(t, auditor, soft, ids[0], "approved", "")
	n, err := e.admin.RevokePasskeys(ctx, "pk-auditor")
	if err != nil || n != 1 {
		t.Fatalf("revoke passkeys: %d, %v", n, err)
	}
	var begin api.Ceremony
	if err := auditor.Do(ctx, "POST", "/v1/certificates/"+ids[1]+"/validations/challenge", api.ValidationRequest{Decision: "approved"}, &begin); err == nil {
		if cred, err := soft.Assert(begin.Options); err == nil {
			if err := auditor.Do(ctx, "POST", "/v1/certificates/"+ids[1]+"/validations", api.SignedValidation{Ceremony: begin.Ceremony, Credential: cred}, nil); err == nil {
				t.Fatal("a revoked passkey signed a validation")
			}
		}
	}
	if n, err := e.admin.RevokePasskeys(ctx, "pk-auditor"); err != nil || n != 0 {
		t.Fatalf("second revocation: %d, %v", n, err)
	}
	var c api.Certificate
	if err := e.admin.Do(ctx, "GET", "/v1/certificates/"+ids[0], nil, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Validations) != 1 || c.Validations[0].Decision != "approved" {
		t.Fatalf("the validation signed before the revocation: %+v", c.Validations)
	}
}
