package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lethe-project/lethe/audit/client"
)

// auditFlags are lethe wipe's options for feeding an audit store.
type auditFlags struct {
	url   string
	token string
	ca    string
	wait  time.Duration
}

func (a *auditFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&a.url, "audit", os.Getenv("LETHE_AUDIT_URL"), "submit each certificate to this audit store (https://host:port; default $LETHE_AUDIT_URL)")
	fl.StringVar(&a.token, "audit-token", os.Getenv("LETHE_AUDIT_TOKEN"), "enrollment token (lenr_...: registers --key's public key for the job) or API token (lapi_...)")
	fl.StringVar(&a.ca, "audit-ca", os.Getenv("LETHE_AUDIT_CA"), "PEM certificate to trust for the audit store (its DATA/tls/cert.pem)")
	fl.DurationVar(&a.wait, "audit-wait", 30*time.Second, "how long to retry an unreachable audit store before leaving certificates in the spool")
}

// submit spools every written certificate under certDir/audit-spool and
// flushes the spool to the store with retries. A store that stays down
// leaves the certificates safely spooled (a warning, not a failure); a
// store that refuses a certificate is a failure.
func (a *auditFlags) submit(cmd *cobra.Command, certDir string, key ed25519.PrivateKey, results []driveResult, prev error) error {
	if a.url == "" {
		return prev
	}
	opts := client.Options{CAFile: a.ca}
	if strings.HasPrefix(a.token, "lapi_") {
		opts.Token = a.token
	}
	c, err := client.New(a.url, opts)
	if err != nil {
		return errors.Join(prev, usageErr("--audit: %v", err))
	}
	sp, err := client.OpenSpool(filepath.Join(certDir, "audit-spool"), c)
	if err != nil {
		return errors.Join(prev, err)
	}
	for _, r := range results {
		if r.certPath == "" {
			continue
		}
		data, err := os.ReadFile(r.certPath)
		if err == nil {
			_, err = sp.Add(data)
		}
		if err != nil {
			return errors.Join(prev, fmt.Errorf("audit spool: %w", err))
		}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), a.wait)
	defer cancel()
	if strings.HasPrefix(a.token, "lenr_") {
		a.enroll(ctx, cmd, c, key)
	}
	res, err := sp.FlushRetry(ctx, client.Retry{Initial: 500 * time.Millisecond, Max: 10 * time.Second})
	if err != nil {
		return errors.Join(prev, err)
	}
	if err := reportFlush(cmd, sp, res); err != nil {
		if prev != nil {
			return prev
		}
		return err
	}
	return prev
}

// enroll registers the signing key with the enrollment token, retrying
// while the store is unreachable. A key registered earlier is fine.
func (a *auditFlags) enroll(ctx context.Context, cmd *cobra.Command, c *client.Client, key ed25519.PrivateKey) {
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		e, err := c.Enroll(ctx, a.token, key.Public().(ed25519.PublicKey))
		var ce *client.Error
		switch {
		case err == nil:
			fmt.Fprintf(cmd.ErrOrStderr(), "audit: signing key %.16s registered for job %q until %s\n", e.KeyID, e.Job, e.Expires.Format(time.RFC3339))
			return
		case errors.As(err, &ce) && ce.Kind == "key-registered":
			return
		case client.IsPermanent(err):
			fmt.Fprintf(cmd.ErrOrStderr(), "audit: enrollment refused: %v\n", err)
			return
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(cmd.ErrOrStderr(), "audit: could not enroll the signing key: %v\n", err)
			return
		case <-time.After(wait):
		}
	}
}
