package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/mariadbtest"
	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/sign"
)

// TestHighAvailabilityOnMariaDB: two `lethe audit serve` processes share
// one MariaDB database (each with its own data directory holding a copy
// of keys/) and ingest concurrently; one is killed with SIGKILL in the
// middle of the load. Afterwards every acknowledged certificate is in the
// log exactly once with the receipt it was given, the index of the
// survivor holds every certificate of the log, and the whole log verifies
// with a verifier that uses only golang.org/x/mod/sumdb/{note,tlog}
// (issue 12.17). Bounded: 120 certificates.
func TestHighAvailabilityOnMariaDB(t *testing.T) {
	ctx := context.Background()
	db := mariadbtest.Start(t)
	dsn := db.NewDatabase(t, "lethe_ha")
	work := t.TempDir()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	pubFile := filepath.Join(work, "station.pub")
	os.WriteFile(pubFile, sign.MarshalPublicKey(pub), 0o644)
	dirA, dirB := filepath.Join(work, "a"), filepath.Join(work, "b")
	a := startServer(t, dirA, "--mysql", dsn, "--trust-key", pubFile, "--backup-interval", "0")
	copyFiles(t, dirA, dirB, "keys/server.key", "keys/server.pub", "config.json")
	b := startServer(t, dirB, "--mysql", dsn, "--trust-key", pubFile, "--backup-interval", "0")

	t0 := time.Now()
	defer func() { t.Logf("load, kill, checks: %v", time.Since(t0)) }()
	const total = 120
	type acked struct {
		env []byte
		rc  *receipt.Receipt
	}
	var mu sync.Mutex
	var acks []acked
	var next, viaB atomic.Int64
	envs := make([][]byte, total)
	for i := range envs {
		envs[i] = certtest.MustSign(key, certtest.Drive{Serial: fmt.Sprintf("HA-%03d", i), Job: "HA"})
	}
	ca, cb := a.client(t, ""), b.client(t, "")
	// A worker submits through its server; when B dies under it, it goes
	// on through A, as behind a load balancer.
	worker := func(c *client.Client, countB bool) {
		for {
			i := next.Add(1) - 1
			if i >= total {
				return
			}
			rc, err := c.Submit(ctx, envs[i])
			if err != nil && countB {
				// B was killed: this one was not acknowledged (the
				// resubmission below is what a spool would do).
				c, countB = ca, false
				continue
			}
			if err != nil {
				t.Errorf("certificate %d through A: %v", i, err)
				return
			}
			mu.Lock()
			acks = append(acks, acked{envs[i], rc})
			mu.Unlock()
			if countB {
				viaB.Add(1)
			}
		}
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { worker(ca, false) })
		wg.Go(func() { worker(cb, true) })
	}
	for deadline := time.Now().Add(60 * time.Second); viaB.Load() < 20 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	b.kill() // SIGKILL, with requests in flight
	wg.Wait()
	// What B took and never answered is submitted again through A, as a
	// station's spool would: logged once, or now.
	var rwg sync.WaitGroup
	for i := range envs {
		rwg.Go(func() {
			if _, err := ca.Submit(ctx, envs[i]); err != nil {
				t.Errorf("resubmit %d through A: %v", i, err)
			}
		})
	}
	rwg.Wait()
	// No acknowledged certificate lost or moved.
	for _, ak := range acks {
		rc, err := ca.Submit(ctx, ak.env)
		if err != nil || rc.LogIndex != ak.rc.LogIndex {
			t.Fatalf("acknowledged certificate %s: entry %d, now %v %v", ak.rc.CertificateID, ak.rc.LogIndex, rc, err)
		}
	}
	// The whole log, verified independently: each certificate once.
	admin := a.admin(t)
	tok, err := admin.NewAPIToken(ctx, api.APITokenRequest{User: "admin", Name: "verifier", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	vkey, _ := os.ReadFile(filepath.Join(dirA, "keys", "log.vkey"))
	entries := independentVerify(t, a, tok.Token, strings.TrimSpace(string(vkey)))
	serverKey, _ := sign.LoadPublicKey(filepath.Join(dirA, "keys", "server.pub"))
	seen := map[string]int{}
	for i, leaf := range entries {
		e, err := entry.Open(leaf, serverKey)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if e.Certificate != nil {
			seen[e.Certificate.CertificateID]++
		}
	}
	if len(seen) != total {
		t.Fatalf("the log holds %d certificates, %d were submitted", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("certificate %s is in the log %d times", id, n)
		}
	}
	// The survivor's index holds all of them (it indexes what B
	// appended and never indexed); B comes back and serves the same.
	var res api.SearchResult
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := admin.Do(ctx, "GET", "/v1/certificates?job=HA&limit=1", nil, &res); err != nil {
			t.Fatal(err)
		}
		if res.Total == total || time.Now().After(deadline) {
			break
		}
	}
	if res.Total != total {
		t.Fatalf("A's index holds %d of %d", res.Total, total)
	}
	b = startServer(t, dirB, "--mysql", dsn, "--backup-interval", "0")
	if err := b.client(t, tok.Token).Do(ctx, "GET", "/v1/certificates?job=HA&limit=1", nil, &res); err != nil || res.Total != total {
		t.Fatalf("B after its restart: %d %v", res.Total, err)
	}
	t.Logf("%d certificates through two servers on one MariaDB, %d acknowledged by B before SIGKILL; %d log entries verified independently", total, viaB.Load(), len(entries))
}

// independentVerify reads the whole log from the store's tile API and
// verifies it with golang.org/x/mod/sumdb only: the checkpoint's signature
// (note), and that the entries hash to its root (tlog, RFC 6962). It
// returns the entries.
func independentVerify(t *testing.T, s *server, token, vkey string) [][]byte {
	t.Helper()
	c := s.client(t, token).HTTPClient()
	get := func(p string) []byte {
		req, _ := http.NewRequest("GET", s.URL+"/v1/log/"+p, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s", p, resp.Status)
		}
		return b
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(get("checkpoint"), note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || lines[0] != v.Name() {
		t.Fatalf("checkpoint text %q", n.Text)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	var entries [][]byte
	var stored hashes
	for i := int64(0); i < size; i += 256 {
		p := layout.PartialTileSize(0, uint64(i/256), uint64(size))
		br := bufio.NewReader(bytes.NewReader(get(layout.EntriesPath(uint64(i/256), p))))
		for j := i; j < min(i+256, size); j++ {
			var l uint16
			if err := binary.Read(br, binary.BigEndian, &l); err != nil {
				t.Fatalf("entry %d: %v", j, err)
			}
			data := make([]byte, l)
			if _, err := io.ReadFull(br, data); err != nil {
				t.Fatalf("entry %d: %v", j, err)
			}
			hs, err := tlog.StoredHashes(j, data, stored)
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, hs...)
			entries = append(entries, data)
		}
	}
	got, err := tlog.TreeHash(size, stored)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:], root) {
		t.Fatalf("the %d entries hash to %x, the signed checkpoint says %x", size, got, root)
	}
	return entries
}

// hashes is an in-memory tlog.HashReader.
type hashes []tlog.Hash

func (h hashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(h)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = h[x]
	}
	return out, nil
}
