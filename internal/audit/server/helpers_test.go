package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/mariadbtest"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/totp"
)

// backends are the storage configurations every conformance test runs
// against, like restic's backend tests: the same API, different storage.
var backends = map[string]func(t *testing.T) store.Config{
	"posix-sqlite": func(t *testing.T) store.Config {
		return store.Config{Dir: t.TempDir(), Origin: "test.lethe/audit"}
	},
	"mysql": func(t *testing.T) store.Config {
		srv := mariadbtest.Start(t)
		return store.Config{Dir: t.TempDir(), Origin: "test.lethe/audit-mysql", MySQLDSN: srv.NewDatabase(t, "lethe")}
	},
}

type env struct {
	st    *store.Store
	ts    *httptest.Server
	anon  *client.Client
	admin *client.Client
	ia    *store.InitialAdmin
}

func newEnv(t *testing.T, cfg store.Config) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ia, err := st.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(New(Config{Store: st}))
	t.Cleanup(func() {
		ts.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st.Close(cctx)
	})
	anon, err := client.New(ts.URL, client.Options{HTTPClient: ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, ts: ts, anon: anon, ia: ia}
	e.admin = e.login(t, ia.User, ia.Password, ia.TOTPSecret)
	return e
}

// login logs in once per user: a TOTP code is accepted only once.
func (e *env) login(t *testing.T, user, pw, secret string) *client.Client {
	t.Helper()
	code := ""
	if secret != "" {
		code, _ = totp.Code(secret, time.Now())
	}
	c, err := e.anon.Login(context.Background(), user, pw, code)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}
