package server

import (
	"net/http"
	"time"
)

// Admin API routes the web admin page also offers: enrollment tokens
// listed and revoked, a user's TOTP secret or passkeys reset.
func (s *Server) adminAPIRoutes() {
	m := s.mux
	m.HandleFunc("GET /v1/admin/enrollment-tokens", s.need(adminOnly, s.apiEnrollmentTokens))
	m.HandleFunc("POST /v1/admin/enrollment-tokens/{id}/revoke", s.need(adminOnly, s.apiRevokeEnrollmentToken))
	m.HandleFunc("POST /v1/admin/users/{name}/totp", s.need(adminOnly, s.apiResetTOTP))
	m.HandleFunc("POST /v1/admin/users/{name}/passkeys/revoke", s.need(adminOnly, s.apiRevokePasskeys))
}

// EnrollmentTokenInfo describes an enrollment token (never its secret).
type EnrollmentTokenInfo struct {
	ID        string    `json:"id"`
	Job       string    `json:"job"`
	Uses      int       `json:"uses"`
	MaxUses   int       `json:"maxUses"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	CreatedBy string    `json:"createdBy"`
}

func (s *Server) apiEnrollmentTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.st.EnrollmentTokens(r.Context())
	if err != nil {
		internalError(w, err)
		return
	}
	out := []EnrollmentTokenInfo{}
	for _, t := range ts {
		out = append(out, EnrollmentTokenInfo{ID: t.ID, Job: t.Job, Uses: t.Uses, MaxUses: t.MaxUses, Created: t.Created, Expires: t.Expires, CreatedBy: t.CreatedBy})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiRevokeEnrollmentToken(w http.ResponseWriter, r *http.Request) {
	if err := s.st.RevokeEnrollmentToken(r.Context(), r.PathValue("id"), who(r).actor(r)); err != nil {
		apiError(w, http.StatusNotFound, "not-found", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TOTPResetResponse carries a user's new TOTP secret, shown once.
type TOTPResetResponse struct {
	User       string `json:"user"`
	TOTPSecret string `json:"totpSecret"`
	TOTPURI    string `json:"totpUri"`
}

func (s *Server) apiResetTOTP(w http.ResponseWriter, r *http.Request) {
	secret, uri, err := s.st.ResetTOTP(r.Context(), r.PathValue("name"), who(r).actor(r))
	switch {
	case isNotFound(err):
		apiError(w, http.StatusNotFound, "not-found", err.Error())
	case err != nil:
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
	default:
		writeJSON(w, http.StatusOK, TOTPResetResponse{User: r.PathValue("name"), TOTPSecret: secret, TOTPURI: uri})
	}
}

func (s *Server) apiRevokePasskeys(w http.ResponseWriter, r *http.Request) {
	n, err := s.st.RevokePasskeys(r.Context(), r.PathValue("name"), who(r).actor(r))
	switch {
	case isNotFound(err):
		apiError(w, http.StatusNotFound, "not-found", err.Error())
	case err != nil:
		internalError(w, err)
	default:
		writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	}
}
