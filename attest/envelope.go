package attest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Envelope is a DSSE envelope (payloadType, base64 payload, signatures).
type Envelope = dsse.Envelope

// Signature is one signature of an envelope (keyid, base64 sig).
type Signature = dsse.Signature

// dsseSigner adapts a Signer to the DSSE library.
type dsseSigner struct{ s Signer }

func (d dsseSigner) Sign(_ context.Context, data []byte) ([]byte, error) { return d.s.Sign(data) }
func (d dsseSigner) KeyID() (string, error)                              { return d.s.KeyID(), nil }

// dsseVerifier checks ed25519 signatures over the DSSE PAE.
type dsseVerifier struct{ pub ed25519.PublicKey }

func (v dsseVerifier) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(v.pub, data, sig) {
		return errors.New("ed25519 signature does not verify")
	}
	return nil
}
func (v dsseVerifier) KeyID() (string, error)   { return KeyID(v.pub), nil }
func (v dsseVerifier) Public() crypto.PublicKey { return v.pub }

// Sign serializes the statement and wraps it in a DSSE envelope signed by
// signers (the station key, and a TPM key where there is one). The result
// is the certificate file's content.
func Sign(st *Statement, signers ...Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("sign certificate: no signing key")
	}
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	ds := make([]dsse.Signer, len(signers))
	for i, s := range signers {
		ds[i] = dsseSigner{s}
	}
	es, err := dsse.NewEnvelopeSigner(ds...)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	env, err := es.SignPayload(context.Background(), PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return append(out, '\n'), nil
}

// VerifyError lists everything wrong with a certificate.
type VerifyError struct {
	Problems []string
}

func (e *VerifyError) Error() string { return strings.Join(e.Problems, "; ") }

// Verified is a certificate that passed verification.
type Verified struct {
	Statement *Statement
	KeyID     string // the key that signed it
	Payload   []byte // the signed bytes
}

// Verify checks a certificate file's content against trusted public keys:
// the envelope's form, its payload type, an ed25519 signature by one of the
// keys over DSSE's PAE, the statement and predicate types, the schema
// version, and that the subject digest matches the identity in the
// predicate. It reports every problem it finds, not just the first.
func Verify(data []byte, keys ...ed25519.PublicKey) (*Verified, error) {
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, &VerifyError{[]string{"not a DSSE envelope: " + err.Error()}}
	}
	var problems []string
	if env.PayloadType != PayloadType {
		problems = append(problems, fmt.Sprintf("payload type is %q, want %q", env.PayloadType, PayloadType))
	}
	if len(env.Signatures) == 0 {
		problems = append(problems, "envelope has no signature")
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, &VerifyError{append(problems, "payload is not valid base64: "+err.Error())}
	}
	if len(keys) == 0 {
		return nil, &VerifyError{append(problems, "no trusted public key given")}
	}
	var signedBy string
	if len(env.Signatures) > 0 {
		vs := make([]dsse.Verifier, len(keys))
		for i, k := range keys {
			vs[i] = dsseVerifier{k}
		}
		ev, err := dsse.NewEnvelopeVerifier(vs...)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		accepted, err := ev.Verify(context.Background(), &env)
		switch {
		case err == nil && len(accepted) > 0:
			signedBy = accepted[0].KeyID
		default:
			problems = append(problems, signatureProblem(env, keys))
		}
	}
	var st Statement
	sdec := json.NewDecoder(bytes.NewReader(payload))
	sdec.DisallowUnknownFields()
	if err := sdec.Decode(&st); err != nil {
		problems = append(problems, "payload is not a lethe statement: "+err.Error())
		return nil, &VerifyError{problems}
	}
	problems = append(problems, checkStatement(&st)...)
	if len(problems) > 0 {
		return nil, &VerifyError{problems}
	}
	return &Verified{Statement: &st, KeyID: signedBy, Payload: payload}, nil
}

// signatureProblem explains why no signature verified: signed by another
// key, or a signature that does not match the content.
func signatureProblem(env Envelope, keys []ed25519.PublicKey) string {
	trusted := map[string]bool{}
	for _, k := range keys {
		trusted[KeyID(k)] = true
	}
	for _, s := range env.Signatures {
		if s.KeyID != "" && trusted[s.KeyID] {
			return fmt.Sprintf("signature by key %s does not match the content: the certificate was altered after signing", short(s.KeyID))
		}
	}
	var ids []string
	for _, s := range env.Signatures {
		ids = append(ids, short(s.KeyID))
	}
	return fmt.Sprintf("not signed by a trusted key (signed by %s)", strings.Join(ids, ", "))
}

func short(id string) string {
	if id == "" {
		return "an unnamed key"
	}
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

func checkStatement(st *Statement) []string {
	var problems []string
	if st.Type != StatementType {
		problems = append(problems, fmt.Sprintf("statement type is %q, want %q", st.Type, StatementType))
	}
	if st.PredicateType != PredicateType {
		problems = append(problems, fmt.Sprintf("predicate type is %q, want %q", st.PredicateType, PredicateType))
	}
	if st.Predicate.SchemaVersion != SchemaVersion {
		problems = append(problems, fmt.Sprintf("schema version %q is not supported (want %q)", st.Predicate.SchemaVersion, SchemaVersion))
	}
	if len(st.Subject) != 1 {
		problems = append(problems, fmt.Sprintf("statement has %d subjects, want exactly one drive", len(st.Subject)))
		return problems
	}
	want, err := IdentityDigest(st.Predicate.Identity)
	if err != nil {
		return append(problems, err.Error())
	}
	if got := st.Subject[0].Digest["sha256"]; got != want {
		problems = append(problems, fmt.Sprintf("subject digest %s does not match the drive identity in the certificate (%s)", short(got), short(want)))
	}
	return problems
}

// ReadFile reads and verifies a certificate file.
func ReadFile(path string, keys ...ed25519.PublicKey) (*Verified, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Verify(data, keys...)
}

// Decode reads a certificate's statement without verifying it, for display
// of a certificate that failed verification.
func Decode(data []byte) (*Statement, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("payload is not valid base64: %w", err)
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("payload is not a statement: %w", err)
	}
	return &st, nil
}
