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
	"github.com/transparency-dev/tessera/api"

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

// alteringFetcher serves a log with entry `entry` changed, and, when
// tiles is set, its leaf hash in the level-0 tile changed to match (an
// attacker who rewrites both).
type alteringFetcher struct {
	logverify.Fetcher
	entry uint64
	tiles bool
}

func (a alteringFetcher) ReadEntryBundle(ctx context.Context, i uint64, p uint8) ([]byte, error) {
	b, err := a.Fetcher.ReadEntryBundle(ctx, i, p)
	if err != nil || i != a.entry/256 {
		return b, err
	}
	var eb api.EntryBundle
	if err := eb.UnmarshalText(b); err != nil {
		return nil, err
	}
	out := []byte{}
	for j, e := range eb.Entries {
		if uint64(j) == a.entry%256 {
			e = append([]byte("altered "), e...)
		}
		out = append(out, byte(len(e)>>8), byte(len(e)))
		out = append(out, e...)
	}
	return out, nil
}

func (a alteringFetcher) ReadTile(ctx context.Context, level, i uint64, p uint8) ([]byte, error) {
	b, err := a.Fetcher.ReadTile(ctx, level, i, p)
	if err != nil || !a.tiles || level != 0 || i != a.entry/256 {
		return b, err
	}
	eb, err := a.ReadEntryBundle(ctx, i, p)
	if err != nil {
		return nil, err
	}
	var bundle api.EntryBundle
	bundle.UnmarshalText(eb)
	out := append([]byte{}, b...)
	copy(out[32*(a.entry%256):], logverify.LeafHash(bundle.Entries[a.entry%256]))
	return out, nil
}

// TestAudit: the whole-log verification finds an altered entry and says
// which one, finds an entry altered together with its hash tile and says
// which bundle, and refuses a log shorter than a checkpoint verified
// earlier or one that does not extend it.
func TestAudit(t *testing.T) {
	ctx := context.Background()
	d, err := NewPOSIXDriver(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	l, err := Open(ctx, d, Options{Origin: "test.lethe/audit", Key: key, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	if _, err := l.WaitCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var mid *logverify.Checkpoint
	var wg sync.WaitGroup
	for i := range 530 {
		wg.Go(func() {
			if _, err := l.Append(ctx, fmt.Appendf(nil, "entry %d", i)); err != nil {
				t.Error(err)
			}
		})
		if i == 100 {
			wg.Wait()
			mid, _ = l.Checkpoint(ctx)
		}
	}
	wg.Wait()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := logverify.Audit(ctx, l.Reader(), cp, mid); err != nil {
		t.Fatalf("intact log: %v", err)
	}
	var ae *logverify.AlteredError
	if err := logverify.Audit(ctx, alteringFetcher{l.Reader(), 7, false}, cp, nil); !errors.As(err, &ae) || ae.Entry != 7 {
		t.Fatalf("altered entry 7: %v", err)
	}
	if err := logverify.Audit(ctx, alteringFetcher{l.Reader(), 9, true}, cp, nil); !errors.As(err, &ae) || ae.Entry != -1 || ae.Bundle != 0 {
		t.Fatalf("entry 9 altered with its tile: %v", err)
	}
	if err := logverify.Audit(ctx, alteringFetcher{l.Reader(), 300, true}, cp, nil); !errors.As(err, &ae) || ae.Entry != -1 || ae.Bundle != 1 {
		t.Fatalf("entry 300 altered with its tile: %v", err)
	}
	if err := logverify.Audit(ctx, alteringFetcher{l.Reader(), 520, true}, cp, nil); !errors.As(err, &ae) || ae.Bundle != 2 {
		t.Fatalf("entry 520 (partial bundle) altered with its tile: %v", err)
	}
	if err := logverify.Audit(ctx, l.Reader(), mid, cp); !errors.Is(err, logverify.ErrInconsistent) {
		t.Fatalf("a log shorter than a checkpoint verified earlier: %v", err)
	}
	forged := *mid
	forged.Hash = append([]byte{}, mid.Hash...)
	forged.Hash[3] ^= 1
	if err := logverify.Audit(ctx, l.Reader(), cp, &forged); !errors.Is(err, logverify.ErrInconsistent) {
		t.Fatalf("a log that does not extend the checkpoint verified earlier: %v", err)
	}
	pub, err := logverify.PublicKey(l.VerifierKey())
	if err != nil || !pub.Equal(key.Public()) {
		t.Fatalf("the verifier key's public key: %v", err)
	}
}
