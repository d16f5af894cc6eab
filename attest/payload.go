package attest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// SignPayload wraps any payload in a DSSE envelope signed by signers, for
// documents other than certificates (the audit store countersigns its log
// entries this way). The result is compact JSON.
func SignPayload(payloadType string, payload []byte, signers ...Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("sign payload: no signing key")
	}
	ds := make([]dsse.Signer, len(signers))
	for i, s := range signers {
		ds[i] = dsseSigner{s}
	}
	es, err := dsse.NewEnvelopeSigner(ds...)
	if err != nil {
		return nil, fmt.Errorf("sign payload: %w", err)
	}
	env, err := es.SignPayload(context.Background(), payloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign payload: %w", err)
	}
	return json.Marshal(env)
}

// VerifyPayload checks a DSSE envelope of the given payload type against
// trusted ed25519 keys and returns the payload and the ID of the key that
// signed it. Problems are reported as a *VerifyError.
func VerifyPayload(data []byte, payloadType string, keys ...ed25519.PublicKey) (payload []byte, keyID string, err error) {
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, "", &VerifyError{[]string{"not a DSSE envelope: " + err.Error()}}
	}
	if env.PayloadType != payloadType {
		return nil, "", &VerifyError{[]string{fmt.Sprintf("payload type is %q, want %q", env.PayloadType, payloadType)}}
	}
	if len(env.Signatures) == 0 {
		return nil, "", &VerifyError{[]string{"envelope has no signature"}}
	}
	if len(keys) == 0 {
		return nil, "", &VerifyError{[]string{"no trusted public key given"}}
	}
	payload, err = base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, "", &VerifyError{[]string{"payload is not valid base64: " + err.Error()}}
	}
	vs := make([]dsse.Verifier, len(keys))
	for i, k := range keys {
		vs[i] = dsseVerifier{k}
	}
	ev, err := dsse.NewEnvelopeVerifier(vs...)
	if err != nil {
		return nil, "", fmt.Errorf("verify: %w", err)
	}
	accepted, err := ev.Verify(context.Background(), &env)
	if err != nil || len(accepted) == 0 {
		return nil, "", &VerifyError{[]string{signatureProblem(env, keys)}}
	}
	return payload, accepted[0].KeyID, nil
}

// SignatureKeyIDs lists the key IDs an envelope's signatures name, without
// verifying anything, so a verifier can look up which keys to try.
func SignatureKeyIDs(data []byte) ([]string, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	ids := make([]string, 0, len(env.Signatures))
	for _, s := range env.Signatures {
		ids = append(ids, s.KeyID)
	}
	return ids, nil
}
