// Package servertest runs an audit store and its HTTP API in the test's
// own process, on an httptest TLS server on loopback, for the tests of the
// packages that talk to a store (the station's delivery, the agent's
// enrollment, the mirror).
package servertest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/audit/server"
	"github.com/lethe-project/lethe/internal/audit/store"
)

// Start opens the store cfg describes and serves it. Both are closed when
// the test ends; the store gets up to 30 s to finish its last writes.
func Start(t testing.TB, cfg store.Config) (*store.Store, *httptest.Server) {
	t.Helper()
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, Serve(t, st)
}

// Serve serves an open store (a writable store or a read-only mirror)
// until the test ends, then closes both.
func Serve(t testing.TB, st *store.Store) *httptest.Server {
	t.Helper()
	ts := httptest.NewTLSServer(server.New(server.Config{Store: st}))
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = st.Close(ctx)
	})
	return ts
}
