package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/sign"
)

func pinnedKeys(t *testing.T, e *env) receipt.Keys {
	t.Helper()
	keys, err := e.anon.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sk, err := sign.ParsePublicKey([]byte(keys.ServerKey))
	if err != nil {
		t.Fatal(err)
	}
	return receipt.Keys{LogKey: keys.LogKey, ServerKey: sk}
}

func eventTypes(t *testing.T, e *env, object string) map[string]bool {
	t.Helper()
	var events []api.Event
	if err := e.admin.Do(context.Background(), "GET", "/v1/events?limit=10000", nil, &events); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range events {
		if ev.Object == object {
			seen[ev.Type+"/"+ev.Result] = true
		}
	}
	return seen
}

// testEnrollmentJobAndRevocation: an enrollment token names its job; an
// agent key and an unused token can be revoked, each a log entry (issue
// 12.7: a token without a job let its key sign any job).
func testEnrollmentJobAndRevocation(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	_, err := e.admin.CreateEnrollmentToken(ctx, "", time.Hour, 1)
	wantReject(t, err, http.StatusBadRequest, api.KindMalformed)
	// A token from before, without a job, enrolls nothing.
	if _, err := e.st.DB.ExecContext(ctx, `INSERT INTO enrollment_tokens (id, token_hash, job, created_by, created_at, expires_at, max_uses, uses, revoked_at, logged)
		VALUES ('legacy00', ?, '', 'old', ?, ?, 1, 0, 0, 1)`, accounts.HashToken("lenr_legacy"), time.Now().Unix(), time.Now().Add(time.Hour).Unix()); err != nil {
		t.Fatal(err)
	}
	pub, key := newKey(t)
	_, err = e.anon.Enroll(ctx, "lenr_legacy", pub)
	wantReject(t, err, http.StatusUnauthorized, api.KindTokenUnknown)

	tok, err := e.admin.CreateEnrollmentToken(ctx, "JOB-REVOKE", time.Hour, 2)
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.anon.Enroll(ctx, tok.Token, pub)
	if err != nil || k.Job != "JOB-REVOKE" {
		t.Fatalf("enroll: %+v %v", k, err)
	}
	keys, err := e.admin.AgentKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var listed *api.AgentKey
	for i := range keys {
		if keys[i].KeyID == k.KeyID {
			listed = &keys[i]
		}
	}
	if listed == nil || listed.Job != "JOB-REVOKE" || listed.TokenID != tok.ID || listed.Revoked || listed.Expires.IsZero() {
		t.Fatalf("agent key list: %+v", listed)
	}
	if _, err := e.anon.Submit(ctx, certtest.MustSign(key, certtest.Drive{Serial: "REV-1", Job: "JOB-REVOKE"})); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.RevokeAgentKey(ctx, k.KeyID); err != nil {
		t.Fatal(err)
	}
	_, err = e.anon.Submit(ctx, certtest.MustSign(key, certtest.Drive{Serial: "REV-2", Job: "JOB-REVOKE"}))
	wantReject(t, err, http.StatusForbidden, api.KindKeyExpired)
	err = e.admin.RevokeAgentKey(ctx, k.KeyID)
	wantReject(t, err, http.StatusConflict, api.KindRevoked)
	err = e.admin.RevokeAgentKey(ctx, "no-such-key")
	wantReject(t, err, http.StatusNotFound, api.KindNotFound)

	// The token still has a use: revoke it, then it enrolls nothing.
	if err := e.admin.RevokeEnrollmentToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	other, _ := newKey(t)
	_, err = e.anon.Enroll(ctx, tok.Token, other)
	wantReject(t, err, http.StatusUnauthorized, api.KindTokenRevoked)
	err = e.admin.RevokeEnrollmentToken(ctx, tok.ID)
	wantReject(t, err, http.StatusConflict, api.KindRevoked)
	used, err := e.admin.CreateEnrollmentToken(ctx, "JOB-USED", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.anon.Enroll(ctx, used.Token, other); err != nil {
		t.Fatal(err)
	}
	err = e.admin.RevokeEnrollmentToken(ctx, used.ID)
	wantReject(t, err, http.StatusConflict, api.KindRevoked)
	ts, err := e.admin.EnrollmentTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, x := range ts {
		switch x.ID {
		case tok.ID:
			found++
			if !x.Revoked || x.Uses != 1 || x.MaxUses != 2 || x.Job != "JOB-REVOKE" {
				t.Errorf("revoked token listed as %+v", x)
			}
		case used.ID:
			found++
			if x.Revoked || x.Uses != 1 {
				t.Errorf("used token listed as %+v", x)
			}
		}
	}
	if found != 2 {
		t.Fatalf("tokens not listed: %+v", ts)
	}
	if seen := eventTypes(t, e, "key:"+k.KeyID); !seen["admin.agent-key.revoke/success"] || !seen["agent.enrolled/success"] {
		t.Errorf("agent key events: %v", seen)
	}
	if seen := eventTypes(t, e, "enrollment-token:"+tok.ID); !seen["admin.enrollment-token.revoke/success"] || !seen["admin.enrollment-token.create/success"] {
		t.Errorf("enrollment token events: %v", seen)
	}
}

// testJunkSignatureFirst: a copy of a certificate with an extra junk
// signature, submitted first, is the same certificate: the genuine
// submitter then gets the receipt, which verifies with its own file (issue
// 12.13: the genuine file got 409 and its spool rejected it).
func testJunkSignatureFirst(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	pub, key := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "junk-station", pub); err != nil {
		t.Fatal(err)
	}
	genuine := certtest.MustSign(key, certtest.Drive{Serial: "JUNK-1", Job: "JUNK"})
	var env sign.Envelope
	if err := json.Unmarshal(genuine, &env); err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 64)
	rand.Read(junk)
	withJunk := env
	withJunk.Signatures = append(append([]sign.Signature{}, env.Signatures...), sign.Signature{KeyID: "ffffffffffffffffjunk", Sig: base64.StdEncoding.EncodeToString(junk)})
	jb, _ := json.Marshal(withJunk)
	first, err := e.anon.Submit(ctx, jb)
	if err != nil {
		t.Fatal(err)
	}
	pinned := pinnedKeys(t, e)
	sp, err := client.OpenSpool(t.TempDir(), e.anon)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Add(genuine); err != nil {
		t.Fatal(err)
	}
	res, err := sp.Flush(ctx)
	if err != nil || len(res.Sent) != 1 || len(res.Rejected) != 0 {
		t.Fatalf("the genuine certificate's spool: sent %d, rejected %v, %v", len(res.Sent), res.Rejected, err)
	}
	rc, err := sp.Receipt(res.Sent[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if rc.LogIndex != first.LogIndex {
		t.Fatalf("the genuine certificate was logged again: entry %d, first at %d", rc.LogIndex, first.LogIndex)
	}
	if _, err := rc.Verify(genuine, pinned); err != nil {
		t.Fatalf("the receipt does not verify with the genuine file: %v", err)
	}
	// A copy that carries only a junk signature gets nothing.
	onlyJunk := env
	onlyJunk.Signatures = []sign.Signature{{KeyID: "ffffffffffffffffjunk", Sig: base64.StdEncoding.EncodeToString(junk)}}
	ob, _ := json.Marshal(onlyJunk)
	_, err = e.anon.Submit(ctx, ob)
	wantReject(t, err, http.StatusForbidden, api.KindUnknownKey)
	// Another station's signature over the same payload: not a key of
	// this store, nothing.
	_, stranger := newKey(t)
	st, _ := attest.Decode(genuine)
	resigned, _ := attest.Sign(st, sign.KeySigner{Key: stranger})
	_, err = e.anon.Submit(ctx, resigned)
	wantReject(t, err, http.StatusForbidden, api.KindUnknownKey)
}

// testWrongPayloadType: a correctly signed envelope of another payload
// type is refused for what it is (issue 12.15: "altered after signing").
func testWrongPayloadType(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	pub, key := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "ptype-station", pub); err != nil {
		t.Fatal(err)
	}
	st, _ := certtest.Statement(certtest.Drive{Serial: "PTYPE-1"})
	payload, _ := json.Marshal(st)
	env, err := sign.SignPayload("application/json", payload, sign.KeySigner{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.anon.Submit(ctx, env)
	ce := wantReject(t, err, http.StatusUnprocessableEntity, api.KindPayloadType)
	if !strings.Contains(ce.Message, "payloadType") || strings.Contains(ce.Message, "altered") {
		t.Fatalf("unclear message: %q", ce.Message)
	}
}

// testCSVAndTechniques: every exported CSV column is defused, and a
// technique must be one of the schema's identifiers (issue 12.14: the
// technique column carried a formula).
func testCSVAndTechniques(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	pub, key := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "csv-station", pub); err != nil {
		t.Fatal(err)
	}
	st, _ := certtest.Statement(certtest.Drive{Serial: "CSV-1", Job: "CSV"})
	st.Predicate.Sanitization.Technique = `=HYPERLINK("http://evil.example","x")`
	// attest.Sign refuses what breaks the schema: a hostile producer
	// signs the bytes itself.
	badPayload, _ := json.Marshal(st)
	bad, _ := sign.SignPayload(cert.PayloadType, badPayload, sign.KeySigner{Key: key})
	_, err := e.anon.Submit(ctx, bad)
	ce := wantReject(t, err, http.StatusUnprocessableEntity, api.KindSchema)
	if !strings.Contains(strings.Join(ce.Problems, " "), "technique") {
		t.Fatalf("problems: %v", ce.Problems)
	}
	st, _ = certtest.Statement(certtest.Drive{Serial: "-2+3", WWN: "@SUM(A1)", Model: " =cmd|' /C calc'!A0", HostSerial: "\t=1", Job: "CSV", Operator: "+op"})
	st.Predicate.Personnel.Organization = "=org"
	st.Predicate.Personnel.Site = "@site"
	st.Predicate.Host.Hostname = "-host"
	good, _ := attest.Sign(st, sign.KeySigner{Key: key})
	if _, err := e.anon.Submit(ctx, good); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := e.admin.Do(ctx, "GET", "/v1/certificates?job=CSV&format=csv", nil, &raw); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("CSV: %v\n%s", err, raw)
	}
	for i, cell := range recs[1] {
		if c := strings.TrimLeft(cell, " "); c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			t.Errorf("column %s is a formula: %q", recs[0][i], cell)
		}
	}
	if !strings.Contains(string(raw), "'-2+3") || !strings.Contains(string(raw), "'@SUM(A1)") {
		t.Errorf("values lost in defusing:\n%s", raw)
	}
	if err := e.admin.Do(ctx, "GET", "/v1/events?format=csv", nil, &raw); err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		for i, cell := range r {
			if c := strings.TrimLeft(cell, " "); c != "" && strings.ContainsRune("=+@\t\r", rune(c[0])) {
				t.Errorf("events column %s is a formula: %q", recs[0][i], cell)
			}
		}
	}
}

// testRebuildFromLog: everything the store shows is rebuilt from the log
// alone: with the index lost (index.db deleted, or every table dropped on
// MySQL) the same search finds the same certificates, signatures VALID,
// inclusion VERIFIED, the same keys trusted and revoked, tokens used as
// they were; no admin is silently made (issue 12.10).
func testRebuildFromLog(t *testing.T, _ *env, b backend) {
	ctx := context.Background()
	cfg := b.config(t)
	e := newEnv(t, cfg)
	pub, key := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "rebuild-station", pub); err != nil {
		t.Fatal(err)
	}
	oldPub, oldKey := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "retired-station", oldPub); err != nil {
		t.Fatal(err)
	}
	tok, err := e.admin.CreateEnrollmentToken(ctx, "JOB-RB", time.Hour, 3)
	if err != nil {
		t.Fatal(err)
	}
	agentPub, agentKey := newKey(t)
	if _, err := e.anon.Enroll(ctx, tok.Token, agentPub); err != nil {
		t.Fatal(err)
	}
	certs := [][]byte{
		certtest.MustSign(key, certtest.Drive{Serial: "RB-1", HostSerial: "H-RB", Job: "JOB-RB"}),
		certtest.MustSign(oldKey, certtest.Drive{Serial: "RB-2", HostSerial: "H-RB", Job: "JOB-RB", Status: wipe.StatusFailed}),
		certtest.MustSign(agentKey, certtest.Drive{Serial: "RB-3", HostSerial: "H-RB", Job: "JOB-RB"}),
	}
	for _, c := range certs {
		if _, err := e.anon.Submit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := e.admin.StationKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ids {
		if k.Name == "retired-station" {
			if err := e.admin.RevokeStationKey(ctx, k.KeyID); err != nil {
				t.Fatal(err)
			}
		}
	}
	aud := createUser(t, e, "rb-auditor", "Auditor-pw-1", "auditor")
	auditor := e.login(t, "rb-auditor", "Auditor-pw-1", aud.TOTPSecret)
	soft := passkeyOf(t, e, auditor)
	var before api.SearchResult
	if err := e.admin.Do(ctx, "GET", "/v1/certificates?job=JOB-RB", nil, &before); err != nil || before.Total != 3 {
		t.Fatalf("search: %d %v", before.Total, err)
	}
	validate(t, auditor, soft, before.Certificates[0].CertificateID, "rejected", "serial unreadable")
	if err := e.admin.Do(ctx, "GET", "/v1/certificates?job=JOB-RB", nil, &before); err != nil {
		t.Fatal(err)
	}
	stationsBefore, _ := e.admin.StationKeys(ctx)
	agentsBefore, _ := e.admin.AgentKeys(ctx)
	tokensBefore, _ := e.admin.EnrollmentTokens(ctx)
	iaBefore, _ := os.ReadFile(filepath.Join(cfg.Dir, store.InitialAdminFile))

	e.close()
	b.dropIndex(t, cfg)
	r := openEnv(t, cfg)
	if ia, err := r.st.Bootstrap(ctx); !errors.Is(err, store.ErrAccountsLost) || ia != nil {
		t.Fatalf("bootstrap after the index was lost: %+v, %v", ia, err)
	}
	if b, _ := os.ReadFile(filepath.Join(cfg.Dir, store.InitialAdminFile)); !bytes.Equal(b, iaBefore) {
		t.Fatal("initial-admin.json was rewritten")
	}
	// The host's admin makes an account (lethe audit admin does this).
	u, err := r.st.CreateUser(ctx, "rebuilt-admin", "Rebuilt-admin-1", accounts.Admin, store.Actor{Name: "host admin"})
	if err != nil {
		t.Fatal(err)
	}
	admin := r.login(t, "rebuilt-admin", "Rebuilt-admin-1", u.TOTPSecret)
	var after api.SearchResult
	if err := admin.Do(ctx, "GET", "/v1/certificates?job=JOB-RB", nil, &after); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("search after the rebuild differs:\nbefore %+v\nafter  %+v", before, after)
	}
	pinned := pinnedKeys(t, r)
	for _, row := range after.Certificates {
		var c api.Certificate
		if err := admin.Do(ctx, "GET", "/v1/certificates/"+row.CertificateID, nil, &c); err != nil {
			t.Fatal(err)
		}
		if !c.Check.SignatureOK || !c.Check.InclusionOK {
			t.Errorf("%s after the rebuild: %+v", row.DriveSerial, c.Check)
		}
		if _, err := c.Receipt.Verify(c.Envelope, pinned); err != nil {
			t.Errorf("%s: rebuilt receipt: %v", row.DriveSerial, err)
		}
	}
	stationsAfter, _ := admin.StationKeys(ctx)
	agentsAfter, _ := admin.AgentKeys(ctx)
	tokensAfter, _ := admin.EnrollmentTokens(ctx)
	for what, pair := range map[string][2]any{"station keys": {stationsBefore, stationsAfter}, "agent keys": {agentsBefore, agentsAfter}, "enrollment tokens": {tokensBefore, tokensAfter}} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s after the rebuild differ:\nbefore %+v\nafter  %+v", what, pair[0], pair[1])
		}
	}
	// The rebuilt trust state is enforced: the revoked key stays revoked,
	// the agent key still signs for its job only.
	_, err = r.anon.Submit(ctx, certtest.MustSign(oldKey, certtest.Drive{Serial: "RB-4", Job: "JOB-RB"}))
	wantReject(t, err, http.StatusForbidden, api.KindKeyExpired)
	_, err = r.anon.Submit(ctx, certtest.MustSign(agentKey, certtest.Drive{Serial: "RB-5", Job: "OTHER"}))
	wantReject(t, err, http.StatusForbidden, api.KindJobMismatch)
	if _, err := r.anon.Submit(ctx, certs[0]); err != nil {
		t.Fatalf("resubmission after the rebuild: %v", err)
	}
	if b.dropIndex != nil && cfg.MySQLDSN == "" {
		r.close()
		rep, err := store.VerifyDir(ctx, cfg.Dir, store.VerifyOptions{LogKey: pinned.LogKey})
		if err != nil || rep.Certificates != 3 || rep.LegacyKeys != 0 {
			t.Fatalf("verify-log --data: %+v %v", rep, err)
		}
	}
}
