package server

import (
	"net/http"

	"github.com/lethe-project/lethe/audit/api"
)

// adminAPIRoutes are admin routes the web admin page also offers beyond
// the core API (server.go): a user's passkeys revoked.
func (s *Server) adminAPIRoutes() {
	s.mux.HandleFunc("POST /v1/admin/users/{name}/passkeys/revoke", s.need(adminOnly, api.ScopeAdmin, s.apiRevokePasskeys))
}

func (s *Server) apiRevokePasskeys(w http.ResponseWriter, r *http.Request) error {
	n, err := s.st.RevokePasskeys(r.Context(), r.PathValue("name"), who(r).actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.PasskeysRevoked{Revoked: n})
	return nil
}
