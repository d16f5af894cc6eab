// Package attest signs and verifies lethe certificates of sanitization:
// in-toto Statements (package cert) in DSSE envelopes (package sign). It is
// the verifier an integrator imports:
//
//	v, err := attest.Verify(fileBytes, stationKey)
//	if err != nil { ... } // *attest.VerifyError lists every problem
//	fmt.Println(v.Statement.Predicate.Status)
//
// Verify refuses a file unless a trusted key signed it, it decodes strictly
// (no duplicate or case-variant keys, no unknown fields), its subject
// digest matches the drive identity, and its content satisfies the schema's
// rules (cert.Statement.Validate).
package attest

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"
)

// Sign serializes the statement and wraps it in a DSSE envelope signed by
// signers (the station key, and a TPM key where there is one). The result
// is the certificate file's content: indented JSON ending in a newline.
func Sign(st *cert.Statement, signers ...sign.Signer) ([]byte, error) {
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("sign certificate: the statement breaks the schema: %w", err)
	}
	payload, err := cert.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	env, err := sign.Seal(cert.PayloadType, payload, signers...)
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
	Statement *cert.Statement
	KeyID     string // the trusted key that signed it
	Payload   []byte // the signed bytes
	Envelope  *sign.Envelope
}

// Verify checks a certificate file's content against trusted ed25519 public
// keys: the envelope's form and payload type, a signature by one of the
// keys over DSSE's PAE, strict decoding of the statement, and the schema's
// rules (subject digest included). It reports every problem it finds.
func Verify(data []byte, keys ...ed25519.PublicKey) (*Verified, error) {
	opened, err := sign.Open(data, cert.PayloadType, keys...)
	var problems []string
	var payload []byte
	var env *sign.Envelope
	var se *sign.Error
	switch {
	case err == nil:
		payload, env = opened.Payload, opened.Envelope
	case errors.As(err, &se):
		problems = append(problems, se.Problems...)
		// Report what else is wrong with the content, where it can be read.
		if e, p, derr := sign.Decode(data); derr == nil {
			payload, env = p, e
		}
	default:
		return nil, err
	}
	if payload == nil {
		return nil, &VerifyError{problems}
	}
	st, err := cert.Parse(payload)
	if err != nil {
		return nil, &VerifyError{append(problems, "payload is not a valid lethe statement: "+err.Error())}
	}
	var ve *cert.ValidationError
	if err := st.Validate(); errors.As(err, &ve) {
		problems = append(problems, ve.Problems...)
	} else if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, &VerifyError{problems}
	}
	return &Verified{Statement: st, KeyID: opened.KeyID, Payload: payload, Envelope: env}, nil
}

// ReadFile reads (at most sign.MaxEnvelopeBytes) and verifies a certificate
// file.
func ReadFile(path string, keys ...ed25519.PublicKey) (*Verified, error) {
	data, err := sign.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Verify(data, keys...)
}

// Decode reads a certificate's statement strictly without verifying its
// signature or rules, for display of a certificate that failed
// verification (which the display must say).
func Decode(data []byte) (*cert.Statement, error) {
	_, payload, err := sign.Decode(data)
	if err != nil {
		return nil, err
	}
	return cert.Parse(payload)
}
