package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/certtest"
)

// testAlteredEntry: an entry altered where the log keeps it is noticed —
// on the certificate's page (which re-verifies what the log serves), by
// the scheduled verification, which stops the store saying where, and at
// the next start, which is refused (issue 12.12: the store served the
// altered bundle and still said VERIFIED).
func testAlteredEntry(t *testing.T, _ *env, b backend) {
	ctx := context.Background()
	cfg := b.config(t)
	cfg.VerifyInterval = time.Hour // verified on request below, then on a fast schedule
	e := newEnv(t, cfg)
	pub, key := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "altered-station", pub); err != nil {
		t.Fatal(err)
	}
	rc, err := e.anon.Submit(ctx, certtest.MustSign(key, certtest.Drive{Serial: "ALT-1", Job: "ALT"}))
	if err != nil {
		t.Fatal(err)
	}
	var c api.Certificate
	if err := e.admin.Do(ctx, "GET", "/v1/certificates/"+rc.CertificateID, nil, &c); err != nil || !c.Check.InclusionOK {
		t.Fatalf("before: %+v %v", c.Check, err)
	}
	cp, err := e.st.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.corrupt(t, cfg, rc.LogIndex, cp.Size)

	if err := e.admin.Do(ctx, "GET", "/v1/certificates/"+rc.CertificateID, nil, &c); err != nil {
		t.Fatal(err)
	}
	if c.Check.InclusionOK || !strings.Contains(c.Check.InclusionNote, "altered") {
		t.Fatalf("the page still vouches for the altered entry: %+v", c.Check)
	}
	err = e.admin.Do(ctx, "POST", "/v1/admin/verify-log", nil, nil)
	ce := wantReject(t, err, http.StatusServiceUnavailable, api.KindIntegrity)
	if !strings.Contains(ce.Message, "log entry "+itoa(rc.LogIndex)) {
		t.Fatalf("the failure does not say where: %q", ce.Message)
	}
	// The store refuses to serve anything now.
	for _, path := range []string{"/v1/certificates", "/v1/log/checkpoint", "/healthz"} {
		err := e.admin.Do(ctx, "GET", path, nil, nil)
		if path == "/healthz" {
			continue // not JSON; checked below through the store
		}
		wantReject(t, err, http.StatusServiceUnavailable, api.KindIntegrity)
	}
	if e.st.Healthy() == nil {
		t.Fatal("the store is still healthy")
	}
	e.close()
	_, err = store.Open(ctx, cfg)
	var ie *store.IntegrityError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "log entry "+itoa(rc.LogIndex)) {
		t.Fatalf("a store with an altered log started: %v", err)
	}

	// The schedule finds it without being asked.
	cfg2 := b.config(t)
	cfg2.VerifyInterval = 200 * time.Millisecond
	e2 := newEnv(t, cfg2)
	if _, err := e2.admin.AddStationKey(ctx, "altered-station", pub); err != nil {
		t.Fatal(err)
	}
	rc2, err := e2.anon.Submit(ctx, certtest.MustSign(key, certtest.Drive{Serial: "ALT-2", Job: "ALT"}))
	if err != nil {
		t.Fatal(err)
	}
	cp2, err := e2.st.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.corrupt(t, cfg2, rc2.LogIndex-1, cp2.Size) // the station key's entry
	deadline := time.Now().Add(30 * time.Second)
	for e2.st.Healthy() == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := e2.st.Healthy(); err == nil || !strings.Contains(err.Error(), "log entry "+itoa(rc2.LogIndex-1)) {
		t.Fatalf("the scheduled verification: %v", err)
	}
	_, err = e2.anon.Submit(ctx, certtest.MustSign(key, certtest.Drive{Serial: "ALT-3", Job: "ALT"}))
	wantReject(t, err, http.StatusServiceUnavailable, api.KindIntegrity)
}
