package main

import (
	"fmt"

	"github.com/lethe-project/lethe/sign"

	"github.com/spf13/cobra"
)

func newKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out DIR",
		Short: "Create an ed25519 signing key pair: DIR/lethe.key (PKCS#8 PEM) and DIR/lethe.pub (PKIX PEM)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr("--out DIR is required")
			}
			key, pub, err := sign.GenerateKey(out)
			if err != nil {
				return usageErr("%v", err)
			}
			k, err := sign.LoadPublicKey(pub)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "private key: %s (keep it secret)\npublic key:  %s\nkey id:      %s\n", key, pub, sign.KeyID(k))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory for lethe.key and lethe.pub")
	return cmd
}
