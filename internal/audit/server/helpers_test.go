package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/http/httptest"
	"strconv"
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
	srv   *Server
	base  string // the server's own URL (https://localhost:PORT)
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
	// Passkeys need a host name: the server calls itself localhost (the
	// listener is 127.0.0.1 either way).
	ts := httptest.NewUnstartedServer(nil)
	base := "https://localhost:" + strconv.Itoa(ts.Listener.Addr().(*net.TCPAddr).Port)
	srv := New(Config{Store: st, BaseURL: base})
	ts.Config.Handler = srv
	ts.StartTLS()
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
	e := &env{st: st, ts: ts, anon: anon, ia: ia, srv: srv, base: base}
	e.admin = e.login(t, ia.User, ia.Password, ia.TOTPSecret)
	// The first admin must choose their own password before anything else.
	own := ia.Password + "-Own1"
	if err := e.admin.Do(ctx, "POST", "/v1/account/password", PasswordChangeRequest{Old: ia.Password, New: own}, nil); err != nil {
		t.Fatalf("change the initial admin password: %v", err)
	}
	ia.Password = own
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
