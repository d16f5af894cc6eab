package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	tclient "github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/audit/logverify"
	"github.com/lethe-project/lethe/internal/audit/mirror"
	"github.com/lethe-project/lethe/internal/audit/server"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/durable"
	"github.com/lethe-project/lethe/sign"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The audit store: serve it, administer it, back it up, mirror and verify its log, flush a spool",
	}
	cmd.AddCommand(newAuditServeCmd(), newAuditAdminCmd(), newAuditBackupCmd(), newAuditRestoreCmd(), newAuditVerifyLogCmd(),
		newAuditMirrorCmd(), newAuditFlushCmd(), newAuditVerifyValidationCmd())
	return cmd
}

// openStore opens a data directory: a store, or a mirror (read only).
func openStore(ctx context.Context, cfg store.Config) (*store.Store, error) {
	quietTessera(os.Stderr)
	cfg.Logger = logger
	if mirror.IsMirror(cfg.Dir) {
		if cfg.MySQLDSN != "" {
			return nil, usageErr("%s is a mirror: it has no database (drop --mysql)", cfg.Dir)
		}
		return store.OpenMirror(ctx, cfg)
	}
	return store.Open(ctx, cfg)
}

func newAuditServeCmd() *cobra.Command {
	var (
		cfg                                store.Config
		listen, certFile, keyFile, baseURL string
		trust                              []string
		backupEvery                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve --data DIR --listen ADDR",
		Short: "Run the audit store (HTTPS API and web UI)",
		Long: `Run the audit store: certificates go into a Tessera transparency log
(POSIX files in DIR/log, or MySQL/MariaDB with --mysql), searchable through
a SQLite index, over HTTPS with a self-signed certificate created in
DIR/tls on first start unless --tls-cert/--tls-key are given. On first start
an admin account is created and its credentials written to
DIR/initial-admin.json (removed when that password is changed). Backups are
written to DIR/backups (--backup-interval) and kept --backup-keep. The whole
log is re-verified against its signed checkpoint at start and every
--verify-interval; the store refuses to start, or stops serving, when they
disagree. One process uses DIR at a time; with --mysql, several processes
(each with its own DIR holding a copy of keys/) share one database.

A mirror directory (lethe audit mirror) is served read only.

The store's host administers it with lethe audit admin, through the
socket DIR/admin.sock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Dir == "" {
				return usageErr("--data DIR is required")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer func() {
				cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				st.Close(cctx)
			}()
			switch ia, err := st.Bootstrap(ctx); {
			case errors.Is(err, store.ErrAccountsLost):
				logger.Warn("no accounts", "err", err)
			case err != nil:
				return err
			case ia != nil:
				logger.Info("created the first admin account: its password and TOTP secret are in the file; log in and choose your own password (the file is then removed)",
					"user", ia.User, "file", filepath.Join(cfg.Dir, store.InitialAdminFile))
			case st.InitialAdminPending():
				logger.Warn("the first admin's password is still the one in the file: log in and choose your own (the file is then removed)",
					"file", filepath.Join(cfg.Dir, store.InitialAdminFile))
			}
			for _, p := range trust {
				pub, err := sign.LoadPublicKey(p)
				if err != nil {
					return usageErr("--trust-key: %v", err)
				}
				if _, err := st.AddStationKey(ctx, filepath.Base(p), pub, store.Actor{Name: "server (--trust-key)"}); err != nil {
					return err
				}
			}
			host, _, _ := net.SplitHostPort(listen)
			tlsCfg, certPath, err := server.TLSConfig(cfg.Dir, certFile, keyFile, []string{host, "localhost"})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageErr("--listen: %v", err)
			}
			if baseURL == "" {
				baseURL = defaultBaseURL(ln.Addr())
			}
			handler := server.New(server.Config{Store: st, BaseURL: baseURL, Logger: logger})
			srv := &http.Server{Handler: handler, TLSConfig: tlsCfg,
				ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: nil}
			adminSrv, err := serveAdminSocket(cfg.Dir, handler)
			switch {
			case errors.Is(err, errNoAdminSocket):
				logger.Warn("no admin socket on this system: stop the store to run lethe audit admin against its data directory", "reason", err)
			case err != nil:
				ln.Close()
				return err
			default:
				defer adminSrv.Close()
			}
			if !st.ReadOnly() {
				_ = st.Event(ctx, "server.start", store.Actor{Name: "server"}, "listen:"+ln.Addr().String(), "success", "lethe "+version)
			}
			if backupEvery > 0 && !st.ReadOnly() && cfg.MySQLDSN == "" {
				go dailyBackups(ctx, st, backupEvery)
			}
			what := "lethe audit store"
			if st.ReadOnly() {
				what = "lethe audit mirror (read only)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s listening on https://%s (web UI %s/, TLS certificate %s, log key %s)\n", what, ln.Addr(), baseURL, certPath, st.LogKey())
			errc := make(chan error, 1)
			go func() { errc <- srv.ServeTLS(ln, "", "") }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Dir, "data", "", "data directory (keys, log, index, backups)")
	fl.StringVar(&listen, "listen", "127.0.0.1:8443", "address to listen on")
	fl.StringVar(&certFile, "tls-cert", "", "TLS certificate (PEM); default: self-signed in DATA/tls")
	fl.StringVar(&keyFile, "tls-key", "", "TLS private key (PEM)")
	fl.StringVar(&baseURL, "url", "", "public URL of this server (https://HOSTNAME:PORT), for links, QR codes and passkeys, which need a host name (default https://localhost:PORT on loopback, else https://LISTEN)")
	fl.StringVar(&cfg.MySQLDSN, "mysql", "", "keep the log and index in MySQL/MariaDB (DSN user:pass@tcp(host:3306)/db); several servers may share it")
	fl.StringVar(&cfg.Origin, "origin", "", "log origin name in checkpoints (set once, at first start; default lethe-audit/HOSTNAME)")
	fl.StringSliceVar(&trust, "trust-key", nil, "trust a station's public key (PKIX PEM; repeatable)")
	fl.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", 0, "how often to publish checkpoints (default 200ms; 1s with --mysql)")
	fl.DurationVar(&backupEvery, "backup-interval", 24*time.Hour, "how often to write a backup to DATA/backups (0: never)")
	fl.DurationVar(&cfg.BackupKeep, "backup-keep", 7*24*time.Hour, "how long to keep backups (every backup the store writes, also POST /v1/admin/backup)")
	fl.StringVar(&cfg.BackupDir, "backup-dir", "", "where backups go (default DATA/backups)")
	fl.DurationVar(&cfg.VerifyInterval, "verify-interval", time.Hour, "how often to re-verify the whole log against its signed checkpoint (it is always verified at start)")
	return cmd
}

// serveAdminSocket serves the API to the store's host on DATA/admin.sock
// (mode 0600: only the store's user, and root, can connect); each request
// acts as an admin named after the connecting user (SO_PEERCRED).
func serveAdminSocket(dir string, h *server.Server) (*http.Server, error) {
	p := filepath.Join(dir, adminSocket)
	_ = os.Remove(p) // we hold the data directory: a socket there is stale
	ln, err := listenOwnerOnly(p)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	srv := &http.Server{
		Handler:           h.LocalHandler(func(r *http.Request) string { return localActor(r.Context()) }),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey{}, peerUID(c))
		},
	}
	go srv.Serve(ln)
	return srv, nil
}

func dailyBackups(ctx context.Context, st *store.Store, every time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if p, err := st.BackupFile(ctx); err != nil {
			logger.Error("backup failed", "error", err)
		} else {
			logger.Info("backup written", "file", p)
		}
	}
}

func newAuditBackupCmd() *cobra.Command {
	var dir, out string
	cmd := &cobra.Command{
		Use:   "backup --data DIR -o FILE.tar.gz",
		Short: "Back up a stopped audit store's data directory (a running server writes its own: DATA/backups, POST /v1/admin/backup)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || out == "" {
				return usageErr("--data DIR and -o FILE are required")
			}
			// Opening the store takes the log's lock, so only one writer
			// exists: run this where the store is stopped, or use the
			// server's own backups (POST /v1/admin/backup, DATA/backups).
			st, err := openStore(cmd.Context(), store.Config{Dir: dir, VerifyInterval: -1})
			if err != nil {
				return err
			}
			defer st.Close(context.Background())
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return usageErr("%v", err)
			}
			cp, err := st.Backup(cmd.Context(), f)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(out)
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup %s: log of %d entries, checkpoint root %x\n", out, cp.Size, cp.Hash)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "data directory of the store")
	cmd.Flags().StringVarP(&out, "out", "o", "", "backup file to write")
	return cmd
}

func newAuditRestoreCmd() *cobra.Command {
	var dir, from, logKeyFile string
	cmd := &cobra.Command{
		Use:   "restore --from FILE.tar.gz --data EMPTYDIR [--log-key FILE]",
		Short: "Restore a backup into an empty directory and re-verify the whole log (against --log-key when given)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || from == "" {
				return usageErr("--from FILE and --data DIR are required")
			}
			opts, err := pinnedKeys(logKeyFile)
			if err != nil {
				return err
			}
			f, err := os.Open(from)
			if err != nil {
				return usageErr("%v", err)
			}
			defer f.Close()
			rep, err := store.Restore(cmd.Context(), f, dir, opts)
			if err != nil {
				return failed("%v", err)
			}
			printVerifyReport(cmd, rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "backup file")
	cmd.Flags().StringVar(&dir, "data", "", "empty directory to restore into")
	cmd.Flags().StringVar(&logKeyFile, "log-key", "", "the log's verifier key (DATA/keys/log.vkey), kept apart from the backup: the restored log must verify with it")
	return cmd
}

func pinnedKeys(logKeyFile string) (store.VerifyOptions, error) {
	if logKeyFile == "" {
		return store.VerifyOptions{}, nil
	}
	b, err := os.ReadFile(logKeyFile)
	if err != nil {
		return store.VerifyOptions{}, usageErr("--log-key: %v", err)
	}
	return store.VerifyOptions{LogKey: strings.TrimSpace(string(b))}, nil
}

func printVerifyReport(cmd *cobra.Command, rep *store.VerifyReport) {
	fmt.Fprintf(cmd.OutOrStdout(), "OK   log %s: %d entries re-verified against the signed checkpoint (root %x): %d certificates, %d validations, %d events",
		rep.Checkpoint.Origin, rep.Entries, rep.Checkpoint.Hash, rep.Certificates, rep.Validations, rep.Events)
	if rep.Unindexed > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "; %d certificate(s) not yet indexed (indexed on next start)", rep.Unindexed)
	}
	fmt.Fprintln(cmd.OutOrStdout())
	if rep.LegacyKeys > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "     %d certificate(s) signed by keys trusted before keys were logged (recorded in the log later, or only in the index)\n", rep.LegacyKeys)
	}
	if rep.Pinned {
		fmt.Fprintln(cmd.OutOrStdout(), "     checked against the pinned log key")
	} else {
		fmt.Fprintln(cmd.OutOrStdout(), "     note: checked against the directory's own keys, which proves integrity, not authenticity; pass --log-key to pin the key")
	}
}

func newAuditVerifyLogCmd() *cobra.Command {
	var dir, addr, token, caFile, logKeyFile, state string
	cmd := &cobra.Command{
		Use:   "verify-log (--data DIR | --url URL --log-key FILE) [--state FILE]",
		Short: "Check the log: signed checkpoint, every entry, and consistency with the last checkpoint seen",
		Long: `With --data, re-verify a data directory offline (a stopped store's, a
restored backup's or a mirror's): the checkpoint signature, every entry's
countersignature, every certificate's signature against the key the log
records for it, and that the entries hash to the checkpoint's root. With
--log-key the pinned key is the one checked, and DIR's own keys must be
that key; without it DIR's keys are used (integrity, not authenticity).

With --url, fetch the store's current checkpoint and prove it is consistent
with the checkpoint remembered in --state (an append-only extension of it):
a log whose history was rewritten fails. The new checkpoint is then saved
to --state. Exit 1 when verification fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if dir != "" {
				opts, err := pinnedKeys(logKeyFile)
				if err != nil {
					return err
				}
				rep, err := store.VerifyDir(ctx, dir, opts)
				if err != nil {
					return failed("FAIL %v", err)
				}
				printVerifyReport(cmd, rep)
				vkey := opts.LogKey
				if vkey == "" {
					b, err := os.ReadFile(filepath.Join(dir, "keys", "log.vkey"))
					if err != nil {
						return usageErr("log key: %v", err)
					}
					vkey = string(b)
				}
				return checkState(out, state, vkey, rep.Checkpoint, func(older *logverify.Checkpoint) error {
					if older.Size > rep.Checkpoint.Size {
						return fmt.Errorf("%w: the log shrank from %d to %d entries", logverify.ErrInconsistent, older.Size, rep.Checkpoint.Size)
					}
					// The entries verified against the new root; if the
					// first older.Size of them give the old root, the new
					// tree extends the old one.
					if err := logverify.Entries(ctx, tclient.FileFetcher{Root: filepath.Join(dir, "log")}, older.Size, older.Hash, nil); err != nil {
						return fmt.Errorf("%w: %v", logverify.ErrInconsistent, err)
					}
					return nil
				})
			}
			if addr == "" || logKeyFile == "" {
				return usageErr("give --data DIR, or --url URL with --log-key FILE (DATA/keys/log.vkey of the store)")
			}
			vkey, err := os.ReadFile(logKeyFile)
			if err != nil {
				return usageErr("--log-key: %v", err)
			}
			c, err := client.New(addr, client.Options{CAFile: caFile, Token: token})
			if err != nil {
				return usageErr("%v", err)
			}
			u, _ := url.Parse(strings.TrimRight(addr, "/") + "/v1/log/")
			f, err := tclient.NewHTTPFetcher(u, c.HTTPClient())
			if err != nil {
				return err
			}
			if token != "" {
				f.SetAuthorizationHeader("Bearer " + token)
			}
			if keys, err := c.Keys(ctx); err == nil && strings.TrimSpace(keys.LogKey) != strings.TrimSpace(string(vkey)) {
				return failed("FAIL the store reports log key %q, not the pinned one", keys.LogKey)
			}
			raw, err := f.ReadCheckpoint(ctx)
			if err != nil {
				return failed("read checkpoint: %v", err)
			}
			cp, err := logverify.ParseCheckpoint(raw, string(vkey))
			if err != nil {
				return failed("FAIL %v", err)
			}
			fmt.Fprintf(out, "OK   checkpoint of %s: %d entries, root %x, signature valid\n", cp.Origin, cp.Size, cp.Hash)
			return checkState(out, state, string(vkey), cp, func(older *logverify.Checkpoint) error {
				if older.Size > cp.Size {
					return fmt.Errorf("%w: the log shrank from %d to %d entries", logverify.ErrInconsistent, older.Size, cp.Size)
				}
				proof, err := logverify.ConsistencyProof(ctx, f, older.Size, cp.Size)
				if err != nil {
					return fmt.Errorf("consistency proof %d -> %d: %w", older.Size, cp.Size, err)
				}
				return logverify.VerifyConsistency(older, cp, proof)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "data", "", "verify a data directory offline")
	fl.StringVar(&addr, "url", "", "audit store URL")
	fl.StringVar(&token, "token", os.Getenv("LETHE_AUDIT_TOKEN"), "API token (default $LETHE_AUDIT_TOKEN)")
	fl.StringVar(&caFile, "ca", "", "PEM certificate to trust for the server (its DATA/tls/cert.pem)")
	fl.StringVar(&logKeyFile, "log-key", "", "the log's verifier key (DATA/keys/log.vkey), obtained out of band; with --data it is the key checked, not DIR's")
	fl.StringVar(&state, "state", "", "file holding the last verified checkpoint; checked for consistency and updated")
	return cmd
}

// checkState proves cp consistent with the checkpoint saved in state (an
// append-only extension of it), then saves cp.
func checkState(out io.Writer, state, vkey string, cp *logverify.Checkpoint, consistent func(older *logverify.Checkpoint) error) error {
	if state == "" {
		return nil
	}
	if raw, err := os.ReadFile(state); err == nil {
		older, err := logverify.ParseCheckpoint(raw, vkey)
		if err != nil {
			return failed("FAIL saved checkpoint %s: %v", state, err)
		}
		if err := consistent(older); err != nil {
			return failed("FAIL %v", err)
		}
		fmt.Fprintf(out, "OK   consistent with the checkpoint in %s (size %d -> %d): no history was rewritten\n", state, older.Size, cp.Size)
	} else if !errors.Is(err, os.ErrNotExist) {
		return usageErr("--state: %v", err)
	}
	// The state is what the next run trusts: it must survive a power cut
	// whole or not at all.
	if err := durable.WriteFile(state, cp.Raw, 0o644); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	return nil
}

func newAuditFlushCmd() *cobra.Command {
	var spool, addr, caFile, token string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "flush --spool DIR --url URL",
		Short: "Submit the certificates waiting in a spool (after the store was unreachable)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client.New(addr, client.Options{CAFile: caFile, Token: token})
			if err != nil {
				return usageErr("%v", err)
			}
			sp, err := client.OpenSpool(spool, c)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			res, err := sp.FlushRetry(ctx, client.Retry{Initial: time.Second, Max: 30 * time.Second})
			if err != nil {
				return err
			}
			return reportFlush(cmd, sp, res)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&spool, "spool", "", "spool directory (lethe wipe --audit keeps it in CERT-DIR/audit-spool)")
	fl.StringVar(&addr, "url", "", "audit store URL")
	fl.StringVar(&caFile, "ca", os.Getenv("LETHE_AUDIT_CA"), "PEM certificate to trust for the server")
	fl.StringVar(&token, "token", os.Getenv("LETHE_AUDIT_TOKEN"), "API token")
	fl.DurationVar(&wait, "wait", time.Minute, "how long to keep retrying")
	return cmd
}

func reportFlush(cmd *cobra.Command, sp *client.Spool, res client.FlushResult) error {
	out := cmd.OutOrStdout()
	for _, it := range res.Sent {
		rc, _ := sp.Receipt(it.ID)
		if rc != nil {
			fmt.Fprintf(out, "audit: certificate %s logged as entry %d (receipt %s)\n", rc.CertificateID, rc.LogIndex,
				filepath.Join(sp.Dir(), "sent", it.ID+".receipt.json"))
		}
	}
	for _, r := range res.Rejected {
		fmt.Fprintf(out, "audit: certificate REJECTED by the store: %v (kept in %s)\n", r.Err, filepath.Join(sp.Dir(), "rejected"))
	}
	if res.Pending > 0 {
		fmt.Fprintf(out, "audit: %d certificate(s) still waiting in %s (%v); run `lethe audit flush --spool %s --url URL` later\n",
			res.Pending, filepath.Join(sp.Dir(), "pending"), res.LastError, sp.Dir())
	}
	if len(res.Rejected) > 0 {
		return failed("%d certificate(s) rejected by the audit store", len(res.Rejected))
	}
	return nil
}

// defaultBaseURL is the store's URL when --url is not given: on a
// loopback address https://localhost:PORT, because passkeys (WebAuthn)
// need a host name, not an IP address.
func defaultBaseURL(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return fmt.Sprintf("https://localhost:%d", ta.Port)
	}
	return "https://" + a.String()
}
