package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"
	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/sign"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/passkey"
	"github.com/lethe-project/lethe/internal/audit/totp"
)

// RegisterPasskey logs a verified passkey registration; the index row is
// derived from the entry, so a lost index gets it back from the log.
func (s *Store) RegisterPasskey(ctx context.Context, reg *passkey.Registered, who Actor) (uint64, error) {
	if reg.Entry.User == "" {
		return 0, errors.New("passkey without an account")
	}
	detail := "passkey " + shortID(reg.Entry.CredentialID)
	if reg.Entry.Name != "" {
		detail += " (" + reg.Entry.Name + ")"
	}
	e := &entry.Entry{Type: entry.TypePasskeyRegistered, Subject: who.Name, Object: "user:" + reg.Entry.User, Result: entry.ResultSuccess,
		Detail: detail, Remote: who.Remote, Passkey: &reg.Entry}
	return s.Record(ctx, e)
}

// RevokePasskeys revokes every active passkey of user (an admin's reset:
// a lost or compromised key), one log entry per key. It returns how many
// were revoked.
func (s *Store) RevokePasskeys(ctx context.Context, user string, who Actor) (int, error) {
	if _, err := s.Accounts.Get(ctx, user); err != nil {
		return 0, err
	}
	keys, err := s.Accounts.ActivePasskeys(ctx, user)
	if err != nil {
		return 0, err
	}
	for i, k := range keys {
		e := &entry.Entry{Type: entry.TypePasskeyRevoked, Subject: who.Name, Object: "user:" + user, Result: entry.ResultSuccess,
			Detail: "passkey " + shortID(k.CredentialID), Remote: who.Remote,
			Passkey: &entry.Passkey{User: user, CredentialID: k.CredentialID, Revoked: true}}
		if _, err := s.Record(ctx, e); err != nil {
			return i, err
		}
	}
	return len(keys), nil
}

// indexPasskey derives the passkeys row from a registration or revocation
// entry.
func (s *Store) indexPasskey(ctx context.Context, x execer, idx uint64, e *entry.Entry) error {
	p := e.Passkey
	id := base64.RawURLEncoding.EncodeToString(p.CredentialID)
	if p.Revoked {
		_, err := x.ExecContext(ctx, `UPDATE passkeys SET revoked_at = ? WHERE credential_id = ? AND user_name = ? AND revoked_at = 0`, e.Time.Unix(), id, p.User)
		return err
	}
	flags, count := authDataFlags(p.AttestationObject)
	_, err := x.ExecContext(ctx, `INSERT INTO passkeys (credential_id, user_name, name, public_key, sign_count, aaguid, flags, log_index, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`, id, p.User, p.Name, p.PublicKey, count, hex.EncodeToString(p.AAGUID), int(flags), idx, e.Time.Unix())
	if db.IsDuplicate(err) {
		return nil
	}
	return err
}

// authDataFlags reads the flags byte and signature counter of the
// authenticator data inside an attestation object (WebAuthn §6.5: a CBOR
// map with "authData"; §6.1: flags at byte 32, counter at 33-36).
func authDataFlags(attObj []byte) (byte, uint32) {
	var ao struct {
		AuthData []byte `cbor:"authData"`
	}
	if _, err := webauthncbor.UnmarshalFirst(attObj, &ao); err != nil || len(ao.AuthData) < 37 {
		return 0, 0
	}
	return ao.AuthData[32], passkey.SignCount(ao.AuthData)
}

// NewValidationStatement prepares what the auditor will sign about a
// certificate: the server fills in the certificate's digests, its log
// entry, the time and a fresh nonce.
func (s *Store) NewValidationStatement(ctx context.Context, certID, decision, comment, auditor string) (*passkey.Statement, []byte, error) {
	c, err := s.Certificate(ctx, certID)
	if err != nil {
		return nil, nil, err
	}
	if len(c.Statement.Subject) != 1 {
		return nil, nil, fmt.Errorf("certificate %s has %d subjects", certID, len(c.Statement.Subject))
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	st := &passkey.Statement{
		Type: passkey.StatementType, CertificateID: c.CertificateID, SubjectDigest: c.Statement.Subject[0].Digest["sha256"],
		EnvelopeSHA256: c.Receipt.EnvelopeSHA256, CertificateLogIndex: c.LogIndex, LogOrigin: s.origin,
		Decision: decision, Comment: strings.TrimSpace(comment), Auditor: auditor, Time: s.now().UTC(), Standard: passkey.Standard,
		Nonce: hex.EncodeToString(nonce),
	}
	if err := st.Check(); err != nil {
		return nil, nil, err
	}
	b, err := st.Encode()
	return st, b, err
}

// ValidateSigned logs an auditor's decision together with their signature
// over it: the statement and the WebAuthn assertion (already verified by
// the caller against the ceremony it started).
func (s *Store) ValidateSigned(ctx context.Context, statement []byte, a *passkey.Asserted, who Actor) (*ValidationRecord, error) {
	st, err := passkey.ParseStatement(statement)
	if err != nil {
		return nil, err
	}
	if st.Auditor != who.Name || a.Key.User != who.Name {
		return nil, fmt.Errorf("the statement is by %s, the passkey belongs to %s, the request comes from %s", st.Auditor, a.Key.User, who.Name)
	}
	// The same checks anyone will make offline, before it goes into the log.
	reg := &entry.Passkey{User: a.Key.User, CredentialID: a.Key.CredentialID, PublicKey: a.Key.PublicKey, RPID: ""}
	if reg.RPID, err = s.passkeyRPID(ctx, a.Key.LogIndex); err != nil {
		return nil, err
	}
	if err := passkey.VerifyAssertion(statement, &a.Assertion, reg); err != nil {
		return nil, err
	}
	c, err := s.Certificate(ctx, st.CertificateID)
	if err != nil {
		return nil, err
	}
	if c.LogIndex != st.CertificateLogIndex || c.Receipt.EnvelopeSHA256 != st.EnvelopeSHA256 {
		return nil, errors.New("the statement does not match the logged certificate")
	}
	if d := s.now().Sub(st.Time); d < -time.Minute || d > passkey.Timeout+time.Minute {
		return nil, fmt.Errorf("the statement was prepared %v ago; prepare it again", d.Round(time.Second))
	}
	if err := s.Accounts.UpdateSignCount(ctx, a.Key.CredentialID, a.SignCount); err != nil {
		return nil, err
	}
	e := &entry.Entry{
		Time: s.now().UTC(), Type: entry.TypeValidation, Subject: who.Name, Object: "certificate:" + st.CertificateID, Result: st.Decision,
		Detail: st.Comment, Remote: who.Remote,
		Validation: &entry.Validation{CertificateID: st.CertificateID, CertificateIndex: st.CertificateLogIndex, EnvelopeSHA256: st.EnvelopeSHA256,
			Decision: st.Decision, Comment: st.Comment, Standard: entry.Standard,
			Signed: &entry.SignedValidation{Statement: statement, Assertion: &a.Assertion, PasskeyIndex: a.Key.LogIndex}},
	}
	idx, err := s.Record(ctx, e)
	if err != nil {
		return nil, err
	}
	return &ValidationRecord{LogIndex: idx, Decision: st.Decision, Auditor: who.Name, Comment: st.Comment, Time: e.Time}, nil
}

func (s *Store) passkeyRPID(ctx context.Context, idx uint64) (string, error) {
	e, err := s.Entry(ctx, idx)
	if err != nil {
		return "", err
	}
	if e.Passkey == nil {
		return "", fmt.Errorf("log entry %d is not a passkey registration", idx)
	}
	return e.Passkey.RPID, nil
}

// Leaf reads log entry idx (its countersigned bytes) from the current tree.
func (s *Store) Leaf(ctx context.Context, idx uint64) ([]byte, *logverify.Checkpoint, error) {
	cp, err := s.log.Checkpoint(ctx)
	if err != nil {
		return nil, nil, err
	}
	if idx >= cp.Size {
		return nil, nil, fmt.Errorf("log entry %d: %w", idx, ErrNotFound)
	}
	b, err := client.GetEntryBundle(ctx, s.log.Fetcher().ReadEntryBundle, idx/256, cp.Size)
	if err != nil {
		return nil, nil, err
	}
	if j := idx % 256; j < uint64(len(b.Entries)) {
		return b.Entries[j], cp, nil
	}
	return nil, nil, fmt.Errorf("log entry %d missing from its bundle", idx)
}

// Entry reads and opens log entry idx.
func (s *Store) Entry(ctx context.Context, idx uint64) (*entry.Entry, error) {
	leaf, _, err := s.Leaf(ctx, idx)
	if err != nil {
		return nil, err
	}
	return entry.Open(leaf, s.ServerKey())
}

// ValidationProof assembles the offline proof of the signed validation at
// log entry idx, against the current checkpoint.
func (s *Store) ValidationProof(ctx context.Context, idx uint64) (*passkey.Proof, error) {
	cp, err := s.log.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	prove := func(i uint64) (passkey.ProvedEntry, *entry.Entry, error) {
		if i >= cp.Size {
			return passkey.ProvedEntry{}, nil, fmt.Errorf("log entry %d: %w", i, ErrNotFound)
		}
		b, err := client.GetEntryBundle(ctx, s.log.Fetcher().ReadEntryBundle, i/256, cp.Size)
		if err != nil {
			return passkey.ProvedEntry{}, nil, err
		}
		if i%256 >= uint64(len(b.Entries)) {
			return passkey.ProvedEntry{}, nil, fmt.Errorf("log entry %d missing from its bundle", i)
		}
		leaf := b.Entries[i%256]
		e, err := entry.Open(leaf, s.ServerKey())
		if err != nil {
			return passkey.ProvedEntry{}, nil, err
		}
		p, err := logverify.InclusionProof(ctx, s.log.Fetcher(), i, cp.Size)
		if err != nil {
			return passkey.ProvedEntry{}, nil, err
		}
		return passkey.ProvedEntry{Index: i, Entry: leaf, InclusionProof: p}, e, nil
	}
	vp, ve, err := prove(idx)
	if err != nil {
		return nil, err
	}
	if ve.Validation == nil || ve.Validation.Signed == nil {
		return nil, fmt.Errorf("log entry %d is not a signed validation: %w", idx, ErrNotFound)
	}
	kp, _, err := prove(ve.Validation.Signed.PasskeyIndex)
	if err != nil {
		return nil, err
	}
	cpe, _, err := prove(ve.Validation.CertificateIndex)
	if err != nil {
		return nil, err
	}
	return &passkey.Proof{Version: 1, Checkpoint: string(cp.Raw), Validation: vp, Passkey: kp, Certificate: cpe,
		LogKey: s.LogKey(), ServerKey: string(sign.MarshalPublicKey(s.ServerKey()))}, nil
}

// ExportPasskey is a user's registered credential in the form its owner
// keeps to pin it (passkey.VerifyOptions.Passkey).
func (s *Store) ExportPasskey(ctx context.Context, user string, id []byte) (*passkey.ExportedKey, error) {
	k, err := s.Accounts.GetPasskey(ctx, user, id)
	if err != nil {
		return nil, err
	}
	rpid, err := s.passkeyRPID(ctx, k.LogIndex)
	if err != nil {
		return nil, err
	}
	return &passkey.ExportedKey{User: user, CredentialID: k.CredentialID, PublicKey: k.PublicKey, RPID: rpid, LogIndex: k.LogIndex}, nil
}

// ResetTOTP gives a user a new TOTP secret (a lost authenticator app) and
// logs it; the new secret is returned once.
func (s *Store) ResetTOTP(ctx context.Context, name string, who Actor) (string, string, error) {
	secret, err := s.Accounts.ResetTOTP(ctx, name)
	if err := s.admin(ctx, "user.totp-reset", who, "user:"+name, err, "new TOTP secret issued"); err != nil {
		return "", "", err
	}
	return secret, totp.URI("lethe-audit", name, secret), nil
}

// CreateUserByAdmin adds an account whose password the admin chose: its
// owner must change it at first login.
func (s *Store) CreateUserByAdmin(ctx context.Context, name, password string, role accounts.Role, who Actor) (*accounts.User, error) {
	u, err := s.CreateUser(ctx, name, password, role, who)
	if err != nil {
		return nil, err
	}
	return u, s.Accounts.SetMustChangePassword(ctx, name, true)
}

func shortID(id []byte) string {
	s := base64.RawURLEncoding.EncodeToString(id)
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// LoginPasskey is Login with a passkey as the second factor: verify checks
// the browser's assertion once the password is right. The login, the
// failure or the lockout is recorded as Login records it.
func (s *Store) LoginPasskey(ctx context.Context, name, password, remote string, verify func(*accounts.User) error) (string, *accounts.Session, error) {
	return s.login(ctx, name, remote, "passkey", func() (accounts.LoginResult, error) {
		return s.Accounts.AuthenticatePasskey(ctx, name, password, verify)
	})
}
