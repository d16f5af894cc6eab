package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/lethe-project/lethe/internal/certview"
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
	cmd := &cobra.Command{
		Use:   "show [--key PUB] CERT",
		Short: "Print a certificate for people (verifying it first when --key is given)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
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
					fmt.Fprintf(out, "SIGNATURE  INVALID: %v\n\n", err)
					st, derr := attest.Decode(data)
					if derr == nil {
						_ = certview.WriteSummary(out, st)
					}
					return failed("%s does not verify", args[0])
				}
				fmt.Fprintf(out, "Signature  valid, key %s\n", v.KeyID)
				return certview.WriteSummary(out, v.Statement)
			}
			st, err := attest.Decode(data)
			if err != nil {
				return usageErr("%s: %v", args[0], err)
			}
			fmt.Fprintf(out, "Signature  NOT CHECKED (pass --key PUB to verify)\n")
			return certview.WriteSummary(out, st)
		},
	}
	cmd.Flags().StringSliceVar(&keyPaths, "key", nil, "trusted public key, PKIX PEM")
	return cmd
}
