package mirror_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tclient "github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/audit/logverify"
	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/mirror"
	"github.com/lethe-project/lethe/internal/audit/server"
	"github.com/lethe-project/lethe/internal/audit/server/servertest"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/certtest"
)

// source is a store served over HTTPS on loopback, with a read-only token.
type source struct {
	st    *store.Store
	ts    *httptest.Server
	fetch *tclient.HTTPFetcher
	key   ed25519.PrivateKey
	admin *client.Client
}

func startSource(t *testing.T, dir string) *source {
	t.Helper()
	ctx := context.Background()
	st, ts := servertest.Start(t, store.Config{Dir: dir, Origin: "test.lethe/mirrored"})
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := st.AddStationKey(ctx, "mirror-test", pub, store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	u, err := st.Accounts.Create(ctx, "reader", "Reader-pw-1", "operator")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := st.CreateAPIToken(ctx, accountsSpec(u.Name), store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	lu, _ := url.Parse(ts.URL + "/v1/log/")
	f, err := tclient.NewHTTPFetcher(lu, ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	f.SetAuthorizationHeader("Bearer " + tok)
	c, _ := client.New(ts.URL, client.Options{HTTPClient: ts.Client(), Token: tok})
	return &source{st: st, ts: ts, fetch: f, key: key, admin: c}
}

// grow adds n certificates and m events.
func (s *source) grow(t *testing.T, tag string, n, m int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		if _, _, err := s.st.Ingest(ctx, store.Submission{Envelope: certtest.MustSign(s.key, certtest.Drive{Serial: fmt.Sprintf("%s-%d", tag, i), Job: tag})}); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, m)
	for i := range m {
		go func() {
			errs <- s.st.Event(ctx, "test.event", store.Actor{Name: "test"}, fmt.Sprint(tag, i), "success", "")
		}()
	}
	for range m {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func (s *source) src(t *testing.T, pinned bool) mirror.Source {
	vk := ""
	if pinned {
		vk = s.st.LogKey()
	}
	return mirror.Source{URL: s.ts.URL, Fetcher: s.fetch, LogKey: vk, ReportedLogKey: s.st.LogKey()}
}

// digestDir hashes every file in dir but the lock.
func digestDir(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %x\n", rel, sha256.Sum256(b))
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestMirror: a mirror follows a store over HTTPS, verifying each round;
// its copy has the store's own entries and hash tiles, re-verifies offline
// against the pinned key, and serves the same search read only. A store
// that rewrites its history, shrinks, or is signed by another key is
// refused and the copy stays as it was (issue 12.16).
func TestMirror(t *testing.T) {
	ctx := context.Background()
	src := startSource(t, t.TempDir())
	dir := filepath.Join(t.TempDir(), "mirror")
	if _, err := mirror.Update(ctx, dir, src.src(t, false)); err == nil {
		t.Fatal("a new mirror started without a pinned key")
	}
	src.grow(t, "M1", 3, 0)
	// Rounds that end inside a bundle, at a bundle's end, and past two.
	for round, grow := range []int{0, 250, 3, 300} {
		src.grow(t, fmt.Sprint("R", round), 1, grow)
		res, err := mirror.Update(ctx, dir, src.src(t, round == 0))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		cp, _ := src.st.Checkpoint(ctx)
		if res.To < cp.Size-uint64(grow+1) {
			t.Fatalf("round %d: mirror at %d, store at %d", round, res.To, cp.Size)
		}
	}
	if res, err := mirror.Update(ctx, dir, src.src(t, false)); err != nil || res.From != res.To {
		t.Fatalf("an idle round: %+v %v", res, err)
	}
	cp, _ := src.st.Checkpoint(ctx)
	// The copy's files are the store's: every tile and bundle of the
	// current tree, byte for byte.
	local := tclient.FileFetcher{Root: filepath.Join(dir, "log")}
	for level := uint64(0); cp.Size>>(8*level) > 0; level++ {
		for i := uint64(0); i*256 < cp.Size>>(8*level); i++ {
			p := partial(level, i, cp.Size)
			want, err := src.st.Fetcher().ReadTile(ctx, level, i, p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := local.ReadTile(ctx, level, i, p)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("tile %d/%d.p%d differs: %v", level, i, p, err)
			}
		}
	}
	for i := uint64(0); i*256 < cp.Size; i++ {
		want, _ := src.st.Fetcher().ReadEntryBundle(ctx, i, partial(0, i, cp.Size))
		got, err := local.ReadEntryBundle(ctx, i, partial(0, i, cp.Size))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("entry bundle %d differs: %v", i, err)
		}
	}
	ckpts, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "*.checkpoint"))
	if len(ckpts) != 4 {
		t.Fatalf("%d checkpoints kept, want one per round that grew", len(ckpts))
	}
	rep, err := store.VerifyDir(ctx, dir, store.VerifyOptions{LogKey: src.st.LogKey()})
	if err != nil || rep.Certificates != 7 || rep.Entries != cp.Size {
		t.Fatalf("the copy verifies offline: %+v %v", rep, err)
	}

	// Served read only: the same search, signatures and inclusion
	// verified; nothing can be written.
	ms, err := store.OpenMirror(ctx, store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mts := httptest.NewTLSServer(server.New(server.Config{Store: ms}))
	ia, err := ms.Bootstrap(ctx)
	if err != nil || ia == nil {
		t.Fatalf("the mirror's own first admin: %v", err)
	}
	mtok, _, err := ms.CreateAPIToken(ctx, accountsSpec(ia.User), store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	mc, _ := client.New(mts.URL, client.Options{HTTPClient: mts.Client(), Token: mtok})
	var want, got api.SearchResult
	if err := src.admin.Do(ctx, "GET", "/v1/certificates?limit=100", nil, &want); err != nil {
		t.Fatal(err)
	}
	if err := mc.Do(ctx, "GET", "/v1/certificates?limit=100", nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.Total != 7 || !reflect.DeepEqual(want, got) {
		t.Fatalf("the mirror's search differs:\n%+v\n%+v", want, got)
	}
	for _, r := range got.Certificates {
		var c api.Certificate
		if err := mc.Do(ctx, "GET", "/v1/certificates/"+r.CertificateID, nil, &c); err != nil || !c.Check.SignatureOK || !c.Check.InclusionOK {
			t.Fatalf("on the mirror %s: %+v %v", r.DriveSerial, c.Check, err)
		}
	}
	_, err = mc.WithToken("").Submit(ctx, certtest.MustSign(src.key, certtest.Drive{Serial: "ON-MIRROR"}))
	if client.Kind(err) != api.KindReadOnly {
		t.Fatalf("a submission to the mirror: %v", err)
	}
	// The mirror's index follows what the next round fetches.
	src.grow(t, "LATE", 1, 0)
	if _, err := mirror.Update(ctx, dir, src.src(t, false)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for got.Total != 8 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		mc.Do(ctx, "GET", "/v1/certificates", nil, &got)
	}
	if got.Total != 8 {
		t.Fatalf("the served mirror did not pick up the new round: %d", got.Total)
	}
	mts.Close()
	ms.Close(ctx)

	// A store that rewrote its history under the same key: a new log
	// with other entries, longer than the copy.
	before := digestDir(t, dir)
	forged := t.TempDir()
	for _, f := range []string{"keys/server.key", "keys/server.pub", "config.json"} {
		b, _ := os.ReadFile(filepath.Join(src.st.Dir(), f))
		os.MkdirAll(filepath.Dir(filepath.Join(forged, f)), 0o700)
		os.WriteFile(filepath.Join(forged, f), b, 0o600)
	}
	fake := startSource(t, forged)
	fake.grow(t, "FAKE", 2, int(cp.Size)+10)
	_, err = mirror.Update(ctx, dir, fake.src(t, false))
	var inc *mirror.Inconsistency
	if !errors.As(err, &inc) {
		t.Fatalf("rewritten history: %v", err)
	}
	if digestDir(t, dir) != before {
		t.Fatal("the mirror's copy changed after an inconsistent round")
	}
	// A shorter log, and one served under another key.
	short := t.TempDir()
	for _, f := range []string{"keys/server.key", "keys/server.pub", "config.json"} {
		b, _ := os.ReadFile(filepath.Join(src.st.Dir(), f))
		os.MkdirAll(filepath.Dir(filepath.Join(short, f)), 0o700)
		os.WriteFile(filepath.Join(short, f), b, 0o600)
	}
	shorter := startSource(t, short)
	if _, err := mirror.Update(ctx, dir, shorter.src(t, false)); !errors.As(err, &inc) || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("a shorter log: %v", err)
	}
	other := startSource(t, t.TempDir())
	if _, err := mirror.Update(ctx, dir, mirror.Source{URL: other.ts.URL, Fetcher: other.fetch}); !errors.As(err, &inc) {
		t.Fatalf("a log of another key: %v", err)
	}
	if digestDir(t, dir) != before {
		t.Fatal("the mirror's copy changed after inconsistent rounds")
	}
	// And the copy still follows the genuine store.
	if _, err := mirror.Update(ctx, dir, src.src(t, false)); err != nil {
		t.Fatal(err)
	}
	if _, err := logverify.ParseCheckpoint(mustRead(t, filepath.Join(dir, "log", "checkpoint")), src.st.LogKey()); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func partial(level, i, size uint64) uint8 {
	n := size >> (8 * level)
	if i < n/256 {
		return 0
	}
	return uint8(n % 256)
}

func accountsSpec(user string) accounts.TokenSpec {
	return accounts.TokenSpec{User: user, Name: "mirror", Scopes: []string{accounts.ScopeRead}}
}
