package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	tclient "github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/mirror"
)

func newAuditMirrorCmd() *cobra.Command {
	var addr, token, caFile, logKeyFile, dir string
	var every time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "mirror --url URL --dir DIR [--log-key FILE] [--once]",
		Short: "Keep a verified copy of a store's log elsewhere, and alert when its history changes",
		Long: `Follow an audit store's log over HTTPS with a read-only API token (scope
read) and keep a complete copy in DIR: every entry, every checkpoint
accepted, the log's keys. Each round checks the store's signed checkpoint
with the pinned log key, checks each new entry's countersignature, and
proves that the entries held plus the new ones hash to the new signed root:
every entry is the one the checkpoint commits to, and the new checkpoint
extends the one held. A store whose log shrank, was rewritten, or serves
entries other than it signed is an ALERT: a log line, exit status 1, and
the copy stays as it was.

The first run needs --log-key (the store's DATA/keys/log.vkey, obtained out
of band); it is pinned in DIR. Without --once it runs every --interval until
stopped. DIR is a store directory: lethe audit verify-log --data DIR
re-verifies it offline, and lethe audit serve --data DIR serves it read
only for search and verification (with accounts of its own, lethe audit
admin --data DIR).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr == "" || dir == "" {
				return usageErr("--url URL and --dir DIR are required")
			}
			var vkey string
			if logKeyFile != "" {
				b, err := os.ReadFile(logKeyFile)
				if err != nil {
					return usageErr("--log-key: %v", err)
				}
				vkey = strings.TrimSpace(string(b))
			}
			c, err := client.New(addr, client.Options{CAFile: caFile, Token: token})
			if err != nil {
				return usageErr("%v", err)
			}
			u, err := url.Parse(strings.TrimRight(addr, "/") + "/v1/log/")
			if err != nil {
				return usageErr("--url: %v", err)
			}
			f, err := tclient.NewHTTPFetcher(u, c.HTTPClient())
			if err != nil {
				return err
			}
			if token != "" {
				f.SetAuthorizationHeader("Bearer " + token)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			round := func() error {
				keys, err := c.Keys(ctx)
				if err != nil {
					return fmt.Errorf("read the store's keys: %w", err)
				}
				res, err := mirror.Update(ctx, dir, mirror.Source{URL: addr, Fetcher: f, LogKey: vkey, ReportedLogKey: keys.LogKey})
				if err != nil {
					return err
				}
				if res.To > res.From {
					logger.Info("mirror: new entries verified and copied", "new", res.To-res.From, "from", res.From, "to", res.To, "root", fmt.Sprintf("%x", res.Checkpoint.Hash))
				} else {
					logger.Info("mirror: up to date", "entries", res.To, "root", fmt.Sprintf("%x", res.Checkpoint.Hash))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "OK   mirror of %s holds %d entries, consistent with every checkpoint it accepted (root %x)\n", res.Checkpoint.Origin, res.To, res.Checkpoint.Hash)
				return nil
			}
			for {
				err := round()
				var inc *mirror.Inconsistency
				switch {
				case errors.As(err, &inc):
					logger.Error("ALERT audit log is inconsistent", "store", addr, "err", err)
					return failed("ALERT %v", err)
				case err != nil && once:
					return failed("mirror: %v", err)
				case err != nil:
					logger.Error("mirror round failed", "err", err, "retry", every)
				}
				if once {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(every):
				}
			}
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "url", "", "the audit store's URL")
	fl.StringVar(&dir, "dir", "", "the mirror's directory (created on first use)")
	fl.StringVar(&token, "token", os.Getenv("LETHE_AUDIT_TOKEN"), "API token with scope read (default $LETHE_AUDIT_TOKEN)")
	fl.StringVar(&caFile, "ca", os.Getenv("LETHE_AUDIT_CA"), "PEM certificate to trust for the server (its DATA/tls/cert.pem)")
	fl.StringVar(&logKeyFile, "log-key", "", "the store's log key (DATA/keys/log.vkey), obtained out of band; required the first time, then pinned")
	fl.DurationVar(&every, "interval", 5*time.Minute, "how often to follow the log")
	fl.BoolVar(&once, "once", false, "one round, then exit (0: up to date and consistent)")
	return cmd
}
