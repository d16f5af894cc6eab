package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/entry"
)

// MaxEnvelope is the largest certificate envelope accepted (the log entry
// that wraps it must fit Tessera's 64 KiB entry limit).
const MaxEnvelope = 40 << 10

// Rejection kinds: each maps to one HTTP status and tells the submitter
// what to fix.
const (
	RejectMalformed   = "malformed"     // not a DSSE envelope
	RejectUnsigned    = "unsigned"      // no signature at all
	RejectUnknownKey  = "unknown-key"   // signed by a key nobody trusted
	RejectBadSig      = "bad-signature" // a trusted key, but the content changed
	RejectKeyExpired  = "key-expired"   // agent key past its lifetime, or revoked
	RejectJobMismatch = "job-mismatch"  // agent key enrolled for another job
	RejectSchema      = "schema"        // signed, but not a valid certificate
	RejectConflict    = "conflict"      // certificate ID already logged with other content
	RejectTooLarge    = "too-large"
)

// RejectError is a refused submission.
type RejectError struct {
	Kind     string
	Problems []string
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("certificate rejected (%s): %s", e.Kind, strings.Join(e.Problems, "; "))
}

func reject(kind string, problems ...string) error {
	return &RejectError{Kind: kind, Problems: problems}
}

// Submission is an incoming certificate.
type Submission struct {
	Envelope  []byte
	Submitter string // authenticated user or token name, if any
	Remote    string
}

// Ingest verifies a certificate and logs it. A resubmission of the same
// envelope returns the original receipt (dup = true) and logs nothing.
func (s *Store) Ingest(ctx context.Context, sub Submission) (rc *receipt.Receipt, dup bool, err error) {
	if len(sub.Envelope) > MaxEnvelope {
		return nil, false, reject(RejectTooLarge, fmt.Sprintf("envelope is %d bytes, the limit is %d", len(sub.Envelope), MaxEnvelope))
	}
	canon, err := entry.Canonical(sub.Envelope)
	if err != nil {
		return nil, false, reject(RejectMalformed, err.Error())
	}
	digest := entry.Digest(canon)
	if rc, err := s.receiptByDigest(ctx, digest); err != nil || rc != nil {
		return rc, rc != nil, err
	}
	ids := sign.SignerKeyIDs(canon)
	if len(ids) == 0 {
		return nil, false, reject(RejectUnsigned, "envelope has no signature: certificates must be signed by a station or agent key")
	}
	var keys []*trustedKey
	for _, id := range ids {
		k, err := s.lookupKey(ctx, id)
		if err != nil {
			return nil, false, err
		}
		if k != nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		short := make([]string, len(ids))
		for i, id := range ids {
			short[i] = fmt.Sprintf("%.16s", id)
		}
		return nil, false, reject(RejectUnknownKey, fmt.Sprintf("signed by key %s, which is neither a trusted station key nor a registered agent key", strings.Join(short, ", ")))
	}
	var trusted []*trustedKey
	for _, k := range keys {
		if _, err := sign.Open(canon, cert.PayloadType, k.pub); err == nil {
			trusted = append(trusted, k)
		}
	}
	if len(trusted) == 0 {
		return nil, false, reject(RejectBadSig, fmt.Sprintf("signature by key %.16s does not match the content: the certificate was altered after signing", keys[0].id))
	}
	k := trusted[0]
	now := s.now()
	switch {
	case k.revoked:
		return nil, false, reject(RejectKeyExpired, fmt.Sprintf("station key %.16s (%s) has been revoked", k.id, k.name))
	case k.kind == "agent" && !now.Before(k.expires):
		return nil, false, reject(RejectKeyExpired, fmt.Sprintf("agent key %.16s expired at %s; enroll again", k.id, k.expires.UTC().Format("2006-01-02T15:04:05Z")))
	}
	v, err := attest.Verify(canon, k.pub)
	if err != nil {
		var ve *attest.VerifyError
		if errors.As(err, &ve) {
			return nil, false, reject(RejectSchema, ve.Problems...)
		}
		return nil, false, reject(RejectSchema, err.Error())
	}
	p := v.Statement.Predicate
	if k.kind == "agent" && k.job != "" && p.Personnel.Job != k.job {
		return nil, false, reject(RejectJobMismatch, fmt.Sprintf("agent key %.16s was enrolled for job %q, the certificate says job %q", k.id, k.job, p.Personnel.Job))
	}

	unlock := s.lockFor(p.CertificateID)
	defer unlock()
	// Again under the lock: a concurrent identical submission may have won.
	if rc, err := s.receiptByDigest(ctx, digest); err != nil || rc != nil {
		return rc, rc != nil, err
	}
	var idx uint64
	var other string
	err = s.DB.QueryRowContext(ctx, `SELECT log_index, envelope_sha256 FROM certificates WHERE certificate_id = ?`, p.CertificateID).Scan(&idx, &other)
	if err == nil {
		return nil, false, reject(RejectConflict, fmt.Sprintf("certificate %s is already in the log (entry %d) with different content: a replayed or altered certificate", p.CertificateID, idx))
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, err
	}

	e := &entry.Entry{
		Time: now.UTC(), Type: entry.TypeCertificate, Subject: k.kind + ":" + k.id, Object: "certificate:" + p.CertificateID,
		Result: entry.ResultAccepted, Detail: string(p.Status), Remote: sub.Remote,
		Certificate: &entry.Certificate{
			Envelope: canon, EnvelopeSHA256: digest, CertificateID: p.CertificateID, SignerKeyID: k.id,
			SignerKind: k.kind, SignerName: k.name, Job: k.job, Submitter: sub.Submitter,
		},
	}
	leaf, err := entry.Sign(e, s.signer)
	if err != nil {
		return nil, false, err
	}
	a, err := s.log.Append(ctx, leaf)
	if err != nil {
		return nil, false, err
	}
	rc = &receipt.Receipt{
		Version: 1, CertificateID: p.CertificateID, EnvelopeSHA256: digest, Received: e.Time, LogIndex: a.Index,
		Entry: leaf, Checkpoint: string(a.Checkpoint.Raw), InclusionProof: a.Proof,
		LogKey: s.LogKey(), ServerKey: string(sign.MarshalPublicKey(s.ServerKey())),
	}
	if err := s.indexEntry(ctx, s.DB, a.Index, e, leaf, rc); err != nil {
		// The entry is durable in the log; the index catches up on the
		// next start. Report the receipt only once indexed, so a retry
		// finds it.
		return nil, false, fmt.Errorf("index certificate %s (log entry %d): %w", p.CertificateID, a.Index, err)
	}
	return rc, false, nil
}

func (s *Store) receiptByDigest(ctx context.Context, digest string) (*receipt.Receipt, error) {
	var raw []byte
	err := s.DB.QueryRowContext(ctx, `SELECT receipt FROM certificates WHERE envelope_sha256 = ?`, digest).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rc receipt.Receipt
	if err := json.Unmarshal(raw, &rc); err != nil {
		return nil, fmt.Errorf("stored receipt: %w", err)
	}
	return &rc, nil
}
