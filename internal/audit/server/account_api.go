package server

import (
	"encoding/json"
	"net/http"
	"strings"
)

// passwordChangeAllowed: an account whose password an admin (or the first
// start) set may only change it, or log out, until it has chosen its own.
func (s *Server) passwordChangeAllowed(r *http.Request, p *principal) bool {
	must, err := s.st.Accounts.MustChangePassword(r.Context(), p.user.Name)
	if err != nil || !must {
		return err == nil
	}
	return (r.Method == http.MethodPost && r.URL.Path == "/v1/account/password") ||
		(r.Method == http.MethodDelete && r.URL.Path == "/v1/session")
}

// PasswordChangeRequest is a user changing their own password.
type PasswordChangeRequest struct {
	Old string `json:"old"`
	New string `json:"new"`
}

func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request) {
	var req PasswordChangeRequest
	if err := decodeJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	p := who(r)
	if ok, err := s.st.Accounts.CheckCurrentPassword(r.Context(), p.user.Name, req.Old); err != nil || !ok {
		apiError(w, http.StatusForbidden, "bad-credentials", "the current password is wrong")
		return
	}
	if req.Old == req.New {
		apiError(w, http.StatusBadRequest, "password-policy", "choose a password different from the current one")
		return
	}
	if err := s.st.ChangeOwnPassword(r.Context(), p.user.Name, req.New, p.actor(r)); err != nil {
		apiError(w, http.StatusBadRequest, "password-policy", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ValidationChallengeRequest asks for the statement to sign and the
// WebAuthn assertion options whose challenge is its digest.
type ValidationChallengeRequest struct {
	Decision string `json:"decision"` // approved | rejected
	Comment  string `json:"comment"`  // required for a rejection
}

func (s *Server) apiValidateBegin(w http.ResponseWriter, r *http.Request) {
	var req ValidationChallengeRequest
	if err := decodeJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	s.startValidation(w, r, req.Decision, req.Comment)
}

// ValidationRequest answers a challenge with the authenticator's
// assertion (the JSON of PublicKeyCredential.toJSON()).
type ValidationRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

func (s *Server) apiValidate(w http.ResponseWriter, r *http.Request) {
	var req ValidationRequest
	if err := decodeJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed", err.Error()+` (a validation is signed: POST .../validations/challenge {"decision","comment"} first, then {"ceremony","credential"} here)`)
		return
	}
	v, err := s.finishValidation(r, r.PathValue("id"), req.Ceremony, req.Credential)
	switch {
	case isNotFound(err):
		apiError(w, http.StatusNotFound, "not-found", err.Error())
	case err != nil && strings.Contains(err.Error(), "expired"):
		apiError(w, http.StatusBadRequest, "expired", err.Error())
	case err != nil:
		apiError(w, http.StatusBadRequest, "not-recorded", err.Error())
	default:
		writeJSON(w, http.StatusCreated, v)
	}
}
