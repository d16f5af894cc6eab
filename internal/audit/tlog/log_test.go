package tlog

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"

	"github.com/transparency-dev/tessera"

	"github.com/lethe-project/lethe/internal/audit/mariadbtest"
)

// backends are the log storages every conformance test runs against.
var backends = map[string]func(t *testing.T) (tessera.Driver, time.Duration){
	"posix": func(t *testing.T) (tessera.Driver, time.Duration) {
		d, err := NewPOSIXDriver(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d, 100 * time.Millisecond
	},
	"mysql": func(t *testing.T) (tessera.Driver, time.Duration) {
		srv := mariadbtest.Start(t)
		db, err := sql.Open("mysql", srv.NewDatabase(t, "tlog"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		d, err := NewMySQLDriver(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		return d, time.Second // Tessera's MySQL minimum
	},
}

func TestConformance(t *testing.T) {
	for name, newDriver := range backends {
		t.Run(name, func(t *testing.T) {
			d, interval := newDriver(t)
			testLog(t, d, interval)
		})
	}
}

func testLog(t *testing.T, d tessera.Driver, interval time.Duration) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	l, err := Open(ctx, d, Options{Origin: "test.lethe/log", Key: key, CheckpointInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	first, err := l.WaitCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Size != 0 {
		t.Fatalf("new log has size %d", first.Size)
	}
	// Concurrent appends: each gets a distinct index and a proof that
	// verifies against its checkpoint.
	const n = 300
	var wg sync.WaitGroup
	got := make([]*Appended, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { got[i], errs[i] = l.Append(ctx, fmt.Appendf(nil, "entry %d", i)) })
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		a := got[i]
		if seen[a.Index] {
			t.Fatalf("index %d assigned twice", a.Index)
		}
		seen[a.Index] = true
		if err := logverify.VerifyInclusion(a.Checkpoint, a.Index, fmt.Appendf(nil, "entry %d", i), a.Proof); err != nil {
			t.Fatal(err)
		}
		if logverify.VerifyInclusion(a.Checkpoint, a.Index, []byte("forged"), a.Proof) == nil {
			t.Fatal("inclusion proof accepted for other data")
		}
	}
	mid, err := l.Checkpoint(ctx)
	if err != nil || mid.Size != n {
		t.Fatalf("checkpoint after %d appends: %+v, %v", n, mid, err)
	}
	for i := range 5 {
		if _, err := l.Append(ctx, fmt.Appendf(nil, "later %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	last, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := logverify.ConsistencyProof(ctx, l.Reader(), mid.Size, last.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := logverify.VerifyConsistency(mid, last, p); err != nil {
		t.Fatal(err)
	}
	forged := *mid
	forged.Hash = append([]byte{}, mid.Hash...)
	forged.Hash[0] ^= 1
	if err := logverify.VerifyConsistency(&forged, last, p); !errors.Is(err, logverify.ErrInconsistent) {
		t.Fatalf("rewritten history not detected: %v", err)
	}
	// The whole log re-verifies from its entries.
	count := 0
	if err := logverify.Entries(ctx, l.Reader(), last.Size, last.Hash, func(uint64, []byte) error { count++; return nil }); err != nil {
		t.Fatal(err)
	}
	if count != n+5 {
		t.Fatalf("visited %d entries", count)
	}
	bad := append([]byte{}, last.Hash...)
	bad[1] ^= 1
	if logverify.Entries(ctx, l.Reader(), last.Size, bad, nil) == nil {
		t.Fatal("wrong root accepted")
	}
	// A checkpoint signed by another key is refused.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	vk, _ := logverify.VerifierKey("test.lethe/log", other.Public().(ed25519.PublicKey))
	if _, err := logverify.ParseCheckpoint(last.Raw, vk); err == nil {
		t.Fatal("checkpoint verified with the wrong key")
	}
}
