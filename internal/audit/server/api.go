package server

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"

	"github.com/lethe-project/lethe/sign"

	"github.com/transparency-dev/tessera/api/layout"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/certpdf"
)

// apiIngest accepts a certificate. Trust comes from its signature; a
// bearer token, if sent, must be valid, allow submitting, and names the
// submitter.
func (s *Server) apiIngest(w http.ResponseWriter, r *http.Request) error {
	var submitter string
	if r.Header.Get("Authorization") != "" {
		p, err := s.authenticate(r)
		if err != nil || p == nil {
			return api.Errorf(api.KindUnauthorized, "invalid API token")
		}
		if !p.allows(api.ScopeSubmit) {
			return api.Errorf(api.KindForbidden, "the API token %q lacks scope %q", p.apiName, api.ScopeSubmit)
		}
		submitter = p.actor(r).Name
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, store.MaxEnvelope+1))
	if err != nil {
		return &bodyError{err}
	}
	rc, dup, err := s.st.Ingest(r.Context(), store.Submission{Envelope: body, Submitter: submitter, Remote: remote(r)})
	s.recordRejection(r, err, body) // export.go: refusals show in the audit events
	switch {
	case err != nil:
		return s.unavailable(r, "certificate not stored", err)
	case dup:
		writeJSON(w, http.StatusOK, rc)
	default:
		writeJSON(w, http.StatusCreated, rc)
	}
	return nil
}

func (s *Server) apiEnroll(w http.ResponseWriter, r *http.Request) error {
	var req api.EnrollRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	pub, err := sign.ParsePublicKey([]byte(req.PublicKey))
	if err != nil {
		return &bodyError{err}
	}
	k, err := s.st.Enroll(r.Context(), req.Token, pub, remote(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.AgentKey{KeyID: k.KeyID, Job: k.Job, Expires: k.Expires})
	return nil
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) error {
	var req api.LoginRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	tok, sess, err := s.st.Login(r.Context(), req.User, req.Password, req.TOTP, remote(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.LoginResponse{Token: tok, Role: string(sess.User.Role), Expires: sess.Expires, MustChangePassword: sess.User.MustChangePassword})
	return nil
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request) error {
	p := who(r)
	if p.token == "" {
		return api.Errorf(api.KindMalformed, "not a session")
	}
	if err := s.st.Logout(r.Context(), p.token, p.actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func parseQuery(r *http.Request) (store.Query, error) {
	v := r.URL.Query()
	q := store.Query{Serial: v.Get("serial"), WWN: v.Get("wwn"), HostSerial: v.Get("host"), Job: v.Get("job"), Site: v.Get("site"),
		Status: v.Get("status"), Validation: v.Get("validation"), Text: v.Get("q")}
	var err error
	day := func(s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
		return time.Parse("2006-01-02", s)
	}
	if q.From, err = day(v.Get("from")); err != nil {
		return q, &accounts.InputError{Reason: "from: want YYYY-MM-DD or RFC 3339"}
	}
	if q.To, err = day(v.Get("to")); err != nil {
		return q, &accounts.InputError{Reason: "to: want YYYY-MM-DD or RFC 3339"}
	}
	if len(v.Get("to")) == 10 {
		q.To = q.To.Add(24 * time.Hour) // a date includes the whole day
	}
	q.Limit, _ = strconv.Atoi(v.Get("limit"))
	q.Offset, _ = strconv.Atoi(v.Get("offset"))
	return q, nil
}

func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "csv" || format == "json" {
		if q.Limit == 0 {
			q.Limit = 100000 // exports are whole
		}
	}
	rows, total, err := s.st.Search(r.Context(), q)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []store.Row{}
	}
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="lethe-certificates.csv"`)
		s.writeExportCSV(r.Context(), w, rows) // export.go: every Appendix G field
	case "json":
		w.Header().Set("Content-Disposition", `attachment; filename="lethe-certificates.json"`)
		writeJSON(w, http.StatusOK, map[string]any{"total": total, "certificates": s.exportJSON(r.Context(), rows)}) // export.go
	default:
		writeJSON(w, http.StatusOK, api.SearchResult{Total: total, Certificates: rows})
	}
	return nil
}

// csvRow defuses every cell of an exported row: whatever a column holds
// today, the next schema may fill it from a certificate.
func csvRow(cells ...string) []string {
	for i, c := range cells {
		cells[i] = csvSafe(c)
	}
	return cells
}

// csvSafe defuses spreadsheet formulas (CSV injection, OWASP): a cell
// that starts with = + - @, a tab or a carriage return — also after
// leading spaces, which spreadsheets skip — is prefixed with a quote.
func csvSafe(s string) string {
	t := strings.TrimLeft(s, " ")
	if t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) {
		return "'" + s
	}
	return s
}

func (s *Server) certificate(r *http.Request) (*store.Certificate, error) {
	return s.st.Certificate(r.Context(), r.PathValue("id"))
}

func (s *Server) apiCertificate(w http.ResponseWriter, r *http.Request) error {
	c, err := s.certificate(r)
	if err != nil {
		return err
	}
	var env sign.Envelope
	var stmt json.RawMessage
	if json.Unmarshal(c.Envelope, &env) == nil {
		if p, err := base64.StdEncoding.DecodeString(env.Payload); err == nil && json.Valid(p) {
			stmt = p
		}
	}
	vals := c.Validations
	if vals == nil {
		vals = []store.ValidationRecord{}
	}
	writeJSON(w, http.StatusOK, api.Certificate{CertificateRow: c.Row, Envelope: c.Envelope, Statement: stmt, Receipt: c.Receipt,
		Validations: vals, Check: s.st.Check(r.Context(), c)})
	return nil
}

func (s *Server) apiEnvelope(w http.ResponseWriter, r *http.Request) error {
	c, err := s.certificate(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.cert.json"`, c.CertificateID))
	w.Write(c.Envelope)
	return nil
}

func (s *Server) apiReceipt(w http.ResponseWriter, r *http.Request) error {
	c, err := s.certificate(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.receipt.json"`, c.CertificateID))
	writeJSON(w, http.StatusOK, c.Receipt)
	return nil
}

// certPDF is the PDF for the web UI's route.
func (s *Server) certPDF(w http.ResponseWriter, r *http.Request) {
	if err := s.apiPDF(w, r); err != nil {
		e := s.apiErrorOf(r, err)
		http.Error(w, e.Message, e.Status)
	}
}

func (s *Server) apiPDF(w http.ResponseWriter, r *http.Request) error {
	c, err := s.certificate(r)
	if err != nil {
		return err
	}
	chk := s.st.Check(r.Context(), c)
	audit := [][2]string{
		{"Log entry", fmt.Sprintf("%d (received %s)", c.LogIndex, c.Received.Format(time.RFC3339))},
		{"Inclusion", chk.InclusionNote},
		{"Validation", validationText(c)},
	}
	var buf bytes.Buffer
	if err := certpdf.Render(&buf, c.Statement, certpdf.Options{URL: s.pageURL(r, c.CertificateID), Signature: chk.SignatureNote, Audit: audit}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.pdf"`, c.CertificateID))
	_, err = w.Write(buf.Bytes())
	return err
}

func validationText(c *store.Certificate) string {
	if len(c.Validations) == 0 {
		return "pending: not yet reviewed by an auditor"
	}
	v := c.Validations[len(c.Validations)-1]
	t := fmt.Sprintf("%s by %s at %s (log entry %d)", strings.ToUpper(v.Decision), v.Auditor, v.Time.Format(time.RFC3339), v.LogIndex)
	if v.Comment != "" {
		t += ": " + v.Comment
	}
	return t
}

func (s *Server) pageURL(r *http.Request, id string) string {
	base := s.baseURL
	if base == "" {
		base = "https://" + r.Host
	}
	return base + "/certificates/" + id
}

func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request) error {
	q, err := parseEventQuery(r) // type, user, result, from, to (web.go)
	if err != nil {
		return &accounts.InputError{Reason: err.Error()}
	}
	q.Limit, _ = strconv.Atoi(r.URL.Query().Get("limit"))
	q.Offset, _ = strconv.Atoi(r.URL.Query().Get("offset"))
	if q.Limit == 0 && r.URL.Query().Get("format") == "csv" {
		q.Limit = 100000
	}
	ev, _, err := s.st.SearchEvents(r.Context(), q)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"log_index", "date", "time", "type", "subject", "object", "result", "detail", "remote"})
		for _, e := range ev {
			_ = cw.Write(csvRow(fmt.Sprint(e.LogIndex), e.Time.Format("2006-01-02"), e.Time.Format("15:04:05.000Z07:00"), e.Type,
				e.Subject, e.Object, e.Result, e.Detail, e.Remote))
		}
		cw.Flush()
		return nil
	}
	if ev == nil {
		ev = []store.EventRow{}
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

func (s *Server) apiLogKey(w http.ResponseWriter, r *http.Request) error {
	v, err := logverify.NoteVerifier(s.st.LogKey())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.LogKeys{Origin: v.Name(), LogKey: s.st.LogKey(), ServerKey: string(sign.MarshalPublicKey(s.st.ServerKey()))})
	return nil
}

func (s *Server) apiConsistency(w http.ResponseWriter, r *http.Request) error {
	from, err := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
	if err != nil {
		return api.Errorf(api.KindMalformed, "from: want a tree size")
	}
	cp, err := s.st.Checkpoint(r.Context())
	if err != nil {
		return err
	}
	if from > cp.Size {
		return api.Errorf(api.KindMalformed, "from %d is beyond the log's size %d", from, cp.Size)
	}
	p, err := logverify.ConsistencyProof(r.Context(), s.st.Fetcher(), from, cp.Size)
	if err != nil {
		return err
	}
	if p == nil {
		p = [][]byte{}
	}
	writeJSON(w, http.StatusOK, api.Consistency{From: from, To: cp.Size, Checkpoint: string(cp.Raw), Proof: p})
	return nil
}

// logCheckpoint and logTile serve the log in the c2sp.org/tlog-tiles
// layout under /v1/log/, so standard tile clients can read and verify it.
func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.st.Fetcher().ReadCheckpoint(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(raw)
	return nil
}

func (s *Server) logTile(w http.ResponseWriter, r *http.Request) error {
	rest := strings.TrimPrefix(r.URL.Path, "/v1/log/tile/")
	level, index, ok := strings.Cut(rest, "/")
	if !ok {
		return api.Errorf(api.KindNotFound, "no such tile")
	}
	var data []byte
	var err error
	f := s.st.Fetcher()
	if level == "entries" {
		var idx uint64
		var p uint8
		if idx, p, err = layout.ParseTileIndexPartial(index); err == nil {
			data, err = f.ReadEntryBundle(r.Context(), idx, p)
		}
	} else {
		var l, idx uint64
		var p uint8
		if l, idx, p, err = layout.ParseTileLevelIndexPartial(level, index); err == nil {
			data, err = f.ReadTile(r.Context(), l, idx, p)
		}
	}
	if err != nil {
		return api.Errorf(api.KindNotFound, "no such tile")
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(data)
	return nil
}

func userInfo(u *accounts.User) api.User {
	return api.User{Name: u.Name, Role: string(u.Role), Locked: u.Locked(time.Now()), Disabled: u.Disabled, Failed: u.Failed,
		Created: u.Created, MustChangePassword: u.MustChangePassword}
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := s.st.Accounts.List(r.Context())
	if err != nil {
		return err
	}
	out := []api.User{}
	for _, u := range us {
		out = append(out, userInfo(&u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateUserRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	role, err := accounts.ParseRole(req.Role)
	if err != nil {
		return &accounts.InputError{Reason: err.Error()}
	}
	create := s.st.CreateUser
	if req.MustChangePassword {
		create = s.st.CreateUserByAdmin
	}
	u, err := create(r.Context(), req.Name, req.Password, role, who(r).actor(r))
	if err != nil {
		return err
	}
	u.MustChangePassword = req.MustChangePassword
	info := userInfo(u)
	if u.TOTPSecret != "" {
		info.TOTPSecret, info.TOTPURI = u.TOTPSecret, totpURI(u.Name, u.TOTPSecret)
	}
	writeJSON(w, http.StatusCreated, info)
	return nil
}

func (s *Server) apiUserAction(w http.ResponseWriter, r *http.Request) error {
	name, act := r.PathValue("name"), r.PathValue("action")
	ctx, a := r.Context(), who(r).actor(r)
	switch act {
	case "unlock":
		return noContent(w, s.st.UnlockUser(ctx, name, a))
	case "disable", "enable":
		return noContent(w, s.st.SetUserDisabled(ctx, name, act == "disable", a))
	case "password":
		var req api.PasswordRequest
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		return noContent(w, s.st.SetPassword(ctx, name, req.Password, a))
	case "totp":
		secret, uri, err := s.st.ResetTOTP(ctx, name, a)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, api.User{Name: name, TOTPSecret: secret, TOTPURI: uri})
		return nil
	case "role":
		var req api.RoleRequest
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		role, err := accounts.ParseRole(req.Role)
		if err != nil {
			return &accounts.InputError{Reason: err.Error()}
		}
		secret, err := s.st.SetRole(ctx, name, role, a)
		if err != nil {
			return err
		}
		out := api.User{Name: name, Role: string(role)}
		if secret != "" {
			out.TOTPSecret, out.TOTPURI = secret, totpURI(name, secret)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	return api.Errorf(api.KindNotFound, "no such action %q (unlock, disable, enable, password, totp, role)", act)
}

func noContent(w http.ResponseWriter, err error) error {
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
	}
	return err
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.st.Accounts.ListAPITokens(r.Context())
	if err != nil {
		return err
	}
	out := []api.APIToken{}
	for _, t := range ts {
		out = append(out, api.APIToken{ID: t.ID, Name: t.Name, User: t.User, Scopes: t.Scopes, Created: t.Created.UTC(), Expires: t.Expires.UTC(), Revoked: t.Revoked})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request) error {
	var req api.APITokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ttl, err := parseTTL(req.TTL, 0)
	if err != nil {
		return err
	}
	tok, t, err := s.st.CreateAPIToken(r.Context(), accounts.TokenSpec{User: req.User, Name: req.Name, Scopes: req.Scopes, TTL: ttl}, who(r).actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.NewToken{ID: t.ID, Token: tok, Scopes: t.Scopes, Expires: t.Expires})
	return nil
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.st.RevokeAPIToken(r.Context(), r.PathValue("id"), who(r).actor(r)))
}

func (s *Server) apiEnrollmentTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.st.EnrollmentTokens(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ts)
	return nil
}

func (s *Server) apiCreateEnrollment(w http.ResponseWriter, r *http.Request) error {
	var req api.EnrollmentTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ttl, err := parseTTL(req.TTL, time.Hour)
	if err != nil {
		return err
	}
	tok, t, err := s.st.CreateEnrollmentToken(r.Context(), req.Job, ttl, req.Uses, who(r).actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.NewToken{ID: t.ID, Token: tok, Job: t.Job, Expires: t.Expires})
	return nil
}

func (s *Server) apiRevokeEnrollment(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.st.RevokeEnrollmentToken(r.Context(), r.PathValue("id"), who(r).actor(r)))
}

func (s *Server) apiAgentKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.st.AgentKeys(r.Context())
	if err != nil {
		return err
	}
	if ks == nil {
		ks = []store.AgentKey{}
	}
	writeJSON(w, http.StatusOK, ks)
	return nil
}

func (s *Server) apiRevokeAgentKey(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.st.RevokeAgentKey(r.Context(), r.PathValue("id"), who(r).actor(r)))
}

func (s *Server) apiStationKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.st.StationKeys(r.Context())
	if err != nil {
		return err
	}
	if ks == nil {
		ks = []store.StationKey{}
	}
	writeJSON(w, http.StatusOK, ks)
	return nil
}

func (s *Server) apiAddStationKey(w http.ResponseWriter, r *http.Request) error {
	var req api.StationKeyRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	pub, err := sign.ParsePublicKey([]byte(req.PublicKey))
	if err != nil {
		return &bodyError{err}
	}
	id, err := s.st.AddStationKey(r.Context(), req.Name, pub, who(r).actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.KeyID{KeyID: id})
	return nil
}

func (s *Server) apiRevokeStationKey(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.st.RevokeStationKey(r.Context(), r.PathValue("id"), who(r).actor(r)))
}

// apiBackup writes a backup now, kept like the daily ones (the store's
// retention setting).
func (s *Server) apiBackup(w http.ResponseWriter, r *http.Request) error {
	p, err := s.st.BackupFile(r.Context())
	if err != nil {
		return err
	}
	if err := s.st.Event(r.Context(), entry.TypeAdmin+".backup", who(r).actor(r), "backup", entry.ResultSuccess, p); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.Backup{Path: p})
	return nil
}

// apiVerifyLog re-verifies the whole log now (as at start and on the
// schedule); a failure stops the store.
func (s *Server) apiVerifyLog(w http.ResponseWriter, r *http.Request) error {
	cp, err := s.st.VerifyLog(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.Consistency{From: 0, To: cp.Size, Checkpoint: string(cp.Raw), Proof: [][]byte{}})
	return nil
}
