package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/sign"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/passkey"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/totp"
)

//go:embed static
var static embed.FS

func totpURI(user, secret string) string { return totp.URI("lethe-audit", user, secret) }

// qrDataURI renders text as a PNG QR code in a data: URI (the CSP allows
// data: images), for TOTP enrollment.
func qrDataURI(text string) template.URL {
	png, err := qrcode.Encode(text, qrcode.Medium, 220)
	if err != nil {
		return ""
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)) // our own PNG: safe
}

func (s *Server) webRoutes() {
	s.adminAPIRoutes() // admin_api.go
	m := s.mux
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.loginSubmit)
	m.HandleFunc("POST /login/passkey", s.api(s.loginPasskeyBegin))
	m.HandleFunc("POST /logout", s.page(anyRole, s.logoutSubmit))
	m.HandleFunc("GET /{$}", s.page(anyRole, s.searchPage))
	m.HandleFunc("GET /hosts", s.page(anyRole, s.hostsPage))
	m.HandleFunc("GET /certificates/{id}", s.page(anyRole, s.certPage))
	m.HandleFunc("GET /certificates/{id}/pdf", s.page(anyRole, s.certPDF))
	m.HandleFunc("POST /certificates/{id}/validate", s.page(auditorOnly, s.validateWithoutScript))
	m.HandleFunc("POST /certificates/{id}/validate/begin", s.page(auditorOnly, s.api(s.validateBegin)))
	m.HandleFunc("POST /certificates/{id}/validate/finish", s.page(auditorOnly, s.api(s.validateFinish)))
	m.HandleFunc("GET /events", s.page(auditorOrAdmin, s.eventsPage))
	m.HandleFunc("GET /admin", s.page(adminOnly, s.adminPage))
	m.HandleFunc("POST /admin/{what}", s.page(adminOnly, s.adminSubmit))
	m.HandleFunc("GET /account", s.page(anyRole, s.accountPage))
	m.HandleFunc("POST /account/password", s.page(anyRole, s.passwordSubmit))
	m.HandleFunc("POST /account/passkeys/begin", s.page(mayHavePasskey, s.api(s.passkeyRegisterBegin)))
	m.HandleFunc("POST /account/passkeys/finish", s.page(mayHavePasskey, s.api(s.passkeyRegisterFinish)))
	m.HandleFunc("GET /account/passkeys/{id}", s.page(mayHavePasskey, s.api(s.passkeyExport)))
	m.HandleFunc("GET /static/", s.staticFile)
	// The offline proof of a signed validation, for browsers and scripts.
	m.HandleFunc("GET /v1/validations/{index}/proof", s.need(anyRole, api.ScopeRead, s.validationProof))
	m.HandleFunc("POST /v1/certificates/{id}/validations/challenge", s.need(auditorOnly, scopeSession, s.apiValidateBegin))
	m.HandleFunc("POST /v1/account/password", s.need(anyRole, scopeSession, s.apiChangePassword))
	m.HandleFunc("POST /v1/account/passkeys/begin", s.need(mayHavePasskey, scopeSession, s.passkeyRegisterBegin))
	m.HandleFunc("POST /v1/account/passkeys/finish", s.need(mayHavePasskey, scopeSession, s.passkeyRegisterFinish))
	m.HandleFunc("GET /v1/account/passkeys", s.need(mayHavePasskey, scopeSession, s.apiPasskeys))
	m.HandleFunc("GET /v1/account/passkeys/{id}", s.need(mayHavePasskey, scopeSession, s.passkeyExport))
}

// mayHavePasskey: the roles that log in with a second factor.
var mayHavePasskey roleCheck = func(r accounts.Role) bool { return r.NeedsTOTP() }

func (s *Server) staticFile(w http.ResponseWriter, r *http.Request) {
	b, err := static.ReadFile(strings.TrimPrefix(r.URL.Path, "/"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// page wraps a UI handler: a cookie session, the role, CSRF on POST (a
// form field, or the X-CSRF-Token header for the passkey script), and a
// password set by someone else must be changed before anything else.
func (s *Server) page(ok roleCheck, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil || p == nil {
			if r.Method != http.MethodGet {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !ok(p.user.Role) {
			w.WriteHeader(http.StatusForbidden)
			s.render(w, r, p, "message", map[string]any{"Title": "Not allowed", "Message": "Your role (" + string(p.user.Role) + ") may not do this."})
			return
		}
		if r.Method == http.MethodPost && p.via == "cookie" && r.Header.Get("X-CSRF-Token") != p.csrf && r.FormValue("csrf") != p.csrf {
			http.Error(w, "missing or wrong CSRF token", http.StatusForbidden)
			return
		}
		if must, _ := s.st.Accounts.MustChangePassword(r.Context(), p.user.Name); must {
			switch r.URL.Path {
			case "/account", "/account/password", "/logout":
			default:
				http.Redirect(w, r, "/account", http.StatusSeeOther)
				return
			}
		}
		h(w, r.WithContext(contextWith(r, p)))
	}
}

func contextWith(r *http.Request, p *principal) context.Context { return withPrincipal(r.Context(), p) }

// csp allows only the app's own script (static/passkey.js), no inline
// script, no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

func (s *Server) render(w http.ResponseWriter, r *http.Request, p *principal, name string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["Me"] = p
	if p != nil {
		data["User"] = p.user.Name
		data["Role"] = string(p.user.Role)
		data["CSRF"] = p.csrf
	}
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "template: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", csp)
	w.Write(buf.Bytes())
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, nil, "login", map[string]any{"Next": safeNext(r.URL.Query().Get("next")), "Passkeys": s.rp != nil})
}

// safeNext accepts only a path on this server as the place to go after
// login: "/..." but not "//host" or "/\host" (browsers read a backslash
// as a slash), no scheme or host, no control characters.
func safeNext(n string) string {
	if n == "" || n[0] != '/' || len(n) > 2048 {
		return "/"
	}
	if len(n) > 1 && (n[1] == '/' || n[1] == '\\') {
		return "/"
	}
	for _, c := range n {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(n)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return n
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.FormValue("next"))
	user, pw := r.FormValue("user"), r.FormValue("password")
	var tok string
	var sess *accounts.Session
	var err error
	if assertion := r.FormValue("assertion"); assertion != "" && s.rp != nil {
		ceremony := r.FormValue("ceremony")
		tok, sess, err = s.st.LoginPasskey(r.Context(), user, pw, remote(r), func(u *accounts.User) error {
			return s.finishLoginAssertion(r.Context(), u.Name, ceremony, []byte(assertion))
		})
	} else {
		tok, sess, err = s.st.Login(r.Context(), user, pw, r.FormValue("totp"), remote(r))
	}
	if err != nil {
		msg := accounts.ErrBadCredentials.Error()
		if errors.Is(err, accounts.ErrLocked) {
			msg = err.Error()
		} else if !errors.Is(err, accounts.ErrBadCredentials) {
			msg = "login failed: " + err.Error()
		}
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, r, nil, "login", map[string]any{"Next": next, "Error": msg, "Name": user, "Passkeys": s.rp != nil})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: sess.Expires})
	if must, _ := s.st.Accounts.MustChangePassword(r.Context(), sess.User.Name); must {
		next = "/account"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) finishLoginAssertion(ctx context.Context, user, ceremony string, response []byte) error {
	state, err := s.st.Accounts.TakeCeremony(ctx, ceremony, user, "login")
	if err != nil {
		return err
	}
	keys, err := s.st.Accounts.ActivePasskeys(ctx, user)
	if err != nil {
		return err
	}
	a, err := s.rp.FinishAssertion(passkey.Account{Name: user, Keys: keys}, state, response)
	if err != nil {
		return err
	}
	return s.st.Accounts.UpdateSignCount(ctx, a.Key.CredentialID, a.SignCount)
}

func newCeremonyID() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loginPasskeyBegin answers {"user"} with assertion options for that
// account's passkeys; the browser's answer comes back with the password
// in the login form.
func (s *Server) loginPasskeyBegin(w http.ResponseWriter, r *http.Request) error {
	if s.rp == nil {
		return api.Errorf(api.KindNoPasskeys, "passkeys are off: start the store with --url https://HOSTNAME:PORT")
	}
	var req struct {
		User string `json:"user"`
	}
	if err := decodeJSON(r, &req); err != nil || req.User == "" || len(req.User) > 64 {
		return api.Errorf(api.KindMalformed, "want {\"user\": NAME}")
	}
	keys, err := s.st.Accounts.ActivePasskeys(r.Context(), req.User)
	if err != nil || len(keys) == 0 {
		return api.Errorf(api.KindNoPasskey, "no passkey is registered for this user name; use the one-time code")
	}
	return s.beginAssertion(w, r, req.User, keys, nil, "login", nil)
}

func (s *Server) beginAssertion(w http.ResponseWriter, r *http.Request, user string, keys []accounts.Passkey, challenge []byte, kind string, extra map[string]any) error {
	opts, state, err := s.rp.BeginAssertion(passkey.Account{Name: user, Keys: keys}, challenge)
	if err != nil {
		return err
	}
	id := newCeremonyID()
	if err := s.st.Accounts.SaveCeremony(r.Context(), id, user, kind, state, time.Now().Add(passkey.Timeout)); err != nil {
		return err
	}
	out := map[string]any{"ceremony": id, "options": json.RawMessage(opts)}
	for k, v := range extra {
		out[k] = v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	_ = s.st.Logout(r.Context(), p.token, p.actor(r))
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// pageSizes are the page sizes offered.
var pageSizes = []int{25, 50, 100, 250}

type pager struct {
	Total, From, To    int
	Prev, Next, Sizes  []link
	PrevURL, NextURL   string
	PerPage, PageIndex int
}

type link struct {
	Label, URL string
	Current    bool
}

// paging reads per/page from the URL and makes the links.
func paging(r *http.Request, total int) (limit, offset int, p pager) {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per"))
	if per <= 0 || per > 1000 {
		per = 50
	}
	pg, _ := strconv.Atoi(q.Get("page"))
	if pg < 1 {
		pg = 1
	}
	p = pager{Total: total, PerPage: per, PageIndex: pg, From: (pg-1)*per + 1, To: pg * per}
	if p.To > total {
		p.To = total
	}
	if p.From > total {
		p.From = total
	}
	at := func(page, size int) string {
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(page))
		v.Set("per", strconv.Itoa(size))
		return r.URL.Path + "?" + v.Encode()
	}
	if pg > 1 {
		p.PrevURL = at(pg-1, per)
	}
	if pg*per < total {
		p.NextURL = at(pg+1, per)
	}
	for _, n := range pageSizes {
		p.Sizes = append(p.Sizes, link{Label: strconv.Itoa(n), URL: at(1, n), Current: n == per})
	}
	return per, (pg - 1) * per, p
}

type sortLink struct {
	Label, URL, Mark string
}

// sortLinks makes the column headers: a click sorts by the column, a
// second click reverses.
func sortLinks(r *http.Request, cols [][2]string) map[string]sortLink {
	out := map[string]sortLink{}
	cur, asc := r.URL.Query().Get("sort"), r.URL.Query().Get("dir") == "asc"
	for _, c := range cols {
		v := r.URL.Query()
		v.Del("page")
		v.Set("sort", c[0])
		l := sortLink{Label: c[1]}
		if cur == c[0] || (cur == "" && c[0] == "received") {
			if asc {
				l.Mark = " ▲"
				v.Set("dir", "desc")
			} else {
				l.Mark = " ▼"
				v.Set("dir", "asc")
			}
		} else if c[0] == "received" || c[0] == "ended" {
			v.Set("dir", "desc") // newest first
		} else {
			v.Set("dir", "asc") // A to Z
		}
		l.URL = r.URL.Path + "?" + v.Encode()
		out[c[0]] = l
	}
	return out
}

func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r)
	data := map[string]any{"Q": r.URL.Query()}
	if err != nil {
		data["Error"] = err.Error()
		s.render(w, r, who(r), "search", data)
		return
	}
	q.Sort, q.Asc = r.URL.Query().Get("sort"), r.URL.Query().Get("dir") == "asc"
	_, total, err := s.st.Search(r.Context(), store.Query{Serial: q.Serial, WWN: q.WWN, HostSerial: q.HostSerial, Job: q.Job, Site: q.Site,
		Status: q.Status, Validation: q.Validation, Text: q.Text, From: q.From, To: q.To, Limit: 1})
	if err != nil {
		data["Error"] = err.Error()
	}
	q.Limit, q.Offset, data["Pager"] = paging(r, total)
	rows, total, err := s.st.Search(r.Context(), q)
	if err != nil {
		data["Error"] = err.Error()
	}
	data["Rows"], data["Total"] = rows, total
	data["Sort"] = sortLinks(r, [][2]string{{"received", "Entry"}, {"status", "Status"}, {"model", "Drive"}, {"serial", "Serial"},
		{"host", "Host"}, {"job", "Job"}, {"site", "Site"}, {"ended", "Ended (UTC)"}, {"category", "Category"}, {"validation", "Validation"}})
	qs := r.URL.Query()
	qs.Del("page")
	qs.Del("per")
	qs.Set("format", "csv")
	data["CSV"] = "/v1/certificates?" + qs.Encode()
	qs.Set("format", "json")
	data["JSON"] = "/v1/certificates?" + qs.Encode()
	s.render(w, r, who(r), "search", data)
}

func (s *Server) hostsPage(w http.ResponseWriter, r *http.Request) {
	text := r.URL.Query().Get("q")
	_, total, err := s.st.Hosts(r.Context(), text, 1, 0)
	data := map[string]any{"Q": text}
	var p pager
	var limit, offset int
	limit, offset, p = paging(r, total)
	hosts, total, err2 := s.st.Hosts(r.Context(), text, limit, offset)
	if err == nil {
		err = err2
	}
	if err != nil {
		data["Error"] = err.Error()
	}
	data["Hosts"], data["Total"], data["Pager"] = hosts, total, p
	s.render(w, r, who(r), "hosts", data)
}

func (s *Server) certPage(w http.ResponseWriter, r *http.Request) {
	c, err := s.st.Certificate(r.Context(), r.PathValue("id"))
	if err != nil {
		code := http.StatusInternalServerError
		if isNotFound(err) {
			code = http.StatusNotFound
		}
		w.WriteHeader(code)
		s.render(w, r, who(r), "message", map[string]any{"Title": "Certificate", "Message": err.Error()})
		return
	}
	p := who(r)
	data := map[string]any{"V": s.certView(r.Context(), c), "Validation": validationText(c), "Msg": r.URL.Query().Get("msg"),
		"CanValidate": p.user.Role == accounts.Auditor, "Passkeys": s.rp != nil}
	if p.user.Role == accounts.Auditor {
		keys, _ := s.st.Accounts.ActivePasskeys(r.Context(), p.user.Name)
		data["HasPasskey"] = len(keys) > 0
	}
	s.render(w, r, p, "certificate", data)
}

// validateBegin prepares the statement the auditor signs and starts the
// assertion whose challenge is its digest.
func (s *Server) validateBegin(w http.ResponseWriter, r *http.Request) error {
	var req api.ValidationRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	return s.startValidation(w, r, req.Decision, req.Comment)
}

func (s *Server) startValidation(w http.ResponseWriter, r *http.Request, decision, comment string) error {
	if s.rp == nil {
		return api.Errorf(api.KindNoPasskeys, "validations are signed with a passkey, and passkeys need the store's host name: start it with --url https://HOSTNAME:PORT")
	}
	p := who(r)
	keys, err := s.st.Accounts.ActivePasskeys(r.Context(), p.user.Name)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return api.Errorf(api.KindNoPasskey, "register a passkey or security key on your account page first: validations are signed with it")
	}
	st, stmt, err := s.st.NewValidationStatement(r.Context(), r.PathValue("id"), decision, comment, p.user.Name)
	if err != nil && !isNotFound(err) {
		return &accounts.InputError{Reason: err.Error()}
	}
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("%s certificate %s (log entry %d) as %s at %s", strings.ToUpper(st.Decision[:1])+st.Decision[1:], st.CertificateID,
		st.CertificateLogIndex, st.Auditor, st.Time.Format(time.RFC3339))
	// The statement is kept with the ceremony, so what is logged is
	// exactly what the challenge committed to.
	digest := hex.EncodeToString(passkey.Challenge(stmt))
	if err := s.st.Accounts.SaveCeremony(r.Context(), "stmt:"+digest, p.user.Name, "statement", stmt, time.Now().Add(passkey.Timeout)); err != nil {
		return err
	}
	return s.beginAssertion(w, r, p.user.Name, keys, passkey.Challenge(stmt), "validate:"+digest,
		map[string]any{"statement": json.RawMessage(stmt), "summary": summary})
}

// validateFinish checks the assertion and logs the signed validation.
func (s *Server) validateFinish(w http.ResponseWriter, r *http.Request) error {
	var req api.SignedValidation
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	v, err := s.finishValidation(r, r.PathValue("id"), req.Ceremony, req.Credential)
	if err != nil {
		return notRecorded(err)
	}
	msg := fmt.Sprintf("Decision %s recorded in log entry %d, signed with your passkey.", v.Decision, v.LogIndex)
	writeJSON(w, http.StatusOK, map[string]any{"redirect": "/certificates/" + url.PathEscape(r.PathValue("id")) + "?msg=" + url.QueryEscape(msg), "validation": v})
	return nil
}

func (s *Server) finishValidation(r *http.Request, certID, ceremony string, credential []byte) (*store.ValidationRecord, error) {
	if s.rp == nil {
		return nil, errors.New("passkeys are off")
	}
	ctx, p := r.Context(), who(r)
	// The ceremony kind names the challenge, i.e. the statement digest.
	parsed, err := parseAssertionChallenge(credential)
	if err != nil {
		return nil, err
	}
	state, err := s.st.Accounts.TakeCeremony(ctx, ceremony, p.user.Name, "validate:"+hex.EncodeToString(parsed))
	if err != nil {
		return nil, err
	}
	stmt, err := s.st.Accounts.TakeCeremony(ctx, "stmt:"+hex.EncodeToString(parsed), p.user.Name, "statement")
	if err != nil {
		return nil, err
	}
	st, err := passkey.ParseStatement(stmt)
	if err != nil {
		return nil, err
	}
	if st.CertificateID != certID {
		return nil, fmt.Errorf("the signed statement is about certificate %s, not %s", st.CertificateID, certID)
	}
	keys, err := s.st.Accounts.ActivePasskeys(ctx, p.user.Name)
	if err != nil {
		return nil, err
	}
	a, err := s.rp.FinishAssertion(passkey.Account{Name: p.user.Name, Keys: keys}, state, credential)
	if err != nil {
		return nil, err
	}
	return s.st.ValidateSigned(ctx, stmt, a, p.actor(r))
}

// parseAssertionChallenge reads the challenge out of an assertion's
// client data (to find the statement it signs; the library checks it
// against the ceremony afterwards).
func parseAssertionChallenge(credential []byte) ([]byte, error) {
	var c struct {
		Response struct {
			ClientDataJSON string `json:"clientDataJSON"`
		} `json:"response"`
	}
	if err := json.Unmarshal(credential, &c); err != nil {
		return nil, fmt.Errorf("passkey response: %w", err)
	}
	cd, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c.Response.ClientDataJSON, "="))
	if err != nil {
		return nil, fmt.Errorf("passkey response client data: %w", err)
	}
	var d struct {
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(cd, &d); err != nil {
		return nil, fmt.Errorf("passkey response client data: %w", err)
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(d.Challenge, "="))
}

func (s *Server) validationProof(w http.ResponseWriter, r *http.Request) error {
	idx, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		return api.Errorf(api.KindMalformed, "index: want a log index")
	}
	p, err := s.st.ValidationProof(r.Context(), idx)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="validation-%d.proof.json"`, idx))
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r)
	data := map[string]any{"Q": r.URL.Query()}
	types, _ := s.st.EventTypes(r.Context())
	data["Types"] = types
	if err != nil {
		data["Error"] = err.Error()
		s.render(w, r, who(r), "events", data)
		return
	}
	q.Limit = 1
	_, total, err := s.st.SearchEvents(r.Context(), q)
	q.Limit, q.Offset, data["Pager"] = paging(r, total)
	ev, total, err2 := s.st.SearchEvents(r.Context(), q)
	if err == nil {
		err = err2
	}
	if err != nil {
		data["Error"] = err.Error()
	}
	data["Events"], data["Total"] = ev, total
	qs := r.URL.Query()
	qs.Del("page")
	qs.Del("per")
	qs.Set("format", "csv")
	data["CSV"] = "/v1/events?" + qs.Encode()
	s.render(w, r, who(r), "events", data)
}

func parseEventQuery(r *http.Request) (store.EventQuery, error) {
	v := r.URL.Query()
	q := store.EventQuery{Type: v.Get("type"), User: v.Get("user"), Result: v.Get("result")}
	var err error
	if q.From, err = parseDay(v.Get("from")); err != nil {
		return q, fmt.Errorf("from: want YYYY-MM-DD or RFC 3339")
	}
	if q.To, err = parseDay(v.Get("to")); err != nil {
		return q, fmt.Errorf("to: want YYYY-MM-DD or RFC 3339")
	}
	if len(v.Get("to")) == 10 {
		q.To = q.To.Add(24 * time.Hour)
	}
	return q, nil
}

func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}

type userRow struct {
	accounts.User
	LockedNow bool
	Passkeys  int
	MustPW    bool
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request) {
	s.renderAdmin(w, r, http.StatusOK, nil)
}

// renderAdmin shows the admin page; result carries the outcome of an
// action and, once, any new secret (in the body, never in a URL).
func (s *Server) renderAdmin(w http.ResponseWriter, r *http.Request, code int, result map[string]any) {
	ctx := r.Context()
	users, _ := s.st.Accounts.List(ctx)
	var rows []userRow
	for _, u := range users {
		keys, _ := s.st.Accounts.ActivePasskeys(ctx, u.Name)
		must, _ := s.st.Accounts.MustChangePassword(ctx, u.Name)
		rows = append(rows, userRow{User: u, LockedNow: u.Locked(time.Now()), Passkeys: len(keys), MustPW: must})
	}
	toks, _ := s.st.Accounts.ListAPITokens(ctx)
	keys, _ := s.st.StationKeys(ctx)
	enr, _ := s.st.EnrollmentTokens(ctx)
	data := map[string]any{"Users": rows, "Tokens": toks, "Keys": keys, "Enrollments": enr, "Now": time.Now()}
	for k, v := range result {
		data[k] = v
	}
	w.Header().Set("Cache-Control", "no-store")
	if code != http.StatusOK {
		w.WriteHeader(code)
	}
	s.render(w, r, who(r), "admin", data)
}

func (s *Server) adminSubmit(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), who(r).actor(r)
	name := r.FormValue("name")
	res := map[string]any{}
	var err error
	switch r.PathValue("what") {
	case "user":
		var role accounts.Role
		if role, err = accounts.ParseRole(r.FormValue("role")); err == nil {
			var u *accounts.User
			if u, err = s.st.CreateUserByAdmin(ctx, name, r.FormValue("password"), role, a); err == nil {
				res["Msg"] = "User " + u.Name + " (" + string(u.Role) + ") created; they choose their own password at first login."
				if u.TOTPSecret != "" {
					res["TOTPUser"], res["Secret"], res["QR"] = u.Name, u.TOTPSecret, qrDataURI(totpURI(u.Name, u.TOTPSecret))
				}
			}
		}
	case "unlock":
		if err = s.st.UnlockUser(ctx, name, a); err == nil {
			res["Msg"] = "Unlocked " + name + "."
		}
	case "disable", "enable":
		if err = s.st.SetUserDisabled(ctx, name, r.PathValue("what") == "disable", a); err == nil {
			res["Msg"] = "Account " + name + " " + r.PathValue("what") + "d."
		}
	case "password":
		if err = s.st.ResetPassword(ctx, name, r.FormValue("password"), a); err == nil {
			res["Msg"] = "Password of " + name + " reset; they must change it at their next login."
		}
	case "totp":
		var secret, uri string
		if secret, uri, err = s.st.ResetTOTP(ctx, name, a); err == nil {
			res["Msg"] = "New TOTP secret for " + name + "; the old one no longer works."
			res["TOTPUser"], res["Secret"], res["QR"] = name, secret, qrDataURI(uri)
		}
	case "passkeys":
		var n int
		if n, err = s.st.RevokePasskeys(ctx, name, a); err == nil {
			res["Msg"] = fmt.Sprintf("Revoked %d passkey(s) of %s; they can register a new one after logging in with a one-time code.", n, name)
		}
	case "api-token":
		var ttl time.Duration
		if ttl, err = parseTTL(r.FormValue("ttl"), 90*24*time.Hour); err == nil {
			var tok string
			var t *accounts.APIToken
			if tok, t, err = s.st.CreateAPIToken(ctx, accounts.TokenSpec{User: r.FormValue("user"), Name: r.FormValue("tokenname"), TTL: ttl, Scopes: r.Form["scope"]}, a); err == nil {
				res["Msg"] = fmt.Sprintf("API token %s for %s, valid until %s. Copy it now: it is shown only this once.", t.ID, t.User, t.Expires.Format(time.RFC3339))
				res["Secret"] = tok
			}
		}
	case "api-token-revoke":
		if err = s.st.RevokeAPIToken(ctx, r.FormValue("id"), a); err == nil {
			res["Msg"] = "API token " + r.FormValue("id") + " revoked."
		}
	case "enrollment-token":
		var ttl time.Duration
		if ttl, err = parseTTL(r.FormValue("ttl"), time.Hour); err == nil {
			uses, _ := strconv.Atoi(r.FormValue("uses"))
			if strings.TrimSpace(r.FormValue("job")) == "" {
				err = errors.New("an enrollment token names its job")
			} else {
				var tok string
				var t *store.EnrollmentToken
				if tok, t, err = s.st.CreateEnrollmentToken(ctx, r.FormValue("job"), ttl, uses, a); err == nil {
					res["Msg"] = fmt.Sprintf("Enrollment token %s for job %q, %d use(s), valid until %s. Copy it now: it is shown only this once.",
						t.ID, t.Job, t.MaxUses, t.Expires.Format(time.RFC3339))
					res["Secret"] = tok
				}
			}
		}
	case "enrollment-token-revoke":
		if err = s.st.RevokeEnrollmentToken(ctx, r.FormValue("id"), a); err == nil {
			res["Msg"] = "Enrollment token " + r.FormValue("id") + " revoked."
		}
	case "station-key":
		var pub []byte
		pub = []byte(strings.TrimSpace(r.FormValue("publicKey")))
		k, perr := sign.ParsePublicKey(pub)
		if perr != nil {
			err = fmt.Errorf("public key: %v", perr)
		} else {
			var id string
			if id, err = s.st.AddStationKey(ctx, r.FormValue("keyname"), k, a); err == nil {
				res["Msg"] = "Station key " + id[:16] + " (" + r.FormValue("keyname") + ") is trusted."
			}
		}
	case "station-key-revoke":
		if err = s.st.RevokeStationKey(ctx, r.FormValue("id"), a); err == nil {
			res["Msg"] = "Station key " + short(r.FormValue("id")) + " revoked; what it signed stays in the log."
		}
	default:
		http.NotFound(w, r)
		return
	}
	code := http.StatusOK
	if err != nil {
		res = map[string]any{"Msg": "Failed: " + err.Error(), "Failed": true}
		code = http.StatusBadRequest
	}
	s.renderAdmin(w, r, code, res)
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, r.URL.Query().Get("msg"), false)
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, code int, msg string, failed bool) {
	p := who(r)
	must, _ := s.st.Accounts.MustChangePassword(r.Context(), p.user.Name)
	keys, _ := s.st.Accounts.Passkeys(r.Context(), p.user.Name)
	type keyRow struct {
		accounts.Passkey
		ID string
	}
	var rows []keyRow
	for _, k := range keys {
		rows = append(rows, keyRow{Passkey: k, ID: base64.RawURLEncoding.EncodeToString(k.CredentialID)})
	}
	if code != http.StatusOK {
		w.WriteHeader(code)
	}
	s.render(w, r, p, "account", map[string]any{"Msg": msg, "Failed": failed, "Must": must, "Passkeys": rows,
		"CanPasskey": p.user.Role.NeedsTOTP(), "PasskeysOn": s.rp != nil, "RPID": s.rpID()})
}

func (s *Server) rpID() string {
	if s.rp == nil {
		return ""
	}
	return s.rp.ID()
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	ctx := r.Context()
	if r.FormValue("new") != r.FormValue("new2") {
		s.renderAccount(w, r, http.StatusBadRequest, "The two new passwords differ.", true)
		return
	}
	// The current password proves it is the owner at the keyboard; the
	// session already proved the second factor.
	if ok, err := s.st.Accounts.CheckCurrentPassword(ctx, p.user.Name, r.FormValue("old")); err != nil || !ok {
		s.renderAccount(w, r, http.StatusBadRequest, "The current password is wrong.", true)
		return
	}
	if r.FormValue("old") == r.FormValue("new") {
		s.renderAccount(w, r, http.StatusBadRequest, "Choose a password different from the current one.", true)
		return
	}
	if err := s.st.ChangeOwnPassword(ctx, p.user.Name, r.FormValue("new"), p.actor(r)); err != nil {
		s.renderAccount(w, r, http.StatusBadRequest, err.Error(), true)
		return
	}
	http.Redirect(w, r, "/account?msg="+url.QueryEscape("Password changed."), http.StatusSeeOther)
}

func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) error {
	if s.rp == nil {
		return api.Errorf(api.KindNoPasskeys, "passkeys need the store's host name: start it with --url https://HOSTNAME:PORT")
	}
	p := who(r)
	keys, err := s.st.Accounts.ActivePasskeys(r.Context(), p.user.Name)
	if err != nil {
		return err
	}
	opts, state, err := s.rp.BeginRegistration(passkey.Account{Name: p.user.Name, Keys: keys})
	if err != nil {
		return err
	}
	id := newCeremonyID()
	if err := s.st.Accounts.SaveCeremony(r.Context(), id, p.user.Name, "register", state, time.Now().Add(passkey.Timeout)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"ceremony": id, "options": json.RawMessage(opts)})
	return nil
}

func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) error {
	var req api.PasskeyRegistration
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Name) > 64 {
		req.Name = req.Name[:64]
	}
	p := who(r)
	ctx := r.Context()
	state, err := s.st.Accounts.TakeCeremony(ctx, req.Ceremony, p.user.Name, "register")
	if err != nil {
		return api.Errorf(api.KindExpired, "%v", err)
	}
	keys, _ := s.st.Accounts.ActivePasskeys(ctx, p.user.Name)
	reg, err := s.rp.FinishRegistration(passkey.Account{Name: p.user.Name, Keys: keys}, state, req.Credential, req.Name)
	if err != nil {
		return api.Errorf(api.KindNotRegistered, "%v", err)
	}
	idx, err := s.st.RegisterPasskey(ctx, reg, p.actor(r))
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Passkey registered (log entry %d). Download its public key below and keep it: it lets anyone check your validations independently of this store.", idx)
	writeJSON(w, http.StatusOK, map[string]any{"redirect": "/account?msg=" + url.QueryEscape(msg), "logIndex": idx})
	return nil
}

func (s *Server) passkeyExport(w http.ResponseWriter, r *http.Request) error {
	id, err := base64.RawURLEncoding.DecodeString(strings.TrimSuffix(r.PathValue("id"), ".json"))
	if err != nil {
		return api.Errorf(api.KindNotFound, "no such passkey")
	}
	x, err := s.st.ExportPasskey(r.Context(), who(r).user.Name, id)
	if err != nil {
		return api.Errorf(api.KindNotFound, "no such passkey")
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="passkey-%s-%d.json"`, x.User, x.LogIndex))
	writeJSON(w, http.StatusOK, x)
	return nil
}

// apiPasskeys lists the caller's passkeys in their exported form.
func (s *Server) apiPasskeys(w http.ResponseWriter, r *http.Request) error {
	p := who(r)
	keys, err := s.st.Accounts.ActivePasskeys(r.Context(), p.user.Name)
	if err != nil {
		return err
	}
	out := []*passkey.ExportedKey{}
	for _, k := range keys {
		x, err := s.st.ExportPasskey(r.Context(), p.user.Name, k.CredentialID)
		if err != nil {
			return err
		}
		out = append(out, x)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// validateWithoutScript answers the validation form when the browser did
// not run the passkey script: nothing is recorded without the auditor's
// signature.
func (s *Server) validateWithoutScript(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusBadRequest)
	s.render(w, r, who(r), "message", map[string]any{"Title": "Not recorded",
		"Message": "A validation is signed with your passkey, which needs JavaScript (navigator.credentials) in this browser. Nothing was recorded."})
}
