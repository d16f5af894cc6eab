package main

import (
	"crypto/ed25519"
	"fmt"
	"os"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/cert"
)

// receiptsBeside fills in BASE.receipt.json beside each BASE.cert.json
// when no --receipt was given: without --key, a receipt is what makes a
// certificate's own key worth anything.
func (r *receiptFlags) receiptsBeside(certs []string) error {
	if len(r.receipts) > 0 {
		return nil
	}
	for _, c := range certs {
		rp := certBase(c) + ".receipt.json"
		if _, err := os.Stat(rp); err != nil {
			return usageErr("%s: no --key and no receipt beside it (%s): a certificate's own key (host.bootKey) proves nothing without the audit store's receipt; pass --key PUB or --receipt FILE", c, rp)
		}
		r.receipts = append(r.receipts, rp)
	}
	return nil
}

// certBootKey is the per-boot key a boot agent's certificate names.
func certBootKey(path string) ([]ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	st, err := attest.Decode(data)
	if err != nil {
		return nil, err
	}
	if st.Predicate.Host.BootKey == "" {
		return nil, fmt.Errorf("names no signing key (host.bootKey: only the boot agent's certificates do); pass --key PUB")
	}
	k, err := cert.ParseBootKey(st.Predicate.Host.BootKey)
	if err != nil {
		return nil, fmt.Errorf("host.bootKey: %v", err)
	}
	return []ed25519.PublicKey{k}, nil
}
