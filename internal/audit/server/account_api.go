package server

import (
	"net/http"

	"github.com/lethe-project/lethe/audit/api"
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

func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request) error {
	var req api.PasswordChange
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	p := who(r)
	if ok, err := s.st.Accounts.CheckCurrentPassword(r.Context(), p.user.Name, req.Old); err != nil || !ok {
		return api.Errorf(api.KindBadCredentials, "the current password is wrong")
	}
	if req.Old == req.New {
		return api.Errorf(api.KindPasswordPolicy, "choose a password different from the current one")
	}
	return noContent(w, s.st.ChangeOwnPassword(r.Context(), p.user.Name, req.New, p.actor(r)))
}

// apiValidateBegin answers {"decision","comment"} with the statement to
// sign and the WebAuthn assertion options whose challenge is its digest.
func (s *Server) apiValidateBegin(w http.ResponseWriter, r *http.Request) error {
	var req api.ValidationRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	return s.startValidation(w, r, req.Decision, req.Comment)
}

// apiValidate records a validation signed with the auditor's passkey.
func (s *Server) apiValidate(w http.ResponseWriter, r *http.Request) error {
	var req api.SignedValidation
	if err := decodeJSON(r, &req); err != nil {
		return api.Errorf(api.KindMalformed, `%v (a validation is signed: POST .../validations/challenge {"decision","comment"} first, then {"ceremony","credential"} here)`, err)
	}
	v, err := s.finishValidation(r, r.PathValue("id"), req.Ceremony, req.Credential)
	if err != nil {
		return notRecorded(err)
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}
