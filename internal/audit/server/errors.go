package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/store"
)

// apiErrorOf is the one place where an error becomes an answer: its kind
// (and through audit/api, its HTTP status) and what the client is told.
// Errors it does not know are internal: the client gets a reference, the
// server's log gets the details.
func (s *Server) apiErrorOf(r *http.Request, err error) *api.Error {
	var (
		ae *api.Error
		re *store.RejectError
		rl *store.ErrRateLimited
		ie *store.IntegrityError
		pe *accounts.PolicyError
		in *accounts.InputError
		be *bodyError
		mb *http.MaxBytesError
	)
	kind := ""
	switch {
	case errors.As(err, &ae):
		if ae.Status == 0 {
			ae.Status = api.StatusOf(ae.Kind)
		}
		return ae
	case errors.As(err, &re):
		return &api.Error{Status: api.StatusOf(re.Kind), Kind: re.Kind, Message: re.Error(), Problems: re.Problems}
	case errors.As(err, &mb):
		return api.Errorf(api.KindTooLarge, "request body larger than %d bytes", mb.Limit)
	case errors.As(err, &be):
		kind = api.KindMalformed
	case errors.As(err, &rl):
		kind = api.KindRateLimited
	case errors.As(err, &ie):
		kind = api.KindIntegrity
	case errors.As(err, &pe):
		kind = api.KindPasswordPolicy
	case errors.As(err, &in):
		kind = api.KindMalformed
	case errors.Is(err, store.ErrReadOnly):
		kind = api.KindReadOnly
	case errorsIsNotFound(err), errors.Is(err, accounts.ErrBadToken):
		kind = api.KindNotFound
	case errors.Is(err, accounts.ErrLocked):
		kind = api.KindLocked
	case errors.Is(err, accounts.ErrBadCredentials):
		kind = api.KindBadCredentials
	case errors.Is(err, accounts.ErrExists):
		kind = api.KindExists
	case errors.Is(err, accounts.ErrLastAdmin):
		kind = api.KindLastAdmin
	case errors.Is(err, store.ErrTokenUnknown), errors.Is(err, store.ErrTokenNoJob):
		kind = api.KindTokenUnknown
	case errors.Is(err, store.ErrTokenExpired):
		kind = api.KindTokenExpired
	case errors.Is(err, store.ErrTokenUsed):
		kind = api.KindTokenUsed
	case errors.Is(err, store.ErrTokenRevoked):
		kind = api.KindTokenRevoked
	case errors.Is(err, store.ErrKeyExists):
		kind = api.KindKeyRegistered
	case errors.Is(err, store.ErrRevoked):
		kind = api.KindRevoked
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		kind = api.KindUnavailable
	}
	if kind != "" {
		return &api.Error{Status: api.StatusOf(kind), Kind: kind, Message: err.Error()}
	}
	ref := make([]byte, 6)
	_, _ = rand.Read(ref)
	id := hex.EncodeToString(ref)
	s.logger.Error("audit API: internal error", "ref", id, "method", r.Method, "path", r.URL.Path, "err", err)
	return &api.Error{Status: http.StatusInternalServerError, Kind: api.KindInternal,
		Message: fmt.Sprintf("internal error (reference %s; the details are in the server's log)", id)}
}

// writeError answers with the error body.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.apiErrorOf(r, err)
	var rl *store.ErrRateLimited
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(int(rl.RetryAfter.Seconds()+0.999)))
	}
	writeJSON(w, e.Status, e)
}

// unavailable hides an internal error behind a retry-later answer (a
// submission that failed for no fault of the submitter).
func (s *Server) unavailable(r *http.Request, what string, err error) error {
	e := s.apiErrorOf(r, err)
	if e.Kind != api.KindInternal {
		return e
	}
	return &api.Error{Status: http.StatusServiceUnavailable, Kind: api.KindUnavailable, Message: what + ", retry later (" + strings.TrimPrefix(e.Message, "internal error ") + ")"}
}

func errorsIsNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, accounts.ErrNotFound)
}

// notRecorded is a signed validation that did not verify: the reason is
// the client's to see (an expired challenge, another key), unless the
// store itself failed.
func notRecorded(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) || errorsIsNotFound(err) {
		return err
	}
	if errors.Is(err, accounts.ErrNoCeremony) {
		return api.Errorf(api.KindExpired, "%v", err)
	}
	return api.Errorf(api.KindNotRecorded, "%v", err)
}
