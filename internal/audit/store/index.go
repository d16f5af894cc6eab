package store

import (
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
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/entry"
)

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// indexEntry writes the index rows for one log entry. Rows are keyed by
// log index, so indexing an entry twice (the request path and the
// start-up reconciliation) is harmless.
func (s *Store) indexEntry(ctx context.Context, x execer, idx uint64, e *entry.Entry, leaf []byte, rc *receipt.Receipt) error {
	var err error
	switch {
	case e.Certificate != nil:
		err = s.indexCertificate(ctx, x, idx, e, rc)
	case e.Validation != nil:
		err = s.indexValidation(ctx, x, idx, e)
	case e.Passkey != nil:
		err = s.indexPasskey(ctx, x, idx, e) // passkeys.go
	}
	if err != nil {
		return err
	}
	_, err = x.ExecContext(ctx, `INSERT INTO events (log_index, at, type, subject, object, result, detail, remote) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		idx, e.Time.UnixNano(), e.Type, e.Subject, e.Object, e.Result, e.Detail, e.Remote)
	if db.IsDuplicate(err) {
		return nil
	}
	return err
}

func (s *Store) indexCertificate(ctx context.Context, x execer, idx uint64, e *entry.Entry, rc *receipt.Receipt) error {
	c := e.Certificate
	st, err := attest.Decode(c.Envelope)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(rc)
	if err != nil {
		return err
	}
	p := st.Predicate
	_, err = x.ExecContext(ctx, `INSERT INTO certificates (log_index, certificate_id, envelope_sha256, status, category, technique,
		drive_serial, drive_model, wwn, host_serial, hostname, job, operator, organization, site, started, ended, received,
		signer_key_id, signer_kind, submitter, validation, validated_by, validated_at, envelope, receipt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', '', 0, ?, ?)`,
		idx, c.CertificateID, c.EnvelopeSHA256, string(p.Status), string(p.Sanitization.Category), string(p.Sanitization.Technique),
		p.Media.Serial, p.Media.Model, p.Media.WWN, hostSerial(st), p.Host.Hostname, p.Personnel.Job, p.Personnel.Operator,
		p.Personnel.Organization, p.Personnel.Site, p.Started.Unix(), p.Ended.Unix(), e.Time.UnixNano(),
		c.SignerKeyID, c.SignerKind, c.Submitter, c.Envelope, raw)
	if db.IsDuplicate(err) {
		return nil
	}
	return err
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

func (s *Store) indexValidation(ctx context.Context, x execer, idx uint64, e *entry.Entry) error {
	v := e.Validation
	_, err := x.ExecContext(ctx, `INSERT INTO validations (log_index, certificate_id, decision, auditor, comment, at) VALUES (?, ?, ?, ?, ?, ?)`,
		idx, v.CertificateID, v.Decision, e.Subject, v.Comment, e.Time.UnixNano())
	if db.IsDuplicate(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// The latest decision (by log order) is the certificate's state.
	_, err = x.ExecContext(ctx, `UPDATE certificates SET validation = ?, validated_by = ?, validated_at = ? WHERE certificate_id = ? AND
		NOT EXISTS (SELECT 1 FROM validations v WHERE v.certificate_id = ? AND v.log_index > ?)`,
		v.Decision, e.Subject, e.Time.UnixNano(), v.CertificateID, v.CertificateID, idx)
	return err
}

// reconcile indexes log entries the index lacks: entries a crash left
// unindexed after they were made durable in the log.
func (s *Store) reconcile(ctx context.Context) error {
	cp, err := s.log.Checkpoint(ctx)
	if err != nil {
		return err
	}
	from := uint64(0)
	if v, err := s.DB.GetMeta(ctx, "reconciled_size"); err != nil {
		return err
	} else if v != "" {
		from, _ = strconv.ParseUint(v, 10, 64)
	}
	if from > cp.Size {
		return fmt.Errorf("the index has seen %d log entries but the log has only %d: the log was replaced or rolled back", from, cp.Size)
	}
	if err := s.scan(ctx, from, cp.Size, func(i uint64, leaf []byte) error {
		e, err := entry.Open(leaf, s.ServerKey())
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		var rc *receipt.Receipt
		if e.Certificate != nil {
			proof, err := logverify.InclusionProof(ctx, s.log.Reader(), i, cp.Size)
			if err != nil {
				return err
			}
			rc = &receipt.Receipt{Version: 1, CertificateID: e.Certificate.CertificateID, EnvelopeSHA256: e.Certificate.EnvelopeSHA256,
				Received: e.Time, LogIndex: i, Entry: leaf, Checkpoint: string(cp.Raw), InclusionProof: proof,
				LogKey: s.LogKey(), ServerKey: string(sign.MarshalPublicKey(s.ServerKey()))}
		}
		return s.indexEntry(ctx, s.DB, i, e, leaf, rc)
	}); err != nil {
		return err
	}
	return s.DB.SetMeta(ctx, "reconciled_size", strconv.FormatUint(cp.Size, 10))
}

// scan visits log entries [from, to).
func (s *Store) scan(ctx context.Context, from, to uint64, visit func(uint64, []byte) error) error {
	for i := from; i < to; {
		b, err := client.GetEntryBundle(ctx, s.log.Reader().ReadEntryBundle, i/256, to)
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
type Row struct {
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
	// reports no model or serial (views.go).
	Subject string `json:"subject,omitempty"`
}

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
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("drive_serial", q.Serial)
	eq("wwn", q.WWN)
	eq("host_serial", q.HostSerial)
	eq("job", q.Job)
	eq("site", q.Site)
	eq("status", strings.ToUpper(q.Status))
	eq("validation", strings.ToLower(q.Validation))
	if q.Text != "" {
		where = append(where, "(drive_serial LIKE ? OR wwn LIKE ? OR host_serial LIKE ? OR job LIKE ? OR certificate_id LIKE ? OR drive_model LIKE ? OR hostname LIKE ?)")
		like := "%" + q.Text + "%"
		args = append(args, like, like, like, like, like, like, like)
	}
	if !q.From.IsZero() {
		where = append(where, "ended >= ?")
		args = append(args, q.From.Unix())
	}
	if !q.To.IsZero() {
		where = append(where, "ended < ?")
		args = append(args, q.To.Unix())
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM certificates"+w, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if q.Limit <= 0 || q.Limit > 100000 {
		q.Limit = 100
	}
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
type ValidationRecord struct {
	LogIndex uint64    `json:"logIndex"`
	Decision string    `json:"decision"`
	Auditor  string    `json:"auditor"`
	Comment  string    `json:"comment"`
	Time     time.Time `json:"time"`
}

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
type Status struct {
	SignatureOK    bool   `json:"signatureOk"`
	SignatureNote  string `json:"signatureNote"`
	InclusionOK    bool   `json:"inclusionOk"`
	InclusionNote  string `json:"inclusionNote"`
	CheckpointSize uint64 `json:"checkpointSize"`
}

// Check re-verifies a certificate: its signature against the key that
// was trusted when it was accepted, its receipt, and its inclusion in the
// log's current checkpoint (a fresh proof, so a log that no longer
// contains the entry shows up here).
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
	}
	cp, err := s.log.Checkpoint(ctx)
	if err != nil {
		st.InclusionNote = err.Error()
		return st
	}
	st.CheckpointSize = cp.Size
	proof, err := logverify.InclusionProof(ctx, s.log.Reader(), c.LogIndex, cp.Size)
	if err == nil {
		err = logverify.VerifyInclusion(cp, c.LogIndex, c.Receipt.Entry, proof)
	}
	if err == nil {
		_, err = c.Receipt.Verify(c.Envelope, receipt.Keys{LogKey: s.LogKey(), ServerKey: s.ServerKey()})
	}
	if err != nil {
		st.InclusionNote = err.Error()
		return st
	}
	st.InclusionOK = true
	st.InclusionNote = fmt.Sprintf("entry %d is included in the log's current checkpoint (size %d); receipt verifies", c.LogIndex, cp.Size)
	return st
}

// EventRow is an audit event.
type EventRow struct {
	LogIndex uint64    `json:"logIndex"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Subject  string    `json:"subject"`
	Object   string    `json:"object"`
	Result   string    `json:"result"`
	Detail   string    `json:"detail,omitempty"`
	Remote   string    `json:"remote,omitempty"`
}

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
