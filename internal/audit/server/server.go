// Package server is the audit store's HTTPS front end: the JSON API that
// stations, boot agents and scripts use, and the server-rendered web UI
// for operators, auditors and admins.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/passkey"
	"github.com/lethe-project/lethe/internal/audit/store"
)

// Config configures a server.
type Config struct {
	Store *store.Store
	// BaseURL is the public address of the server, for links in PDFs
	// and QR codes (e.g. https://audit.example:8443).
	BaseURL string
}

// Server serves the API and UI.
type Server struct {
	st      *store.Store
	baseURL string
	mux     *http.ServeMux
	rp      *passkey.RP // nil when BaseURL names no host (passkeys off)
}

// New builds the handler.
func New(cfg Config) *Server {
	s := &Server{st: cfg.Store, baseURL: strings.TrimRight(cfg.BaseURL, "/"), mux: http.NewServeMux()}
	s.rp, _ = passkey.NewRP(s.baseURL) // WebAuthn wants a host name, not an IP address
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	m := s.mux
	// Machine API.
	m.HandleFunc("POST /v1/certificates", s.apiIngest)
	m.HandleFunc("POST /v1/enroll", s.apiEnroll)
	m.HandleFunc("POST /v1/session", s.apiLogin)
	m.HandleFunc("DELETE /v1/session", s.need(anyRole, s.apiLogout))
	m.HandleFunc("GET /v1/certificates", s.need(anyRole, s.apiSearch))
	m.HandleFunc("GET /v1/certificates/{id}", s.need(anyRole, s.apiCertificate))
	m.HandleFunc("GET /v1/certificates/{id}/envelope", s.need(anyRole, s.apiEnvelope))
	m.HandleFunc("GET /v1/certificates/{id}/receipt", s.need(anyRole, s.apiReceipt))
	m.HandleFunc("GET /v1/certificates/{id}/pdf", s.need(anyRole, s.certPDF))
	m.HandleFunc("POST /v1/certificates/{id}/validations", s.need(auditorOnly, s.apiValidate))
	m.HandleFunc("GET /v1/events", s.need(auditorOrAdmin, s.apiEvents))
	m.HandleFunc("GET /v1/log/key", s.apiLogKey)
	m.HandleFunc("GET /v1/log/consistency", s.need(anyRole, s.apiConsistency))
	m.HandleFunc("GET /v1/log/checkpoint", s.need(anyRole, s.logCheckpoint))
	m.HandleFunc("GET /v1/log/tile/", s.need(anyRole, s.logTile))
	m.HandleFunc("GET /v1/admin/users", s.need(adminOnly, s.apiUsers))
	m.HandleFunc("POST /v1/admin/users", s.need(adminOnly, s.apiCreateUser))
	m.HandleFunc("POST /v1/admin/users/{name}/{action}", s.need(adminOnly, s.apiUserAction))
	m.HandleFunc("POST /v1/admin/tokens", s.need(adminOnly, s.apiCreateToken))
	m.HandleFunc("POST /v1/admin/tokens/{id}/revoke", s.need(adminOnly, s.apiRevokeToken))
	m.HandleFunc("POST /v1/admin/enrollment-tokens", s.need(adminOnly, s.apiCreateEnrollment))
	m.HandleFunc("GET /v1/admin/station-keys", s.need(adminOnly, s.apiStationKeys))
	m.HandleFunc("POST /v1/admin/station-keys", s.need(adminOnly, s.apiAddStationKey))
	m.HandleFunc("POST /v1/admin/station-keys/{id}/revoke", s.need(adminOnly, s.apiRevokeStationKey))
	m.HandleFunc("POST /v1/admin/backup", s.need(adminOnly, s.apiBackup))
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.webRoutes()
}

// principal is the authenticated caller.
type principal struct {
	user    *accounts.User
	via     string // "session", "cookie" or "token"
	token   string // the session secret (for logout)
	csrf    string
	apiName string
}

func (p *principal) actor(r *http.Request) store.Actor {
	n := p.user.Name
	if p.via == "token" {
		n += " (token " + p.apiName + ")"
	}
	return store.Actor{Name: n, Remote: remote(r)}
}

type roleCheck func(accounts.Role) bool

var (
	anyRole        roleCheck = func(accounts.Role) bool { return true }
	auditorOnly    roleCheck = func(r accounts.Role) bool { return r == accounts.Auditor }
	adminOnly      roleCheck = func(r accounts.Role) bool { return r == accounts.Admin }
	auditorOrAdmin roleCheck = func(r accounts.Role) bool { return r == accounts.Auditor || r == accounts.Admin }
)

const cookieName = "lethe_session"

// authenticate reads a bearer token (API token or API session) or the
// session cookie. It returns nil, nil when no credentials were sent.
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, accounts.ErrBadToken
		}
		if strings.HasPrefix(tok, "lses_") {
			sess, err := s.st.Accounts.Session(ctx, tok)
			if err != nil {
				return nil, err
			}
			return &principal{user: sess.User, via: "session", token: tok, csrf: sess.CSRF}, nil
		}
		u, t, err := s.st.Accounts.APITokenUser(ctx, tok)
		if err != nil {
			return nil, err
		}
		return &principal{user: u, via: "token", apiName: t.Name}, nil
	}
	if c, err := r.Cookie(cookieName); err == nil {
		sess, err := s.st.Accounts.Session(ctx, c.Value)
		if err != nil {
			return nil, err
		}
		return &principal{user: sess.User, via: "cookie", token: c.Value, csrf: sess.CSRF}, nil
	}
	return nil, nil
}

type ctxKey struct{}

func who(r *http.Request) *principal { p, _ := r.Context().Value(ctxKey{}).(*principal); return p }

// need wraps an API handler with authentication and a role check.
func (s *Server) need(ok roleCheck, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil || p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lethe-audit"`)
			apiError(w, http.StatusUnauthorized, "unauthorized", "log in or send an API token (Authorization: Bearer ...)")
			return
		}
		if !ok(p.user.Role) {
			apiError(w, http.StatusForbidden, "forbidden", "role "+string(p.user.Role)+" may not do this")
			return
		}
		if p.via == "cookie" && r.Method == http.MethodPost && r.Header.Get("X-CSRF-Token") != p.csrf && r.FormValue("csrf") != p.csrf {
			apiError(w, http.StatusForbidden, "csrf", "missing or wrong CSRF token")
			return
		}
		if p.via != "token" && !s.passwordChangeAllowed(r, p) {
			apiError(w, http.StatusForbidden, "password-change-required", "your password was set by an admin: choose your own first (web UI /account, or POST /v1/account/password)")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	}
}

func remote(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// APIError is the body of every API error.
type APIError struct {
	Error    string   `json:"error"`
	Kind     string   `json:"kind"`
	Problems []string `json:"problems,omitempty"`
}

func apiError(w http.ResponseWriter, code int, kind, msg string, problems ...string) {
	writeJSON(w, code, APIError{Error: msg, Kind: kind, Problems: problems})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// internalError answers 500 without leaking details, which go to the log
// via the error value.
func internalError(w http.ResponseWriter, err error) {
	apiError(w, http.StatusInternalServerError, "internal", "internal error: "+err.Error())
}

func isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, accounts.ErrNotFound)
}

func parseTTL(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	return time.ParseDuration(s)
}
