package main

import (
	"fmt"
	"io"
	"os"

	"github.com/lethe-project/lethe/sign"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/audit/receipt"
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
