// Package client talks to a lethe audit store: it registers a per-boot
// agent key with an enrollment token, submits certificates, keeps a
// durable spool so that nothing is lost while the store is unreachable,
// and calls the admin API. Request and answer bodies are audit/api's
// types. Integrators import this package.
package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/sign"
)

// Options configure a client.
type Options struct {
	// CAFile is a PEM file of certificates to trust for the server (its
	// self-signed certificate); empty uses the system roots.
	CAFile string
	// Token is an API token or session token sent as a bearer token.
	Token string
	// HTTPClient overrides the transport (tests).
	HTTPClient *http.Client
	// Timeout bounds each request (default 60 s).
	Timeout time.Duration
}

// Client is an audit store client.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New makes a client for the store at baseURL (https://host:port).
func New(baseURL string, o Options) (*Client, error) {
	if !strings.HasPrefix(baseURL, "https://") && !strings.HasPrefix(baseURL, "http://") {
		return nil, fmt.Errorf("audit URL %q: want https://host:port", baseURL)
	}
	hc := o.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("audit CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("audit CA %s: no PEM certificate", o.CAFile)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		if o.Timeout == 0 {
			o.Timeout = 60 * time.Second
		}
		hc = &http.Client{Transport: tr, Timeout: o.Timeout}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: o.Token, http: hc}, nil
}

// Error is an error answer from the store (audit/api's error body, with
// its HTTP status).
type Error = api.Error

// IsPermanent reports whether err is a refusal that retrying cannot fix.
// Network errors and server errors are transient.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent()
}

// Kind is the error kind of a store's refusal ("" for other errors).
func Kind(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// Do sends a request with a JSON or raw body and decodes a JSON answer
// into out (when non-nil).
func (c *Client) Do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("audit store %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("audit store %s: %w", c.base, err)
	}
	if resp.StatusCode >= 300 {
		var e Error
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e = Error{Message: strings.TrimSpace(string(data))}
		}
		e.Status = resp.StatusCode
		return &e
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("audit store answer: %w", err)
	}
	return nil
}

// WithToken returns a copy of c that authenticates with tok.
func (c *Client) WithToken(tok string) *Client {
	cc := *c
	cc.token = tok
	return &cc
}

// Enrollment is a registered agent key.
type Enrollment = api.AgentKey

// Enroll registers a per-boot public key with an enrollment token; the
// store then accepts certificates signed by that key for the token's job.
func (c *Client) Enroll(ctx context.Context, token string, pub ed25519.PublicKey) (*Enrollment, error) {
	var e Enrollment
	err := c.Do(ctx, http.MethodPost, "/v1/enroll", api.EnrollRequest{Token: token, PublicKey: string(sign.MarshalPublicKey(pub))}, &e)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// Submit sends one certificate envelope and returns the store's receipt
// (the same receipt again for a resubmission).
func (c *Client) Submit(ctx context.Context, envelope []byte) (*receipt.Receipt, error) {
	var r receipt.Receipt
	if err := c.Do(ctx, http.MethodPost, "/v1/certificates", envelope, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Login starts an API session and returns a client that uses it.
func (c *Client) Login(ctx context.Context, user, password, totpCode string) (*Client, error) {
	var out api.LoginResponse
	if err := c.Do(ctx, http.MethodPost, "/v1/session", api.LoginRequest{User: user, Password: password, TOTP: totpCode}, &out); err != nil {
		return nil, err
	}
	return c.WithToken(out.Token), nil
}

// Token is a newly minted token.
type Token = api.NewToken

// CreateEnrollmentToken mints a per-job enrollment token (admin).
func (c *Client) CreateEnrollmentToken(ctx context.Context, job string, ttl time.Duration, uses int) (*Token, error) {
	var t Token
	err := c.Do(ctx, http.MethodPost, "/v1/admin/enrollment-tokens", api.EnrollmentTokenRequest{Job: job, TTL: ttl.String(), Uses: uses}, &t)
	return &t, err
}

// EnrollmentTokens lists enrollment tokens (admin).
func (c *Client) EnrollmentTokens(ctx context.Context) ([]api.EnrollmentToken, error) {
	var out []api.EnrollmentToken
	return out, c.Do(ctx, http.MethodGet, "/v1/admin/enrollment-tokens", nil, &out)
}

// RevokeEnrollmentToken withdraws an enrollment token with uses left (admin).
func (c *Client) RevokeEnrollmentToken(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, "/v1/admin/enrollment-tokens/"+url.PathEscape(id)+"/revoke", nil, nil)
}

// CreateAPIToken issues a machine token for user (admin) that may read,
// for the default lifetime (90 days).
func (c *Client) CreateAPIToken(ctx context.Context, user, name string) (*Token, error) {
	return c.NewAPIToken(ctx, api.APITokenRequest{User: user, Name: name})
}

// NewAPIToken issues a machine token with the scopes and lifetime asked
// for (admin).
func (c *Client) NewAPIToken(ctx context.Context, req api.APITokenRequest) (*Token, error) {
	var t Token
	err := c.Do(ctx, http.MethodPost, "/v1/admin/tokens", req, &t)
	return &t, err
}

// APITokens lists API tokens (admin).
func (c *Client) APITokens(ctx context.Context) ([]api.APIToken, error) {
	var out []api.APIToken
	return out, c.Do(ctx, http.MethodGet, "/v1/admin/tokens", nil, &out)
}

// RevokeAPIToken revokes an API token (admin).
func (c *Client) RevokeAPIToken(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, "/v1/admin/tokens/"+url.PathEscape(id)+"/revoke", nil, nil)
}

// AddStationKey trusts a station's public key (admin).
func (c *Client) AddStationKey(ctx context.Context, name string, pub ed25519.PublicKey) (string, error) {
	var out api.KeyID
	err := c.Do(ctx, http.MethodPost, "/v1/admin/station-keys", api.StationKeyRequest{Name: name, PublicKey: string(sign.MarshalPublicKey(pub))}, &out)
	return out.KeyID, err
}

// StationKeys lists the station keys (admin).
func (c *Client) StationKeys(ctx context.Context) ([]api.StationKey, error) {
	var out []api.StationKey
	return out, c.Do(ctx, http.MethodGet, "/v1/admin/station-keys", nil, &out)
}

// RevokeStationKey stops trusting a station key (admin).
func (c *Client) RevokeStationKey(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, "/v1/admin/station-keys/"+url.PathEscape(id)+"/revoke", nil, nil)
}

// AgentKeys lists enrolled agent keys (admin).
func (c *Client) AgentKeys(ctx context.Context) ([]api.AgentKey, error) {
	var out []api.AgentKey
	return out, c.Do(ctx, http.MethodGet, "/v1/admin/agent-keys", nil, &out)
}

// RevokeAgentKey stops accepting an enrolled agent key (admin).
func (c *Client) RevokeAgentKey(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, "/v1/admin/agent-keys/"+url.PathEscape(id)+"/revoke", nil, nil)
}

// Users lists accounts (admin).
func (c *Client) Users(ctx context.Context) ([]api.User, error) {
	var out []api.User
	return out, c.Do(ctx, http.MethodGet, "/v1/admin/users", nil, &out)
}

// CreateUser adds an account (admin); for admins and auditors the answer
// carries the TOTP secret, once.
func (c *Client) CreateUser(ctx context.Context, req api.CreateUserRequest) (*api.User, error) {
	var u api.User
	return &u, c.Do(ctx, http.MethodPost, "/v1/admin/users", req, &u)
}

// UserAction runs unlock, disable or enable on an account (admin).
func (c *Client) UserAction(ctx context.Context, name, action string) error {
	return c.Do(ctx, http.MethodPost, "/v1/admin/users/"+url.PathEscape(name)+"/"+action, nil, nil)
}

// SetPassword resets an account's password (admin): its sessions and API
// tokens end, and its owner must change it.
func (c *Client) SetPassword(ctx context.Context, name, password string) error {
	return c.Do(ctx, http.MethodPost, "/v1/admin/users/"+url.PathEscape(name)+"/password", api.PasswordRequest{Password: password}, nil)
}

// ResetTOTP gives an account a new TOTP secret (admin), returned once.
func (c *Client) ResetTOTP(ctx context.Context, name string) (*api.User, error) {
	var u api.User
	return &u, c.Do(ctx, http.MethodPost, "/v1/admin/users/"+url.PathEscape(name)+"/totp", nil, &u)
}

// RevokePasskeys revokes every passkey of an account (admin; a lost or
// stolen security key) and returns how many were revoked. Validations the
// keys signed stay valid: the revocation is a log entry dated after them.
func (c *Client) RevokePasskeys(ctx context.Context, name string) (int, error) {
	var r api.PasskeysRevoked
	err := c.Do(ctx, http.MethodPost, "/v1/admin/users/"+url.PathEscape(name)+"/passkeys/revoke", nil, &r)
	return r.Revoked, err
}

// SetRole changes an account's role (admin); a new TOTP secret comes back
// when the new role needs one the account lacked.
func (c *Client) SetRole(ctx context.Context, name, role string) (*api.User, error) {
	var u api.User
	return &u, c.Do(ctx, http.MethodPost, "/v1/admin/users/"+url.PathEscape(name)+"/role", api.RoleRequest{Role: role}, &u)
}

// Backup writes a backup on the store's host now (admin).
func (c *Client) Backup(ctx context.Context) (string, error) {
	var b api.Backup
	return b.Path, c.Do(ctx, http.MethodPost, "/v1/admin/backup", nil, &b)
}

// LogKeys are the store's public keys as it reports them.
type LogKeys = api.LogKeys

// Keys fetches the store's log and server keys.
func (c *Client) Keys(ctx context.Context) (*LogKeys, error) {
	var k LogKeys
	return &k, c.Do(ctx, http.MethodGet, "/v1/log/key", nil, &k)
}

// HTTPClient is the underlying HTTP client (for tile fetching).
func (c *Client) HTTPClient() *http.Client { return c.http }

// BaseURL is the store's address.
func (c *Client) BaseURL() string { return c.base }

// BearerToken is the bearer token in use.
func (c *Client) BearerToken() string { return c.token }
