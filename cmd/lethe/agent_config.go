//go:build linux

package main

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"time"

	"github.com/lethe-project/lethe/sign"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/agent"
)

func newAgentSignConfigCmd() *cobra.Command {
	var keyPath, out string
	cmd := &cobra.Command{
		Use:   "sign-config --key KEY CONFIG.json",
		Short: "Sign an agent configuration file (fetched by the agent with lethe.config=URL)",
		Long: `Sign a JSON object of agent settings (the kernel command line's lethe.* names
without the prefix; arrays for exclude and bootdev; optional notAfter and
comment) with an ed25519 key from lethe keygen, and print the lethe.configkey
values that pin the key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return usageErr("--key is required")
			}
			key, err := sign.LoadPrivateKey(keyPath)
			if err != nil {
				return usageErr("%v", err)
			}
			payload, err := sign.ReadFile(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			signed, err := agent.SignConfig(payload, key)
			if err != nil {
				return usageErr("%v", err)
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(signed)
			} else {
				err = os.WriteFile(out, signed, 0o644)
			}
			if err != nil {
				return err
			}
			k, h := agent.KeyPins(key.Public().(ed25519.PublicKey))
			fmt.Fprintf(cmd.ErrOrStderr(), "pin it on the kernel command line with either of:\n  lethe.configkey=%s\n  lethe.configkey=%s\n", k, h)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "ed25519 private key (PKCS#8 PEM)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the signed file here (default: standard output)")
	return cmd
}

func newAgentCheckConfigCmd() *cobra.Command {
	var pin string
	cmd := &cobra.Command{
		Use:   "check-config --configkey PIN FILE",
		Short: "Verify a signed agent configuration file as the agent would, and print its settings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kp, err := agent.ParseKeyPin(pin)
			if err != nil {
				return usageErr("--configkey: %v", err)
			}
			data, err := sign.ReadFile(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			payload, keyID, err := agent.VerifyConfig(data, kp)
			if err != nil {
				return failed("%v", err)
			}
			fc, err := agent.ParseConfigPayload(payload, time.Now())
			if err != nil {
				return failed("%v", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "signed by key %s\n", keyID)
			for _, kv := range fc.Settings {
				v := kv[1]
				if kv[0] == "token" && len(v) > 9 {
					v = v[:9] + "..."
				}
				fmt.Fprintf(out, "lethe.%s=%s\n", kv[0], v)
			}
			if !fc.NotAfter.IsZero() {
				fmt.Fprintf(out, "valid until %s\n", fc.NotAfter.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pin, "configkey", "", "the pin the agent gets: ed25519:BASE64 or sha256:HEX")
	return cmd
}
