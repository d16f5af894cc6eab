// Package receipt is the audit store's proof that it logged a
// certificate: the log index, the countersigned log entry, a signed
// checkpoint and the inclusion proof. Anyone with the certificate, the
// receipt and the log's key can check it offline.
package receipt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"

	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/internal/audit/entry"
)

// Receipt is returned for an accepted certificate.
type Receipt struct {
	Version        int    `json:"version"`
	CertificateID  string `json:"certificateId"`
	EnvelopeSHA256 string `json:"envelopeSha256"`
	// PayloadSHA256 is the SHA-256 of the certificate's signed payload:
	// what identifies it. The logged envelope may carry other signatures
	// than a copy of the same certificate (receipts since 2026-12).
	PayloadSHA256 string    `json:"payloadSha256,omitempty"`
	Received      time.Time `json:"received"`
	LogIndex      uint64    `json:"logIndex"`
	// Entry is the log leaf: the envelope countersigned by the server.
	Entry []byte `json:"entry"`
	// Checkpoint is a signed note committing to a tree that contains
	// the entry.
	Checkpoint     string   `json:"checkpoint"`
	InclusionProof [][]byte `json:"inclusionProof"`
	// LogKey and ServerKey are the keys the server says it uses; a
	// verifier should pin its own copies.
	LogKey    string `json:"logKey"`
	ServerKey string `json:"serverKey"`
}

// Keys are the keys a receipt is checked against.
type Keys struct {
	LogKey    string            // signed-note verifier key of the checkpoints
	ServerKey ed25519.PublicKey // the server's countersigning key
}

// Result is what a verified receipt proves.
type Result struct {
	Checkpoint *logverify.Checkpoint
	Entry      *entry.Entry
}

// Verify checks that envelope is the certificate this receipt is for,
// that the server countersigned it, and that the entry is included in the
// tree of the signed checkpoint. A certificate is its signed payload: the
// envelope in the log may carry other signatures than the one given (a
// copy with an extra signature was submitted first), and the receipt
// still proves that this certificate is in the log. A zero Keys field
// falls back to the key in the receipt itself (which proves consistency,
// not authenticity).
func (r *Receipt) Verify(envelope []byte, k Keys) (*Result, error) {
	canon, err := entry.Canonical(envelope)
	if err != nil {
		return nil, err
	}
	d := entry.Digest(canon)
	pd, err := entry.PayloadDigest(canon)
	if err != nil {
		return nil, err
	}
	if d != r.EnvelopeSHA256 && (r.PayloadSHA256 == "" || pd != r.PayloadSHA256) {
		return nil, fmt.Errorf("receipt is for envelope sha256 %.16s, this certificate is %.16s", r.EnvelopeSHA256, d)
	}
	if k.ServerKey == nil {
		if k.ServerKey, err = sign.ParsePublicKey([]byte(r.ServerKey)); err != nil {
			return nil, fmt.Errorf("receipt server key: %w", err)
		}
	}
	if k.LogKey == "" {
		k.LogKey = r.LogKey
	}
	e, err := entry.Open(r.Entry, k.ServerKey)
	if err != nil {
		return nil, err
	}
	if e.Certificate == nil {
		return nil, fmt.Errorf("the log entry does not contain this certificate")
	}
	if !bytes.Equal(e.Certificate.Envelope, canon) {
		logged, err := entry.PayloadDigest(e.Certificate.Envelope)
		if err != nil || logged != pd || !samePayloadType(e.Certificate.Envelope, canon) {
			return nil, fmt.Errorf("the log entry does not contain this certificate")
		}
	}
	cp, err := logverify.ParseCheckpoint([]byte(r.Checkpoint), k.LogKey)
	if err != nil {
		return nil, err
	}
	if err := logverify.VerifyInclusion(cp, r.LogIndex, r.Entry, r.InclusionProof); err != nil {
		return nil, err
	}
	return &Result{Checkpoint: cp, Entry: e}, nil
}

func samePayloadType(a, b []byte) bool {
	var ea, eb struct {
		PayloadType string `json:"payloadType"`
	}
	return json.Unmarshal(a, &ea) == nil && json.Unmarshal(b, &eb) == nil && ea.PayloadType == eb.PayloadType
}

// Load reads a receipt file.
func Load(path string) (*Receipt, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Receipt
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s is not a receipt: %w", path, err)
	}
	return &r, nil
}
