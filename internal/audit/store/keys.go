package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/entry"
)

// Enrollment errors, typed so the API can answer precisely.
var (
	ErrTokenUnknown = errors.New("enrollment token is not valid")
	ErrTokenExpired = errors.New("enrollment token has expired")
	ErrTokenUsed    = errors.New("enrollment token was already used")
)

// StationKey is a trusted key of a wipe station (a long-lived key).
type StationKey struct {
	KeyID, Name, PublicKey, AddedBy string
	Added                           time.Time
	Revoked                         bool
}

// AddStationKey trusts a station's public key.
func (s *Store) AddStationKey(ctx context.Context, name string, pub ed25519.PublicKey, who Actor) (string, error) {
	id := sign.KeyID(pub)
	_, err := s.DB.ExecContext(ctx, `INSERT INTO station_keys (key_id, name, public_key, added_by, added_at, revoked_at) VALUES (?, ?, ?, ?, ?, 0)`,
		id, name, string(sign.MarshalPublicKey(pub)), who.Name, s.now().Unix())
	if db.IsDuplicate(err) {
		return id, nil // already trusted
	}
	if err != nil {
		return "", err
	}
	return id, s.event(ctx, entry.TypeAdmin+".station-key.add", who, "key:"+id, entry.ResultSuccess, name)
}

// RevokeStationKey stops trusting a station key for new submissions;
// certificates it signed earlier stay in the log.
func (s *Store) RevokeStationKey(ctx context.Context, id string, who Actor) error {
	res, err := s.DB.ExecContext(ctx, `UPDATE station_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at = 0`, s.now().Unix(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no trusted station key %s", id)
	}
	return s.event(ctx, entry.TypeAdmin+".station-key.revoke", who, "key:"+id, entry.ResultSuccess, "")
}

// StationKeys lists the station keys.
func (s *Store) StationKeys(ctx context.Context) ([]StationKey, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT key_id, name, public_key, added_by, added_at, revoked_at FROM station_keys ORDER BY added_at`)
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
		k.Added, k.Revoked = time.Unix(at, 0), rev != 0
		out = append(out, k)
	}
	return out, rows.Err()
}

// EnrollmentToken is a short-lived, per-job token with which a boot agent
// registers its per-boot key.
type EnrollmentToken struct {
	ID, Job, CreatedBy string
	Created, Expires   time.Time
	MaxUses, Uses      int
}

// CreateEnrollmentToken mints a token for job, valid for ttl and maxUses
// registrations (one per machine booted for the job).
func (s *Store) CreateEnrollmentToken(ctx context.Context, job string, ttl time.Duration, maxUses int, who Actor) (string, *EnrollmentToken, error) {
	if ttl <= 0 || ttl > 7*24*time.Hour {
		return "", nil, fmt.Errorf("enrollment token lifetime %v: want up to 7 days", ttl)
	}
	if maxUses <= 0 {
		maxUses = 1
	}
	tok := accounts.Secret("lenr_")
	t := &EnrollmentToken{ID: accounts.HashToken(tok)[:12], Job: job, CreatedBy: who.Name, Created: s.now().UTC(), MaxUses: maxUses}
	t.Expires = t.Created.Add(ttl)
	_, err := s.DB.ExecContext(ctx, `INSERT INTO enrollment_tokens (id, token_hash, job, created_by, created_at, expires_at, max_uses, uses) VALUES (?, ?, ?, ?, ?, ?, ?, 0)`,
		t.ID, accounts.HashToken(tok), job, who.Name, t.Created.Unix(), t.Expires.Unix(), maxUses)
	if err != nil {
		return "", nil, err
	}
	if err := s.event(ctx, entry.TypeAdmin+".enrollment-token.create", who, "enrollment-token:"+t.ID, entry.ResultSuccess,
		fmt.Sprintf("job %q, expires %s, %d use(s)", job, t.Expires.Format(time.RFC3339), maxUses)); err != nil {
		return "", nil, err
	}
	return tok, t, nil
}

// AgentKey is a registered per-boot key.
type AgentKey struct {
	KeyID   string    `json:"keyId"`
	Job     string    `json:"job"`
	Expires time.Time `json:"expires"`
}

// Enroll exchanges an enrollment token for the registration of pub. A
// token is good for its number of uses and only until it expires.
func (s *Store) Enroll(ctx context.Context, token string, pub ed25519.PublicKey, remote string) (*AgentKey, error) {
	now := s.now()
	id := sign.KeyID(pub)
	var tid, job string
	var exp int64
	var maxUses, uses int
	err := s.DB.QueryRowContext(ctx, `SELECT id, job, expires_at, max_uses, uses FROM enrollment_tokens WHERE token_hash = ?`, accounts.HashToken(token)).
		Scan(&tid, &job, &exp, &maxUses, &uses)
	who := Actor{Name: "agent:" + id[:16], Remote: remote}
	fail := func(e error, object string) (*AgentKey, error) {
		if rerr := s.event(ctx, entry.TypeEnroll, who, object, entry.ResultFailure, e.Error()); rerr != nil {
			return nil, rerr
		}
		return nil, e
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fail(ErrTokenUnknown, "enrollment-token:unknown")
	case err != nil:
		return nil, err
	case now.Unix() >= exp:
		return fail(fmt.Errorf("%w (at %s)", ErrTokenExpired, time.Unix(exp, 0).UTC().Format(time.RFC3339)), "enrollment-token:"+tid)
	}
	// Count the use atomically: two agents racing for the last use
	// cannot both win.
	res, err := s.DB.ExecContext(ctx, `UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ? AND uses < max_uses`, tid)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fail(ErrTokenUsed, "enrollment-token:"+tid)
	}
	k := &AgentKey{KeyID: id, Job: job, Expires: now.Add(s.cfg.AgentKeyTTL).UTC()}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO agent_keys (key_id, public_key, job, token_id, registered_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, string(sign.MarshalPublicKey(pub)), job, tid, now.Unix(), k.Expires.Unix())
	if db.IsDuplicate(err) {
		return fail(errors.New("this key is already registered"), "key:"+id)
	}
	if err != nil {
		return nil, err
	}
	if err := s.event(ctx, entry.TypeEnroll, who, "key:"+id, entry.ResultSuccess, fmt.Sprintf("job %q via enrollment token %s", job, tid)); err != nil {
		return nil, err
	}
	return k, nil
}

// trustedKey is a key that may sign certificates.
type trustedKey struct {
	id, kind, name, job string
	pub                 ed25519.PublicKey
	expires             time.Time // agents only
	revoked             bool      // stations only
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
		return &trustedKey{id: id, kind: "station", name: name, pub: pub, revoked: rev != 0}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	var job string
	var exp int64
	err = s.DB.QueryRowContext(ctx, `SELECT public_key, job, expires_at FROM agent_keys WHERE key_id = ?`, id).Scan(&pem, &job, &exp)
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
	return &trustedKey{id: id, kind: "agent", job: job, pub: pub, expires: time.Unix(exp, 0)}, nil
}
