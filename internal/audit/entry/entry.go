// Package entry defines the audit log's entries: every entry is a DSSE
// envelope countersigned by the audit server's key, whose payload records
// date and time, type, subject, object and result, and for an accepted
// certificate the submitted envelope itself.
package entry

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"
)

// PayloadType is the DSSE payload type of a log entry.
const PayloadType = "application/vnd.lethe.audit-entry+json"

// Entry types.
const (
	TypeCertificate = "certificate.accepted"
	TypeValidation  = "certificate.validated"
	TypeLogin       = "login"
	TypeLoginFailed = "login.failed"
	TypeLocked      = "account.locked"
	TypeLogout      = "logout"
	TypeAdmin       = "admin" // prefix: admin.user.create, admin.token.create...
	TypeEnroll      = "agent.enrolled"
	TypeServer      = "server" // server.start, server.backup
)

// Results.
const (
	ResultSuccess  = "success"
	ResultFailure  = "failure"
	ResultAccepted = "accepted"
	ResultApproved = "approved"
	ResultRejected = "rejected"
)

// Entry is one audit record.
type Entry struct {
	Version int       `json:"v"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	// Subject is who acted (user, key, server); Object what was acted on.
	Subject string `json:"subject"`
	Object  string `json:"object"`
	Result  string `json:"result"`
	Detail  string `json:"detail,omitempty"`
	Remote  string `json:"remote,omitempty"`

	Certificate *Certificate `json:"certificate,omitempty"`
	Validation  *Validation  `json:"validation,omitempty"`
	// Passkey is a registered or revoked WebAuthn credential (passkey.go).
	Passkey *Passkey `json:"passkey,omitempty"`
}

// Certificate is an accepted certificate.
type Certificate struct {
	// Envelope is the submitted DSSE envelope in canonical form.
	Envelope       []byte `json:"envelope"`
	EnvelopeSHA256 string `json:"envelopeSha256"`
	CertificateID  string `json:"certificateId"`
	SignerKeyID    string `json:"signerKeyId"`
	// SignerKind is "station" (a trusted station key) or "agent" (a
	// per-boot key registered with an enrollment token).
	SignerKind string `json:"signerKind"`
	SignerName string `json:"signerName,omitempty"`
	Job        string `json:"job,omitempty"`
	Submitter  string `json:"submitter,omitempty"`
}

// Validation is an auditor's decision on a certificate (NIST SP 800-88
// Rev. 2 validation: an accountable person accepts or rejects the
// evidence).
type Validation struct {
	CertificateID    string `json:"certificateId"`
	CertificateIndex uint64 `json:"certificateIndex"`
	EnvelopeSHA256   string `json:"envelopeSha256"`
	Decision         string `json:"decision"` // approved | rejected
	Comment          string `json:"comment,omitempty"`
	Standard         string `json:"standard"`
	// Signed is the auditor's own signature over the decision: the
	// statement and the WebAuthn assertion whose challenge is its digest
	// (passkey.go). Validations before passkeys have none.
	Signed *SignedValidation `json:"signed,omitempty"`
}

// Standard names what a validation is against.
const Standard = "NIST SP 800-88 Rev. 2 validation"

// Canonical re-encodes a DSSE envelope in one fixed form (field order,
// no whitespace), so the same envelope always has the same digest however
// it was pretty-printed.
func Canonical(envelope []byte) ([]byte, error) {
	var env sign.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	return json.Marshal(env)
}

// Digest is the hex SHA-256 of data.
func Digest(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Sign encodes and countersigns an entry; the bytes are the log leaf.
func Sign(e *Entry, signer sign.Signer) ([]byte, error) {
	if e.Version == 0 {
		e.Version = 1
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return sign.SignPayload(PayloadType, payload, signer)
}

// Open verifies a log leaf's server signature and decodes it.
func Open(leaf []byte, server ed25519.PublicKey) (*Entry, error) {
	o, err := sign.Open(leaf, PayloadType, server)
	if err != nil {
		return nil, fmt.Errorf("log entry: %w", err)
	}
	var e Entry
	if err := cert.UnmarshalStrict(o.Payload, &e); err != nil {
		return nil, fmt.Errorf("log entry: %w", err)
	}
	return &e, nil
}
