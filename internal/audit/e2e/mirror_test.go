package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/sign"
)

func copyFiles(t *testing.T, from, to string, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(to, f)), 0o700)
		if err := os.WriteFile(filepath.Join(to, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil {
			fmt.Fprintf(h, "%s %x\n", p, sha256.Sum256(b))
		}
		return err
	})
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestMirrorCommand: `lethe audit mirror` keeps a verified copy of a
// store's log with a read-only token; the copy re-verifies offline against
// the pinned key and is served read only for search; when the store
// rewrites its history the mirror alerts (exit 1, an ALERT line) and keeps
// its copy (issue 12.16).
func TestMirrorCommand(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	data := filepath.Join(work, "audit")
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	pubFile := filepath.Join(work, "station.pub")
	os.WriteFile(pubFile, sign.MarshalPublicKey(pub), 0o644)
	srv := startServer(t, data, "--backup-interval", "0", "--trust-key", pubFile)
	for i := range 3 {
		if _, err := srv.client(t, "").Submit(ctx, certtest.MustSign(key, certtest.Drive{Serial: fmt.Sprint("MIR-", i), Job: "MIR"})); err != nil {
			t.Fatal(err)
		}
	}
	admin := srv.admin(t)
	tok, err := admin.NewAPIToken(ctx, api.APITokenRequest{User: "admin", Name: "mirror", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	vkey := filepath.Join(work, "log.vkey") // kept apart from the store
	copyFiles(t, filepath.Join(data, "keys"), work, "log.vkey")
	mdir := filepath.Join(work, "mirror")
	mirrorArgs := []string{"audit", "mirror", "--once", "--url", srv.URL, "--ca", srv.CA, "--token", tok.Token, "--dir", mdir}
	out := mustRun(t, append(mirrorArgs, "--log-key", vkey)...)
	if !strings.Contains(out, "OK   mirror") {
		t.Fatalf("mirror:\n%s", out)
	}
	out = mustRun(t, "audit", "verify-log", "--data", mdir, "--log-key", vkey)
	if !strings.Contains(out, "3 certificates") || !strings.Contains(out, "pinned") {
		t.Fatalf("verify-log of the mirror:\n%s", out)
	}

	// Served read only, with an account of its own.
	msrv := startServer(t, mdir, "--backup-interval", "0")
	mtok := strings.TrimSpace(tokenRE.FindString(mustRun(t, "audit", "admin", "--data", mdir, "api-token", "mint", "--user", "admin", "--name", "reader")))
	var res api.SearchResult
	if err := msrv.client(t, mtok).Do(ctx, "GET", "/v1/certificates?job=MIR", nil, &res); err != nil || res.Total != 3 {
		t.Fatalf("search on the mirror: %d %v", res.Total, err)
	}
	var c api.Certificate
	if err := msrv.client(t, mtok).Do(ctx, "GET", "/v1/certificates/"+res.Certificates[0].CertificateID, nil, &c); err != nil || !c.Check.SignatureOK || !c.Check.InclusionOK {
		t.Fatalf("a certificate on the mirror: %+v %v", c.Check, err)
	}
	msrv.stop(t)

	// The store rewrites its history: a new log under the same keys, at
	// the same address, longer than the copy.
	addr := strings.TrimPrefix(srv.URL, "https://")
	srv.stop(t)
	forged := filepath.Join(work, "forged")
	copyFiles(t, data, forged, "keys/server.key", "keys/server.pub", "config.json", "tls/cert.pem", "tls/key.pem")
	fsrv := startServerAt(t, forged, addr, "--backup-interval", "0")
	fadmin := fsrv.admin(t)
	for range 20 {
		if _, err := fadmin.CreateEnrollmentToken(ctx, "X", time.Hour, 1); err != nil {
			t.Fatal(err)
		}
	}
	ftok, err := fadmin.NewAPIToken(ctx, api.APITokenRequest{User: "admin", Name: "m", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	before := treeDigest(t, mdir)
	mirrorArgs[8] = ftok.Token
	out, code := run(t, mirrorArgs...)
	if code != 1 || !strings.Contains(out, "ALERT") || !strings.Contains(out, "INCONSISTENT") {
		t.Fatalf("a rewritten history: exit %d\n%s", code, out)
	}
	if treeDigest(t, mdir) != before {
		t.Fatal("the mirror's copy changed")
	}
	mustRun(t, "audit", "verify-log", "--data", mdir, "--log-key", vkey)
}
