package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/lethe-project/lethe/internal/certview"
	"github.com/lethe-project/lethe/internal/safetext"
	"github.com/lethe-project/lethe/sign"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/attest"
)

func newCertCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Verify and show certificates of sanitization",
	}
	cmd.AddCommand(newCertVerifyCmd(), newCertShowCmd(), newCertPDFCmd(), newCertVerifyTPMCmd())
	return cmd
}

func loadKeys(paths []string) ([]ed25519.PublicKey, error) {
	if len(paths) == 0 {
		return nil, usageErr("--key PUB is required: the public key(s) the certificates must be signed with")
	}
	var keys []ed25519.PublicKey
	for _, p := range paths {
		k, err := sign.LoadPublicKey(p)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func newCertVerifyCmd() *cobra.Command {
	var keyPaths []string
	var rf receiptFlags
	cmd := &cobra.Command{
		Use:   "verify (--key PUB | --receipt FILE...) CERT...",
		Short: "Check certificates' signatures and content; exit 0 only if every one verifies",
		Long: `Check each certificate's signature and content. With --key, against the
given public keys. Without --key, a certificate made by the boot agent is
checked against the per-boot key it names (host.bootKey) together with the
audit store's receipt (--receipt, or BASE.receipt.json beside
BASE.cert.json): the receipt shows the store accepted exactly this
certificate, which it does only under a key it enrolled.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var keys []ed25519.PublicKey
			var err error
			bootKeys := len(keyPaths) == 0
			if bootKeys {
				if err := rf.receiptsBeside(args); err != nil {
					return err
				}
			} else if keys, err = loadKeys(keyPaths); err != nil {
				return err
			}
			if err := rf.check(len(args)); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			bad := 0
			for _, path := range args {
				if bootKeys {
					if keys, err = certBootKey(path); err != nil {
						bad++
						rf.next++
						fmt.Fprintf(out, "FAIL %s: %v\n", path, err)
						continue
					}
				}
				v, err := attest.ReadFile(path, keys...)
				var ve *attest.VerifyError
				switch {
				case errors.As(err, &ve):
					bad++
					fmt.Fprintf(out, "FAIL %s:\n", path)
					for _, p := range ve.Problems {
						fmt.Fprintf(out, "       %s\n", p)
					}
				case err != nil:
					bad++
					fmt.Fprintf(out, "FAIL %s: %v\n", path, err)
				default:
					p := v.Statement.Predicate
					fmt.Fprintf(out, "OK   %s: %s %s, %s (%s), signed by key %s\n", path, p.Status,
						v.Statement.Subject[0].Name, p.Sanitization.Category, p.Sanitization.Technique, v.KeyID[:16])
					if bootKeys {
						fmt.Fprintf(out, "     the key is the agent's per-boot key named in the certificate (host.bootKey); the receipt below is what vouches for it\n")
					}
					if !rf.verify(out, path, len(args)) {
						bad++
					}
				}
			}
			if bad > 0 {
				return failed("%d of %d certificate(s) did not verify", bad, len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&keyPaths, "key", nil, "trusted public key, PKIX PEM (repeatable)")
	rf.add(cmd)
	return cmd
}

func newCertShowCmd() *cobra.Command {
	var keyPaths []string
	var unverifiedOK bool
	cmd := &cobra.Command{
		Use:   "show (--key PUB | --unverified) CERT",
		Short: "Print a certificate for people, verifying it first",
		Long: `Print CERT for people. With --key the signature and content are checked
first; a certificate that does not verify is printed with INVALID at the
start of every line, and the exit status is 1. Without a key lethe refuses
(exit 2) unless --unverified is given: then every line starts with
UNVERIFIED. Control characters in the certificate's text are shown
escaped (\n, \x1b), never sent to the terminal.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keyPaths) == 0 && !unverifiedOK {
				return usageErr("refusing to show %s without checking its signature: pass --key PUB (or --unverified to print it with UNVERIFIED on every line)", args[0])
			}
			data, err := sign.ReadFile(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			out := cmd.OutOrStdout()
			if len(keyPaths) > 0 {
				keys, err := loadKeys(keyPaths)
				if err != nil {
					return err
				}
				v, err := attest.Verify(data, keys...)
				if err != nil {
					fmt.Fprintf(out, "SIGNATURE  INVALID: %s\n\n", safetext.Escape(err.Error()))
					if st, derr := attest.Decode(data); derr == nil {
						_ = certview.WriteStamped(out, st, "INVALID")
					}
					return failed("%s does not verify", args[0])
				}
				fmt.Fprintf(out, "Signature  valid, key %s\n", v.KeyID)
				return certview.WriteSummary(out, v.Statement)
			}
			st, err := attest.Decode(data)
			if err != nil {
				return usageErr("%s: %s", args[0], safetext.Escape(err.Error()))
			}
			fmt.Fprintf(out, "UNVERIFIED  signature NOT CHECKED (--unverified): this is not a valid certificate\n")
			return certview.WriteStamped(out, st, "UNVERIFIED")
		},
	}
	cmd.Flags().StringSliceVar(&keyPaths, "key", nil, "trusted public key, PKIX PEM")
	cmd.Flags().BoolVar(&unverifiedOK, "unverified", false, "print without checking the signature, every line stamped UNVERIFIED")
	return cmd
}
