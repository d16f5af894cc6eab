package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/testutil"
)

// TestWipeToAuditStore: real wipes of loop devices feed a real audit
// server; certificates arrive with receipts that verify offline; a store
// that is down loses nothing; backups restore and re-verify; a rewritten
// log is detected.
func TestWipeToAuditStore(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	work := t.TempDir()
	data := filepath.Join(work, "audit")
	srv := startServer(t, data, "--backup-interval", "0")
	admin := srv.admin(t)
	enr, err := admin.CreateEnrollmentToken(ctx, "JOB-E2E", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(work, "keys")
	mustRun(t, "keygen", "--out", keys)
	certs := filepath.Join(work, "certs")
	l1 := testutil.NewLoop(t, 8<<20, testutil.LoopOptions{})
	l2 := testutil.NewLoop(t, 8<<20, testutil.LoopOptions{SectorSize: 4096})
	out := mustRun(t, "wipe", "--yes", "--progress", "none", "--key", filepath.Join(keys, "lethe.key"), "--cert-dir", certs,
		"--job", "JOB-E2E", "--operator", "e2e", "--organization", "e2e-org", "--audit", srv.URL, "--audit-token", enr.Token, "--audit-ca", srv.CA, l1.Path, l2.Path)
	if n := strings.Count(out, "logged as entry"); n != 2 {
		t.Fatalf("want 2 certificates logged:\n%s", out)
	}
	sent, _ := filepath.Glob(filepath.Join(certs, "audit-spool", "sent", "*.receipt.json"))
	if len(sent) != 2 {
		t.Fatalf("%d receipts in the spool", len(sent))
	}
	// Each receipt also sits beside its certificate, under its base name.
	for _, c := range []string{"*.cert.json", "*.receipt.json", "*.pdf"} {
		if m, _ := filepath.Glob(filepath.Join(certs, c)); len(m) != 2 {
			t.Errorf("%d %s in the certificate directory, want 2", len(m), c)
		}
	}
	// Offline verification of each certificate against its receipt.
	for _, rp := range sent {
		cert := strings.TrimSuffix(rp, ".receipt.json") + ".json"
		out := mustRun(t, "cert", "verify", "--key", filepath.Join(keys, "lethe.pub"), "--receipt", rp,
			"--log-key", filepath.Join(data, "keys", "log.vkey"), "--server-key", filepath.Join(data, "keys", "server.pub"), cert)
		if !strings.Contains(out, "inclusion proof verifies") {
			t.Fatalf("cert verify --receipt:\n%s", out)
		}
		// A receipt for another certificate does not verify.
		other := sent[0]
		if other == rp {
			other = sent[1]
		}
		if out, code := run(t, "cert", "verify", "--key", filepath.Join(keys, "lethe.pub"), "--receipt", other, cert); code != 1 || !strings.Contains(out, "receipt is for envelope") {
			t.Fatalf("mismatched receipt: exit %d\n%s", code, out)
		}
	}
	pdf := filepath.Join(work, "cert.pdf")
	mustRun(t, "cert", "pdf", "--key", filepath.Join(keys, "lethe.pub"), strings.TrimSuffix(sent[0], ".receipt.json")+".json", "-o", pdf)
	if b, _ := os.ReadFile(pdf); !strings.HasPrefix(string(b), "%PDF-") {
		t.Fatal("lethe cert pdf wrote no PDF")
	}
	var res struct{ Total int }
	if err := admin.Do(ctx, "GET", "/v1/certificates?job=JOB-E2E", nil, &res); err != nil || res.Total != 2 {
		t.Fatalf("search by job: %d, %v", res.Total, err)
	}
	state := filepath.Join(work, "checkpoint.state")
	vkey := filepath.Join(data, "keys", "log.vkey")
	apiTok, err := admin.CreateAPIToken(ctx, "admin", "verify-log")
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, "audit", "verify-log", "--url", srv.URL, "--ca", srv.CA, "--token", apiTok.Token, "--log-key", vkey, "--state", state)

	// The store goes down: the certificate waits in the spool, the wipe
	// still succeeds; after the restart a flush delivers it.
	url := strings.TrimPrefix(srv.URL, "https://")
	srv.stop(t)
	l3 := testutil.NewLoop(t, 4<<20, testutil.LoopOptions{})
	out = mustRun(t, "wipe", "--yes", "--progress", "none", "--key", filepath.Join(keys, "lethe.key"), "--cert-dir", certs,
		"--job", "JOB-E2E", "--operator", "e2e", "--organization", "e2e-org", "--audit", srv.URL, "--audit-ca", srv.CA, "--audit-wait", "2s", l3.Path)
	if !strings.Contains(out, "1 certificate(s) still waiting") {
		t.Fatalf("spooling while the store is down:\n%s", out)
	}
	pending, _ := filepath.Glob(filepath.Join(certs, "audit-spool", "pending", "*.json"))
	if len(pending) != 1 {
		t.Fatalf("%d pending", len(pending))
	}
	srv = startServerAt(t, data, url, "--backup-interval", "0")
	out = mustRun(t, "audit", "flush", "--spool", filepath.Join(certs, "audit-spool"), "--url", srv.URL, "--ca", srv.CA)
	if !strings.Contains(out, "logged as entry") {
		t.Fatalf("flush:\n%s", out)
	}
	if p, _ := filepath.Glob(filepath.Join(certs, "audit-spool", "pending", "*.json")); len(p) != 0 {
		t.Fatalf("still pending after flush: %v", p)
	}
	out = mustRun(t, "audit", "verify-log", "--url", srv.URL, "--ca", srv.CA, "--token", apiTok.Token, "--log-key", vkey, "--state", state)
	if !strings.Contains(out, "no history was rewritten") {
		t.Fatalf("verify-log:\n%s", out)
	}

	// Backup, restore into an empty directory, re-verify the whole log.
	var b struct{ Path string }
	if err := admin.Do(ctx, "POST", "/v1/admin/backup", nil, &b); err != nil { // the session survived the restart
		t.Fatal(err)
	}
	restored := filepath.Join(work, "restored")
	out = mustRun(t, "audit", "restore", "--from", b.Path, "--data", restored)
	if !strings.Contains(out, "3 certificates") {
		t.Fatalf("restore:\n%s", out)
	}
	if _, code := run(t, "audit", "restore", "--from", b.Path, "--data", restored); code == 0 {
		t.Fatal("restore into a non-empty directory succeeded")
	}
	srv.stop(t)
	mustRun(t, "audit", "verify-log", "--data", restored, "--state", state)
	// The restored store serves the same certificates.
	srv2 := startServer(t, restored, "--backup-interval", "0")
	if err := srv2.client(t, apiTok.Token).Do(ctx, "GET", "/v1/certificates?job=JOB-E2E", nil, &res); err != nil || res.Total != 3 {
		t.Fatalf("restored store: %d, %v", res.Total, err)
	}
	srv2.stop(t)

	// A rewritten history: a new log under the same keys, with other
	// entries, is not an extension of the checkpoint we saw.
	forged := filepath.Join(work, "forged")
	os.MkdirAll(filepath.Join(forged, "keys"), 0o700)
	for _, f := range []string{"keys/server.key", "keys/server.pub", "config.json"} {
		b, _ := os.ReadFile(filepath.Join(data, f))
		os.WriteFile(filepath.Join(forged, f), b, 0o600)
	}
	fsrv := startServer(t, forged, "--backup-interval", "0")
	fadmin := fsrv.admin(t)
	for i := 0; i < 12; i++ { // grow past the old size with other entries
		if _, err := fadmin.CreateEnrollmentToken(ctx, "X", time.Hour, 1); err != nil {
			t.Fatal(err)
		}
	}
	ftok, _ := fadmin.CreateAPIToken(ctx, "admin", "v")
	out, code := run(t, "audit", "verify-log", "--url", fsrv.URL, "--ca", fsrv.CA, "--token", ftok.Token, "--log-key", vkey, "--state", state)
	if code != 1 || !strings.Contains(out, "history was rewritten") {
		t.Fatalf("rewritten history not detected: exit %d\n%s", code, out)
	}
	_ = client.IsPermanent
}
