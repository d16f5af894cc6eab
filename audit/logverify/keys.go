package logverify

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Signed-note keys (c2sp.org/signed-note) for checkpoints, derived from the
// server's ed25519 key so one key file both countersigns entries (DSSE) and
// signs checkpoints.

const algEd25519 = 1 // signed-note signature type for ed25519

// keyHash is the 4-byte key ID of signed-note: the first four bytes of
// SHA-256(name || "\n" || type || public key).
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// VerifierKey is the signed-note verifier key string for pub under name
// (the log origin): "name+hash+base64(type||pub)".
func VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	return note.NewEd25519VerifierKey(name, pub)
}

// NoteSigner turns an ed25519 private key into a signed-note signer.
func NoteSigner(name string, priv ed25519.PrivateKey) (note.Signer, error) {
	if strings.ContainsAny(name, " +\n\t") || name == "" {
		return nil, fmt.Errorf("log origin %q: must be non-empty without spaces or '+'", name)
	}
	pub := priv.Public().(ed25519.PublicKey)
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, keyHash(name, pub),
		base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, priv.Seed()...)))
	return note.NewSigner(skey)
}

// NoteVerifier parses a verifier key string.
func NoteVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("log verifier key: %w", err)
	}
	return v, nil
}

// PublicKey extracts the ed25519 public key from a signed-note verifier
// key ("name+hash+base64(0x01||key)"): the audit store signs checkpoints
// and countersigns entries with one key, so pinning the log's verifier key
// pins both.
func PublicKey(vkey string) (ed25519.PublicKey, error) {
	vkey = strings.TrimSpace(vkey)
	if _, err := note.NewVerifier(vkey); err != nil {
		return nil, fmt.Errorf("log verifier key: %w", err)
	}
	parts := strings.SplitN(vkey, "+", 3) // the name has no '+'; base64 may
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algEd25519 {
		return nil, fmt.Errorf("log verifier key %q is not an ed25519 key", vkey)
	}
	return ed25519.PublicKey(raw[1:]), nil
}
