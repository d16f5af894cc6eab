package main

import (
	"encoding/base64"
	"fmt"
	"os"

	"github.com/lethe-project/lethe/sign"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/passkey"
)

func newAuditVerifyValidationCmd() *cobra.Command {
	var logKey, serverKey, certPath, passkeyPath string
	cmd := &cobra.Command{
		Use:   "verify-validation --log-key FILE --server-key FILE [--cert CERT] [--passkey FILE] PROOF...",
		Short: "Check offline that an auditor's passkey signed a validation of a certificate",
		Long: `Check a validation proof (GET /v1/validations/INDEX/proof, the "offline proof"
link on a certificate page) without the store: the checkpoint's signature
(--log-key), the countersignature (--server-key) and inclusion of the
validation, the auditor's passkey registration and the certificate entries;
that the signed statement is about that certificate (ID, subject digest,
envelope digest, log entry) and agrees with the logged decision and comment;
and the WebAuthn assertion: its challenge is the statement's SHA-256, its
origin and rpIdHash are the store's, the user was present and verified, and
the signature verifies under the registered passkey.

--cert checks that the validation is about that certificate file. --passkey
pins the auditor's key (the JSON the auditor downloaded from their account
page after registering it): only then is a key registered later in the
auditor's name — by anyone who controls the store — refused.
Exit 0 only if every proof verifies.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o passkey.VerifyOptions
			if logKey != "" {
				b, err := os.ReadFile(logKey)
				if err != nil {
					return usageErr("--log-key: %v", err)
				}
				o.Keys.LogKey = string(b)
			}
			if serverKey != "" {
				k, err := sign.LoadPublicKey(serverKey)
				if err != nil {
					return usageErr("--server-key: %v", err)
				}
				o.Keys.ServerKey = k
			}
			if certPath != "" {
				b, err := os.ReadFile(certPath)
				if err != nil {
					return usageErr("--cert: %v", err)
				}
				o.Certificate = b
			}
			var pinned *entry.Passkey
			if passkeyPath != "" {
				var err error
				if pinned, err = passkey.LoadExportedKey(passkeyPath); err != nil {
					return usageErr("--passkey: %v", err)
				}
				o.Passkey = pinned
			}
			out := cmd.OutOrStdout()
			bad := 0
			for _, path := range args {
				p, err := passkey.LoadProof(path)
				var v *passkey.Verified
				if err == nil {
					v, err = p.Verify(o)
				}
				if err != nil {
					bad++
					fmt.Fprintf(out, "FAIL %s: %v\n", path, err)
					continue
				}
				st := v.Statement
				comment := ""
				if st.Comment != "" {
					comment = fmt.Sprintf(" (%q)", st.Comment)
				}
				fmt.Fprintf(out, "OK   %s: %s %s certificate %s (log entry %d) at %s%s\n", path, st.Auditor, st.Decision, st.CertificateID,
					st.CertificateLogIndex, st.Time.Format("2006-01-02T15:04:05Z"), comment)
				fmt.Fprintf(out, "     signed by passkey %s of %s, registered in log entry %d; validation in log entry %d of %s (size %d)\n",
					credShort(v.Passkey.CredentialID), v.Passkey.User, p.Passkey.Index, p.Validation.Index, v.Checkpoint.Origin, v.Checkpoint.Size)
				if pinned == nil {
					fmt.Fprintf(out, "     note: the passkey was taken from the log; pass --passkey (the auditor's exported key) to pin it\n")
				}
				if v.KeysFromProof {
					fmt.Fprintf(out, "     note: log/server key taken from the proof; pass --log-key and --server-key to pin them\n")
				}
			}
			if bad > 0 {
				return failed("%d of %d validation proof(s) do not verify", bad, len(args))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&logKey, "log-key", "", "the audit log's verifier key (the store's DATA/keys/log.vkey)")
	fl.StringVar(&serverKey, "server-key", "", "the audit store's public key (DATA/keys/server.pub)")
	fl.StringVar(&certPath, "cert", "", "the certificate the validation must be about")
	fl.StringVar(&passkeyPath, "passkey", "", "the auditor's exported passkey (JSON from their account page)")
	return cmd
}

func credShort(id []byte) string {
	s := base64.RawURLEncoding.EncodeToString(id)
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
