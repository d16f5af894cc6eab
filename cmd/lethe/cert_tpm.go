package main

import (
	"crypto/ecdsa"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/sign"
)

func newCertVerifyTPMCmd() *cobra.Command {
	var keyPath string
	cmd := &cobra.Command{
		Use:   "verify-tpm [--tpm-key PUB] CERT...",
		Short: "Check the TPM signature of certificates made by the boot agent on a host with a TPM",
		Long: `Check that each certificate carries a valid signature by the TPM-resident key
its host identity names (host.tpmKey), and print that key's ID, which is the
same on every boot of the same machine. With --tpm-key, the signature must be
by that key (the one recorded for the machine), not just by the key the
certificate names. The per-boot signature is checked by lethe cert verify.
Exit 0 only if every certificate has a valid TPM signature.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var want *ecdsa.PublicKey
			if keyPath != "" {
				b, err := os.ReadFile(keyPath)
				if err != nil {
					return usageErr("--tpm-key: %v", err)
				}
				if want, err = sign.ParseECDSAPublicKey(b); err != nil {
					return usageErr("--tpm-key %s: %v", keyPath, err)
				}
			}
			out := cmd.OutOrStdout()
			bad := 0
			for _, p := range args {
				if err := verifyTPM(p, want, out); err != nil {
					bad++
					fmt.Fprintf(out, "FAIL %s: %v\n", p, err)
				}
			}
			if bad > 0 {
				return failed("%d of %d certificate(s) without a valid TPM signature", bad, len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "tpm-key", "", "the machine's TPM key (PKIX PEM) the signature must be by")
	return cmd
}

func verifyTPM(path string, want *ecdsa.PublicKey, out interface{ Write([]byte) (int, error) }) error {
	data, err := sign.ReadFile(path)
	if err != nil {
		return err
	}
	st, err := attest.Decode(data)
	if err != nil {
		return err
	}
	if st.Predicate.Host.TPMKey == "" {
		return fmt.Errorf("the certificate names no TPM key (host.tpmKey): made without a TPM")
	}
	named, err := sign.ParseECDSAPublicKey([]byte(st.Predicate.Host.TPMKey))
	if err != nil {
		return fmt.Errorf("host.tpmKey: %w", err)
	}
	if want != nil && !want.Equal(named) {
		return fmt.Errorf("the certificate names another TPM key than --tpm-key")
	}
	if err := sign.VerifyECDSA(data, named); err != nil {
		return err
	}
	id := sign.KeyID(named)
	fmt.Fprintf(out, "OK   %s: signed by TPM key %s (host serial %s)\n", path, id, dash(st.Predicate.Host.SystemSerial))
	return nil
}
