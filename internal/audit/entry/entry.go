// Package entry defines the audit log's entries: every entry is a DSSE
// envelope countersigned by the audit server's key, whose payload records
// date and time, type, subject, object and result, and for an accepted
// certificate the submitted envelope itself.
package entry

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

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
	// TypeSecuritySummary counts, for one time window, the failed
	// logins, failed enrollments and rate-limited requests that were not
	// logged one by one (Entry.Summary).
	TypeSecuritySummary = "security.summary"

	// Trust: every key that may sign certificates, and every change to
	// it, is an entry with Entry.Key or Entry.EnrollmentToken, so the
	// store's trust state can be rebuilt from the log alone.
	TypeStationKeyAdd         = "admin.station-key.add"
	TypeStationKeyRevoke      = "admin.station-key.revoke"
	TypeAgentKeyRevoke        = "admin.agent-key.revoke"
	TypeEnrollmentTokenCreate = "admin.enrollment-token.create"
	TypeEnrollmentTokenRevoke = "admin.enrollment-token.revoke"
)

// Key kinds.
const (
	KindStation = "station"
	KindAgent   = "agent"
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
	Passkey         *Passkey         `json:"passkey,omitempty"`
	Key             *Key             `json:"key,omitempty"`
	EnrollmentToken *EnrollmentToken `json:"enrollmentToken,omitempty"`
	Summary         *Summary         `json:"summary,omitempty"`
}

// Key records a key that may sign certificates: a station key trusted by
// an admin, an agent key enrolled with a token (with its job and expiry),
// or the revocation of either (Revoked, no PublicKey).
type Key struct {
	KeyID string `json:"keyId"`
	Kind  string `json:"kind"` // station | agent
	Name  string `json:"name,omitempty"`
	// PublicKey is the PKIX PEM public key (not on a revocation).
	PublicKey string    `json:"publicKey,omitempty"`
	Job       string    `json:"job,omitempty"`
	Expires   time.Time `json:"expires,omitzero"`
	// TokenID and TokenUse: the enrollment token an agent key came with,
	// and which of its uses this was (1-based).
	TokenID  string `json:"tokenId,omitempty"`
	TokenUse int    `json:"tokenUse,omitempty"`
	Revoked  bool   `json:"revoked,omitempty"`
}

// EnrollmentToken records a minted enrollment token (its SHA-256, never
// the token) or its revocation.
type EnrollmentToken struct {
	ID          string    `json:"id"`
	TokenSHA256 string    `json:"tokenSha256,omitempty"`
	Job         string    `json:"job"`
	Expires     time.Time `json:"expires,omitzero"`
	MaxUses     int       `json:"maxUses,omitempty"`
	Revoked     bool      `json:"revoked,omitempty"`
}

// Summary counts security events of one window that were not logged
// one by one: the first occurrences are separate entries, the rest only
// counted here, so strangers cannot grow the log without limit.
type Summary struct {
	From   time.Time      `json:"from"`
	To     time.Time      `json:"to"`
	Counts []SummaryCount `json:"counts"`
	// Omitted counts what did not fit in Counts (at most MaxSummaryRows).
	Omitted int `json:"omitted,omitempty"`
}

// SummaryCount is how often one kind of event happened for one subject
// from one source.
type SummaryCount struct {
	Type    string `json:"type"`
	Subject string `json:"subject"`
	Remote  string `json:"remote,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Count   int    `json:"count"`
}

// MaxSummaryRows bounds a Summary.
const MaxSummaryRows = 50

// Field limits: an entry's text fields are cut to these sizes (in bytes,
// at a UTF-8 boundary) before it is signed, so no request can make an
// entry large. A certificate's envelope is bounded by the store instead.
const (
	MaxType    = 64
	MaxSubject = 128
	MaxObject  = 256
	MaxResult  = 32
	MaxDetail  = 2048
	MaxRemote  = 64
)

// Bound cuts an entry's free-text fields to their limits.
func (e *Entry) Bound() {
	e.Type = Truncate(e.Type, MaxType)
	e.Subject = Truncate(e.Subject, MaxSubject)
	e.Object = Truncate(e.Object, MaxObject)
	e.Result = Truncate(e.Result, MaxResult)
	e.Detail = Truncate(e.Detail, MaxDetail)
	e.Remote = Truncate(e.Remote, MaxRemote)
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence,
// and says how long it was.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	suffix := fmt.Sprintf("…(%d bytes)", len(s))
	cut := max(n-len(suffix), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
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

// PayloadDigest is the hex SHA-256 of an envelope's decoded payload: what
// identifies a certificate, whatever signatures travel with it (a copy
// with an extra signature is the same certificate).
func PayloadDigest(envelope []byte) (string, error) {
	var env sign.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return "", fmt.Errorf("not a DSSE envelope: %w", err)
	}
	p, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return "", fmt.Errorf("payload is not valid base64: %w", err)
	}
	return Digest(p), nil
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
