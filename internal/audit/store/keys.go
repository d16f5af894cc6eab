package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/sign"
)

// Trust changes are log entries first: each method below appends an entry
// that carries the key (or token) and the index is written from that entry,
// exactly as a rebuild from the log writes it.

// Enrollment errors, typed so the API can answer precisely.
var (
	ErrTokenUnknown = errors.New("enrollment token is not valid")
	ErrTokenExpired = errors.New("enrollment token has expired")
	ErrTokenUsed    = errors.New("enrollment token was already used")
	ErrTokenRevoked = errors.New("enrollment token was revoked")
	ErrTokenNoJob   = errors.New("enrollment token names no job (minted by an older lethe): mint a new one for the job")
	ErrKeyExists    = errors.New("this key is already registered")
	// ErrRevoked: the thing is revoked already, or can never be used
	// again, so there is nothing to revoke; a revoked key is never trusted
	// again.
	ErrRevoked = errors.New("already revoked")
)

// NotFoundError names what was not found; it wraps ErrNotFound.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return "no such " + e.What }
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// StationKey is a trusted key of a wipe station (a long-lived key).
type StationKey = api.StationKey

// AgentKey is a registered per-boot key.
type AgentKey = api.AgentKey

// EnrollmentToken is a short-lived, per-job token with which a boot agent
// registers its per-boot key.
type EnrollmentToken = api.EnrollmentToken

// validLabel checks a job or key name: 1-128 printable characters.
func validLabel(what, s string) error {
	ok := s != "" && len(s) <= 128
	for _, r := range s {
		if !unicode.IsPrint(r) {
			ok = false
		}
	}
	if !ok {
		return &accounts.InputError{Reason: fmt.Sprintf("%s %q: 1-128 printable characters", what, accounts.Truncate(s, 80))}
	}
	return nil
}

// AddStationKey trusts a station's public key. Adding a trusted key again
// is harmless; a revoked key is never trusted again.
func (s *Store) AddStationKey(ctx context.Context, name string, pub ed25519.PublicKey, who Actor) (string, error) {
	id := sign.KeyID(pub)
	err := s.addStationKey(ctx, id, name, pub, who)
	if errors.Is(err, errAlreadyTrusted) {
		return id, nil
	}
	if err != nil {
		return "", s.admin(ctx, "station-key.add", who, "key:"+id, err, "")
	}
	return id, nil
}

var errAlreadyTrusted = errors.New("already trusted")

func (s *Store) addStationKey(ctx context.Context, id, name string, pub ed25519.PublicKey, who Actor) error {
	if err := validLabel("station key name", name); err != nil {
		return err
	}
	unlock, _, err := s.lockID(ctx, "key:"+id)
	if err != nil {
		return err
	}
	defer unlock()
	k, err := s.lookupKey(ctx, id)
	switch {
	case err != nil:
		return err
	case k != nil && k.kind == entry.KindAgent:
		return fmt.Errorf("key %.16s is registered as an agent key: %w", id, ErrKeyExists)
	case k != nil && k.revoked:
		return fmt.Errorf("station key %.16s (%s) was revoked and cannot be trusted again: %w", id, k.name, ErrRevoked)
	case k != nil:
		return errAlreadyTrusted
	}
	_, err = s.Record(ctx, &entry.Entry{Type: entry.TypeStationKeyAdd, Subject: who.Name, Object: "key:" + id, Result: entry.ResultSuccess,
		Detail: name, Remote: who.Remote,
		Key: &entry.Key{KeyID: id, Kind: entry.KindStation, Name: name, PublicKey: string(sign.MarshalPublicKey(pub))}})
	return err
}

// RevokeStationKey stops trusting a station key for new submissions;
// certificates it signed earlier stay in the log and keep verifying.
func (s *Store) RevokeStationKey(ctx context.Context, id string, who Actor) error {
	err := s.revokeKey(ctx, id, entry.KindStation, who)
	if err != nil {
		return s.admin(ctx, "station-key.revoke", who, "key:"+id, err, "")
	}
	return nil
}

// RevokeAgentKey stops accepting certificates signed by an enrolled agent
// key (a lost or compromised boot image).
func (s *Store) RevokeAgentKey(ctx context.Context, id string, who Actor) error {
	err := s.revokeKey(ctx, id, entry.KindAgent, who)
	if err != nil {
		return s.admin(ctx, "agent-key.revoke", who, "key:"+id, err, "")
	}
	return nil
}

func (s *Store) revokeKey(ctx context.Context, id, kind string, who Actor) error {
	if err := s.writable(); err != nil {
		return err
	}
	k, err := s.lookupKey(ctx, id)
	switch {
	case err != nil:
		return err
	case k == nil || k.kind != kind:
		return &NotFoundError{kind + " key " + accounts.Truncate(id, 70)}
	case k.revoked:
		return fmt.Errorf("%s key %.16s: %w", kind, id, ErrRevoked)
	}
	typ := entry.TypeStationKeyRevoke
	if kind == entry.KindAgent {
		typ = entry.TypeAgentKeyRevoke
	}
	_, err = s.Record(ctx, &entry.Entry{Type: typ, Subject: who.Name, Object: "key:" + id, Result: entry.ResultSuccess, Detail: k.name,
		Remote: who.Remote, Key: &entry.Key{KeyID: id, Kind: kind, Name: k.name, Job: k.job, Revoked: true}})
	return err
}

// StationKeys lists the station keys.
func (s *Store) StationKeys(ctx context.Context) ([]StationKey, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT key_id, name, public_key, added_by, added_at, revoked_at FROM station_keys ORDER BY added_at, key_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StationKey
	for rows.Next() {
		var k StationKey
		var at, rev int64
		if err := rows.Scan(&k.KeyID, &k.Name, &k.PublicKey, &k.AddedBy, &at, &rev); err != nil {
			return nil, err
		}
		k.Added, k.Revoked = time.Unix(at, 0).UTC(), rev != 0
		out = append(out, k)
	}
	return out, rows.Err()
}

// AgentKeys lists the enrolled agent keys, newest first.
func (s *Store) AgentKeys(ctx context.Context) ([]AgentKey, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT key_id, job, token_id, registered_at, expires_at, revoked_at FROM agent_keys ORDER BY registered_at DESC, key_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AgentKey
	for rows.Next() {
		var k AgentKey
		var reg, exp, rev int64
		if err := rows.Scan(&k.KeyID, &k.Job, &k.TokenID, &reg, &exp, &rev); err != nil {
			return nil, err
		}
		k.Registered, k.Expires, k.Revoked = time.Unix(reg, 0).UTC(), time.Unix(exp, 0).UTC(), rev != 0
		out = append(out, k)
	}
	return out, rows.Err()
}

// Enrollment token limits.
const (
	MaxEnrollmentTTL  = 7 * 24 * time.Hour
	MaxEnrollmentUses = 10000
)

// CreateEnrollmentToken mints a token for job, valid for ttl and maxUses
// registrations (one per machine booted for the job). A token always
// names its job: the keys enrolled with it may sign for that job only.
func (s *Store) CreateEnrollmentToken(ctx context.Context, job string, ttl time.Duration, maxUses int, who Actor) (string, *EnrollmentToken, error) {
	tok, t, err := s.createEnrollmentToken(ctx, job, ttl, maxUses, who)
	if err != nil {
		return "", nil, s.admin(ctx, "enrollment-token.create", who, "enrollment-token", err, fmt.Sprintf("job %q", accounts.Truncate(job, 80)))
	}
	return tok, t, nil
}

func (s *Store) createEnrollmentToken(ctx context.Context, job string, ttl time.Duration, maxUses int, who Actor) (string, *EnrollmentToken, error) {
	if err := validLabel("job", job); err != nil {
		return "", nil, &accounts.InputError{Reason: "an enrollment token names the job its agents wipe for: " + err.Error()}
	}
	if ttl <= 0 || ttl > MaxEnrollmentTTL {
		return "", nil, &accounts.InputError{Reason: fmt.Sprintf("enrollment token lifetime %v: want up to 7 days", ttl)}
	}
	if maxUses <= 0 {
		maxUses = 1
	}
	if maxUses > MaxEnrollmentUses {
		return "", nil, &accounts.InputError{Reason: fmt.Sprintf("enrollment token uses %d: at most %d", maxUses, MaxEnrollmentUses)}
	}
	tok := accounts.Secret("lenr_")
	t := &EnrollmentToken{ID: accounts.HashToken(tok)[:12], Job: job, CreatedBy: who.Name, Created: s.now().UTC().Truncate(time.Second), MaxUses: maxUses}
	t.Expires = t.Created.Add(ttl)
	_, err := s.Record(ctx, &entry.Entry{Type: entry.TypeEnrollmentTokenCreate, Time: t.Created, Subject: who.Name, Object: "enrollment-token:" + t.ID,
		Result: entry.ResultSuccess, Remote: who.Remote,
		Detail:          fmt.Sprintf("job %q, expires %s, %d use(s)", job, t.Expires.Format(time.RFC3339), maxUses),
		EnrollmentToken: &entry.EnrollmentToken{ID: t.ID, TokenSHA256: accounts.HashToken(tok), Job: job, Expires: t.Expires, MaxUses: maxUses}})
	if err != nil {
		return "", nil, err
	}
	return tok, t, nil
}

// RevokeEnrollmentToken withdraws a token that still has uses left; keys
// already enrolled with it stay (revoke them one by one).
func (s *Store) RevokeEnrollmentToken(ctx context.Context, id string, who Actor) error {
	err := s.revokeEnrollmentToken(ctx, id, who)
	if err != nil {
		return s.admin(ctx, "enrollment-token.revoke", who, "enrollment-token:"+accounts.Truncate(id, 64), err, "")
	}
	return nil
}

func (s *Store) revokeEnrollmentToken(ctx context.Context, id string, who Actor) error {
	if err := s.writable(); err != nil {
		return err
	}
	t, err := s.enrollmentToken(ctx, `id = ?`, id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return &NotFoundError{"enrollment token " + accounts.Truncate(id, 64)}
	case err != nil:
		return err
	case t.Revoked:
		return fmt.Errorf("enrollment token %s: %w", id, ErrRevoked)
	case t.Uses >= t.MaxUses:
		return fmt.Errorf("enrollment token %s was used up (%d of %d): nothing to revoke; revoke the agent keys enrolled with it: %w", id, t.Uses, t.MaxUses, ErrRevoked)
	}
	_, err = s.Record(ctx, &entry.Entry{Type: entry.TypeEnrollmentTokenRevoke, Subject: who.Name, Object: "enrollment-token:" + id,
		Result: entry.ResultSuccess, Remote: who.Remote, Detail: fmt.Sprintf("job %q, %d of %d use(s) taken", t.Job, t.Uses, t.MaxUses),
		EnrollmentToken: &entry.EnrollmentToken{ID: id, Job: t.Job, Revoked: true}})
	return err
}

func (s *Store) enrollmentToken(ctx context.Context, where string, arg any) (*EnrollmentToken, error) {
	var t EnrollmentToken
	var created, exp, rev int64
	err := s.DB.QueryRowContext(ctx, `SELECT id, job, created_by, created_at, expires_at, max_uses, uses, revoked_at FROM enrollment_tokens WHERE `+where, arg).
		Scan(&t.ID, &t.Job, &t.CreatedBy, &created, &exp, &t.MaxUses, &t.Uses, &rev)
	if err != nil {
		return nil, err
	}
	t.Created, t.Expires, t.Revoked = time.Unix(created, 0).UTC(), time.Unix(exp, 0).UTC(), rev != 0
	return &t, nil
}

// EnrollmentTokens lists enrollment tokens, newest first.
func (s *Store) EnrollmentTokens(ctx context.Context) ([]EnrollmentToken, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id FROM enrollment_tokens ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := make([]EnrollmentToken, 0, len(ids))
	for _, id := range ids {
		t, err := s.enrollmentToken(ctx, `id = ?`, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, nil
}

// Enroll exchanges an enrollment token for the registration of pub. A
// token is good for its number of uses, only until it expires and unless
// revoked; the key may then sign certificates of the token's job only.
// Failures are recorded within the bounds of SecurityConfig.
func (s *Store) Enroll(ctx context.Context, token string, pub ed25519.PublicKey, remote string) (*AgentKey, error) {
	id := sign.KeyID(pub)
	who := Actor{Name: "agent:" + id[:16], Remote: remote}
	if err := s.limit("enroll", remote, ""); err != nil {
		s.sec.countOnly(entry.TypeEnroll, who, "rate limited")
		return nil, err
	}
	if err := s.writable(); err != nil {
		return nil, err
	}
	fail := func(e error, object string) (*AgentKey, error) {
		if rerr := s.sec.record(ctx, entry.TypeEnroll, who, object, entry.ResultFailure, e.Error()); rerr != nil {
			return nil, rerr
		}
		return nil, e
	}
	now := s.now()
	var t *EnrollmentToken
	var err error
	if len(token) > 128 {
		err = sql.ErrNoRows
	} else {
		t, err = s.enrollmentToken(ctx, `token_hash = ?`, accounts.HashToken(token))
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fail(ErrTokenUnknown, "enrollment-token:unknown")
	case err != nil:
		return nil, err
	case t.Revoked:
		return fail(ErrTokenRevoked, "enrollment-token:"+t.ID)
	case !now.Before(t.Expires):
		return fail(fmt.Errorf("%w (at %s)", ErrTokenExpired, t.Expires.Format(time.RFC3339)), "enrollment-token:"+t.ID)
	case strings.TrimSpace(t.Job) == "":
		return fail(ErrTokenNoJob, "enrollment-token:"+t.ID)
	}
	unlock, _, err := s.lockID(ctx, "key:"+id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if k, err := s.lookupKey(ctx, id); err != nil {
		return nil, err
	} else if k != nil {
		return fail(ErrKeyExists, "key:"+id)
	}
	// Count the use atomically: two agents racing for the last use
	// cannot both win, on SQLite or across MySQL servers.
	res, err := s.DB.ExecContext(ctx, `UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ? AND uses < max_uses AND revoked_at = 0`, t.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fail(ErrTokenUsed, "enrollment-token:"+t.ID)
	}
	var use int
	if err := s.DB.QueryRowContext(ctx, `SELECT uses FROM enrollment_tokens WHERE id = ?`, t.ID).Scan(&use); err != nil {
		return nil, err
	}
	k := &AgentKey{KeyID: id, Job: t.Job, Expires: now.Add(s.cfg.AgentKeyTTL).UTC().Truncate(time.Second), TokenID: t.ID, Registered: now.UTC().Truncate(time.Second)}
	_, err = s.Record(ctx, &entry.Entry{Type: entry.TypeEnroll, Time: k.Registered, Subject: who.Name, Object: "key:" + id, Result: entry.ResultSuccess,
		Remote: remote, Detail: fmt.Sprintf("job %q via enrollment token %s", t.Job, t.ID),
		Key: &entry.Key{KeyID: id, Kind: entry.KindAgent, PublicKey: string(sign.MarshalPublicKey(pub)), Job: t.Job, Expires: k.Expires,
			TokenID: t.ID, TokenUse: use}})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// trustedKey is a key that may sign certificates.
type trustedKey struct {
	id, kind, name, job string
	pub                 ed25519.PublicKey
	expires             time.Time // agents only
	revoked             bool
}

func (s *Store) lookupKey(ctx context.Context, id string) (*trustedKey, error) {
	var pem, name string
	var rev int64
	err := s.DB.QueryRowContext(ctx, `SELECT public_key, name, revoked_at FROM station_keys WHERE key_id = ?`, id).Scan(&pem, &name, &rev)
	if err == nil {
		pub, err := sign.ParsePublicKey([]byte(pem))
		if err != nil {
			return nil, err
		}
		return &trustedKey{id: id, kind: entry.KindStation, name: name, pub: pub, revoked: rev != 0}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	var job string
	var exp int64
	err = s.DB.QueryRowContext(ctx, `SELECT public_key, job, expires_at, revoked_at FROM agent_keys WHERE key_id = ?`, id).Scan(&pem, &job, &exp, &rev)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pub, err := sign.ParsePublicKey([]byte(pem))
	if err != nil {
		return nil, err
	}
	return &trustedKey{id: id, kind: entry.KindAgent, job: job, pub: pub, expires: time.Unix(exp, 0), revoked: rev != 0}, nil
}
