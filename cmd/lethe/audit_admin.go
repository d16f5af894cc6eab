package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/server"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/sign"
)

// adminSocket is the store's local admin socket in its data directory.
const adminSocket = "admin.sock"

type peerKey struct{}

func localActor(ctx context.Context) string {
	uid, _ := ctx.Value(peerKey{}).(int)
	return hostAdmin(uid)
}

// hostAdmin names whoever runs lethe audit admin on the store's host, in
// the events it records.
func hostAdmin(uid int) string {
	name := fmt.Sprintf("uid %d", uid)
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil {
		name = u.Username + ", " + name
	}
	return "host admin (" + name + ")"
}

// adminFlags are lethe audit admin's connection options.
type adminFlags struct {
	dir, dsn string
	json     bool
}

// connect reaches the store in dir: through its admin socket when it runs,
// else by opening the data directory in this process. Either way the
// requests are the store's admin API, acting as the host's admin.
func (f *adminFlags) connect(ctx context.Context) (*client.Client, func(), error) {
	if f.dir == "" {
		return nil, nil, usageErr("--data DIR is required (the store's data directory)")
	}
	sock := filepath.Join(f.dir, adminSocket)
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if errors.Is(err, os.ErrPermission) {
		return nil, nil, usageErr("%s: %v (run as the store's user or root)", sock, err)
	}
	if err == nil {
		conn.Close()
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		c, err := client.New("http://lethe-audit-admin", client.Options{HTTPClient: &http.Client{Transport: tr, Timeout: 2 * time.Minute}})
		return c, tr.CloseIdleConnections, err
	}
	st, err := openStore(ctx, store.Config{Dir: f.dir, MySQLDSN: f.dsn, VerifyInterval: -1})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, nil, usageErr("%v (run as the store's user or root)", err)
		}
		return nil, nil, err
	}
	h := server.New(server.Config{Store: st, Logger: logger}).LocalHandler(func(*http.Request) string { return hostAdmin(os.Getuid()) })
	c, err := client.New("http://lethe-audit-admin", client.Options{HTTPClient: &http.Client{Transport: handlerTransport{h}}})
	closeStore := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st.Close(cctx)
	}
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return c, closeStore, nil
}

// handlerTransport calls a handler in this process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// run connects and runs f with the client.
func (f *adminFlags) run(cmd *cobra.Command, do func(ctx context.Context, c *client.Client, out io.Writer) error) error {
	ctx := cmd.Context()
	c, done, err := f.connect(ctx)
	if err != nil {
		return err
	}
	defer done()
	err = do(ctx, c, cmd.OutOrStdout())
	var ae *api.Error
	if errors.As(err, &ae) {
		if ae.Permanent() {
			return usageErr("%s", ae.Message)
		}
		return failed("%s", ae.Message)
	}
	return err
}

// show prints v as JSON with --json, else as the table rows gives.
func (f *adminFlags) show(out io.Writer, v any, header string, rows func(w io.Writer)) error {
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	return tw.Flush()
}

func newAuditAdminCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "admin --data DIR COMMAND",
		Short: "Administer the audit store on its host: users, station keys, agent keys, enrollment and API tokens",
		Long: `Administer the audit store on the host it runs on, with the rights of the
data directory: whoever can read DATA (its keys) administers the store. A
running store is reached through DATA/admin.sock; a stopped one is opened
directly (with --mysql for a store on MySQL). Every action is an event in
the log, naming the host user who ran it. This is the way back when no
admin can log in: a lost password or TOTP device, a disabled last admin,
an index rebuilt from the log.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.dir, "data", "", "the store's data directory")
	pf.StringVar(&f.dsn, "mysql", "", "the store's MySQL/MariaDB DSN, when it is stopped and keeps its data there")
	pf.BoolVar(&f.json, "json", false, "print JSON (the API's bodies) instead of tables")
	cmd.AddCommand(adminUserCmd(f), adminStationKeyCmd(f), adminAgentKeyCmd(f), adminEnrollmentCmd(f), adminAPITokenCmd(f))
	return cmd
}

func readPasswordFile(p string) (string, bool, error) {
	if p == "" {
		return accounts.Secret("Aa1-"), true, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", false, usageErr("--password-file: %v", err)
	}
	return strings.TrimRight(string(b), "\r\n"), false, nil
}

func printSecret(out io.Writer, u *api.User) {
	if u.TOTPSecret != "" {
		fmt.Fprintf(out, "TOTP secret for %s (enter it in an authenticator app now; it is not shown again): %s\n", u.Name, u.TOTPSecret)
		fmt.Fprintf(out, "TOTP URI: %s\n", u.TOTPURI)
	}
}

func adminUserCmd(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Accounts: list, create, reset password, TOTP or passkeys, disable, enable, unlock, set role"}
	list := &cobra.Command{Use: "list", Short: "List accounts", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
			us, err := c.Users(ctx)
			if err != nil {
				return err
			}
			return f.show(out, us, "NAME\tROLE\tSTATE\tFAILED\tCREATED", func(w io.Writer) {
				for _, u := range us {
					state := "active"
					switch {
					case u.Disabled:
						state = "disabled"
					case u.Locked:
						state = "locked"
					}
					if u.MustChangePassword {
						state += ", must change password"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", u.Name, u.Role, state, u.Failed, u.Created.UTC().Format(time.RFC3339))
				}
			})
		})
	}}
	var role, pwFile string
	create := &cobra.Command{Use: "create NAME --role ROLE", Short: "Create an account (the password is generated unless --password-file)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated, err := readPasswordFile(pwFile)
			if err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				u, err := c.CreateUser(ctx, api.CreateUserRequest{Name: args[0], Password: pw, Role: role, MustChangePassword: true})
				if err != nil {
					return err
				}
				if f.json {
					return f.show(out, u, "", nil)
				}
				fmt.Fprintf(out, "created %s (role %s)\n", u.Name, u.Role)
				if generated {
					fmt.Fprintf(out, "password (shown once; its owner must change it): %s\n", pw)
				}
				printSecret(out, u)
				return nil
			})
		}}
	create.Flags().StringVar(&role, "role", "", "operator, auditor or admin")
	create.Flags().StringVar(&pwFile, "password-file", "", "read the password from this file (default: generate one)")
	resetPW := &cobra.Command{Use: "reset-password NAME", Short: "Set a new password (generated unless --password-file); ends the account's sessions and API tokens",
		Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated, err := readPasswordFile(pwFile)
			if err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				if err := c.SetPassword(ctx, args[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(out, "password of %s reset; its sessions and API tokens ended\n", args[0])
				if generated {
					fmt.Fprintf(out, "new password (shown once; its owner must change it): %s\n", pw)
				}
				return nil
			})
		}}
	resetPW.Flags().StringVar(&pwFile, "password-file", "", "read the password from this file (default: generate one)")
	resetTOTP := &cobra.Command{Use: "reset-totp NAME", Short: "Give an account a new TOTP secret (a lost authenticator); ends its sessions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				u, err := c.ResetTOTP(ctx, args[0])
				if err != nil {
					return err
				}
				if f.json {
					return f.show(out, u, "", nil)
				}
				printSecret(out, u)
				return nil
			})
		}}
	resetPasskeys := &cobra.Command{Use: "reset-passkeys NAME", Short: "Revoke every passkey of an account (a lost or stolen security key); its owner registers a new one at the next login",
		Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				n, err := c.RevokePasskeys(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s: %d passkey(s) revoked; validations they signed stay valid\n", args[0], n)
				return nil
			})
		}}
	action := func(use, short, act, done string) *cobra.Command {
		return &cobra.Command{Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				if err := c.UserAction(ctx, args[0], act); err != nil {
					return err
				}
				fmt.Fprintf(out, "%s %s\n", args[0], done)
				return nil
			})
		}}
	}
	setRole := &cobra.Command{Use: "set-role NAME ROLE", Short: "Change an account's role; ends its sessions and API tokens (the last enabled admin cannot be demoted)",
		Args: cobra.ExactArgs(2), RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				u, err := c.SetRole(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				if f.json {
					return f.show(out, u, "", nil)
				}
				fmt.Fprintf(out, "%s now has role %s; its sessions and API tokens ended\n", args[0], args[1])
				printSecret(out, u)
				return nil
			})
		}}
	cmd.AddCommand(list, create, resetPW, resetTOTP, resetPasskeys,
		action("disable", "Disable an account (never deleted); ends its sessions and API tokens; the last enabled admin cannot be disabled", "disable", "disabled"),
		action("enable", "Enable a disabled account again", "enable", "enabled"),
		action("unlock", "Clear a lockout after failed logins", "unlock", "unlocked"),
		setRole)
	return cmd
}

func adminStationKeyCmd(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "station-key", Short: "Station keys: list, add, revoke"}
	list := &cobra.Command{Use: "list", Short: "List station keys", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
			ks, err := c.StationKeys(ctx)
			if err != nil {
				return err
			}
			return f.show(out, ks, "KEY ID\tNAME\tADDED BY\tADDED\tSTATE", func(w io.Writer) {
				for _, k := range ks {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.KeyID, k.Name, k.AddedBy, k.Added.UTC().Format(time.RFC3339), revokedOr(k.Revoked, "trusted"))
				}
			})
		})
	}}
	add := &cobra.Command{Use: "add NAME PUBKEY.pem", Short: "Trust a station's public key (PKIX PEM, lethe keygen's lethe.pub)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := sign.LoadPublicKey(args[1])
			if err != nil {
				return usageErr("%v", err)
			}
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				id, err := c.AddStationKey(ctx, args[0], pub)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "station key %s (%s) trusted\n", id, args[0])
				return nil
			})
		}}
	revoke := &cobra.Command{Use: "revoke KEYID", Short: "Stop trusting a station key (what it signed stays in the log)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				if err := c.RevokeStationKey(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(out, "station key %s revoked\n", args[0])
				return nil
			})
		}}
	cmd.AddCommand(list, add, revoke)
	return cmd
}

func revokedOr(revoked bool, s string) string {
	if revoked {
		return "revoked"
	}
	return s
}

func adminAgentKeyCmd(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "agent-key", Short: "Enrolled agent (per-boot) keys: list, revoke"}
	list := &cobra.Command{Use: "list", Short: "List enrolled agent keys", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
			ks, err := c.AgentKeys(ctx)
			if err != nil {
				return err
			}
			return f.show(out, ks, "KEY ID\tJOB\tTOKEN\tREGISTERED\tEXPIRES\tSTATE", func(w io.Writer) {
				for _, k := range ks {
					state := "active"
					if time.Now().After(k.Expires) {
						state = "expired"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.KeyID, k.Job, k.TokenID, k.Registered.UTC().Format(time.RFC3339),
						k.Expires.UTC().Format(time.RFC3339), revokedOr(k.Revoked, state))
				}
			})
		})
	}}
	revoke := &cobra.Command{Use: "revoke KEYID", Short: "Stop accepting certificates signed by an agent key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				if err := c.RevokeAgentKey(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(out, "agent key %s revoked\n", args[0])
				return nil
			})
		}}
	cmd.AddCommand(list, revoke)
	return cmd
}

func adminEnrollmentCmd(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "enrollment-token", Short: "Enrollment tokens for boot agents: list, mint, revoke"}
	list := &cobra.Command{Use: "list", Short: "List enrollment tokens", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
			ts, err := c.EnrollmentTokens(ctx)
			if err != nil {
				return err
			}
			return f.show(out, ts, "ID\tJOB\tUSES\tCREATED BY\tEXPIRES\tSTATE", func(w io.Writer) {
				for _, t := range ts {
					state := "usable"
					switch {
					case t.Uses >= t.MaxUses:
						state = "used up"
					case time.Now().After(t.Expires):
						state = "expired"
					}
					fmt.Fprintf(w, "%s\t%s\t%d/%d\t%s\t%s\t%s\n", t.ID, t.Job, t.Uses, t.MaxUses, t.CreatedBy, t.Expires.UTC().Format(time.RFC3339), revokedOr(t.Revoked, state))
				}
			})
		})
	}}
	var job string
	var ttl time.Duration
	var uses int
	mint := &cobra.Command{Use: "mint --job JOB", Short: "Mint an enrollment token for a job (shown once)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				t, err := c.CreateEnrollmentToken(ctx, job, ttl, uses)
				if err != nil {
					return err
				}
				if f.json {
					return f.show(out, t, "", nil)
				}
				fmt.Fprintf(out, "enrollment token %s for job %q, until %s (shown once):\n%s\n", t.ID, t.Job, t.Expires.UTC().Format(time.RFC3339), t.Token)
				return nil
			})
		}}
	mint.Flags().StringVar(&job, "job", "", "the job the enrolled agents wipe for (required)")
	mint.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token may be used (at most 7 days)")
	mint.Flags().IntVar(&uses, "uses", 1, "how many agents may enroll with it")
	revoke := &cobra.Command{Use: "revoke ID", Short: "Withdraw an enrollment token that has uses left", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				if err := c.RevokeEnrollmentToken(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(out, "enrollment token %s revoked\n", args[0])
				return nil
			})
		}}
	cmd.AddCommand(list, mint, revoke)
	return cmd
}

func adminAPITokenCmd(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "api-token", Short: "API tokens for machines: list, mint, revoke"}
	list := &cobra.Command{Use: "list", Short: "List API tokens", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
			ts, err := c.APITokens(ctx)
			if err != nil {
				return err
			}
			return f.show(out, ts, "ID\tNAME\tUSER\tSCOPES\tEXPIRES\tSTATE", func(w io.Writer) {
				for _, t := range ts {
					state := "active"
					if time.Now().After(t.Expires) {
						state = "expired"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.User, strings.Join(t.Scopes, ","), t.Expires.UTC().Format(time.RFC3339), revokedOr(t.Revoked, state))
				}
			})
		})
	}}
	var user, name string
	var scopes []string
	var ttl time.Duration
	mint := &cobra.Command{Use: "mint --user USER --name NAME", Short: "Mint an API token (shown once) with scopes within the user's role", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				req := api.APITokenRequest{User: user, Name: name, Scopes: scopes}
				if ttl > 0 {
					req.TTL = ttl.String()
				}
				t, err := c.NewAPIToken(ctx, req)
				if err != nil {
					return err
				}
				if f.json {
					return f.show(out, t, "", nil)
				}
				fmt.Fprintf(out, "API token %s for %s, scopes %s, until %s (shown once):\n%s\n", t.ID, user, strings.Join(t.Scopes, ","), t.Expires.UTC().Format(time.RFC3339), t.Token)
				return nil
			})
		}}
	mint.Flags().StringVar(&user, "user", "", "the account the token acts for")
	mint.Flags().StringVar(&name, "name", "", "what the token is for (a machine's name)")
	mint.Flags().StringSliceVar(&scopes, "scope", []string{api.ScopeRead}, "submit, read, admin (repeatable)")
	mint.Flags().DurationVar(&ttl, "ttl", 0, "lifetime (default 90 days, at most a year)")
	revoke := &cobra.Command{Use: "revoke ID", Short: "Revoke an API token", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, func(ctx context.Context, c *client.Client, out io.Writer) error {
				if err := c.RevokeAPIToken(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(out, "API token %s revoked\n", args[0])
				return nil
			})
		}}
	cmd.AddCommand(list, mint, revoke)
	return cmd
}
