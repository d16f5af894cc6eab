// Package api is the lethe audit store's JSON wire format: the request
// and response bodies of every /v1 route and the error body, shared by the
// store's HTTP server and by audit/client. An integrator who talks to the
// store without the Go client reads this package as the reference; the
// route table is in audit/README.md.
//
// Compatibility: fields are only ever added (with omitempty where a zero
// value would mislead); a field's name and meaning never change.
package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/lethe-project/lethe/audit/receipt"
)

// Error is the body of every error answer: {"error","kind","problems"}.
// Kind is stable and meant for programs; Error is for people.
type Error struct {
	// Status is the HTTP status the error was (or is to be) sent with.
	Status   int      `json:"-"`
	Message  string   `json:"error"`
	Kind     string   `json:"kind"`
	Problems []string `json:"problems,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("audit store: %s (HTTP %d)", e.Message, e.Status)
}

// Permanent reports whether retrying cannot help: the store refused the
// request itself (4xx other than 408 and 429).
func (e *Error) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// Errorf makes an Error of a kind, with the status that kind has.
func Errorf(kind, format string, args ...any) *Error {
	return &Error{Status: StatusOf(kind), Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Error kinds. Each has one HTTP status (StatusOf).
const (
	// Submissions (POST /v1/certificates).
	KindMalformed    = "malformed"     // not a DSSE envelope, or a malformed request body
	KindUnsigned     = "unsigned"      // no signature at all
	KindUnknownKey   = "unknown-key"   // signed by a key nobody trusted
	KindBadSignature = "bad-signature" // a trusted key, but the content changed
	KindKeyExpired   = "key-expired"   // agent key past its lifetime, or a revoked key
	KindJobMismatch  = "job-mismatch"  // agent key enrolled for another job
	KindPayloadType  = "payload-type"  // signed, but not a lethe certificate (DSSE payloadType)
	KindSchema       = "schema"        // signed, but not a valid certificate
	KindConflict     = "conflict"      // certificate ID already logged with other content
	KindTooLarge     = "too-large"

	// Enrollment (POST /v1/enroll).
	KindTokenUnknown  = "token-unknown"
	KindTokenExpired  = "token-expired"
	KindTokenUsed     = "token-used" // used up
	KindTokenRevoked  = "token-revoked"
	KindKeyRegistered = "key-registered"

	// Sessions, accounts and permissions.
	KindUnauthorized   = "unauthorized" // no or invalid credentials
	KindForbidden      = "forbidden"    // the role or token scope does not allow it
	KindCSRF           = "csrf"
	KindBadCredentials = "bad-credentials"
	KindLocked         = "locked"
	KindRateLimited    = "rate-limited"
	KindPasswordPolicy = "password-policy"
	KindExists         = "exists"
	KindLastAdmin      = "last-admin" // the change would leave no enabled admin
	KindNotFound       = "not-found"
	KindRevoked        = "revoked" // already revoked, or never usable again
	// KindPasswordChangeRequired: the account's password was set by an
	// admin (or the first start); its owner must choose one first.
	KindPasswordChangeRequired = "password-change-required"

	// Passkeys (WebAuthn) and signed validations.
	KindNoPasskeys    = "no-passkeys"    // the store runs without a host name: passkeys are off
	KindNoPasskey     = "no-passkey"     // the account has no passkey registered
	KindExpired       = "expired"        // the ceremony (challenge) expired or was used
	KindNotRecorded   = "not-recorded"   // a validation that did not verify was not recorded
	KindNotRegistered = "not-registered" // a passkey registration that did not verify

	// The store itself.
	KindReadOnly    = "read-only"   // a mirror: nothing can be written
	KindUnavailable = "unavailable" // try again later; nothing was stored
	KindIntegrity   = "integrity"   // the log failed its integrity check: the store refuses to serve
	KindInternal    = "internal"
)

// statuses is the one table from error kind to HTTP status.
var statuses = map[string]int{
	KindMalformed:              http.StatusBadRequest,
	KindUnsigned:               http.StatusUnauthorized,
	KindUnknownKey:             http.StatusForbidden,
	KindBadSignature:           http.StatusForbidden,
	KindKeyExpired:             http.StatusForbidden,
	KindJobMismatch:            http.StatusForbidden,
	KindPayloadType:            http.StatusUnprocessableEntity,
	KindSchema:                 http.StatusUnprocessableEntity,
	KindConflict:               http.StatusConflict,
	KindTooLarge:               http.StatusRequestEntityTooLarge,
	KindTokenUnknown:           http.StatusUnauthorized,
	KindTokenExpired:           http.StatusUnauthorized,
	KindTokenUsed:              http.StatusConflict,
	KindTokenRevoked:           http.StatusUnauthorized,
	KindKeyRegistered:          http.StatusConflict,
	KindUnauthorized:           http.StatusUnauthorized,
	KindForbidden:              http.StatusForbidden,
	KindCSRF:                   http.StatusForbidden,
	KindBadCredentials:         http.StatusUnauthorized,
	KindLocked:                 http.StatusLocked,
	KindRateLimited:            http.StatusTooManyRequests,
	KindPasswordPolicy:         http.StatusBadRequest,
	KindExists:                 http.StatusConflict,
	KindLastAdmin:              http.StatusConflict,
	KindNotFound:               http.StatusNotFound,
	KindRevoked:                http.StatusConflict,
	KindPasswordChangeRequired: http.StatusForbidden,
	KindNoPasskeys:             http.StatusConflict,
	KindNoPasskey:              http.StatusConflict,
	KindExpired:                http.StatusBadRequest,
	KindNotRecorded:            http.StatusBadRequest,
	KindNotRegistered:          http.StatusBadRequest,
	KindReadOnly:               http.StatusMethodNotAllowed,
	KindUnavailable:            http.StatusServiceUnavailable,
	KindIntegrity:              http.StatusServiceUnavailable,
	KindInternal:               http.StatusInternalServerError,
}

// StatusOf is the HTTP status of an error kind (500 for an unknown kind).
func StatusOf(kind string) int {
	if s, ok := statuses[kind]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Scopes of an API token: what a machine may do with it, within its
// user's role.
const (
	ScopeSubmit = "submit" // POST /v1/certificates
	ScopeRead   = "read"   // search, read certificates, events and the log
	ScopeAdmin  = "admin"  // /v1/admin/... (admin users only)
)

// Scopes lists every scope.
var Scopes = []string{ScopeSubmit, ScopeRead, ScopeAdmin}

// EnrollRequest registers a boot agent's per-boot key (POST /v1/enroll).
type EnrollRequest struct {
	Token     string `json:"token"`
	PublicKey string `json:"publicKey"` // PKIX PEM
}

// AgentKey is a registered per-boot key: the answer to EnrollRequest, and
// an entry of GET /v1/admin/agent-keys.
type AgentKey struct {
	KeyID      string    `json:"keyId"`
	Job        string    `json:"job"`
	Expires    time.Time `json:"expires"`
	TokenID    string    `json:"tokenId,omitempty"`
	Registered time.Time `json:"registered,omitzero"`
	Revoked    bool      `json:"revoked,omitempty"`
}

// LoginRequest starts an API session (POST /v1/session).
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	TOTP     string `json:"totp,omitempty"`
}

// LoginResponse carries the session's bearer token.
type LoginResponse struct {
	Token   string    `json:"token"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires"`
	// MustChangePassword is set for an account whose password was set
	// by someone else (the first admin, an admin's reset): change it.
	MustChangePassword bool `json:"mustChangePassword,omitempty"`
}

// CertificateRow is a certificate in search results and exports.
type CertificateRow struct {
	LogIndex      uint64    `json:"logIndex"`
	CertificateID string    `json:"certificateId"`
	Status        string    `json:"status"`
	Category      string    `json:"category"`
	Technique     string    `json:"technique"`
	DriveSerial   string    `json:"driveSerial"`
	DriveModel    string    `json:"driveModel"`
	WWN           string    `json:"wwn"`
	HostSerial    string    `json:"hostSerial"`
	Hostname      string    `json:"hostname"`
	Job           string    `json:"job"`
	Operator      string    `json:"operator"`
	Organization  string    `json:"organization"`
	Site          string    `json:"site"`
	Started       time.Time `json:"started"`
	Ended         time.Time `json:"ended"`
	Received      time.Time `json:"received"`
	SignerKeyID   string    `json:"signerKeyId"`
	SignerKind    string    `json:"signerKind"`
	Validation    string    `json:"validation"`
	ValidatedBy   string    `json:"validatedBy,omitempty"`
	// Subject is the certificate's subject name, set where the drive
	// reports no model or serial.
	Subject string `json:"subject,omitempty"`
}

// SearchResult answers GET /v1/certificates.
type SearchResult struct {
	Total        int              `json:"total"`
	Certificates []CertificateRow `json:"certificates"`
}

// Validation is one auditor decision.
type Validation struct {
	LogIndex uint64    `json:"logIndex"`
	Decision string    `json:"decision"`
	Auditor  string    `json:"auditor"`
	Comment  string    `json:"comment"`
	Time     time.Time `json:"time"`
}

// Check is a certificate's verification state as the store sees it now.
type Check struct {
	SignatureOK    bool   `json:"signatureOk"`
	SignatureNote  string `json:"signatureNote"`
	InclusionOK    bool   `json:"inclusionOk"`
	InclusionNote  string `json:"inclusionNote"`
	CheckpointSize uint64 `json:"checkpointSize"`
}

// Certificate is everything the store knows about one certificate
// (GET /v1/certificates/{id}).
type Certificate struct {
	CertificateRow
	// Envelope is the DSSE envelope as logged (base64 in JSON).
	Envelope []byte `json:"envelope"`
	// Statement is the signed in-toto statement (the envelope's payload).
	Statement   json.RawMessage  `json:"statement"`
	Receipt     *receipt.Receipt `json:"receipt"`
	Validations []Validation     `json:"validations"`
	Check       Check            `json:"check"`
}

// ValidationRequest is an auditor's decision
// (POST /v1/certificates/{id}/validations).
type ValidationRequest struct {
	Decision string `json:"decision"` // approved | rejected
	Comment  string `json:"comment"`
}

// Event is an audit event (GET /v1/events).
type Event struct {
	LogIndex uint64    `json:"logIndex"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Subject  string    `json:"subject"`
	Object   string    `json:"object"`
	Result   string    `json:"result"`
	Detail   string    `json:"detail,omitempty"`
	Remote   string    `json:"remote,omitempty"`
}

// LogKeys are the store's public keys (GET /v1/log/key).
type LogKeys struct {
	Origin    string `json:"origin"`
	LogKey    string `json:"logKey"`    // signed-note verifier key for checkpoints
	ServerKey string `json:"serverKey"` // PKIX PEM, countersigns entries
}

// Consistency proves that the tree of size To extends that of From
// (GET /v1/log/consistency?from=N).
type Consistency struct {
	From       uint64   `json:"from"`
	To         uint64   `json:"to"`
	Checkpoint string   `json:"checkpoint"` // the current checkpoint, of size To
	Proof      [][]byte `json:"proof"`
}

// User describes an account (GET /v1/admin/users, POST /v1/admin/users).
type User struct {
	Name               string    `json:"name"`
	Role               string    `json:"role"`
	Locked             bool      `json:"locked"`
	Disabled           bool      `json:"disabled"`
	Failed             int       `json:"failedLogins"`
	Created            time.Time `json:"created"`
	MustChangePassword bool      `json:"mustChangePassword,omitempty"`
	// TOTPSecret and TOTPURI are returned once, when the secret is made.
	TOTPSecret string `json:"totpSecret,omitempty"`
	TOTPURI    string `json:"totpUri,omitempty"`
}

// CreateUserRequest adds an account (POST /v1/admin/users).
type CreateUserRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"` // operator | auditor | admin
	// MustChangePassword makes the owner choose their own password
	// before anything else (as for accounts made in the web UI).
	MustChangePassword bool `json:"mustChangePassword,omitempty"`
}

// PasswordRequest sets a password (POST /v1/admin/users/{name}/password).
type PasswordRequest struct {
	Password string `json:"password"`
}

// RoleRequest changes a role (POST /v1/admin/users/{name}/role).
type RoleRequest struct {
	Role string `json:"role"`
}

// APITokenRequest asks for an API token for a machine (POST
// /v1/admin/tokens). TTL is a Go duration ("720h"); empty means the
// default (90 days); the longest is a year. Scopes default to ["read"].
type APITokenRequest struct {
	User   string   `json:"user"`
	Name   string   `json:"name"`
	TTL    string   `json:"ttl,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

// EnrollmentTokenRequest mints an enrollment token for a job (POST
// /v1/admin/enrollment-tokens); TTL default 1h, at most 7 days; Uses
// default 1.
type EnrollmentTokenRequest struct {
	Job  string `json:"job"`
	TTL  string `json:"ttl,omitempty"`
	Uses int    `json:"uses,omitempty"`
}

// NewToken carries a new secret, shown once.
type NewToken struct {
	ID      string    `json:"id"`
	Token   string    `json:"token"`
	Job     string    `json:"job,omitempty"`
	Scopes  []string  `json:"scopes,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// APIToken describes a machine token, never its secret
// (GET /v1/admin/tokens).
type APIToken struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	User    string    `json:"user"`
	Scopes  []string  `json:"scopes"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	Revoked bool      `json:"revoked"`
}

// EnrollmentToken describes an enrollment token, never its secret
// (GET /v1/admin/enrollment-tokens).
type EnrollmentToken struct {
	ID        string    `json:"id"`
	Job       string    `json:"job"`
	CreatedBy string    `json:"createdBy"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	MaxUses   int       `json:"maxUses"`
	Uses      int       `json:"uses"`
	Revoked   bool      `json:"revoked"`
}

// StationKeyRequest trusts a station key (POST /v1/admin/station-keys).
type StationKeyRequest struct {
	Name      string `json:"name"`
	PublicKey string `json:"publicKey"` // PKIX PEM
}

// StationKey is a trusted key of a wipe station
// (GET /v1/admin/station-keys).
type StationKey struct {
	KeyID     string    `json:"keyId"`
	Name      string    `json:"name"`
	PublicKey string    `json:"publicKey"`
	AddedBy   string    `json:"addedBy"`
	Added     time.Time `json:"added"`
	Revoked   bool      `json:"revoked"`
}

// KeyID answers a request that created a key.
type KeyID struct {
	KeyID string `json:"keyId"`
}

// Backup answers POST /v1/admin/backup.
type Backup struct {
	Path string `json:"path"`
}

// PasswordChange is a user choosing their own password
// (POST /v1/account/password).
type PasswordChange struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// SignedValidation answers a validation challenge
// (POST /v1/certificates/{id}/validations/challenge with a
// ValidationRequest) with the authenticator's assertion: the JSON of
// PublicKeyCredential.toJSON() (POST /v1/certificates/{id}/validations).
type SignedValidation struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

// PasskeyRegistration finishes a passkey registration
// (POST /v1/account/passkeys/finish).
type PasskeyRegistration struct {
	Ceremony   string          `json:"ceremony"`
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

// PasskeysRevoked answers POST /v1/admin/users/{name}/passkeys/revoke.
type PasskeysRevoked struct {
	Revoked int `json:"revoked"`
}

// Ceremony is a started WebAuthn ceremony: its ID and the options for
// navigator.credentials (create or get) in Options.publicKey.
type Ceremony struct {
	Ceremony string          `json:"ceremony"`
	Options  json.RawMessage `json:"options"`
}
