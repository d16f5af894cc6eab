package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lethe-project/lethe/internal/durable"
)

// KeyID is the identifier of a public key in signatures: the hex SHA-256 of
// its PKIX (SubjectPublicKeyInfo) DER encoding, which anyone can recompute
// with `openssl pkey -pubin -outform DER | sha256sum`.
//
// pub is an ed25519.PublicKey or an *ecdsa.PublicKey (the TPM co-signer);
// KeyID panics on any other type, as it would on a programming error.
func KeyID(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("key id of %T: %v", pub, err))
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// GenerateKey writes a new ed25519 key pair into dir: lethe.key (PKCS#8
// PEM, mode 0600) and lethe.pub (PKIX PEM). It refuses to overwrite an
// existing key.
func GenerateKey(dir string) (keyPath, pubPath string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("keygen: %w", err)
	}
	keyPath = filepath.Join(dir, "lethe.key")
	pubPath = filepath.Join(dir, "lethe.pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return "", "", fmt.Errorf("keygen: %s already exists; not overwriting a key", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("keygen: %w", err)
	}
	privPEM, err := MarshalPrivateKey(priv)
	if err != nil {
		return "", "", err
	}
	if err := durable.WriteNew(keyPath, privPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := durable.WriteNew(pubPath, MarshalPublicKey(pub), 0o644); err != nil {
		return "", "", err
	}
	return keyPath, pubPath, nil
}

// MarshalPrivateKey encodes priv as PKCS#8 PEM ("PRIVATE KEY").
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey encodes pub as PKIX PEM ("PUBLIC KEY").
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePrivateKey decodes a PKCS#8 PEM ed25519 private key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PKCS#8 PEM private key (want a \"PRIVATE KEY\" block)")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, lethe signs with ed25519", k)
	}
	return priv, nil
}

// ParsePublicKey decodes a PKIX PEM ed25519 public key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PKIX PEM public key (want a \"PUBLIC KEY\" block)")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, lethe verifies ed25519", k)
	}
	return pub, nil
}

// LoadPrivateKey reads a private key file.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return k, nil
}

// LoadPublicKey reads a public key file.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}

// Signer signs DSSE envelopes. The ed25519 key-file signer is the default;
// a TPM-resident key (ECDSA P-256) implements the same interface.
type Signer interface {
	// Sign signs the DSSE pre-authentication encoding of a payload.
	Sign(pae []byte) ([]byte, error)
	KeyID() string
	Public() crypto.PublicKey
}

// KeySigner signs with an ed25519 private key held in memory.
type KeySigner struct{ Key ed25519.PrivateKey }

// Sign implements Signer.
func (s KeySigner) Sign(pae []byte) ([]byte, error) { return ed25519.Sign(s.Key, pae), nil }

// KeyID implements Signer.
func (s KeySigner) KeyID() string { return KeyID(s.Key.Public().(ed25519.PublicKey)) }

// Public implements Signer.
func (s KeySigner) Public() crypto.PublicKey { return s.Key.Public() }

// ParseECDSAPublicKey decodes a PKIX PEM ECDSA public key: the TPM
// co-signer's key as certificates record it (host.tpmKey).
func ParseECDSAPublicKey(data []byte) (*ecdsa.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PKIX PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want ECDSA", k)
	}
	return pub, nil
}
