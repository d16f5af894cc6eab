//go:build linux

package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/station"
)

// auditFlags are lethe wipe's options for feeding an audit store.
type auditFlags struct {
	url   string
	token string
	ca    string
	wait  time.Duration
}

func (a *auditFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&a.url, "audit", "", "submit each certificate to this audit store (https://host:port; default: audit.url in the configuration, or $LETHE_AUDIT_URL)")
	fl.StringVar(&a.token, "audit-token", "", "enrollment token (lenr_...: registers --key's public key for the job) or API token (lapi_...); default: audit.token, or $LETHE_AUDIT_TOKEN")
	fl.StringVar(&a.ca, "audit-ca", "", "PEM certificate to trust for the audit store (its DATA/tls/cert.pem); default: audit.ca, or $LETHE_AUDIT_CA")
	fl.DurationVar(&a.wait, "audit-wait", 30*time.Second, "how long to retry an unreachable audit store before leaving certificates in the spool")
}

// submit spools every written certificate under certDir/audit-spool and
// delivers the spool to the store with retries (enrolling the signing key
// first with an lenr_ token). A store that stays down leaves the
// certificates safely spooled (a warning, not a failure); a store that
// refuses a certificate is a failure.
func (a *auditFlags) submit(cmd *cobra.Command, certDir string, key ed25519.PrivateKey, results []station.Result, prev error) error {
	if a.url == "" {
		return prev
	}
	opts := client.Options{CAFile: a.ca}
	var enr station.Enrollment
	switch {
	case strings.HasPrefix(a.token, "lapi_"):
		opts.Token = a.token
	case strings.HasPrefix(a.token, "lenr_"):
		enr = station.Enrollment{Token: a.token, Key: keyOf(key)}
	}
	c, err := client.New(a.url, opts)
	if err != nil {
		return errors.Join(prev, usageErr("--audit: %v", err))
	}
	sp, err := client.OpenSpool(filepath.Join(certDir, "audit-spool"), c)
	if err != nil {
		return errors.Join(prev, err)
	}
	stderr := cmd.ErrOrStderr()
	d := station.NewDeliverer(c, sp, enr, client.Retry{Initial: 500 * time.Millisecond, Max: 10 * time.Second},
		func(format string, args ...any) {
			fmt.Fprintf(stderr, "audit: "+strings.TrimPrefix(format, "audit store: ")+"\n", args...)
		})
	ids := map[string]string{} // spool ID -> certificate path
	for _, r := range results {
		if r.CertPath == "" {
			continue
		}
		id, err := d.Add(r.Certificate)
		if err != nil {
			return errors.Join(prev, fmt.Errorf("audit spool: %w", err))
		}
		ids[id] = r.CertPath
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), a.wait)
	defer cancel()
	go d.Run(ctx, closedChan())
	st := d.Wait(ctx)
	if err := reportDelivery(cmd, sp, st, ids); err != nil && prev == nil {
		return err
	}
	return prev
}

// reportDelivery prints where every certificate stands with the store.
func reportDelivery(cmd *cobra.Command, sp *client.Spool, st station.DeliveryStatus, ids map[string]string) error {
	out := cmd.OutOrStdout()
	rejected, pending := 0, 0
	for id, path := range ids {
		switch st.States[id] {
		case station.Delivered:
			if rc, _ := sp.Receipt(id); rc != nil {
				// The receipt goes beside its certificate, under the same
				// base name (the spool keeps its own copy).
				where := filepath.Join(sp.Dir(), "sent", id+".receipt.json")
				if err := copyReceipt(sp.Dir(), id, path); err == nil {
					where = certBase(path) + ".receipt.json"
				}
				fmt.Fprintf(out, "audit: certificate %s logged as entry %d (receipt %s)\n", rc.CertificateID, rc.LogIndex, where)
			}
		case station.Rejected:
			rejected++
			fmt.Fprintf(out, "audit: certificate %s REJECTED by the store: %s (kept in %s)\n", path, st.Reasons[id], filepath.Join(sp.Dir(), "rejected"))
		case station.Unverified:
			rejected++
			fmt.Fprintf(out, "audit: the store's receipt for %s does NOT verify (kept in %s)\n", path, filepath.Join(sp.Dir(), "sent"))
		default:
			pending++
		}
	}
	if st.EnrollRefused != "" {
		fmt.Fprintf(out, "audit: enrollment refused: %s\n", st.EnrollRefused)
	}
	if pending > 0 {
		why := st.LastError
		if why == "" {
			why = st.EnrollRefused
		}
		fmt.Fprintf(out, "audit: %d certificate(s) still waiting in %s (%s); run `lethe audit flush --spool %s --url URL` later\n",
			pending, filepath.Join(sp.Dir(), "pending"), why, sp.Dir())
	}
	if rejected > 0 {
		return failed("%d certificate(s) rejected by the audit store", rejected)
	}
	return nil
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
