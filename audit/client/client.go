// Package client talks to a lethe audit store: it registers a per-boot
// agent key with an enrollment token, submits certificates, and keeps a
// durable spool so that nothing is lost while the store is unreachable.
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
	"os"
	"strings"
	"time"

	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/audit/receipt"
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

// Error is an error answer from the store.
type Error struct {
	Status   int
	Kind     string
	Message  string
	Problems []string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("audit store: %s (HTTP %d)", e.Message, e.Status)
	return s
}

// Permanent reports whether retrying cannot help: the store refused the
// request itself (4xx other than 408 and 429).
func (e *Error) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// IsPermanent reports whether err is a refusal that retrying cannot fix.
// Network errors and server errors are transient.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent()
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
		e := &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
		var body struct {
			Error    string   `json:"error"`
			Kind     string   `json:"kind"`
			Problems []string `json:"problems"`
		}
		if json.Unmarshal(data, &body) == nil && body.Error != "" {
			e.Message, e.Kind, e.Problems = body.Error, body.Kind, body.Problems
		}
		return e
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
type Enrollment struct {
	KeyID   string    `json:"keyId"`
	Job     string    `json:"job"`
	Expires time.Time `json:"expires"`
}

// Enroll registers a per-boot public key with an enrollment token; the
// store then accepts certificates signed by that key for the token's job.
func (c *Client) Enroll(ctx context.Context, token string, pub ed25519.PublicKey) (*Enrollment, error) {
	var e Enrollment
	err := c.Do(ctx, http.MethodPost, "/v1/enroll", map[string]string{"token": token, "publicKey": string(sign.MarshalPublicKey(pub))}, &e)
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
	var out struct {
		Token string `json:"token"`
	}
	if err := c.Do(ctx, http.MethodPost, "/v1/session", map[string]string{"user": user, "password": password, "totp": totpCode}, &out); err != nil {
		return nil, err
	}
	return c.WithToken(out.Token), nil
}

// Token is a newly minted token.
type Token struct {
	ID      string    `json:"id"`
	Token   string    `json:"token"`
	Job     string    `json:"job,omitempty"`
	Expires time.Time `json:"expires"`
}

// CreateEnrollmentToken mints a per-job enrollment token (admin).
func (c *Client) CreateEnrollmentToken(ctx context.Context, job string, ttl time.Duration, uses int) (*Token, error) {
	var t Token
	err := c.Do(ctx, http.MethodPost, "/v1/admin/enrollment-tokens", map[string]any{"job": job, "ttl": ttl.String(), "uses": uses}, &t)
	return &t, err
}

// CreateAPIToken issues a machine token for user (admin).
func (c *Client) CreateAPIToken(ctx context.Context, user, name string) (*Token, error) {
	var t Token
	err := c.Do(ctx, http.MethodPost, "/v1/admin/tokens", map[string]any{"user": user, "name": name}, &t)
	return &t, err
}

// AddStationKey trusts a station's public key (admin).
func (c *Client) AddStationKey(ctx context.Context, name string, pub ed25519.PublicKey) (string, error) {
	var out struct {
		KeyID string `json:"keyId"`
	}
	err := c.Do(ctx, http.MethodPost, "/v1/admin/station-keys", map[string]string{"name": name, "publicKey": string(sign.MarshalPublicKey(pub))}, &out)
	return out.KeyID, err
}

// LogKeys are the store's public keys as it reports them.
type LogKeys struct {
	Origin    string `json:"origin"`
	LogKey    string `json:"logKey"`
	ServerKey string `json:"serverKey"`
}

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
