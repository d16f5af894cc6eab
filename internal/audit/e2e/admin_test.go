package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/totp"
	"github.com/lethe-project/lethe/sign"
)

var (
	passwordRE = regexp.MustCompile(`password \(shown once[^)]*\): (\S+)`)
	secretRE   = regexp.MustCompile(`TOTP secret for \S+ \(.*\): (\S+)`)
	tokenRE    = regexp.MustCompile(`(?m)^(l(?:api|enr)_\S+)$`)
)

func match(t *testing.T, re *regexp.Regexp, out string) string {
	t.Helper()
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("%s not in:\n%s", re, out)
	}
	return m[1]
}

func codeNow(secret string) string {
	c, _ := totp.Code(secret, time.Now())
	return c
}

// TestAdminCommands: `lethe audit admin` on the store's host manages
// users (create, reset a lost password or TOTP device, disable, enable,
// roles), station keys, agent keys, enrollment and API tokens — through
// the running store's admin socket, and by opening a stopped store's data
// directory — and each action is a log entry naming the host user (issue
// 12.8, issue 13.4).
func TestAdminCommands(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	data := filepath.Join(work, "audit")
	srv := startServer(t, data, "--backup-interval", "0")
	admin := func(args ...string) string {
		return mustRun(t, append([]string{"audit", "admin", "--data", data}, args...)...)
	}
	anon := srv.client(t, "")

	out := admin("user", "create", "audrey", "--role", "auditor")
	pw, secret := match(t, passwordRE, out), match(t, secretRE, out)
	if _, err := anon.Login(ctx, "audrey", pw, codeNow(secret)); err != nil {
		t.Fatalf("login with the password and TOTP secret admin printed: %v", err)
	}
	// A lost authenticator: a new secret; the old one no longer works.
	newSecret := match(t, secretRE, admin("user", "reset-totp", "audrey"))
	if _, err := anon.Login(ctx, "audrey", pw, codeNow(secret)); client.Kind(err) != api.KindBadCredentials {
		t.Fatalf("the old TOTP secret after reset: %v", err)
	}
	if _, err := anon.Login(ctx, "audrey", pw, codeNow(newSecret)); err != nil {
		t.Fatalf("the new TOTP secret: %v", err)
	}
	// A lost security key: every passkey of the account revoked (none
	// registered here; the conformance suite revokes a real one).
	if out := admin("user", "reset-passkeys", "audrey"); !strings.Contains(out, "audrey: 0 passkey(s) revoked") {
		t.Fatalf("reset-passkeys:\n%s", out)
	}
	// A lost password.
	pw = match(t, passwordRE, admin("user", "create", "olivia", "--role", "operator"))
	pw2 := match(t, passwordRE, admin("user", "reset-password", "olivia"))
	if _, err := anon.Login(ctx, "olivia", pw, ""); client.Kind(err) != api.KindBadCredentials {
		t.Fatalf("the old password after reset: %v", err)
	}
	if _, err := anon.Login(ctx, "olivia", pw2, ""); err != nil {
		t.Fatalf("the reset password: %v", err)
	}
	// The last admin stays; another account can be disabled and enabled.
	if out, rc := run(t, "audit", "admin", "--data", data, "user", "disable", "admin"); rc != 2 || !strings.Contains(out, "last enabled admin") {
		t.Fatalf("disable the last admin: exit %d\n%s", rc, out)
	}
	admin("user", "disable", "audrey")
	if out := admin("user", "list"); !regexp.MustCompile(`audrey\s+auditor\s+disabled`).MatchString(out) {
		t.Fatalf("user list:\n%s", out)
	}
	admin("user", "enable", "audrey")
	admin("user", "set-role", "audrey", "operator")

	// Station keys.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pubFile := filepath.Join(work, "station.pub")
	os.WriteFile(pubFile, sign.MarshalPublicKey(pub), 0o644)
	id := sign.KeyID(pub)
	admin("station-key", "add", "bench-7", pubFile)
	if out := admin("station-key", "list"); !strings.Contains(out, id) || !strings.Contains(out, "trusted") {
		t.Fatalf("station-key list:\n%s", out)
	}
	admin("station-key", "revoke", id)
	// Enrollment tokens and agent keys.
	tok := match(t, tokenRE, admin("enrollment-token", "mint", "--job", "J-CLI", "--uses", "2"))
	agentPub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := anon.Enroll(ctx, tok, agentPub); err != nil {
		t.Fatal(err)
	}
	out = admin("enrollment-token", "list", "--json")
	if !strings.Contains(out, `"job": "J-CLI"`) || !strings.Contains(out, `"uses": 1`) {
		t.Fatalf("enrollment-token list:\n%s", out)
	}
	tokID := match(t, regexp.MustCompile(`"id": "(\w+)"`), out)
	admin("enrollment-token", "revoke", tokID)
	admin("agent-key", "revoke", sign.KeyID(agentPub))
	if out := admin("agent-key", "list"); !strings.Contains(out, "J-CLI") || !strings.Contains(out, "revoked") {
		t.Fatalf("agent-key list:\n%s", out)
	}
	// API tokens.
	apiTok := match(t, tokenRE, admin("api-token", "mint", "--user", "audrey", "--name", "reporting", "--scope", "read", "--ttl", "24h"))
	if err := srv.client(t, apiTok).Do(ctx, "GET", "/v1/certificates", nil, nil); err != nil {
		t.Fatalf("the minted token: %v", err)
	}
	if out := admin("api-token", "list"); !regexp.MustCompile(`reporting\s+audrey\s+read`).MatchString(out) {
		t.Fatalf("api-token list:\n%s", out)
	}
	listed := admin("api-token", "list", "--json")
	apiTokID := match(t, regexp.MustCompile(`"id": "(\w+)",\s+"name": "reporting"`), listed)
	admin("api-token", "revoke", apiTokID)
	if err := srv.client(t, apiTok).Do(ctx, "GET", "/v1/certificates", nil, nil); client.Kind(err) != api.KindUnauthorized {
		t.Fatalf("a revoked token: %v", err)
	}

	// The store stopped: the same commands open the data directory.
	srv.stop(t)
	admin("user", "create", "olga", "--role", "operator")
	if out := admin("user", "list"); !strings.Contains(out, "olga") {
		t.Fatalf("user list of a stopped store:\n%s", out)
	}
	// Every action is in the log, naming the host's user.
	srv = startServerAt(t, data, strings.TrimPrefix(srv.URL, "https://"), "--backup-interval", "0")
	var events []api.Event
	if err := srv.admin(t).Do(ctx, "GET", "/v1/events?type=admin.&limit=1000", nil, &events); err != nil {
		t.Fatal(err)
	}
	host := "host admin (uid " + fmt.Sprint(os.Getuid()) + ")"
	if u, err := user.Current(); err == nil {
		host = "host admin (" + u.Username + ", uid " + fmt.Sprint(os.Getuid()) + ")"
	}
	seen := map[string]bool{}
	for _, ev := range events {
		if ev.Subject == host {
			seen[ev.Type+"/"+ev.Result] = true
		}
	}
	for _, want := range []string{"admin.user.create/success", "admin.user.totp-reset/success", "admin.user.password/success",
		"admin.user.disable/failure", "admin.user.disable/success", "admin.user.enable/success", "admin.user.role/success",
		"admin.station-key.add/success", "admin.station-key.revoke/success", "admin.enrollment-token.create/success",
		"admin.enrollment-token.revoke/success", "admin.agent-key.revoke/success", "admin.token.create/success", "admin.token.revoke/success"} {
		if !seen[want] {
			t.Errorf("no %s event by %q", want, host)
		}
	}
}

// TestSecondServerRefused: a second `lethe audit serve` on a data
// directory in use exits at once, saying so (issue 12.17).
func TestSecondServerRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "audit")
	startServer(t, data, "--backup-interval", "0")
	out, code := run(t, "audit", "serve", "--data", data, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(out, "in use by another lethe audit process") || !strings.Contains(out, "pid ") {
		t.Fatalf("second server: exit %d\n%s", code, out)
	}
}

// TestVerifyLogPinnedKey: `verify-log --data DIR --log-key PINNED` and
// `restore --log-key PINNED` check the pinned key, not DIR's own (issue
// 12.11: a store signed by another key printed "OK ... re-verified").
func TestVerifyLogPinnedKey(t *testing.T) {
	work := t.TempDir()
	a, b := filepath.Join(work, "a"), filepath.Join(work, "b")
	for _, d := range []string{a, b} {
		startServer(t, d, "--backup-interval", "0").stop(t)
	}
	pinnedA := filepath.Join(work, "a.vkey")
	copyFiles(t, filepath.Join(a, "keys"), work, "log.vkey")
	os.Rename(filepath.Join(work, "log.vkey"), pinnedA)
	if out := mustRun(t, "audit", "verify-log", "--data", a, "--log-key", pinnedA); !strings.Contains(out, "pinned") {
		t.Fatalf("own key:\n%s", out)
	}
	out, rc := run(t, "audit", "verify-log", "--data", b, "--log-key", pinnedA)
	if rc != 1 || strings.Contains(out, "OK") {
		t.Fatalf("another store's log against the pinned key: exit %d\n%s", rc, out)
	}
	backup := filepath.Join(work, "b.tar.gz")
	mustRun(t, "audit", "backup", "--data", b, "-o", backup)
	out, rc = run(t, "audit", "restore", "--from", backup, "--data", filepath.Join(work, "restored"), "--log-key", pinnedA)
	if rc != 1 || strings.Contains(out, "OK") {
		t.Fatalf("restore of another store's backup against the pinned key: exit %d\n%s", rc, out)
	}
}
