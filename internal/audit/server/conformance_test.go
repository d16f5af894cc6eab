package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"

	"github.com/lethe-project/lethe/sign"

	tclient "github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/passkey"
	"github.com/lethe-project/lethe/internal/audit/passkey/passkeytest"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/internal/wipe"
)

// scenario is one conformance test. Scenarios share one store per backend
// (each uses its own names, serials and users) unless they need a store
// of their own, which they make from the backend.
type scenario struct {
	name string
	run  func(t *testing.T, e *env, b backend)
	// alone: run after the others, one at a time (it changes the
	// store's limits or counts its log entries).
	alone bool
}

var scenarios = []scenario{
	{name: "Core", run: func(t *testing.T, _ *env, b backend) { conformance(t, newEnv(t, b.config(t))) }},
	{name: "ParallelWrongPasswordsLock", run: testParallelLockout},
	{name: "TOTPCodeUsedOnceInParallel", run: testTOTPOnce},
	{name: "ResetDisableRoleEndSessionsAndTokens", run: testCredentialChangesEndSessions},
	{name: "TokenScopesAndExpiry", run: testTokenScopes},
	{name: "EnrollmentTokensNameTheirJob", run: testEnrollmentJobAndRevocation},
	{name: "LastAdminAndInitialCredentials", run: testLastAdmin},
	{name: "RevokePasskeys", run: testRevokePasskeys},
	{name: "JunkSignatureCopyFirst", run: testJunkSignatureFirst},
	{name: "WrongPayloadType", run: testWrongPayloadType},
	{name: "CSVAndTechniques", run: testCSVAndTechniques},
	{name: "RebuildFromLogAlone", run: testRebuildFromLog},
	{name: "AlteredEntryDetected", run: testAlteredEntry},
	{name: "UnauthenticatedWritesBounded", run: testUnauthenticatedBounded, alone: true},
}

// TestConformance runs the whole API against every storage backend.
func TestConformance(t *testing.T) {
	for name, newBackend := range backends {
		t.Run(name, func(t *testing.T) {
			b := newBackend(t)
			e := newEnv(t, b.config(t))
			// The scenarios wait on checkpoints (1 s apart on MySQL) far
			// more than they compute: run them side by side.
			t.Run("parallel", func(t *testing.T) {
				for _, sc := range scenarios {
					if !sc.alone {
						t.Run(sc.name, func(t *testing.T) { t.Parallel(); sc.run(t, e, b) })
					}
				}
			})
			for _, sc := range scenarios {
				if sc.alone {
					t.Run(sc.name, func(t *testing.T) { sc.run(t, e, b) })
				}
			}
		})
	}
}

func wantReject(t *testing.T, err error, status int, kind string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("want HTTP %d %s, got %v", status, kind, err)
	}
	if e.Status != status || e.Kind != kind {
		t.Fatalf("want HTTP %d %s, got %d %s: %s %v", status, kind, e.Status, e.Kind, e.Message, e.Problems)
	}
	if e.Message == "" {
		t.Fatal("rejection without a message")
	}
	return e
}

func conformance(t *testing.T, e *env) {
	ctx := context.Background()
	stationPub, station := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "station-1", stationPub); err != nil {
		t.Fatal(err)
	}
	keys, err := e.anon.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	serverKey, err := sign.ParsePublicKey([]byte(keys.ServerKey))
	if err != nil {
		t.Fatal(err)
	}
	pinned := receipt.Keys{LogKey: keys.LogKey, ServerKey: serverKey}

	// Accept, with a receipt that verifies offline.
	ended := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
	cert := certtest.MustSign(station, certtest.Drive{Serial: "SN-0001", WWN: "naa.5000000000000001", HostSerial: "HOST-A", Job: "JOB-1", Ended: ended})
	rc, err := e.anon.Submit(ctx, cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Verify(cert, pinned); err != nil {
		t.Fatalf("receipt does not verify: %v", err)
	}
	// Resubmission, even re-formatted: the same receipt, nothing new logged.
	var compact bytes.Buffer
	json.Compact(&compact, cert)
	rc2, err := e.anon.Submit(ctx, compact.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rc, rc2) {
		t.Fatalf("resubmission got a different receipt: %d vs %d", rc.LogIndex, rc2.LogIndex)
	}

	// Rejections, each with a clear kind.
	var env sign.Envelope
	json.Unmarshal(cert, &env)
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	tampered := env
	tampered.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte("SN-0001"), []byte("SN-0002"), 1))
	tb, _ := json.Marshal(tampered)
	_, err = e.anon.Submit(ctx, tb)
	if ce := wantReject(t, err, http.StatusForbidden, store.RejectBadSig); !strings.Contains(ce.Message, "altered") {
		t.Fatalf("tampered: unclear message %q", ce.Message)
	}
	unsigned := env
	unsigned.Signatures = nil
	ub, _ := json.Marshal(unsigned)
	_, err = e.anon.Submit(ctx, ub)
	wantReject(t, err, http.StatusUnauthorized, store.RejectUnsigned)
	_, stranger := newKey(t)
	_, err = e.anon.Submit(ctx, certtest.MustSign(stranger, certtest.Drive{Serial: "SN-X"}))
	wantReject(t, err, http.StatusForbidden, store.RejectUnknownKey)
	_, err = e.anon.Submit(ctx, []byte(`{"not":"an envelope"`))
	wantReject(t, err, http.StatusBadRequest, store.RejectMalformed)
	st, _ := certtest.Statement(certtest.Drive{Serial: "SN-BAD"})
	st.Predicate.Status = "DONE"
	// attest.Sign refuses to sign what breaks the schema; a buggy or
	// hostile producer signs the bytes itself.
	badPayload, _ := json.Marshal(st)
	bad, _ := sign.SignPayload(env.PayloadType, badPayload, sign.KeySigner{Key: station})
	_, err = e.anon.Submit(ctx, bad)
	wantReject(t, err, http.StatusUnprocessableEntity, store.RejectSchema)
	// A replay of the certificate ID with other content.
	st, _ = attest.Decode(cert)
	st.Predicate.Status = wipe.StatusFailed
	st.Predicate.Disposition = "destroy"
	replay, _ := attest.Sign(st, sign.KeySigner{Key: station})
	_, err = e.anon.Submit(ctx, replay)
	wantReject(t, err, http.StatusConflict, store.RejectConflict)
	// A bad API token is refused even though the signature is good.
	_, err = e.anon.WithToken("lapi_wrong").Submit(ctx, certtest.MustSign(station, certtest.Drive{Serial: "SN-TOK"}))
	wantReject(t, err, http.StatusUnauthorized, "unauthorized")

	// Enrollment: a per-job token registers a per-boot key once.
	tok, err := e.admin.CreateEnrollmentToken(ctx, "JOB-2", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	agentPub, agent := newKey(t)
	if _, err := e.anon.Enroll(ctx, tok.Token, agentPub); err != nil {
		t.Fatal(err)
	}
	otherPub, _ := newKey(t)
	_, err = e.anon.Enroll(ctx, tok.Token, otherPub)
	wantReject(t, err, http.StatusConflict, "token-used")
	_, err = e.anon.Enroll(ctx, "lenr_forged", otherPub)
	wantReject(t, err, http.StatusUnauthorized, "token-unknown")
	short, err := e.admin.CreateEnrollmentToken(ctx, "JOB-3", time.Second, 1)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(short.Expires) + 50*time.Millisecond)
	_, err = e.anon.Enroll(ctx, short.Token, otherPub)
	wantReject(t, err, http.StatusUnauthorized, "token-expired")
	agentCert := certtest.MustSign(agent, certtest.Drive{Serial: "SN-0002", WWN: "naa.5000000000000002", HostSerial: "HOST-B", Job: "JOB-2", Status: wipe.StatusFailed, Ended: ended.Add(48 * time.Hour)})
	arc, err := e.anon.Submit(ctx, agentCert)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := arc.Verify(agentCert, pinned); err != nil || res.Entry.Certificate.SignerKind != "agent" {
		t.Fatalf("agent receipt: %v", err)
	}
	_, err = e.anon.Submit(ctx, certtest.MustSign(agent, certtest.Drive{Serial: "SN-0003", Job: "JOB-OTHER"}))
	wantReject(t, err, http.StatusForbidden, store.RejectJobMismatch)

	// Accounts and roles.
	var created struct {
		TOTPSecret string `json:"totpSecret"`
	}
	if err := e.admin.Do(ctx, "POST", "/v1/admin/users", map[string]string{"name": "weak", "password": "password", "role": "operator"}, nil); err == nil {
		t.Fatal("weak password accepted")
	}
	if err := e.admin.Do(ctx, "POST", "/v1/admin/users", map[string]string{"name": "olga", "password": "Operator-1", "role": "operator"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Do(ctx, "POST", "/v1/admin/users", map[string]string{"name": "audrey", "password": "Auditor-1", "role": "auditor"}, &created); err != nil || created.TOTPSecret == "" {
		t.Fatalf("auditor: %v %+v", err, created)
	}
	if _, err := e.anon.Login(ctx, "audrey", "Auditor-1", ""); err == nil {
		t.Fatal("auditor logged in without a one-time code")
	}
	auditor := e.login(t, "audrey", "Auditor-1", created.TOTPSecret)
	operator := e.login(t, "olga", "Operator-1", "")
	apiTok, err := e.admin.CreateAPIToken(ctx, "olga", "station-7")
	if err != nil {
		t.Fatal(err)
	}
	machine := e.anon.WithToken(apiTok.Token)
	if err := machine.Do(ctx, "GET", "/v1/admin/users", nil, nil); !client.IsPermanent(err) {
		t.Fatalf("operator token reached an admin endpoint: %v", err)
	}

	// Search by every key, and export.
	for q, want := range map[string][]string{
		"serial=SN-0001":                   {"SN-0001"},
		"wwn=naa.5000000000000002":         {"SN-0002"},
		"host=HOST-B":                      {"SN-0002"},
		"job=JOB-1":                        {"SN-0001"},
		"status=FAILED":                    {"SN-0002"},
		"from=2026-03-14&to=2026-03-14":    {"SN-0001"},
		"from=2026-03-15":                  {"SN-0002"},
		"validation=pending&status=erased": {"SN-0001"},
		"q=0002":                           {"SN-0002"}, // text: serial, WWN, host, job, id, model, hostname
		"q=JOB-":                           {"SN-0002", "SN-0001"},
		"q=HOST-B&status=erased":           nil,
	} {
		var res api.SearchResult
		if err := machine.Do(ctx, "GET", "/v1/certificates?"+q, nil, &res); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Certificates {
			got = append(got, r.DriveSerial)
		}
		if !reflect.DeepEqual(got, want) || res.Total != len(want) {
			t.Errorf("search %s: %v (total %d), want %v", q, got, res.Total, want)
		}
	}
	var csv []byte
	if err := operator.Do(ctx, "GET", "/v1/certificates?format=csv", nil, &csv); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 3 || !strings.Contains(string(csv), "SN-0001") || !strings.HasPrefix(lines[0], "log_index,certificate_id") {
		t.Fatalf("CSV export:\n%s", csv)
	}
	var pdf []byte
	if err := operator.Do(ctx, "GET", "/v1/certificates/"+rc.CertificateID+"/pdf", nil, &pdf); err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("pdf: %v", err)
	}

	// Validation is an auditor's, signed with their passkey (WebAuthn):
	// register a key, ask for the statement's challenge, answer it.
	soft := passkeytest.New(e.base)
	var begin struct {
		Ceremony string          `json:"ceremony"`
		Options  json.RawMessage `json:"options"`
	}
	if err := operator.Do(ctx, "POST", "/v1/account/passkeys/begin", struct{}{}, &begin); !client.IsPermanent(err) {
		t.Fatalf("an operator registered a passkey: %v", err)
	}
	if err := auditor.Do(ctx, "POST", "/v1/account/passkeys/begin", struct{}{}, &begin); err != nil {
		t.Fatal(err)
	}
	cred, err := soft.Register(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	if err := auditor.Do(ctx, "POST", "/v1/account/passkeys/finish", map[string]any{"ceremony": begin.Ceremony, "name": "soft", "credential": json.RawMessage(cred)}, nil); err != nil {
		t.Fatal(err)
	}
	challenge := "/v1/certificates/" + rc.CertificateID + "/validations/challenge"
	if err := operator.Do(ctx, "POST", challenge, api.ValidationRequest{Decision: "approved"}, nil); !client.IsPermanent(err) {
		t.Fatalf("operator validated: %v", err)
	}
	if err := auditor.Do(ctx, "POST", challenge, api.ValidationRequest{Decision: "rejected"}, nil); !client.IsPermanent(err) {
		t.Fatal("rejection without a comment accepted")
	}
	if err := auditor.Do(ctx, "POST", challenge, api.ValidationRequest{}, nil); !client.IsPermanent(err) {
		t.Fatal("validation without a decision accepted")
	}
	if err := auditor.Do(ctx, "POST", "/v1/certificates/"+rc.CertificateID+"/validations", map[string]string{"decision": "approved"}, nil); !client.IsPermanent(err) {
		t.Fatal("an unsigned validation was accepted")
	}
	if err := auditor.Do(ctx, "POST", challenge, api.ValidationRequest{Decision: "approved", Comment: "evidence reviewed"}, &begin); err != nil {
		t.Fatal(err)
	}
	if cred, err = soft.Assert(begin.Options); err != nil {
		t.Fatal(err)
	}
	var v store.ValidationRecord
	if err := auditor.Do(ctx, "POST", "/v1/certificates/"+rc.CertificateID+"/validations", api.SignedValidation{Ceremony: begin.Ceremony, Credential: cred}, &v); err != nil {
		t.Fatal(err)
	}
	// A ceremony answers once.
	if err := auditor.Do(ctx, "POST", "/v1/certificates/"+rc.CertificateID+"/validations", api.SignedValidation{Ceremony: begin.Ceremony, Credential: cred}, nil); !client.IsPermanent(err) {
		t.Fatal("a validation ceremony was answered twice")
	}
	var proof passkey.Proof
	if err := operator.Do(ctx, "GET", "/v1/validations/"+strconv.FormatUint(v.LogIndex, 10)+"/proof", nil, &proof); err != nil {
		t.Fatal(err)
	}
	if _, err := proof.Verify(passkey.VerifyOptions{Keys: pinned, Certificate: cert}); err != nil {
		t.Fatalf("validation proof: %v", err)
	}
	var detail api.Certificate
	if err := operator.Do(ctx, "GET", "/v1/certificates/"+rc.CertificateID, nil, &detail); err != nil {
		t.Fatal(err)
	}
	if detail.Validation != "approved" || len(detail.Validations) != 1 || detail.Validations[0].LogIndex != v.LogIndex || v.LogIndex <= rc.LogIndex {
		t.Fatalf("validation not recorded: %+v", detail.Validations)
	}
	if !detail.Check.SignatureOK || !detail.Check.InclusionOK {
		t.Fatalf("certificate check: %+v", detail.Check)
	}

	// No API deletes or modifies an entry.
	for _, m := range []string{"DELETE", "PUT", "PATCH"} {
		err := e.admin.Do(ctx, m, "/v1/certificates/"+rc.CertificateID, nil, nil)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s on a certificate: %v", m, err)
		}
	}

	// Lockout after repeated failures, itself logged.
	for i := range 5 {
		_, err := e.anon.Login(ctx, "olga", "Wrong-pass-1", "")
		if i < 4 {
			wantReject(t, err, http.StatusUnauthorized, "bad-credentials")
		} else {
			wantReject(t, err, http.StatusLocked, "locked")
		}
	}
	_, err = e.anon.Login(ctx, "olga", "Operator-1", "")
	wantReject(t, err, http.StatusLocked, "locked")

	// Every login, failure, validation and admin action is an event.
	var events []store.EventRow
	if err := auditor.Do(ctx, "GET", "/v1/events?limit=1000", nil, &events); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range events {
		seen[ev.Type+"/"+ev.Result] = true
		if ev.Time.IsZero() || ev.Type == "" || ev.Subject == "" || ev.Object == "" || ev.Result == "" {
			t.Errorf("event lacks a field: %+v", ev)
		}
	}
	// The filters select, and combine with AND.
	for q, want := range map[string]func(store.EventRow) bool{
		"type=login.failed":          func(ev store.EventRow) bool { return ev.Type == "login.failed" },
		"type=admin.&result=failure": func(ev store.EventRow) bool { return strings.HasPrefix(ev.Type, "admin.") && ev.Result == "failure" },
		"user=olga&type=login": func(ev store.EventRow) bool {
			return strings.HasPrefix(ev.Type, "login") && (ev.Subject == "olga" || ev.Object == "user:olga")
		},
	} {
		var sel []store.EventRow
		if err := auditor.Do(ctx, "GET", "/v1/events?limit=1000&"+q, nil, &sel); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range events {
			if want(ev) {
				n++
			}
		}
		if n == 0 || len(sel) != n {
			t.Errorf("events %s: %d rows, want the %d that match", q, len(sel), n)
		}
		for _, ev := range sel {
			if !want(ev) {
				t.Errorf("events %s: %+v does not match", q, ev)
			}
		}
	}
	for _, want := range []string{"login/success", "login.failed/failure", "account.locked/success", "certificate.validated/approved",
		"admin.user.create/success", "admin.user.create/failure", "admin.token.create/success", "admin.enrollment-token.create/success",
		"admin.station-key.add/success", "agent.enrolled/success", "agent.enrolled/failure", "certificate.accepted/accepted"} {
		if !seen[want] {
			t.Errorf("no %s event", want)
		}
	}

	// Consistency between an old and the current checkpoint, and the
	// tile API serving a log that re-verifies entry by entry.
	old, err := logverify.ParseCheckpoint([]byte(rc.Checkpoint), keys.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	var cons api.Consistency
	if err := operator.Do(ctx, "GET", "/v1/log/consistency?from="+itoa(old.Size), nil, &cons); err != nil {
		t.Fatal(err)
	}
	cur, err := logverify.ParseCheckpoint([]byte(cons.Checkpoint), keys.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := logverify.VerifyConsistency(old, cur, cons.Proof); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.ts.URL + "/v1/log/")
	f, err := tclient.NewHTTPFetcher(u, e.ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	f.SetAuthorizationHeader("Bearer " + apiTok.Token)
	n := 0
	if err := logverify.Entries(ctx, f, cur.Size, cur.Hash, func(uint64, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if uint64(n) != cur.Size || n < 20 {
		t.Fatalf("tile API served %d of %d entries", n, cur.Size)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
