package server

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"

	"github.com/lethe-project/lethe/sign"

	"github.com/transparency-dev/tessera/api/layout"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/certpdf"
)

// rejectStatus maps a rejection to its HTTP status.
var rejectStatus = map[string]int{
	store.RejectMalformed:   http.StatusBadRequest,
	store.RejectUnsigned:    http.StatusUnauthorized,
	store.RejectUnknownKey:  http.StatusForbidden,
	store.RejectBadSig:      http.StatusForbidden,
	store.RejectKeyExpired:  http.StatusForbidden,
	store.RejectJobMismatch: http.StatusForbidden,
	store.RejectSchema:      http.StatusUnprocessableEntity,
	store.RejectConflict:    http.StatusConflict,
	store.RejectTooLarge:    http.StatusRequestEntityTooLarge,
}

// apiIngest accepts a certificate. Trust comes from its signature; a
// bearer token, if sent, must be valid and names the submitter.
func (s *Server) apiIngest(w http.ResponseWriter, r *http.Request) {
	var submitter string
	if r.Header.Get("Authorization") != "" {
		p, err := s.authenticate(r)
		if err != nil || p == nil {
			apiError(w, http.StatusUnauthorized, "unauthorized", "invalid API token")
			return
		}
		submitter = p.user.Name
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, store.MaxEnvelope+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, store.RejectMalformed, err.Error())
		return
	}
	rc, dup, err := s.st.Ingest(r.Context(), store.Submission{Envelope: body, Submitter: submitter, Remote: remote(r)})
	s.recordRejection(r, err, body) // export.go: refusals show in the audit events
	var re *store.RejectError
	switch {
	case errors.As(err, &re):
		apiError(w, rejectStatus[re.Kind], re.Kind, re.Error(), re.Problems...)
	case err != nil:
		apiError(w, http.StatusServiceUnavailable, "unavailable", "certificate not stored, retry later: "+err.Error())
	case dup:
		writeJSON(w, http.StatusOK, rc)
	default:
		writeJSON(w, http.StatusCreated, rc)
	}
}

// EnrollRequest registers a boot agent's per-boot key.
type EnrollRequest struct {
	Token     string `json:"token"`
	PublicKey string `json:"publicKey"` // PKIX PEM
}

func (s *Server) apiEnroll(w http.ResponseWriter, r *http.Request) {
	var req EnrollRequest
	if err := decodeJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	pub, err := sign.ParsePublicKey([]byte(req.PublicKey))
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	k, err := s.st.Enroll(r.Context(), req.Token, pub, remote(r))
	switch {
	case errors.Is(err, store.ErrTokenExpired):
		apiError(w, http.StatusUnauthorized, "token-expired", err.Error())
	case errors.Is(err, store.ErrTokenUsed):
		apiError(w, http.StatusConflict, "token-used", err.Error())
	case errors.Is(err, store.ErrTokenUnknown):
		apiError(w, http.StatusUnauthorized, "token-unknown", err.Error())
	case err != nil && strings.Contains(err.Error(), "already registered"):
		apiError(w, http.StatusConflict, "key-registered", err.Error())
	case err != nil:
		internalError(w, err)
	default:
		writeJSON(w, http.StatusCreated, k)
	}
}

// LoginRequest starts an API session.
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
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if err := decodeJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	tok, sess, err := s.st.Login(r.Context(), req.User, req.Password, req.TOTP, remote(r))
	switch {
	case errors.Is(err, accounts.ErrLocked):
		apiError(w, http.StatusLocked, "locked", err.Error())
	case errors.Is(err, accounts.ErrBadCredentials):
		apiError(w, http.StatusUnauthorized, "bad-credentials", err.Error())
	case err != nil:
		internalError(w, err)
	default:
		writeJSON(w, http.StatusOK, LoginResponse{Token: tok, Role: string(sess.User.Role), Expires: sess.Expires})
	}
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	if p.token == "" {
		apiError(w, http.StatusBadRequest, "malformed", "not a session")
		return
	}
	if err := s.st.Logout(r.Context(), p.token, p.actor(r)); err != nil {
		internalError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
		return q, fmt.Errorf("from: want YYYY-MM-DD or RFC 3339")
	}
	if q.To, err = day(v.Get("to")); err != nil {
		return q, fmt.Errorf("to: want YYYY-MM-DD or RFC 3339")
	}
	if len(v.Get("to")) == 10 {
		q.To = q.To.Add(24 * time.Hour) // a date includes the whole day
	}
	q.Limit, _ = strconv.Atoi(v.Get("limit"))
	q.Offset, _ = strconv.Atoi(v.Get("offset"))
	return q, nil
}

// SearchResult is the JSON of a search.
type SearchResult struct {
	Total        int         `json:"total"`
	Certificates []store.Row `json:"certificates"`
}

func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	format := r.URL.Query().Get("format")
	if format == "csv" || format == "json" {
		if q.Limit == 0 {
			q.Limit = 100000 // exports are whole
		}
	}
	rows, total, err := s.st.Search(r.Context(), q)
	if err != nil {
		internalError(w, err)
		return
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
		writeJSON(w, http.StatusOK, map[string]any{"total": total, "certificates": s.exportJSON(r.Context(), rows)})
	default:
		writeJSON(w, http.StatusOK, SearchResult{Total: total, Certificates: rows})
	}
}

// csvSafe defuses spreadsheet formulas in fields that come from
// certificates (CSV injection).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// CertificateResponse is one certificate with its current status.
type CertificateResponse struct {
	*store.Certificate
	Check store.Status `json:"check"`
}

func (s *Server) apiCertificate(w http.ResponseWriter, r *http.Request) {
	c, err := s.st.Certificate(r.Context(), r.PathValue("id"))
	if isNotFound(err) {
		apiError(w, http.StatusNotFound, "not-found", err.Error())
		return
	}
	if err != nil {
		internalError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, CertificateResponse{Certificate: c, Check: s.st.Check(r.Context(), c)})
}

func (s *Server) apiEnvelope(w http.ResponseWriter, r *http.Request) {
	c, err := s.st.Certificate(r.Context(), r.PathValue("id"))
	if isNotFound(err) {
		apiError(w, http.StatusNotFound, "not-found", err.Error())
		return
	}
	if err != nil {
		internalError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.cert.json"`, c.CertificateID))
	w.Write(c.Envelope)
}

func (s *Server) apiReceipt(w http.ResponseWriter, r *http.Request) {
	c, err := s.st.Certificate(r.Context(), r.PathValue("id"))
	if isNotFound(err) {
		apiError(w, http.StatusNotFound, "not-found", err.Error())
		return
	}
	if err != nil {
		internalError(w, err)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.receipt.json"`, c.CertificateID))
	writeJSON(w, http.StatusOK, c.Receipt)
}

func (s *Server) certPDF(w http.ResponseWriter, r *http.Request) {
	c, err := s.st.Certificate(r.Context(), r.PathValue("id"))
	if isNotFound(err) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		internalError(w, err)
		return
	}
	chk := s.st.Check(r.Context(), c)
	audit := [][2]string{
		{"Log entry", fmt.Sprintf("%d (received %s)", c.LogIndex, c.Received.Format(time.RFC3339))},
		{"Inclusion", chk.InclusionNote},
		{"Validation", validationText(c)},
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.pdf"`, c.CertificateID))
	if err := certpdf.Render(w, c.Statement, certpdf.Options{URL: s.pageURL(r, c.CertificateID), Signature: chk.SignatureNote, Audit: audit}); err != nil {
		internalError(w, err)
	}
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

func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r) // type, user, result, from, to (web.go)
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	q.Limit, _ = strconv.Atoi(r.URL.Query().Get("limit"))
	q.Offset, _ = strconv.Atoi(r.URL.Query().Get("offset"))
	if q.Limit == 0 && r.URL.Query().Get("format") == "csv" {
		q.Limit = 100000
	}
	ev, _, err := s.st.SearchEvents(r.Context(), q)
	if err != nil {
		internalError(w, err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"log_index", "date", "time", "type", "subject", "object", "result", "detail", "remote"})
		for _, e := range ev {
			_ = cw.Write([]string{fmt.Sprint(e.LogIndex), e.Time.Format("2006-01-02"), e.Time.Format("15:04:05.000Z07:00"), e.Type,
				csvSafe(e.Subject), csvSafe(e.Object), e.Result, csvSafe(e.Detail), e.Remote})
		}
		cw.Flush()
		return
	}
	if ev == nil {
		ev = []store.EventRow{}
	}
	writeJSON(w, http.StatusOK, ev)
}

// LogKeys are the server's public keys.
type LogKeys struct {
	Origin    string `json:"origin"`
	LogKey    string `json:"logKey"`    // signed-note verifier key for checkpoints
	ServerKey string `json:"serverKey"` // PKIX PEM, countersigns entries
}

func (s *Server) apiLogKey(w http.ResponseWriter, r *http.Request) {
	v, _ := logverify.NoteVerifier(s.st.LogKey())
	writeJSON(w, http.StatusOK, LogKeys{Origin: v.Name(), LogKey: s.st.LogKey(), ServerKey: string(sign.MarshalPublicKey(s.st.ServerKey()))})
}

// ConsistencyResponse proves that the tree of size To extends that of From.
type ConsistencyResponse struct {
	From       uint64   `json:"from"`
	To         uint64   `json:"to"`
	Checkpoint string   `json:"checkpoint"` // the current checkpoint, of size To
	Proof      [][]byte `json:"proof"`
}

func (s *Server) apiConsistency(w http.ResponseWriter, r *http.Request) {
	from, err := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed", "from: want a tree size")
		return
	}
	cp, err := s.st.Log().Checkpoint(r.Context())
	if err != nil {
		internalError(w, err)
		return
	}
	if from > cp.Size {
		apiError(w, http.StatusBadRequest, "malformed", fmt.Sprintf("from %d is beyond the log's size %d", from, cp.Size))
		return
	}
	p, err := logverify.ConsistencyProof(r.Context(), s.st.Log().Reader(), from, cp.Size)
	if err != nil {
		internalError(w, err)
		return
	}
	if p == nil {
		p = [][]byte{}
	}
	writeJSON(w, http.StatusOK, ConsistencyResponse{From: from, To: cp.Size, Checkpoint: string(cp.Raw), Proof: p})
}

// logCheckpoint and logTile serve the log in the c2sp.org/tlog-tiles
// layout under /v1/log/, so standard tile clients can read and verify it.
func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request) {
	raw, err := s.st.Log().Reader().ReadCheckpoint(r.Context())
	if err != nil {
		internalError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(raw)
}

func (s *Server) logTile(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v1/log/tile/")
	level, index, ok := strings.Cut(rest, "/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	var data []byte
	var err error
	if level == "entries" {
		var idx uint64
		var p uint8
		if idx, p, err = layout.ParseTileIndexPartial(index); err == nil {
			data, err = s.st.Log().Reader().ReadEntryBundle(r.Context(), idx, p)
		}
	} else {
		var l, idx uint64
		var p uint8
		if l, idx, p, err = layout.ParseTileLevelIndexPartial(level, index); err == nil {
			data, err = s.st.Log().Reader().ReadTile(r.Context(), l, idx, p)
		}
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(data)
}

// UserInfo describes an account for admins.
type UserInfo struct {
	Name        string    `json:"name"`
	Role        string    `json:"role"`
	Locked      bool      `json:"locked"`
	Disabled    bool      `json:"disabled"`
	Failed      int       `json:"failedLogins"`
	Created     time.Time `json:"created"`
	TOTPSecret  string    `json:"totpSecret,omitempty"`
	TOTPURI     string    `json:"totpUri,omitempty"`
	Description string    `json:"description,omitempty"`
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.st.Accounts.List(r.Context())
	if err != nil {
		internalError(w, err)
		return
	}
	out := []UserInfo{}
	for _, u := range us {
		out = append(out, UserInfo{Name: u.Name, Role: string(u.Role), Locked: u.Locked(time.Now()), Disabled: u.Disabled, Failed: u.Failed, Created: u.Created})
	}
	writeJSON(w, http.StatusOK, out)
}

// CreateUserRequest adds an account.
type CreateUserRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request) {
	var req CreateUserRequest
	if err := decodeJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	role, err := accounts.ParseRole(req.Role)
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	u, err := s.st.CreateUser(r.Context(), req.Name, req.Password, role, who(r).actor(r))
	var pe *accounts.PolicyError
	switch {
	case errors.As(err, &pe):
		apiError(w, http.StatusBadRequest, "password-policy", err.Error())
	case errors.Is(err, accounts.ErrExists):
		apiError(w, http.StatusConflict, "exists", err.Error())
	case err != nil:
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
	default:
		info := UserInfo{Name: u.Name, Role: string(u.Role), Created: u.Created, TOTPSecret: u.TOTPSecret}
		if u.TOTPSecret != "" {
			info.TOTPURI = totpURI(u.Name, u.TOTPSecret)
		}
		writeJSON(w, http.StatusCreated, info)
	}
}

func (s *Server) apiUserAction(w http.ResponseWriter, r *http.Request) {
	name, act := r.PathValue("name"), r.PathValue("action")
	ctx, a := r.Context(), who(r).actor(r)
	var err error
	switch act {
	case "unlock":
		err = s.st.UnlockUser(ctx, name, a)
	case "disable", "enable":
		err = s.st.SetUserDisabled(ctx, name, act == "disable", a)
	case "password":
		var req struct {
			Password string `json:"password"`
		}
		if err = decodeJSON(r, &req); err == nil {
			err = s.st.SetPassword(ctx, name, req.Password, a)
		}
	default:
		apiError(w, http.StatusNotFound, "not-found", "no such action "+act)
		return
	}
	var pe *accounts.PolicyError
	switch {
	case isNotFound(err):
		apiError(w, http.StatusNotFound, "not-found", err.Error())
	case errors.As(err, &pe):
		apiError(w, http.StatusBadRequest, "password-policy", err.Error())
	case err != nil:
		internalError(w, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// TokenRequest asks for an API token (TTL like "720h"; empty: no expiry)
// or an enrollment token (TTL default 1h).
type TokenRequest struct {
	User string `json:"user,omitempty"`
	Name string `json:"name,omitempty"`
	Job  string `json:"job,omitempty"`
	TTL  string `json:"ttl,omitempty"`
	Uses int    `json:"uses,omitempty"`
}

// TokenResponse carries a new secret, shown once.
type TokenResponse struct {
	ID      string    `json:"id"`
	Token   string    `json:"token"`
	Job     string    `json:"job,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if err := decodeJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	ttl, err := parseTTL(req.TTL, 0)
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed", "ttl: "+err.Error())
		return
	}
	tok, t, err := s.st.CreateAPIToken(r.Context(), req.User, req.Name, ttl, who(r).actor(r))
	if isNotFound(err) {
		apiError(w, http.StatusNotFound, "not-found", err.Error())
		return
	}
	if err != nil {
		internalError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, TokenResponse{ID: t.ID, Token: tok, Expires: t.Expires})
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.st.RevokeAPIToken(r.Context(), r.PathValue("id"), who(r).actor(r)); err != nil {
		apiError(w, http.StatusNotFound, "not-found", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiCreateEnrollment(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if err := decodeJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	ttl, err := parseTTL(req.TTL, time.Hour)
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed", "ttl: "+err.Error())
		return
	}
	tok, t, err := s.st.CreateEnrollmentToken(r.Context(), req.Job, ttl, req.Uses, who(r).actor(r))
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, TokenResponse{ID: t.ID, Token: tok, Job: t.Job, Expires: t.Expires})
}

func (s *Server) apiStationKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := s.st.StationKeys(r.Context())
	if err != nil {
		internalError(w, err)
		return
	}
	if ks == nil {
		ks = []store.StationKey{}
	}
	writeJSON(w, http.StatusOK, ks)
}

// StationKeyRequest trusts a station key.
type StationKeyRequest struct {
	Name      string `json:"name"`
	PublicKey string `json:"publicKey"` // PKIX PEM
}

func (s *Server) apiAddStationKey(w http.ResponseWriter, r *http.Request) {
	var req StationKeyRequest
	if err := decodeJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	pub, err := sign.ParsePublicKey([]byte(req.PublicKey))
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	id, err := s.st.AddStationKey(r.Context(), req.Name, pub, who(r).actor(r))
	if err != nil {
		internalError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"keyId": id})
}

func (s *Server) apiRevokeStationKey(w http.ResponseWriter, r *http.Request) {
	if err := s.st.RevokeStationKey(r.Context(), r.PathValue("id"), who(r).actor(r)); err != nil {
		apiError(w, http.StatusNotFound, "not-found", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// BackupDir is set by the command when the server keeps daily backups.
func (s *Server) apiBackup(w http.ResponseWriter, r *http.Request) {
	p, err := s.st.BackupFile(r.Context(), s.st.Dir()+"/backups", 7*24*time.Hour)
	if err != nil {
		internalError(w, err)
		return
	}
	_ = s.st.Event(r.Context(), entry.TypeAdmin+".backup", who(r).actor(r), "backup", entry.ResultSuccess, p)
	writeJSON(w, http.StatusCreated, map[string]string{"path": p})
}
