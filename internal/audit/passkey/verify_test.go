package passkey_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/passkey"
	"github.com/lethe-project/lethe/internal/audit/passkey/passkeytest"
)

const origin = "https://audit.example:8443"

func statement(t *testing.T) []byte {
	st := &passkey.Statement{Type: passkey.StatementType, CertificateID: "9c638561-5cea-4ca3-ace7-71f15dc558c6", SubjectDigest: strings.Repeat("ab", 32),
		EnvelopeSHA256: strings.Repeat("cd", 32), CertificateLogIndex: 7, LogOrigin: "o", Decision: passkey.Approved, Comment: "ok",
		Auditor: "audrey", Time: time.Date(2026, 12, 6, 6, 42, 35, 0, time.UTC), Standard: passkey.Standard, Nonce: strings.Repeat("0f", 16)}
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertion makes an assertion over stmt by a, as a browser would send it.
func assertion(t *testing.T, a *passkeytest.Authenticator, stmt []byte) *entry.Assertion {
	t.Helper()
	opts, _ := json.Marshal(map[string]any{"publicKey": map[string]any{"challenge": base64.RawURLEncoding.EncodeToString(passkey.Challenge(stmt)), "rpId": "audit.example"}})
	resp, err := a.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		RawID    string `json:"rawId"`
		Response struct{ ClientDataJSON, AuthenticatorData, Signature string }
	}
	json.Unmarshal(resp, &r)
	d := func(s string) []byte { b, _ := base64.RawURLEncoding.DecodeString(s); return b }
	return &entry.Assertion{CredentialID: d(r.RawID), ClientDataJSON: d(r.Response.ClientDataJSON), AuthenticatorData: d(r.Response.AuthenticatorData), Signature: d(r.Response.Signature)}
}

// TestVerifyAssertion: the offline check accepts the genuine assertion and
// rejects each way it can be wrong (WebAuthn §7.2 steps 11-21).
func TestVerifyAssertion(t *testing.T) {
	stmt := statement(t)
	a := passkeytest.New(origin)
	a.RPID = "audit.example"
	key := &entry.Passkey{User: "audrey", CredentialID: a.CredentialID, PublicKey: a.COSEKey(), RPID: "audit.example"}
	if err := passkey.VerifyAssertion(stmt, assertion(t, a, stmt), key); err != nil {
		t.Fatalf("genuine: %v", err)
	}
	resign := func(as *entry.Assertion) {
		as.Signature, _ = a.Sign(as.AuthenticatorData, as.ClientDataJSON)
	}
	clientData := func(f func(m map[string]any)) func(*entry.Assertion) {
		return func(as *entry.Assertion) {
			var m map[string]any
			json.Unmarshal(as.ClientDataJSON, &m)
			f(m)
			as.ClientDataJSON, _ = json.Marshal(m)
			resign(as)
		}
	}
	other := passkeytest.New(origin)
	for name, c := range map[string]struct {
		mutate func(*entry.Assertion)
		stmt   []byte
		want   string
	}{
		"changed statement":  {stmt: []byte(strings.Replace(string(stmt), `"ok"`, `"OK"`, 1)), want: "challenge"},
		"bad signature":      {mutate: func(as *entry.Assertion) { as.Signature[10] ^= 1 }, want: "signature"},
		"other key":          {mutate: func(as *entry.Assertion) { as.Signature, _ = other.Sign(as.AuthenticatorData, as.ClientDataJSON) }, want: "signature"},
		"other credential":   {mutate: func(as *entry.Assertion) { as.CredentialID = other.CredentialID }, want: "credential"},
		"registration type":  {mutate: clientData(func(m map[string]any) { m["type"] = "webauthn.create" }), want: "type"},
		"phishing origin":    {mutate: clientData(func(m map[string]any) { m["origin"] = "https://audit.example.evil.test" }), want: "relying party"},
		"plain http":         {mutate: clientData(func(m map[string]any) { m["origin"] = "http://audit.example" }), want: "HTTPS"},
		"cross-origin frame": {mutate: clientData(func(m map[string]any) { m["crossOrigin"] = true }), want: "cross-origin"},
		"no user verified": {mutate: func(as *entry.Assertion) {
			as.AuthenticatorData[32] &^= 0x04
			resign(as)
		}, want: "verification"},
		"no user present": {mutate: func(as *entry.Assertion) {
			as.AuthenticatorData[32] &^= 0x01
			resign(as)
		}, want: "presence"},
		"other RP": {mutate: func(as *entry.Assertion) {
			h := sha256.Sum256([]byte("evil.test"))
			copy(as.AuthenticatorData, h[:])
			resign(as)
		}, want: "relying party"},
		"short authenticator data": {mutate: func(as *entry.Assertion) { as.AuthenticatorData = as.AuthenticatorData[:20] }, want: "37"},
	} {
		as := assertion(t, a, stmt)
		if c.mutate != nil {
			c.mutate(as)
		}
		s := stmt
		if c.stmt != nil {
			s = c.stmt
		}
		err := passkey.VerifyAssertion(s, as, key)
		if !errors.Is(err, passkey.ErrForged) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrForged mentioning %q", name, err, c.want)
		}
	}
}

// TestParseStatement: decoding is strict and the rules hold.
func TestParseStatement(t *testing.T) {
	good := statement(t)
	if _, err := passkey.ParseStatement(good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]string{
		"unknown field":        strings.Replace(string(good), `"nonce"`, `"extra":1,"nonce"`, 1),
		"rejection, no reason": strings.Replace(strings.Replace(string(good), `"approved"`, `"rejected"`, 1), `"comment":"ok"`, `"comment":" "`, 1),
		"no decision":          strings.Replace(string(good), `"approved"`, `""`, 1),
		"trailing data":        string(good) + `{}`,
		"short nonce":          strings.Replace(string(good), strings.Repeat("0f", 16), "0f", 1),
		"other statement type": strings.Replace(string(good), passkey.StatementType, "x", 1),
	} {
		if _, err := passkey.ParseStatement([]byte(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseStatement(f *testing.F) {
	f.Add([]byte(`{"_type":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := passkey.ParseStatement(b)
		if err == nil && st.Check() != nil {
			t.Fatal("parsed a statement that does not check")
		}
	})
}

func FuzzVerifyAssertion(f *testing.F) {
	f.Add([]byte(`{"type":"webauthn.get"}`), make([]byte, 37), []byte{0x30})
	key := &entry.Passkey{User: "u", CredentialID: []byte{1}, PublicKey: passkeytest.New(origin).COSEKey(), RPID: "audit.example"}
	f.Fuzz(func(t *testing.T, clientData, authData, sig []byte) {
		if passkey.VerifyAssertion([]byte("s"), &entry.Assertion{CredentialID: []byte{1}, ClientDataJSON: clientData, AuthenticatorData: authData, Signature: sig}, key) == nil {
			t.Fatal("a random assertion verified")
		}
	})
}
