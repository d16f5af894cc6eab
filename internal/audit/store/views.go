package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/audit/entry"
)

// sortColumns are the columns a search may be sorted by (by name in the
// URL, so no SQL comes from the request).
var sortColumns = map[string]string{
	"received": "log_index", "ended": "ended", "status": "status", "serial": "drive_serial", "model": "drive_model",
	"host": "host_serial", "job": "job", "site": "site", "validation": "validation", "category": "category",
}

// SortColumns lists the names Query.Sort accepts.
func SortColumns() []string {
	return []string{"received", "ended", "status", "serial", "model", "host", "job", "site", "validation", "category"}
}

// orderBy turns a query's sort into SQL; the log index breaks ties so
// paging is stable.
func (q Query) orderBy() string {
	col, ok := sortColumns[q.Sort]
	if !ok {
		col = "log_index"
	}
	dir := " DESC"
	if q.Asc {
		dir = " ASC"
	}
	if col == "log_index" {
		return " ORDER BY log_index" + dir
	}
	return " ORDER BY " + col + dir + ", log_index DESC"
}

// fillSubjects gives rows whose drive reports no model or serial the
// certificate's subject name (e.g. "loop:/srv/disk.img"), so every row
// names its drive.
func (s *Store) fillSubjects(ctx context.Context, rows []Row) {
	for i := range rows {
		if rows[i].DriveModel != "" && rows[i].DriveSerial != "" {
			continue
		}
		var env []byte
		if err := s.DB.QueryRowContext(ctx, `SELECT envelope FROM certificates WHERE log_index = ?`, rows[i].LogIndex).Scan(&env); err != nil {
			continue
		}
		if st, err := attest.Decode(env); err == nil && len(st.Subject) == 1 {
			rows[i].Subject = st.Subject[0].Name
		}
	}
}

// HostRow summarizes the certificates of one server (by its SMBIOS
// serial, or the chassis or board serial where the system serial is
// blank).
type HostRow struct {
	HostSerial   string    `json:"hostSerial"`
	Hostname     string    `json:"hostname"`
	Certificates int       `json:"certificates"`
	Drives       int       `json:"drives"`
	Erased       int       `json:"erased"`
	NotErased    int       `json:"notErased"`
	Pending      int       `json:"pending"`
	Approved     int       `json:"approved"`
	Rejected     int       `json:"rejected"`
	Jobs         string    `json:"jobs"`
	LastReceived time.Time `json:"lastReceived"`
}

// Hosts lists servers with how many certificates arrived for each, the
// most recently seen first; text filters by host serial, hostname or job.
func (s *Store) Hosts(ctx context.Context, text string, limit, offset int) ([]HostRow, int, error) {
	var f filter
	f.contains(text, "host_serial", "hostname", "job")
	where, args := f.where(), f.args
	var total int
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(DISTINCT host_serial) FROM certificates"+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit = pageSize(limit, 100, 1000)
	rows, err := s.DB.QueryContext(ctx, `SELECT host_serial, MAX(hostname), COUNT(*),
		COUNT(DISTINCT CASE WHEN drive_serial <> '' THEN drive_serial ELSE certificate_id END),
		SUM(CASE WHEN status = 'ERASED' THEN 1 ELSE 0 END), SUM(CASE WHEN status <> 'ERASED' THEN 1 ELSE 0 END),
		SUM(CASE WHEN validation = 'pending' THEN 1 ELSE 0 END), SUM(CASE WHEN validation = 'approved' THEN 1 ELSE 0 END),
		SUM(CASE WHEN validation = 'rejected' THEN 1 ELSE 0 END), MIN(job), MAX(job), MAX(received)
		FROM certificates`+where+` GROUP BY host_serial ORDER BY MAX(received) DESC LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []HostRow
	for rows.Next() {
		var h HostRow
		var minJob, maxJob string
		var last int64
		if err := rows.Scan(&h.HostSerial, &h.Hostname, &h.Certificates, &h.Drives, &h.Erased, &h.NotErased, &h.Pending, &h.Approved,
			&h.Rejected, &minJob, &maxJob, &last); err != nil {
			return nil, 0, err
		}
		h.Jobs = minJob
		if maxJob != minJob {
			h.Jobs = minJob + " … " + maxJob
		}
		h.LastReceived = time.Unix(0, last).UTC()
		out = append(out, h)
	}
	return out, total, rows.Err()
}

// EventQuery selects audit events. Empty fields do not filter.
type EventQuery struct {
	Type   string // prefix, e.g. "login" or "admin."
	User   string // the subject (who acted) or the object's user
	Result string
	From   time.Time
	To     time.Time
	Limit  int
	Offset int
}

// SearchEvents lists audit events, newest first, and counts all matches.
func (s *Store) SearchEvents(ctx context.Context, q EventQuery) ([]EventRow, int, error) {
	var f filter
	if q.Type != "" {
		f.add("type LIKE ?", q.Type+"%")
	}
	if q.User != "" {
		f.add("(subject = ? OR object = ?)", q.User, "user:"+q.User)
	}
	f.eq("result", q.Result)
	f.within("at", q.From, q.To, unixNanos)
	w, args := f.where(), f.args
	var total int
	if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM events"+w, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	q.Limit = pageSize(q.Limit, 200, 100000)
	rows, err := s.DB.QueryContext(ctx, `SELECT log_index, at, type, subject, object, result, detail, remote FROM events`+w+
		` ORDER BY log_index DESC LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var e EventRow
		var at int64
		if err := rows.Scan(&e.LogIndex, &at, &e.Type, &e.Subject, &e.Object, &e.Result, &e.Detail, &e.Remote); err != nil {
			return nil, 0, err
		}
		e.Time = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// EventTypes lists the event types seen, for the filter's choices.
func (s *Store) EventTypes(ctx context.Context) ([]string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT DISTINCT type FROM events ORDER BY type`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RecordRejection records a refused submission (who tried, which key, why)
// as a security event, within the bounds of SecurityConfig: the first of
// each kind from each signer key and source is logged alone, the rest are
// counted in the window's summary, so strangers cannot grow the log.
func (s *Store) RecordRejection(ctx context.Context, kind string, status int, problems []string, keyIDs []string, remote string) error {
	subject := "unknown signer"
	if len(keyIDs) > 0 {
		subject = "key:" + clip(keyIDs[0], 16)
	}
	detail := fmt.Sprintf("%d %s: %s", status, kind, strings.Join(problems, "; "))
	return s.sec.recordDetail(ctx, entry.TypeCertificate[:len("certificate.")]+"rejected", Actor{Name: subject, Remote: remote}, "certificate",
		entry.ResultRejected, fmt.Sprintf("%d %s", status, kind), clip(detail, 400))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
