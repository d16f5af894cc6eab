// Package server is the audit store's HTTPS front end: the JSON API that
// stations, boot agents and scripts use (its bodies are audit/api's
// types), and the server-rendered web UI for operators, auditors and
// admins.
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/api"
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
	// Logger receives internal errors (default slog.Default()); clients
	// only see a reference to them.
	Logger *slog.Logger
}

// Server serves the API and UI.
type Server struct {
	st      *store.Store
	baseURL string
	mux     *http.ServeMux
	logger  *slog.Logger
	rp      *passkey.RP // nil when BaseURL names no host (passkeys off)
}

// New builds the handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{st: cfg.Store, baseURL: strings.TrimRight(cfg.BaseURL, "/"), mux: http.NewServeMux(), logger: cfg.Logger}
	s.rp, _ = passkey.NewRP(s.baseURL) // WebAuthn wants a host name, not an IP address
	s.routes()
	return s
}

// maxBody bounds every request body but a certificate's: nothing else the
// store accepts is larger, and a stranger must not make it read more.
const maxBody = 64 << 10

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	if err := s.st.Healthy(); err != nil {
		// The log failed its integrity check: nothing the store would
		// serve can be vouched for.
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			s.writeError(w, r, err)
		} else {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
		return
	}
	if r.Body != nil {
		limit := int64(maxBody)
		if r.URL.Path == "/v1/certificates" {
			limit = store.MaxEnvelope + 1
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	s.mux.ServeHTTP(w, r)
}

// LocalHandler serves the API to the store's host, on a Unix socket in the
// data directory that only the store's user can open (or in-process): the
// socket's file permissions are the authentication, and every request acts
// as an admin named by actor (`lethe audit admin` runs there).
func (s *Server) LocalHandler(actor func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), localKey{}, actor(r))))
	})
}

type localKey struct{}

func (s *Server) routes() {
	m := s.mux
	// Machine API.
	m.HandleFunc("POST /v1/certificates", s.api(s.apiIngest))
	m.HandleFunc("POST /v1/enroll", s.api(s.apiEnroll))
	m.HandleFunc("POST /v1/session", s.api(s.apiLogin))
	m.HandleFunc("DELETE /v1/session", s.need(anyRole, scopeSession, s.apiLogout))
	m.HandleFunc("GET /v1/certificates", s.need(anyRole, api.ScopeRead, s.apiSearch))
	m.HandleFunc("GET /v1/certificates/{id}", s.need(anyRole, api.ScopeRead, s.apiCertificate))
	m.HandleFunc("GET /v1/certificates/{id}/envelope", s.need(anyRole, api.ScopeRead, s.apiEnvelope))
	m.HandleFunc("GET /v1/certificates/{id}/receipt", s.need(anyRole, api.ScopeRead, s.apiReceipt))
	m.HandleFunc("GET /v1/certificates/{id}/pdf", s.need(anyRole, api.ScopeRead, s.apiPDF))
	// A validation is a person's act: sessions only, never a token.
	m.HandleFunc("POST /v1/certificates/{id}/validations", s.need(auditorOnly, scopeSession, s.apiValidate))
	m.HandleFunc("GET /v1/events", s.need(auditorOrAdmin, api.ScopeRead, s.apiEvents))
	m.HandleFunc("GET /v1/log/key", s.api(s.apiLogKey))
	m.HandleFunc("GET /v1/log/consistency", s.need(anyRole, api.ScopeRead, s.apiConsistency))
	m.HandleFunc("GET /v1/log/checkpoint", s.need(anyRole, api.ScopeRead, s.logCheckpoint))
	m.HandleFunc("GET /v1/log/tile/", s.need(anyRole, api.ScopeRead, s.logTile))
	admin := func(pattern string, h apiFunc) { m.HandleFunc(pattern, s.need(adminOnly, api.ScopeAdmin, h)) }
	admin("GET /v1/admin/users", s.apiUsers)
	admin("POST /v1/admin/users", s.apiCreateUser)
	admin("POST /v1/admin/users/{name}/{action}", s.apiUserAction)
	admin("GET /v1/admin/tokens", s.apiTokens)
	admin("POST /v1/admin/tokens", s.apiCreateToken)
	admin("POST /v1/admin/tokens/{id}/revoke", s.apiRevokeToken)
	admin("GET /v1/admin/enrollment-tokens", s.apiEnrollmentTokens)
	admin("POST /v1/admin/enrollment-tokens", s.apiCreateEnrollment)
	admin("POST /v1/admin/enrollment-tokens/{id}/revoke", s.apiRevokeEnrollment)
	admin("GET /v1/admin/agent-keys", s.apiAgentKeys)
	admin("POST /v1/admin/agent-keys/{id}/revoke", s.apiRevokeAgentKey)
	admin("GET /v1/admin/station-keys", s.apiStationKeys)
	admin("POST /v1/admin/station-keys", s.apiAddStationKey)
	admin("POST /v1/admin/station-keys/{id}/revoke", s.apiRevokeStationKey)
	admin("POST /v1/admin/backup", s.apiBackup)
	admin("POST /v1/admin/verify-log", s.apiVerifyLog)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.webRoutes()
}

// principal is the authenticated caller.
type principal struct {
	user    *accounts.User
	via     string // "session", "cookie", "token" or "local"
	token   string // the session secret (for logout)
	csrf    string
	apiName string
	scopes  []string // a token's; nil for sessions (their role decides)
}

func (p *principal) actor(r *http.Request) store.Actor {
	n := p.user.Name
	if p.via == "token" {
		n += " (token " + p.apiName + ")"
	}
	return store.Actor{Name: n, Remote: remote(r), Session: p.token}
}

// allows reports whether the caller's credentials cover scope: a session
// covers everything its role allows, a token only its scopes, and
// scopeSession is for sessions only.
func (p *principal) allows(scope string) bool {
	if p.via == "token" {
		return scope != scopeSession && slices.Contains(p.scopes, scope)
	}
	return true
}

// scopeSession marks routes no API token may use.
const scopeSession = "session"

type roleCheck func(accounts.Role) bool

var (
	anyRole        roleCheck = func(accounts.Role) bool { return true }
	auditorOnly    roleCheck = func(r accounts.Role) bool { return r == accounts.Auditor }
	adminOnly      roleCheck = func(r accounts.Role) bool { return r == accounts.Admin }
	auditorOrAdmin roleCheck = func(r accounts.Role) bool { return r == accounts.Auditor || r == accounts.Admin }
)

const cookieName = "lethe_session"

// authenticate reads a bearer token (API token or API session), the
// session cookie, or the local admin socket's identity. It returns nil,
// nil when no credentials were sent.
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	ctx := r.Context()
	if actor, ok := ctx.Value(localKey{}).(string); ok {
		return &principal{user: &accounts.User{Name: actor, Role: accounts.Admin}, via: "local"}, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || len(tok) > 256 {
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
		return &principal{user: u, via: "token", apiName: t.Name, scopes: t.Scopes}, nil
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

// apiFunc is an API handler: it writes a success answer itself and
// returns errors, which writeError alone turns into HTTP answers.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) api(h apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// need wraps an API handler with authentication, the role check and the
// token scope check.
func (s *Server) need(ok roleCheck, scope string, h apiFunc) http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r)
		if err != nil || p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lethe-audit"`)
			return api.Errorf(api.KindUnauthorized, "log in or send an API token (Authorization: Bearer ...)")
		}
		if !ok(p.user.Role) {
			return api.Errorf(api.KindForbidden, "role %s may not do this", p.user.Role)
		}
		if !p.allows(scope) {
			if scope == scopeSession {
				return api.Errorf(api.KindForbidden, "this needs a person's session, not an API token")
			}
			return api.Errorf(api.KindForbidden, "the API token %q lacks scope %q (it has %v)", p.apiName, scope, p.scopes)
		}
		if p.via == "cookie" && r.Method == http.MethodPost && r.Header.Get("X-CSRF-Token") != p.csrf && r.FormValue("csrf") != p.csrf {
			return api.Errorf(api.KindCSRF, "missing or wrong CSRF token")
		}
		if p.via != "token" && !s.passwordChangeAllowed(r, p) {
			return api.Errorf(api.KindPasswordChangeRequired, "your password was set by an admin: choose your own first (web UI /account, or POST /v1/account/password)")
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	})
}

func remote(r *http.Request) string {
	if actor, ok := r.Context().Value(localKey{}).(string); ok {
		return "local:" + actor
	}
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
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
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &bodyError{err}
	}
	return nil
}

// bodyError is a request body that is not the JSON expected.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

func isNotFound(err error) bool {
	return errorsIsNotFound(err)
}

func parseTTL(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &accounts.InputError{Reason: "ttl: " + err.Error()}
	}
	return d, nil
}
