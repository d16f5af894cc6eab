package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/entry"
)

// MaxEnvelope is the largest certificate envelope read. What fits is
// decided by the log entry that wraps it: Tessera stores entries of up to
// 64 KiB, and the entry carries the envelope base64-encoded inside a
// countersigned DSSE envelope of its own, so envelopes above about 35 KiB
// are refused as too-large with the exact sizes.
const MaxEnvelope = 40 << 10

// Rejection kinds: each maps to one HTTP status (audit/api) and tells the
// submitter what to fix.
const (
	RejectMalformed   = api.KindMalformed    // not a DSSE envelope
	RejectUnsigned    = api.KindUnsigned     // no signature at all
	RejectUnknownKey  = api.KindUnknownKey   // signed by a key nobody trusted
	RejectBadSig      = api.KindBadSignature // a trusted key, but the content changed
	RejectKeyExpired  = api.KindKeyExpired   // agent key past its lifetime, or revoked
	RejectJobMismatch = api.KindJobMismatch  // agent key enrolled for another job
	RejectPayloadType = api.KindPayloadType  // signed, but not a lethe certificate
	RejectSchema      = api.KindSchema       // signed, but not a valid certificate
	RejectConflict    = api.KindConflict     // certificate ID already logged with other content
	RejectTooLarge    = api.KindTooLarge
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

// Ingest verifies a certificate and logs it.
//
// A certificate is identified by its signed payload, not by the bytes of
// the envelope around it: a resubmission of a logged certificate — however
// formatted, and whatever other signatures it carries, as long as one of
// them is by a key the store knows — returns the original receipt (dup =
// true) and logs nothing. So a copy with an extra junk signature that
// arrives first cannot make the genuine file a conflict.
func (s *Store) Ingest(ctx context.Context, sub Submission) (rc *receipt.Receipt, dup bool, err error) {
	if err := s.writable(); err != nil {
		return nil, false, err
	}
	if len(sub.Envelope) > MaxEnvelope {
		return nil, false, reject(RejectTooLarge, fmt.Sprintf("envelope is %d bytes, the limit is %d", len(sub.Envelope), MaxEnvelope))
	}
	canon, err := entry.Canonical(sub.Envelope)
	if err != nil {
		return nil, false, reject(RejectMalformed, err.Error())
	}
	var env sign.Envelope
	if err := json.Unmarshal(canon, &env); err != nil {
		return nil, false, reject(RejectMalformed, err.Error())
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, false, reject(RejectMalformed, "payload is not valid base64: "+err.Error())
	}
	if len(env.Signatures) == 0 {
		return nil, false, reject(RejectUnsigned, "envelope has no signature: certificates must be signed by a station or agent key")
	}
	if env.PayloadType != cert.PayloadType {
		return nil, false, reject(RejectPayloadType, fmt.Sprintf("payloadType is %q; a lethe certificate is %q: this envelope does not hold a certificate",
			accounts.Truncate(env.PayloadType, 100), cert.PayloadType))
	}
	pdigest := entry.Digest(payload)
	ids := sign.SignerKeyIDs(canon)
	if rc, err := s.receiptByPayload(ctx, pdigest); err != nil {
		return nil, false, err
	} else if rc != nil {
		if ok, err := s.signedByKnownKey(ctx, canon, ids); err != nil {
			return nil, false, err
		} else if ok {
			return rc, true, nil
		}
		// Not signed by any key the store knows: refused below.
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
		return nil, false, reject(RejectUnknownKey, fmt.Sprintf("signed by key %s, which is neither a trusted station key nor a registered agent key",
			accounts.Truncate(strings.Join(short, ", "), 200)))
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
		return nil, false, reject(RejectKeyExpired, fmt.Sprintf("%s key %.16s %shas been revoked", k.kind, k.id, paren(k.name)))
	case k.kind == entry.KindAgent && !now.Before(k.expires):
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
	if k.kind == entry.KindAgent && p.Personnel.Job != k.job {
		return nil, false, reject(RejectJobMismatch, fmt.Sprintf("agent key %.16s was enrolled for job %q, the certificate says job %q", k.id, k.job, accounts.Truncate(p.Personnel.Job, 128)))
	}

	unlock, _, err := s.lockID(ctx, "cert:"+p.CertificateID)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	// Again under the lock: a concurrent submission of the same
	// certificate may have won (here or on another server).
	if rc, err := s.receiptByPayload(ctx, pdigest); err != nil || rc != nil {
		return rc, rc != nil, err
	}
	var idx uint64
	err = s.DB.QueryRowContext(ctx, `SELECT log_index FROM certificates WHERE certificate_id = ?`, p.CertificateID).Scan(&idx)
	if err == nil {
		return nil, false, reject(RejectConflict, fmt.Sprintf("certificate %s is already in the log (entry %d) with different content: a replayed or altered certificate", p.CertificateID, idx))
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, err
	}

	digest := entry.Digest(canon)
	e := &entry.Entry{
		Time: now.UTC(), Type: entry.TypeCertificate, Subject: k.kind + ":" + k.id, Object: "certificate:" + p.CertificateID,
		Result: entry.ResultAccepted, Detail: string(p.Status), Remote: sub.Remote,
		Certificate: &entry.Certificate{
			Envelope: canon, EnvelopeSHA256: digest, CertificateID: p.CertificateID, SignerKeyID: k.id,
			SignerKind: k.kind, SignerName: k.name, Job: k.job, Submitter: sub.Submitter,
		},
	}
	e.Bound()
	leaf, err := entry.Sign(e, s.signer)
	if err != nil {
		return nil, false, err
	}
	if len(leaf) > maxLeaf {
		return nil, false, reject(RejectTooLarge, fmt.Sprintf("the log entry for this %d-byte envelope would be %d bytes; the log stores entries of up to %d bytes (envelopes of about %d KiB)",
			len(canon), len(leaf), maxLeaf, (maxLeaf-2048)*9/16/1024))
	}
	a, err := s.log.Append(ctx, leaf)
	if err != nil {
		return nil, false, err
	}
	rc = &receipt.Receipt{
		Version: 1, CertificateID: p.CertificateID, EnvelopeSHA256: digest, PayloadSHA256: pdigest, Received: e.Time, LogIndex: a.Index,
		Entry: leaf, Checkpoint: string(a.Checkpoint.Raw), InclusionProof: a.Proof,
		LogKey: s.LogKey(), ServerKey: string(sign.MarshalPublicKey(s.ServerKey())),
	}
	if err := s.indexEntry(ctx, a.Index, e, leaf, rc); err != nil {
		// The entry is durable in the log; the index catches up on the
		// next start. Report the receipt only once indexed, so a retry
		// finds it.
		return nil, false, fmt.Errorf("index certificate %s (log entry %d): %w", p.CertificateID, a.Index, err)
	}
	return rc, false, nil
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ") "
}

// signedByKnownKey reports whether one of the envelope's signatures
// verifies with a key the store has known, trusted or not any more: a
// resubmission after a key was revoked or expired still gets its receipt.
func (s *Store) signedByKnownKey(ctx context.Context, canon []byte, ids []string) (bool, error) {
	for _, id := range ids {
		k, err := s.lookupKey(ctx, id)
		if err != nil {
			return false, err
		}
		if k == nil {
			continue
		}
		if _, err := sign.Open(canon, cert.PayloadType, k.pub); err == nil {
			return true, nil
		}
	}
	return false, nil
}

func (s *Store) receiptByPayload(ctx context.Context, digest string) (*receipt.Receipt, error) {
	var raw []byte
	err := s.DB.QueryRowContext(ctx, `SELECT receipt FROM certificates WHERE payload_sha256 = ?`, digest).Scan(&raw)
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

// backfillPayloadDigests fills payload_sha256 for certificates indexed
// before certificates were identified by their payload.
func (s *Store) backfillPayloadDigests(ctx context.Context) error {
	rows, err := s.DB.QueryContext(ctx, `SELECT log_index, envelope FROM certificates WHERE payload_sha256 = ''`)
	if err != nil {
		return err
	}
	type fill struct {
		idx uint64
		d   string
	}
	var fills []fill
	for rows.Next() {
		var f fill
		var env []byte
		if err := rows.Scan(&f.idx, &env); err != nil {
			rows.Close()
			return err
		}
		if f.d, err = entry.PayloadDigest(env); err != nil {
			rows.Close()
			return fmt.Errorf("certificate at entry %d: %w", f.idx, err)
		}
		fills = append(fills, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, f := range fills {
		if _, err := s.DB.ExecContext(ctx, `UPDATE certificates SET payload_sha256 = ? WHERE log_index = ?`, f.d, f.idx); err != nil {
			return err
		}
	}
	return nil
}
