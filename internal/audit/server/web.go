package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/totp"
)

func totpURI(user, secret string) string { return totp.URI("lethe-audit", user, secret) }

func (s *Server) webRoutes() {
	m := s.mux
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.loginSubmit)
	m.HandleFunc("POST /logout", s.page(anyRole, s.logoutSubmit))
	m.HandleFunc("GET /{$}", s.page(anyRole, s.searchPage))
	m.HandleFunc("GET /certificates/{id}", s.page(anyRole, s.certPage))
	m.HandleFunc("GET /certificates/{id}/pdf", s.page(anyRole, s.certPDF))
	m.HandleFunc("POST /certificates/{id}/validate", s.page(auditorOnly, s.validateSubmit))
	m.HandleFunc("GET /events", s.page(auditorOrAdmin, s.eventsPage))
	m.HandleFunc("GET /admin", s.page(adminOnly, s.adminPage))
	m.HandleFunc("POST /admin/{what}", s.page(adminOnly, s.adminSubmit))
	m.HandleFunc("GET /account", s.page(anyRole, s.accountPage))
	m.HandleFunc("POST /account/password", s.page(anyRole, s.passwordSubmit))
}

// page wraps a UI handler: a cookie session, the role, CSRF on POST.
func (s *Server) page(ok roleCheck, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil || p == nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !ok(p.user.Role) {
			w.WriteHeader(http.StatusForbidden)
			s.render(w, r, p, "message", map[string]any{"Title": "Not allowed", "Message": "Your role (" + string(p.user.Role) + ") may not do this."})
			return
		}
		if r.Method == http.MethodPost && p.via == "cookie" && r.FormValue("csrf") != p.csrf {
			http.Error(w, "missing or wrong CSRF token", http.StatusForbidden)
			return
		}
		h(w, r.WithContext(contextWith(r, p)))
	}
}

func contextWith(r *http.Request, p *principal) context.Context { return withPrincipal(r.Context(), p) }

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
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	w.Write(buf.Bytes())
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, nil, "login", map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

func safeNext(n string) string {
	if !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") {
		return "/"
	}
	return n
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.FormValue("next"))
	tok, sess, err := s.st.Login(r.Context(), r.FormValue("user"), r.FormValue("password"), r.FormValue("totp"), remote(r))
	if err != nil {
		msg := accounts.ErrBadCredentials.Error()
		if errors.Is(err, accounts.ErrLocked) {
			msg = err.Error()
		} else if !errors.Is(err, accounts.ErrBadCredentials) {
			msg = "login failed: " + err.Error()
		}
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, r, nil, "login", map[string]any{"Next": next, "Error": msg, "Name": r.FormValue("user")})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: sess.Expires})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	_ = s.st.Logout(r.Context(), p.token, p.actor(r))
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r)
	data := map[string]any{"Q": r.URL.Query()}
	if err != nil {
		data["Error"] = err.Error()
	} else {
		if q.Limit == 0 {
			q.Limit = 100
		}
		rows, total, err := s.st.Search(r.Context(), q)
		if err != nil {
			data["Error"] = err.Error()
		}
		data["Rows"], data["Total"] = rows, total
		qs := r.URL.Query()
		qs.Set("format", "csv")
		data["CSV"] = "/v1/certificates?" + qs.Encode()
		qs.Set("format", "json")
		data["JSON"] = "/v1/certificates?" + qs.Encode()
	}
	s.render(w, r, who(r), "search", data)
}

// field is one line of the certificate's JSON, flattened, so the page
// shows every field the certificate has.
type field struct{ Key, Value string }

func flatten(prefix string, v any, out *[]field) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x[k], out)
		}
	case []any:
		if len(x) == 0 {
			*out = append(*out, field{prefix, "[]"})
		}
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	case nil:
		*out = append(*out, field{prefix, "null"})
	default:
		// Strings as they are (the template escapes control characters
		// with safe); other values in their JSON form.
		s, ok := x.(string)
		if !ok {
			b, _ := json.Marshal(x)
			s = string(b)
		}
		*out = append(*out, field{prefix, s})
	}
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
	raw, _ := json.Marshal(c.Statement)
	var generic any
	_ = json.Unmarshal(raw, &generic)
	var fields []field
	flatten("", generic, &fields)
	var env map[string]any
	_ = json.Unmarshal(c.Envelope, &env)
	pretty, _ := json.MarshalIndent(env, "", "  ")
	s.render(w, r, who(r), "certificate", map[string]any{
		"C": c, "Check": s.st.Check(r.Context(), c), "Fields": fields, "Envelope": string(pretty),
		"Validation": validationText(c), "URL": s.pageURL(r, c.CertificateID),
		"CanValidate": who(r).user.Role == accounts.Auditor, "Msg": r.URL.Query().Get("msg"),
	})
}

func (s *Server) validateSubmit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.st.Validate(r.Context(), id, r.FormValue("decision"), r.FormValue("comment"), who(r).actor(r))
	msg := "Decision recorded in the log."
	if err != nil {
		msg = "Not recorded: " + err.Error()
	}
	http.Redirect(w, r, "/certificates/"+url.PathEscape(id)+"?msg="+url.QueryEscape(msg), http.StatusSeeOther)
}

func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request) {
	ev, err := s.st.Events(r.Context(), r.URL.Query().Get("type"), 500)
	data := map[string]any{"Events": ev, "Type": r.URL.Query().Get("type")}
	if err != nil {
		data["Error"] = err.Error()
	}
	s.render(w, r, who(r), "events", data)
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request) {
	users, _ := s.st.Accounts.List(r.Context())
	toks, _ := s.st.Accounts.ListAPITokens(r.Context())
	keys, _ := s.st.StationKeys(r.Context())
	s.render(w, r, who(r), "admin", map[string]any{"Users": users, "Tokens": toks, "Keys": keys, "Now": time.Now(),
		"Msg": r.URL.Query().Get("msg"), "Secret": r.URL.Query().Get("secret")})
}

func (s *Server) adminSubmit(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), who(r).actor(r)
	var msg, secret string
	var err error
	switch r.PathValue("what") {
	case "user":
		var role accounts.Role
		if role, err = accounts.ParseRole(r.FormValue("role")); err == nil {
			var u *accounts.User
			if u, err = s.st.CreateUser(ctx, r.FormValue("name"), r.FormValue("password"), role, a); err == nil {
				msg = "User " + u.Name + " created."
				if u.TOTPSecret != "" {
					msg += " TOTP secret (enter it in the authenticator app now; it is not shown again):"
					secret = u.TOTPSecret
				}
			}
		}
	case "unlock":
		err = s.st.UnlockUser(ctx, r.FormValue("name"), a)
		msg = "Unlocked " + r.FormValue("name") + "."
	case "enrollment-token":
		var ttl time.Duration
		if ttl, err = parseTTL(r.FormValue("ttl"), time.Hour); err == nil {
			var tok string
			var t *store.EnrollmentToken
			if tok, t, err = s.st.CreateEnrollmentToken(ctx, r.FormValue("job"), ttl, 1, a); err == nil {
				msg, secret = fmt.Sprintf("Enrollment token for job %q, valid until %s:", t.Job, t.Expires.Format(time.RFC3339)), tok
			}
		}
	case "api-token":
		var tok string
		if tok, _, err = s.st.CreateAPIToken(ctx, r.FormValue("user"), r.FormValue("name"), 0, a); err == nil {
			msg, secret = "API token for "+r.FormValue("user")+" (shown once):", tok
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		msg, secret = "Failed: "+err.Error(), ""
	}
	http.Redirect(w, r, "/admin?msg="+url.QueryEscape(msg)+"&secret="+url.QueryEscape(secret), http.StatusSeeOther)
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, who(r), "account", map[string]any{"Msg": r.URL.Query().Get("msg")})
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	msg := "Password changed."
	if _, err := s.st.Accounts.Authenticate(r.Context(), p.user.Name, r.FormValue("old"), r.FormValue("totp")); err != nil {
		msg = "Current password or code wrong."
	} else if err := s.st.SetPassword(r.Context(), p.user.Name, r.FormValue("new"), p.actor(r)); err != nil {
		msg = err.Error()
	}
	http.Redirect(w, r, "/account?msg="+url.QueryEscape(msg), http.StatusSeeOther)
}
