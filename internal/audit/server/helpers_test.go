package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/mariadbtest"
	"github.com/lethe-project/lethe/internal/audit/passkey/passkeytest"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/totp"
)

// backend is a storage configuration every conformance test runs against,
// like restic's backend tests: the same API, different storage. Besides
// fresh stores it can damage its storage the way a careless admin or an
// attacker with disk access would, for the tests that must notice.
type backend struct {
	// config is a fresh, empty store (a new directory, and a new database
	// on MySQL).
	config func(t *testing.T) store.Config
	// corrupt changes one byte of log entry i where the log keeps it.
	corrupt func(t *testing.T, cfg store.Config, i, size uint64)
	// dropIndex loses everything but the log and the keys: index.db on
	// SQLite, every lethe table on MySQL.
	dropIndex func(t *testing.T, cfg store.Config)
}

// backends start their servers lazily, once per test binary.
var backends = map[string]func(t *testing.T) backend{
	"posix-sqlite": func(t *testing.T) backend {
		return backend{
			config: func(t *testing.T) store.Config {
				return testConfig(store.Config{Dir: t.TempDir(), Origin: "test.lethe/audit"})
			},
			corrupt: func(t *testing.T, cfg store.Config, i, size uint64) {
				p := filepath.Join(cfg.Dir, "log", layout.EntriesPath(i/256, layout.PartialTileSize(0, i/256, size)))
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				flipEntryByte(t, b, i%256)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			dropIndex: func(t *testing.T, cfg store.Config) {
				for _, f := range []string{"index.db", "index.db-wal", "index.db-shm"} {
					if err := os.Remove(filepath.Join(cfg.Dir, f)); err != nil && !os.IsNotExist(err) {
						t.Fatal(err)
					}
				}
			},
		}
	},
	"mysql": func(t *testing.T) backend {
		srv := mariadbtest.Start(t)
		var mu sync.Mutex
		n := 0
		return backend{
			config: func(t *testing.T) store.Config {
				mu.Lock()
				n++
				name := "lethe_" + strings.NewReplacer("/", "_", "-", "_").Replace(t.Name())
				if len(name) > 50 {
					name = name[:50]
				}
				name += "_" + itoa(uint64(n))
				mu.Unlock()
				return testConfig(store.Config{Dir: t.TempDir(), Origin: "test.lethe/audit-mysql", MySQLDSN: srv.NewDatabase(t, name)})
			},
			corrupt: func(t *testing.T, cfg store.Config, i, size uint64) {
				d := sqlOpen(t, cfg.MySQLDSN)
				var data []byte
				if err := d.QueryRow("SELECT data FROM TiledLeaves WHERE tile_index = ?", i/256).Scan(&data); err != nil {
					t.Fatal(err)
				}
				flipEntryByte(t, data, i%256)
				if _, err := d.Exec("UPDATE TiledLeaves SET data = ? WHERE tile_index = ?", data, i/256); err != nil {
					t.Fatal(err)
				}
			},
			dropIndex: func(t *testing.T, cfg store.Config) {
				d := sqlOpen(t, cfg.MySQLDSN)
				for _, tb := range db.Tables {
					if _, err := d.Exec("DROP TABLE " + tb); err != nil {
						t.Fatal(err)
					}
				}
			},
		}
	},
}

func sqlOpen(t *testing.T, dsn string) *sql.DB {
	d, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// flipEntryByte changes a byte in the middle of entry j of an entry
// bundle (c2sp.org/tlog-tiles: each entry is a 16-bit length and data).
func flipEntryByte(t *testing.T, bundle []byte, j uint64) {
	t.Helper()
	off := 0
	for k := uint64(0); ; k++ {
		if off+2 > len(bundle) {
			t.Fatalf("bundle has no entry %d", j)
		}
		n := int(binary.BigEndian.Uint16(bundle[off:]))
		if k == j {
			p := off + 2 + n/2
			if bundle[p] == 'A' {
				bundle[p] = 'B'
			} else {
				bundle[p] = 'A'
			}
			return
		}
		off += 2 + n
	}
}

// testConfig lifts the rate limits (the tests log in and enroll from one
// address, fast) and keeps few failures one by one, so the bounds show
// with little traffic; the security test sets its own limits.
func testConfig(c store.Config) store.Config {
	c.Security = testSecurity
	return c
}

var testSecurity = store.SecurityConfig{
	Window: time.Hour, MaxSingles: 100,
	LoginPerSource: store.Rate{Burst: -1}, LoginPerAccount: store.Rate{Burst: -1}, EnrollPerSource: store.Rate{Burst: -1},
}

type env struct {
	cfg   store.Config
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
	e := openEnv(t, cfg)
	ia, err := e.st.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.ia = ia
	e.admin = e.login(t, ia.User, ia.Password, ia.TOTPSecret)
	// The first admin must choose their own password before anything else.
	own := ia.Password + "-Own1"
	if err := e.admin.Do(context.Background(), "POST", "/v1/account/password", api.PasswordChange{Old: ia.Password, New: own}, nil); err != nil {
		t.Fatalf("change the initial admin password: %v", err)
	}
	ia.Password = own
	return e
}

// openEnv opens a store and serves it, without logging in.
func openEnv(t *testing.T, cfg store.Config) *env {
	t.Helper()
	st, err := store.Open(context.Background(), cfg)
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
	e := &env{cfg: cfg, st: st, ts: ts, srv: srv, base: base}
	t.Cleanup(e.close)
	anon, err := client.New(ts.URL, client.Options{HTTPClient: ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	e.anon = anon
	return e
}

// close stops the server and closes the store (idempotent).
func (e *env) close() {
	if e.ts == nil {
		return
	}
	e.ts.Close()
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.st.Close(cctx)
	e.ts = nil
}

// login logs in once per user: a TOTP code is accepted only once, so a
// second login of the same user waits for the next time step.
func (e *env) login(t *testing.T, user, pw, secret string) *client.Client {
	t.Helper()
	code := ""
	if secret != "" {
		code = nextCode(user, secret)
	}
	c, err := e.anon.Login(context.Background(), user, pw, code)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

var (
	codesMu   sync.Mutex
	lastSteps = map[string]uint64{}
)

// nextCode is a TOTP code for a step not used before by user in this test
// binary (waiting for the next 30 s step if need be).
func nextCode(user, secret string) string {
	codesMu.Lock()
	defer codesMu.Unlock()
	for {
		now := time.Now()
		step := totp.Counter(now)
		if step > lastSteps[user+secret] {
			lastSteps[user+secret] = step
			c, _ := totp.Code(secret, now)
			return c
		}
		time.Sleep(time.Until(time.Unix(int64(step+1)*int64(totp.Step/time.Second), 0)) + 10*time.Millisecond)
	}
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// passkeyOf registers a software authenticator as c's passkey.
func passkeyOf(t *testing.T, e *env, c *client.Client) *passkeytest.Authenticator {
	t.Helper()
	ctx := context.Background()
	soft := passkeytest.New(e.base)
	var begin api.Ceremony
	if err := c.Do(ctx, "POST", "/v1/account/passkeys/begin", struct{}{}, &begin); err != nil {
		t.Fatal(err)
	}
	cred, err := soft.Register(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "POST", "/v1/account/passkeys/finish", api.PasskeyRegistration{Ceremony: begin.Ceremony, Name: "soft", Credential: cred}, nil); err != nil {
		t.Fatal(err)
	}
	return soft
}

// validate records an auditor's decision signed with their passkey.
func validate(t *testing.T, c *client.Client, soft *passkeytest.Authenticator, certID, decision, comment string) *api.Validation {
	t.Helper()
	ctx := context.Background()
	var begin api.Ceremony
	if err := c.Do(ctx, "POST", "/v1/certificates/"+certID+"/validations/challenge", api.ValidationRequest{Decision: decision, Comment: comment}, &begin); err != nil {
		t.Fatal(err)
	}
	cred, err := soft.Assert(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	var v api.Validation
	if err := c.Do(ctx, "POST", "/v1/certificates/"+certID+"/validations", api.SignedValidation{Ceremony: begin.Ceremony, Credential: cred}, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}
