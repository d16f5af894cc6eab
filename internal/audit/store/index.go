package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/entry"
)

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// indexEntry writes the index rows for one log entry. Every write is
// idempotent (rows are keyed by log index or key ID, counters only rise),
// so indexing an entry twice — the request path and a reconciliation, or
// two servers — is harmless, and a rebuild from the log writes exactly
// what the live path wrote.
func (s *Store) indexEntry(ctx context.Context, idx uint64, e *entry.Entry, leaf []byte, rc *receipt.Receipt) error {
	var err error
	switch {
	case e.Certificate != nil:
		err = s.indexCertificate(ctx, idx, e, rc)
	case e.Validation != nil:
		err = s.indexValidation(ctx, idx, e)
	case e.Key != nil:
		err = s.indexKey(ctx, e)
	case e.EnrollmentToken != nil:
		err = s.indexEnrollmentToken(ctx, e)
	case e.Passkey != nil:
		err = s.indexPasskey(ctx, s.DB, idx, e) // passkeys.go
	}
	if err != nil {
		return err
	}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO events (log_index, at, type, subject, object, result, detail, remote) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		idx, e.Time.UnixNano(), e.Type, e.Subject, e.Object, e.Result, e.Detail, e.Remote)
	if db.IsDuplicate(err) {
		return nil
	}
	return err
}

// insertOrExists runs an INSERT; a row that exists already is fine.
func (s *Store) insertOrExists(ctx context.Context, q string, args ...any) error {
	_, err := s.DB.ExecContext(ctx, q, args...)
	if db.IsDuplicate(err) {
		return nil
	}
	return err
}

func (s *Store) indexKey(ctx context.Context, e *entry.Entry) error {
	k := e.Key
	t := e.Time.Unix()
	switch {
	case k.Revoked && k.Kind == entry.KindStation:
		_, err := s.DB.ExecContext(ctx, `UPDATE station_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at = 0`, t, k.KeyID)
		return err
	case k.Revoked && k.Kind == entry.KindAgent:
		_, err := s.DB.ExecContext(ctx, `UPDATE agent_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at = 0`, t, k.KeyID)
		return err
	case k.Kind == entry.KindStation:
		if err := s.insertOrExists(ctx, `INSERT INTO station_keys (key_id, name, public_key, added_by, added_at, revoked_at, logged) VALUES (?, ?, ?, ?, ?, 0, 1)`,
			k.KeyID, k.Name, k.PublicKey, e.Subject, t); err != nil {
			return err
		}
		_, err := s.DB.ExecContext(ctx, `UPDATE station_keys SET logged = 1 WHERE key_id = ? AND logged = 0`, k.KeyID)
		return err
	case k.Kind == entry.KindAgent:
		if err := s.insertOrExists(ctx, `INSERT INTO agent_keys (key_id, public_key, job, token_id, registered_at, expires_at, revoked_at, logged) VALUES (?, ?, ?, ?, ?, ?, 0, 1)`,
			k.KeyID, k.PublicKey, k.Job, k.TokenID, t, k.Expires.Unix()); err != nil {
			return err
		}
		if _, err := s.DB.ExecContext(ctx, `UPDATE agent_keys SET logged = 1 WHERE key_id = ? AND logged = 0`, k.KeyID); err != nil {
			return err
		}
		if k.TokenID != "" && k.TokenUse > 0 {
			_, err := s.DB.ExecContext(ctx, `UPDATE enrollment_tokens SET uses = ? WHERE id = ? AND uses < ?`, k.TokenUse, k.TokenID, k.TokenUse)
			return err
		}
		return nil
	}
	return fmt.Errorf("log entry %s: key of unknown kind %q", e.Type, k.Kind)
}

func (s *Store) indexEnrollmentToken(ctx context.Context, e *entry.Entry) error {
	t := e.EnrollmentToken
	if t.Revoked {
		_, err := s.DB.ExecContext(ctx, `UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, e.Time.Unix(), t.ID)
		return err
	}
	if err := s.insertOrExists(ctx, `INSERT INTO enrollment_tokens (id, token_hash, job, created_by, created_at, expires_at, max_uses, uses, revoked_at, logged)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 1)`, t.ID, t.TokenSHA256, t.Job, e.Subject, e.Time.Unix(), t.Expires.Unix(), t.MaxUses); err != nil {
		return err
	}
	_, err := s.DB.ExecContext(ctx, `UPDATE enrollment_tokens SET logged = 1 WHERE id = ? AND logged = 0`, t.ID)
	return err
}

func (s *Store) indexCertificate(ctx context.Context, idx uint64, e *entry.Entry, rc *receipt.Receipt) error {
	c := e.Certificate
	st, err := attest.Decode(c.Envelope)
	if err != nil {
		return err
	}
	pd, err := entry.PayloadDigest(c.Envelope)
	if err != nil {
		return err
	}
	if rc.PayloadSHA256 == "" {
		rc.PayloadSHA256 = pd
	}
	raw, err := json.Marshal(rc)
	if err != nil {
		return err
	}
	p := st.Predicate
	return s.insertOrExists(ctx, `INSERT INTO certificates (log_index, certificate_id, envelope_sha256, payload_sha256, status, category, technique,
		drive_serial, drive_model, wwn, host_serial, hostname, job, operator, organization, site, started, ended, received,
		signer_key_id, signer_kind, submitter, validation, validated_by, validated_at, envelope, receipt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', '', 0, ?, ?)`,
		idx, c.CertificateID, c.EnvelopeSHA256, pd, string(p.Status), string(p.Sanitization.Category), string(p.Sanitization.Technique),
		p.Media.Serial, p.Media.Model, p.Media.WWN, hostSerial(st), p.Host.Hostname, p.Personnel.Job, p.Personnel.Operator,
		p.Personnel.Organization, p.Personnel.Site, p.Started.Unix(), p.Ended.Unix(), e.Time.UnixNano(),
		c.SignerKeyID, c.SignerKind, c.Submitter, c.Envelope, raw)
}

func hostSerial(st *cert.Statement) string {
	h := st.Predicate.Host
	for _, v := range []string{h.SystemSerial, h.ChassisSerial, h.BoardSerial} {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *Store) indexValidation(ctx context.Context, idx uint64, e *entry.Entry) error {
	v := e.Validation
	_, err := s.DB.ExecContext(ctx, `INSERT INTO validations (log_index, certificate_id, decision, auditor, comment, at) VALUES (?, ?, ?, ?, ?, ?)`,
		idx, v.CertificateID, v.Decision, e.Subject, v.Comment, e.Time.UnixNano())
	if db.IsDuplicate(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// The latest decision (by log order) is the certificate's state.
	_, err = s.DB.ExecContext(ctx, `UPDATE certificates SET validation = ?, validated_by = ?, validated_at = ? WHERE certificate_id = ? AND
		NOT EXISTS (SELECT 1 FROM validations v WHERE v.certificate_id = ? AND v.log_index > ?)`,
		v.Decision, e.Subject, e.Time.UnixNano(), v.CertificateID, v.CertificateID, idx)
	return err
}

// reconcile indexes log entries the index lacks: entries a crash left
// unindexed after they were made durable in the log, entries another
// server appended (MySQL), entries a mirror fetched, or the whole log
// when the index was lost.
func (s *Store) reconcile(ctx context.Context) error {
	cp, err := s.log.Checkpoint(ctx)
	if err != nil {
		return err
	}
	from, err := s.DB.Counter(ctx, "reconciled_size")
	if err != nil {
		return err
	}
	if from == 0 { // an index from before counters
		if v, err := s.DB.GetMeta(ctx, "reconciled_size"); err != nil {
			return err
		} else if v != "" {
			from, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	if from > cp.Size {
		return fmt.Errorf("the index has seen %d log entries but the log has only %d: the log was replaced or rolled back", from, cp.Size)
	}
	if from == cp.Size {
		return nil
	}
	if err := s.scan(ctx, from, cp.Size, func(i uint64, leaf []byte) error {
		e, err := entry.Open(leaf, s.ServerKey())
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		var rc *receipt.Receipt
		if e.Certificate != nil {
			proof, err := logverify.InclusionProof(ctx, s.log.Fetcher(), i, cp.Size)
			if err != nil {
				return err
			}
			rc = &receipt.Receipt{Version: 1, CertificateID: e.Certificate.CertificateID, EnvelopeSHA256: e.Certificate.EnvelopeSHA256,
				Received: e.Time, LogIndex: i, Entry: leaf, Checkpoint: string(cp.Raw), InclusionProof: proof,
				LogKey: s.LogKey(), ServerKey: string(sign.MarshalPublicKey(s.ServerKey()))}
		}
		return s.indexEntry(ctx, i, e, leaf, rc)
	}); err != nil {
		return err
	}
	return s.DB.RaiseCounter(ctx, "reconciled_size", cp.Size)
}

// scan visits log entries [from, to).
func (s *Store) scan(ctx context.Context, from, to uint64, visit func(uint64, []byte) error) error {
	for i := from; i < to; {
		b, err := client.GetEntryBundle(ctx, s.log.Fetcher().ReadEntryBundle, i/256, to)
		if err != nil {
			return err
		}
		for j := i % 256; j < uint64(len(b.Entries)) && i < to; j++ {
			if err := visit(i, b.Entries[j]); err != nil {
				return err
			}
			i++
		}
	}
	return nil
}

// entryAt reads entry i of the tree of the given size from the log, as
// the log serves it.
func (s *Store) entryAt(ctx context.Context, i, size uint64) ([]byte, error) {
	b, err := client.GetEntryBundle(ctx, s.log.Fetcher().ReadEntryBundle, i/256, size)
	if err != nil {
		return nil, err
	}
	if j := i % 256; j < uint64(len(b.Entries)) {
		return b.Entries[j], nil
	}
	return nil, fmt.Errorf("entry bundle %d has %d entries, not entry %d", i/256, len(b.Entries), i)
}

// logLegacyTrust writes to the log the keys and enrollment tokens that an
// older lethe trusted without logging them (logged = 0), so that from now
// on the trust state can be rebuilt from the log.
func (s *Store) logLegacyTrust(ctx context.Context) error {
	if s.readOnly {
		return nil
	}
	who := Actor{Name: "server (recorded at upgrade)"}
	sk, err := s.StationKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range sk {
		var logged int
		if err := s.DB.QueryRowContext(ctx, `SELECT logged FROM station_keys WHERE key_id = ?`, k.KeyID).Scan(&logged); err != nil || logged != 0 {
			if err != nil {
				return err
			}
			continue
		}
		if _, err := s.Record(ctx, &entry.Entry{Type: entry.TypeStationKeyAdd, Subject: who.Name, Object: "key:" + k.KeyID, Result: entry.ResultSuccess,
			Detail: k.Name + " (trusted by " + k.AddedBy + " at " + k.Added.Format(time.RFC3339) + ")",
			Key:    &entry.Key{KeyID: k.KeyID, Kind: entry.KindStation, Name: k.Name, PublicKey: k.PublicKey}}); err != nil {
			return err
		}
		if k.Revoked {
			if _, err := s.Record(ctx, &entry.Entry{Type: entry.TypeStationKeyRevoke, Subject: who.Name, Object: "key:" + k.KeyID, Result: entry.ResultSuccess,
				Detail: k.Name, Key: &entry.Key{KeyID: k.KeyID, Kind: entry.KindStation, Name: k.Name, Revoked: true}}); err != nil {
				return err
			}
		}
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT key_id, public_key, job, token_id, expires_at, revoked_at FROM agent_keys WHERE logged = 0`)
	if err != nil {
		return err
	}
	type ak struct {
		id, pem, job, tok string
		exp, rev          int64
	}
	var aks []ak
	for rows.Next() {
		var a ak
		if err := rows.Scan(&a.id, &a.pem, &a.job, &a.tok, &a.exp, &a.rev); err != nil {
			rows.Close()
			return err
		}
		aks = append(aks, a)
	}
	rows.Close()
	for _, a := range aks {
		if _, err := s.Record(ctx, &entry.Entry{Type: entry.TypeEnroll, Subject: who.Name, Object: "key:" + a.id, Result: entry.ResultSuccess,
			Detail: fmt.Sprintf("job %q via enrollment token %s (enrolled before keys were logged)", a.job, a.tok),
			Key:    &entry.Key{KeyID: a.id, Kind: entry.KindAgent, PublicKey: a.pem, Job: a.job, Expires: time.Unix(a.exp, 0).UTC(), TokenID: a.tok}}); err != nil {
			return err
		}
		if a.rev != 0 {
			if _, err := s.Record(ctx, &entry.Entry{Type: entry.TypeAgentKeyRevoke, Subject: who.Name, Object: "key:" + a.id, Result: entry.ResultSuccess,
				Key: &entry.Key{KeyID: a.id, Kind: entry.KindAgent, Job: a.job, Revoked: true}}); err != nil {
				return err
			}
		}
	}
	trows, err := s.DB.QueryContext(ctx, `SELECT id, token_hash, job, expires_at, max_uses, revoked_at FROM enrollment_tokens WHERE logged = 0`)
	if err != nil {
		return err
	}
	type et struct {
		id, hash, job string
		exp, rev      int64
		max           int
	}
	var ets []et
	for trows.Next() {
		var t et
		if err := trows.Scan(&t.id, &t.hash, &t.job, &t.exp, &t.max, &t.rev); err != nil {
			trows.Close()
			return err
		}
		ets = append(ets, t)
	}
	trows.Close()
	for _, t := range ets {
		if _, err := s.Record(ctx, &entry.Entry{Type: entry.TypeEnrollmentTokenCreate, Subject: who.Name, Object: "enrollment-token:" + t.id, Result: entry.ResultSuccess,
			Detail:          fmt.Sprintf("job %q (minted before tokens were logged)", t.job),
			EnrollmentToken: &entry.EnrollmentToken{ID: t.id, TokenSHA256: t.hash, Job: t.job, Expires: time.Unix(t.exp, 0).UTC(), MaxUses: t.max}}); err != nil {
			return err
		}
	}
	return nil
}

// Query selects certificates. Empty fields do not filter.
type Query struct {
	Serial, WWN, HostSerial, Job, Site, Status, Validation, Text string
	// Sort names a column (SortColumns, views.go); newest first by default,
	// Asc reverses.
	Sort string
	Asc  bool
	// From and To bound the wipe's end time.
	From, To      time.Time
	Limit, Offset int
}

// Row is a certificate in search results.
type Row = api.CertificateRow

const rowCols = `log_index, certificate_id, status, category, technique, drive_serial, drive_model, wwn, host_serial, hostname,
	job, operator, organization, site, started, ended, received, signer_key_id, signer_kind, validation, validated_by`

func scanRow(sc interface{ Scan(...any) error }) (*Row, error) {
	var r Row
	var started, ended, received int64
	err := sc.Scan(&r.LogIndex, &r.CertificateID, &r.Status, &r.Category, &r.Technique, &r.DriveSerial, &r.DriveModel, &r.WWN,
		&r.HostSerial, &r.Hostname, &r.Job, &r.Operator, &r.Organization, &r.Site, &started, &ended, &received,
		&r.SignerKeyID, &r.SignerKind, &r.Validation, &r.ValidatedBy)
	if err != nil {
		return nil, err
	}
	r.Started, r.Ended, r.Received = time.Unix(started, 0).UTC(), time.Unix(ended, 0).UTC(), time.Unix(0, received).UTC()
	return &r, nil
}

// Search finds certificates, newest first, and counts all matches.
func (s *Store) Search(ctx context.Context, q Query) ([]Row, int, error) {
	var f filter
	f.eq("drive_serial", q.Serial)
	f.eq("wwn", q.WWN)
	f.eq("host_serial", q.HostSerial)
	f.eq("job", q.Job)
	f.eq("site", q.Site)
	f.eq("status", strings.ToUpper(q.Status))
	f.eq("validation", strings.ToLower(q.Validation))
	f.contains(q.Text, "drive_serial", "wwn", "host_serial", "job", "certificate_id", "drive_model", "hostname")
	f.within("ended", q.From, q.To, unixSeconds)
	w, args := f.where(), f.args
	var total int
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM certificates"+w, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	q.Limit = pageSize(q.Limit, 100, 100000)
	rows, err := s.DB.QueryContext(ctx, "SELECT "+rowCols+" FROM certificates"+w+q.orderBy()+" LIMIT ? OFFSET ?",
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	rows.Close()
	s.fillSubjects(ctx, out) // views.go
	return out, total, nil
}

// ErrNotFound is returned for an unknown certificate.
var ErrNotFound = errors.New("no such certificate")

// Certificate is everything known about one certificate.
type Certificate struct {
	Row
	Envelope    []byte             `json:"envelope"`
	Statement   *cert.Statement    `json:"statement"`
	Receipt     *receipt.Receipt   `json:"receipt"`
	Validations []ValidationRecord `json:"validations"`
}

// ValidationRecord is one auditor decision.
type ValidationRecord = api.Validation

// Certificate reads one certificate by ID.
func (s *Store) Certificate(ctx context.Context, id string) (*Certificate, error) {
	var c Certificate
	var env, rc []byte
	row := s.DB.QueryRowContext(ctx, "SELECT "+rowCols+", envelope, receipt FROM certificates WHERE certificate_id = ?", id)
	var started, ended, received int64
	err := row.Scan(&c.LogIndex, &c.CertificateID, &c.Status, &c.Category, &c.Technique, &c.DriveSerial, &c.DriveModel, &c.WWN,
		&c.HostSerial, &c.Hostname, &c.Job, &c.Operator, &c.Organization, &c.Site, &started, &ended, &received,
		&c.SignerKeyID, &c.SignerKind, &c.Validation, &c.ValidatedBy, &env, &rc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.Started, c.Ended, c.Received = time.Unix(started, 0).UTC(), time.Unix(ended, 0).UTC(), time.Unix(0, received).UTC()
	c.Envelope = env
	if c.Statement, err = attest.Decode(env); err != nil {
		return nil, err
	}
	c.Receipt = &receipt.Receipt{}
	if err := json.Unmarshal(rc, c.Receipt); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT log_index, decision, auditor, comment, at FROM validations WHERE certificate_id = ? ORDER BY log_index`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v ValidationRecord
		var at int64
		if err := rows.Scan(&v.LogIndex, &v.Decision, &v.Auditor, &v.Comment, &at); err != nil {
			return nil, err
		}
		v.Time = time.Unix(0, at).UTC()
		c.Validations = append(c.Validations, v)
	}
	return &c, rows.Err()
}

// Status is a certificate's verification state as the server sees it now.
type Status = api.Check

// Check re-verifies a certificate as it is served now: its signature
// against the key it was accepted under; that the log entry the log serves
// today is the one indexed at receipt and holds the envelope shown; a fresh
// inclusion proof of that served entry in the log's current checkpoint;
// and the stored receipt. VERIFIED is never said of bytes that were not
// checked.
func (s *Store) Check(ctx context.Context, c *Certificate) Status {
	var st Status
	if k, err := s.lookupKey(ctx, c.SignerKeyID); err != nil || k == nil {
		st.SignatureNote = "signing key not found"
	} else if v, err := attest.Verify(c.Envelope, k.pub); err != nil {
		st.SignatureNote = err.Error()
	} else {
		st.SignatureOK = true
		st.SignatureNote = fmt.Sprintf("valid ed25519 signature by %s key %s", k.kind, v.KeyID)
		if k.name != "" {
			st.SignatureNote += " (" + k.name + ")"
		}
		if k.revoked {
			st.SignatureNote += "; the key has since been revoked (it signed this before)"
		}
	}
	if ie := s.integrity.Load(); ie != nil {
		st.InclusionNote = ie.Error()
		return st
	}
	cp, err := s.log.Checkpoint(ctx)
	if err != nil {
		st.InclusionNote = err.Error()
		return st
	}
	st.CheckpointSize = cp.Size
	if err := s.checkServed(ctx, c, cp); err != nil {
		st.InclusionNote = err.Error()
		return st
	}
	if _, err := c.Receipt.Verify(c.Envelope, receipt.Keys{LogKey: s.LogKey(), ServerKey: s.ServerKey()}); err != nil {
		st.InclusionNote = "receipt: " + err.Error()
		return st
	}
	st.InclusionOK = true
	st.InclusionNote = fmt.Sprintf("entry %d, as the log serves it, is included in the log's current checkpoint (size %d) and holds this certificate; receipt verifies", c.LogIndex, cp.Size)
	return st
}

func (s *Store) checkServed(ctx context.Context, c *Certificate, cp *logverify.Checkpoint) error {
	served, err := s.entryAt(ctx, c.LogIndex, cp.Size)
	if err != nil {
		return fmt.Errorf("log entry %d cannot be read from the log: %w", c.LogIndex, err)
	}
	if !bytes.Equal(served, c.Receipt.Entry) {
		return fmt.Errorf("log entry %d as the log serves it is not the entry logged at receipt: the log was altered at entry %d", c.LogIndex, c.LogIndex)
	}
	proof, err := logverify.InclusionProof(ctx, s.log.Fetcher(), c.LogIndex, cp.Size)
	if err != nil {
		return err
	}
	if err := logverify.VerifyInclusion(cp, c.LogIndex, served, proof); err != nil {
		return err
	}
	e, err := entry.Open(served, s.ServerKey())
	if err != nil {
		return fmt.Errorf("log entry %d: %w", c.LogIndex, err)
	}
	if e.Certificate == nil || !bytes.Equal(e.Certificate.Envelope, c.Envelope) {
		return fmt.Errorf("log entry %d does not hold the envelope shown here: the index was altered", c.LogIndex)
	}
	return nil
}

// EventRow is an audit event.
type EventRow = api.Event

// Events lists audit events, newest first; typ filters by type prefix.
func (s *Store) Events(ctx context.Context, typ string, limit int) ([]EventRow, error) {
	if limit <= 0 || limit > 10000 {
		limit = 200
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT log_index, at, type, subject, object, result, detail, remote FROM events WHERE type LIKE ? ORDER BY log_index DESC LIMIT ?`, typ+"%", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var e EventRow
		var at int64
		if err := rows.Scan(&e.LogIndex, &at, &e.Type, &e.Subject, &e.Object, &e.Result, &e.Detail, &e.Remote); err != nil {
			return nil, err
		}
		e.Time = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
