package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/certpdf"
)

// receiptFlags are cert verify's audit-log options: check that each
// certificate is included in the audit store's log.
type receiptFlags struct {
	receipts      []string
	logKey        string
	serverKey     string
	next          int
	keys          receipt.Keys
	keysFromStore bool
}

func (r *receiptFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVar(&r.receipts, "receipt", nil, "audit store receipt for each CERT, in the same order: checks the certificate's inclusion in the log against the receipt's signed checkpoint")
	fl.StringVar(&r.logKey, "log-key", "", "the audit log's verifier key file (the store's DATA/keys/log.vkey); default: the key named in the receipt")
	fl.StringVar(&r.serverKey, "server-key", "", "the audit store's public key (DATA/keys/server.pub); default: the key named in the receipt")
}

func (r *receiptFlags) check(ncerts int) error {
	if len(r.receipts) == 0 {
		return nil
	}
	if len(r.receipts) != ncerts {
		return usageErr("%d --receipt for %d certificate(s): give one receipt per certificate, in order", len(r.receipts), ncerts)
	}
	if r.logKey != "" {
		b, err := os.ReadFile(r.logKey)
		if err != nil {
			return usageErr("--log-key: %v", err)
		}
		r.keys.LogKey = string(b)
	}
	if r.serverKey != "" {
		k, err := sign.LoadPublicKey(r.serverKey)
		if err != nil {
			return usageErr("--server-key: %v", err)
		}
		r.keys.ServerKey = k
	}
	r.keysFromStore = r.logKey == "" || r.serverKey == ""
	return nil
}

// verify checks the next receipt against the certificate at path.
func (r *receiptFlags) verify(out io.Writer, path string, _ int) bool {
	if len(r.receipts) == 0 {
		return true
	}
	rp := r.receipts[r.next]
	r.next++
	rc, err := receipt.Load(rp)
	if err == nil {
		var data []byte
		if data, err = sign.ReadFile(path); err == nil {
			var res *receipt.Result
			if res, err = rc.Verify(data, r.keys); err == nil {
				fmt.Fprintf(out, "     in audit log %s as entry %d: inclusion proof verifies against the signed checkpoint of size %d\n",
					res.Checkpoint.Origin, rc.LogIndex, res.Checkpoint.Size)
				if r.keysFromStore {
					fmt.Fprintf(out, "     note: log/server key taken from the receipt; pass --log-key and --server-key to pin them\n")
				}
				return true
			}
		}
	}
	fmt.Fprintf(out, "FAIL %s: receipt %s: %v\n", path, rp, err)
	return false
}

func newCertPDFCmd() *cobra.Command {
	var out, pageURL string
	var keyPaths []string
	var unverifiedOK bool
	cmd := &cobra.Command{
		Use:   "pdf (--key PUB | --unverified) CERT -o FILE",
		Short: "Render a certificate as a PDF for people (the JSON stays authoritative)",
		Long: `Render CERT as a PDF. With --key the signature is checked first and a
certificate that does not verify is refused (exit 1). Without a key a PDF
would look like a valid certificate, so lethe refuses (exit 2) unless
--unverified is given: then every page and line is stamped UNVERIFIED and
the status is never shown in green.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr("-o FILE is required")
			}
			if len(keyPaths) == 0 && !unverifiedOK {
				return usageErr("refusing to render %s without checking its signature: pass --key PUB (or --unverified for a PDF stamped UNVERIFIED on every page)", args[0])
			}
			data, err := sign.ReadFile(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			sum := sha256.Sum256(data)
			opt := certpdf.Options{URL: pageURL, EnvelopeSHA256: hex.EncodeToString(sum[:])}
			var st *cert.Statement
			if len(keyPaths) > 0 {
				keys, err := loadKeys(keyPaths)
				if err != nil {
					return err
				}
				v, err := attest.Verify(data, keys...)
				if err != nil {
					return failed("%s does not verify: %v", args[0], err)
				}
				st, opt.Signature, opt.Verified = v.Statement, "valid ed25519 signature by key "+v.KeyID, true
			} else if st, err = attest.Decode(data); err != nil {
				return usageErr("%s: %v", args[0], err)
			} else {
				opt.Signature = "not checked (rendered with --unverified)"
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return usageErr("%v", err)
			}
			if err := certpdf.Render(f, st, opt); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "PDF file to write")
	cmd.Flags().StringVar(&pageURL, "url", "", "link to the certificate's page (shown as a QR code)")
	cmd.Flags().StringSliceVar(&keyPaths, "key", nil, "verify the signature first with this public key")
	cmd.Flags().BoolVar(&unverifiedOK, "unverified", false, "render without checking the signature, every page and line stamped UNVERIFIED")
	return cmd
}
