package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/server"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/certtest"
)

// TestSpool: while the store is down certificates stay pending; once it
// is up they are sent with their receipts; a refused one moves to
// rejected/ with the reason and is not retried.
func TestSpool(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Origin: "test.lethe/spool"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := st.AddStationKey(ctx, "s", pub, store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	var up atomic.Bool
	h := server.New(server.Config{Store: st})
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	c, err := client.New(ts.URL, client.Options{HTTPClient: ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sp, err := client.OpenSpool(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	good := certtest.MustSign(key, certtest.Drive{Serial: "SPOOL-1"})
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	bad := certtest.MustSign(stranger, certtest.Drive{Serial: "SPOOL-2"})
	for _, env := range [][]byte{good, bad, good} {
		if _, err := sp.Add(env); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := sp.Pending(); len(p) != 2 {
		t.Fatalf("%d pending, want 2 (the duplicate is one)", len(p))
	}
	res, err := sp.Flush(ctx)
	if err != nil || res.Pending != 2 || len(res.Sent) != 0 || res.LastError == nil {
		t.Fatalf("flush while down: %+v %v", res, err)
	}
	up.Store(true)
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err = sp.FlushRetry(fctx, client.Retry{Initial: 10 * time.Millisecond})
	if err != nil || len(res.Sent) != 1 || len(res.Rejected) != 1 || res.Pending != 0 {
		t.Fatalf("flush when up: %+v %v", res, err)
	}
	rc, err := sp.Receipt(res.Sent[0].ID)
	if err != nil || rc.LogIndex == 0 && rc.CertificateID == "" {
		t.Fatalf("receipt: %+v %v", rc, err)
	}
	if _, err := rc.Verify(good, receiptKeys(st)); err != nil {
		t.Fatal(err)
	}
	reason, err := os.ReadFile(filepath.Join(dir, "rejected", res.Rejected[0].ID+".error.txt"))
	if err != nil || len(reason) == 0 {
		t.Fatalf("rejection reason: %v", err)
	}
	if p, _ := sp.Pending(); len(p) != 0 {
		t.Fatalf("still pending: %v", p)
	}
	// Adding a certificate that was already sent does not queue it again.
	if _, err := sp.Add(good); err != nil {
		t.Fatal(err)
	}
	if p, _ := sp.Pending(); len(p) != 0 {
		t.Fatal("a sent certificate was queued again")
	}
}
