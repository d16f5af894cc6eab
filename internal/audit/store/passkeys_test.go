package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/passkey"
	"github.com/lethe-project/lethe/internal/audit/passkey/passkeytest"
	"github.com/lethe-project/lethe/internal/certtest"
)

const testOrigin = "https://audit.example:8443"

// registerSoft registers a software authenticator's passkey for user
// through the relying party, as the web UI does.
func registerSoft(t *testing.T, st *Store, rp *passkey.RP, user string) *passkeytest.Authenticator {
	t.Helper()
	ctx := context.Background()
	auth := passkeytest.New(testOrigin)
	keys, _ := st.Accounts.ActivePasskeys(ctx, user)
	opts, state, err := rp.BeginRegistration(passkey.Account{Name: user, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.Register(opts)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := rp.FinishRegistration(passkey.Account{Name: user, Keys: keys}, state, resp, "test key")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RegisterPasskey(ctx, reg, Actor{Name: user}); err != nil {
		t.Fatal(err)
	}
	return auth
}

// signValidation runs the validation ceremony with auth and logs it.
func signValidation(t *testing.T, st *Store, rp *passkey.RP, auth *passkeytest.Authenticator, user, certID, decision, comment string) *ValidationRecord {
	t.Helper()
	ctx := context.Background()
	_, stmt, err := st.NewValidationStatement(ctx, certID, decision, comment, user)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := st.Accounts.ActivePasskeys(ctx, user)
	acct := passkey.Account{Name: user, Keys: keys}
	opts, state, err := rp.BeginAssertion(acct, passkey.Challenge(stmt))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := rp.FinishAssertion(acct, state, resp)
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.ValidateSigned(ctx, stmt, a, Actor{Name: user})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSignedValidationOffline: an auditor registers a passkey and signs a
// decision; the proof verifies offline against pinned keys, the
// certificate and the auditor's exported passkey. Validations the store's
// operator forges with the server key — a changed comment, another key
// registered in the auditor's name, another key's signature next to the
// auditor's registration — are rejected.
func TestSignedValidationOffline(t *testing.T) {
	ctx := context.Background()
	st, key := openWithStation(t, Config{Dir: t.TempDir(), Origin: "test.lethe/passkeys"})
	cert := certtest.MustSign(key, certtest.Drive{Serial: "PK-1"})
	rc, _, err := st.Ingest(ctx, Submission{Envelope: cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, "audrey", "Auditor-Pw1", accounts.Auditor, Actor{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	rp, err := passkey.NewRP(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	auth := registerSoft(t, st, rp, "audrey")
	keys, _ := st.Accounts.ActivePasskeys(ctx, "audrey")
	if len(keys) != 1 || keys[0].Flags&0x04 == 0 {
		t.Fatalf("registered passkeys: %+v", keys)
	}
	exported, err := st.ExportPasskey(ctx, "audrey", keys[0].CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	pinnedKey := &entry.Passkey{User: exported.User, CredentialID: exported.CredentialID, PublicKey: exported.PublicKey}

	v := signValidation(t, st, rp, auth, "audrey", rc.CertificateID, passkey.Approved, "evidence reviewed")
	proof, err := st.ValidationProof(ctx, v.LogIndex)
	if err != nil {
		t.Fatal(err)
	}
	pinned := receipt.Keys{LogKey: st.LogKey(), ServerKey: st.ServerKey()}
	got, err := proof.Verify(passkey.VerifyOptions{Keys: pinned, Certificate: cert, Passkey: pinnedKey})
	if err != nil {
		t.Fatalf("genuine validation does not verify: %v", err)
	}
	if got.Statement.Decision != "approved" || got.Statement.Auditor != "audrey" || got.Statement.CertificateID != rc.CertificateID {
		t.Fatalf("verified statement: %+v", got.Statement)
	}
	// Round trip through JSON, as the file an auditor downloads.
	raw, _ := json.Marshal(proof)
	var back passkey.Proof
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if _, err := back.Verify(passkey.VerifyOptions{Keys: pinned, Certificate: cert, Passkey: pinnedKey}); err != nil {
		t.Fatalf("proof after JSON: %v", err)
	}
	// Not about another certificate.
	other := certtest.MustSign(key, certtest.Drive{Serial: "PK-2"})
	if _, err := proof.Verify(passkey.VerifyOptions{Keys: pinned, Certificate: other}); !errors.Is(err, passkey.ErrForged) {
		t.Fatalf("proof checked against another certificate: %v", err)
	}

	// The operator (who has the server key and can append) forges.
	leaf, _, err := st.Leaf(ctx, v.LogIndex)
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := entry.Open(leaf, st.ServerKey())
	if err != nil {
		t.Fatal(err)
	}
	forge := func(name string, mutate func(e *entry.Entry)) {
		t.Helper()
		var e entry.Entry
		b, _ := json.Marshal(genuine)
		json.Unmarshal(b, &e)
		e.Time = e.Time.Add(1)
		mutate(&e)
		idx, err := st.Record(ctx, &e)
		if err != nil {
			t.Fatal(err)
		}
		p, err := st.ValidationProof(ctx, idx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Verify(passkey.VerifyOptions{Keys: pinned, Certificate: cert, Passkey: pinnedKey})
		if !errors.Is(err, passkey.ErrForged) {
			t.Fatalf("%s: forged validation accepted or wrong error: %v", name, err)
		}
		t.Logf("%s: rejected: %v", name, err)
	}
	forge("changed comment", func(e *entry.Entry) {
		st, _ := passkey.ParseStatement(e.Validation.Signed.Statement)
		st.Comment = "evidence reviewed, all fine"
		e.Validation.Signed.Statement, _ = st.Encode()
		e.Validation.Comment, e.Detail = st.Comment, st.Comment
	})
	forge("changed decision", func(e *entry.Entry) {
		st, _ := passkey.ParseStatement(e.Validation.Signed.Statement)
		st.Decision, st.Comment = passkey.Rejected, "evidence reviewed"
		e.Validation.Signed.Statement, _ = st.Encode()
		e.Validation.Decision, e.Result = passkey.Rejected, passkey.Rejected
	})
	forge("summary differs from the signed statement", func(e *entry.Entry) {
		e.Validation.Comment = "something else"
	})
	mallory := passkeytest.New(testOrigin)
	mallory.RPID, mallory.UserHandle = auth.RPID, auth.UserHandle
	forge("another key's signature", func(e *entry.Entry) {
		a := *e.Validation.Signed.Assertion
		a.Signature, _ = mallory.Sign(a.AuthenticatorData, a.ClientDataJSON)
		e.Validation.Signed.Assertion = &a
	})
	// A key the operator registers in audrey's name through the log: the
	// signature is genuine for that key, but it is not audrey's pinned one.
	moreKeys := registerSoft(t, st, rp, "audrey")
	_ = moreKeys
	all, _ := st.Accounts.ActivePasskeys(ctx, "audrey")
	forged := signValidation(t, st, rp, moreKeys, "audrey", rc.CertificateID, passkey.Approved, "approved by someone else")
	p, err := st.ValidationProof(ctx, forged.LogIndex)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(passkey.VerifyOptions{Keys: pinned, Passkey: pinnedKey}); !errors.Is(err, passkey.ErrForged) || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("validation by a key registered later in the auditor's name: %v (keys %d)", err, len(all))
	}
	// Pinned keys of another store.
	_, otherServer, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := proof.Verify(passkey.VerifyOptions{Keys: receipt.Keys{LogKey: st.LogKey(), ServerKey: otherServer.Public().(ed25519.PublicKey)}}); err == nil {
		t.Fatal("proof verified under another server key")
	}
}

// TestValidateSignedRefusesChangedStatement: the server refuses an
// assertion over one statement presented with another.
func TestValidateSignedRefusesChangedStatement(t *testing.T) {
	ctx := context.Background()
	st, key := openWithStation(t, Config{Dir: t.TempDir(), Origin: "test.lethe/passkeys2"})
	rc, _, err := st.Ingest(ctx, Submission{Envelope: certtest.MustSign(key, certtest.Drive{Serial: "PK-3"})})
	if err != nil {
		t.Fatal(err)
	}
	st.CreateUser(ctx, "audrey", "Auditor-Pw1", accounts.Auditor, Actor{Name: "t"})
	rp, _ := passkey.NewRP(testOrigin)
	auth := registerSoft(t, st, rp, "audrey")
	_, stmt, err := st.NewValidationStatement(ctx, rc.CertificateID, passkey.Approved, "ok", "audrey")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := st.Accounts.ActivePasskeys(ctx, "audrey")
	acct := passkey.Account{Name: "audrey", Keys: keys}
	opts, state, _ := rp.BeginAssertion(acct, passkey.Challenge(stmt))
	resp, _ := auth.Assert(opts)
	a, err := rp.FinishAssertion(acct, state, resp)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := st.NewValidationStatement(ctx, rc.CertificateID, passkey.Rejected, "bad", "audrey")
	if _, err := st.ValidateSigned(ctx, other, a, Actor{Name: "audrey"}); !errors.Is(err, passkey.ErrForged) {
		t.Fatalf("assertion for another statement accepted: %v", err)
	}
	if _, err := st.ValidateSigned(ctx, stmt, a, Actor{Name: "mallory"}); err == nil {
		t.Fatal("validation logged in someone else's name")
	}
	if _, _, err := st.NewValidationStatement(ctx, rc.CertificateID, passkey.Rejected, "  ", "audrey"); err == nil {
		t.Fatal("a rejection without a reason was prepared")
	}
	if _, _, err := st.NewValidationStatement(ctx, rc.CertificateID, "", "x", "audrey"); err == nil {
		t.Fatal("a statement without a decision was prepared")
	}
	// Revoked keys no longer sign.
	if n, err := st.RevokePasskeys(ctx, "audrey", Actor{Name: "admin"}); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if keys, _ := st.Accounts.ActivePasskeys(ctx, "audrey"); len(keys) != 0 {
		t.Fatalf("revoked key still active: %+v", keys)
	}
	if _, _, err := rp.BeginAssertion(passkey.Account{Name: "audrey"}, passkey.Challenge(stmt)); err == nil {
		t.Fatal("assertion begun without a key")
	}
}
