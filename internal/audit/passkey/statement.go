// Package passkey makes an auditor's validation the auditor's own signed
// act: auditors register a passkey or security key (WebAuthn Level 3), and
// every validation is a WebAuthn assertion whose challenge is the SHA-256
// of a validation statement (certificate ID, subject digest, log index,
// decision, comment, time). The statement, the assertion and the
// registered public key are log entries, so anyone holding the log's keys
// can check offline that this auditor's authenticator signed this
// decision about this certificate; the store's operator holds no key that
// could produce such an assertion.
//
// The ceremonies (options, challenge bookkeeping, attestation and
// assertion checks) are github.com/go-webauthn/webauthn's; the offline
// check in verify.go re-does the assertion steps of WebAuthn §7.2 that
// need no server state.
package passkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// StatementType identifies a validation statement, version 1.
const StatementType = "https://github.com/lethe-project/lethe/validation/v1"

// Standard names what a validation is against.
const Standard = "NIST SP 800-88 Rev. 2 validation"

// Decisions.
const (
	Approved = "approved"
	Rejected = "rejected"
)

// MaxComment bounds a validation comment (it is signed and logged).
const MaxComment = 2000

// Statement is what an auditor signs: the decision, the certificate it is
// about (by ID, subject digest, envelope digest and log entry), who and
// when. Its exact bytes are kept in the log; the assertion's challenge is
// their SHA-256.
type Statement struct {
	Type                string    `json:"_type"`
	CertificateID       string    `json:"certificateId"`
	SubjectDigest       string    `json:"subjectDigest"` // the certificate's in-toto subject digest (sha256 hex)
	EnvelopeSHA256      string    `json:"envelopeSha256"`
	CertificateLogIndex uint64    `json:"certificateLogIndex"`
	LogOrigin           string    `json:"logOrigin"`
	Decision            string    `json:"decision"`
	Comment             string    `json:"comment"`
	Auditor             string    `json:"auditor"`
	Time                time.Time `json:"time"`
	Standard            string    `json:"standard"`
	// Nonce is 16 random bytes (hex) from the server, so every challenge
	// is unpredictable and fresh (WebAuthn §13.4.3) even for the same
	// decision.
	Nonce string `json:"nonce"`
}

// Check enforces what a statement must say: a decision, and a reason for
// a rejection.
func (s *Statement) Check() error {
	if s.Type != StatementType {
		return fmt.Errorf("statement type %q, want %q", s.Type, StatementType)
	}
	switch s.Decision {
	case Approved, Rejected:
	default:
		return fmt.Errorf("decision %q: choose approved or rejected", s.Decision)
	}
	if s.Decision == Rejected && strings.TrimSpace(s.Comment) == "" {
		return fmt.Errorf("a rejection needs a reason in the comment")
	}
	if len(s.Comment) > MaxComment {
		return fmt.Errorf("comment is %d bytes, at most %d", len(s.Comment), MaxComment)
	}
	if s.CertificateID == "" || s.SubjectDigest == "" || s.EnvelopeSHA256 == "" || s.Auditor == "" || s.Time.IsZero() || len(s.Nonce) < 32 {
		return fmt.Errorf("statement lacks the certificate, its digests, the auditor, the time or the nonce")
	}
	return nil
}

// Encode is the statement's bytes as signed: compact JSON in the struct's
// field order. They are stored verbatim, so no canonicalization is needed
// to recompute the challenge.
func (s *Statement) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ParseStatement decodes statement bytes strictly.
func ParseStatement(b []byte) (*Statement, error) {
	var s Statement
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("validation statement: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("validation statement: trailing data")
	}
	return &s, s.Check()
}

// Challenge is the WebAuthn challenge that commits to a statement: its
// SHA-256 (32 bytes, the size WebAuthn §13.4.3 asks of a challenge).
func Challenge(statement []byte) []byte {
	sum := sha256.Sum256(statement)
	return sum[:]
}
