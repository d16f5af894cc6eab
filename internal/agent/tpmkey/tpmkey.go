// Package tpmkey signs certificates with a key that lives in the host's
// TPM 2.0 and never leaves it.
//
// The key is a primary key (TPM2_CreatePrimary) in the owner hierarchy,
// or the endorsement hierarchy where the owner hierarchy has a password:
// ECC NIST P-256, ECDSA with SHA-256, an unrestricted signing key that is
// fixedTPM and fixedParent. A primary key is derived from the hierarchy's
// seed and the template, so the same TPM gives the same key on every
// boot until the TPM is cleared: the key identifies the machine, and a
// certificate it signed was signed inside that machine. Nothing is
// written to the TPM's non-volatile memory.
//
// Signatures are DSSE signatures like the ed25519 ones: over the DSSE
// pre-authentication encoding, here hashed with SHA-256 on the host and
// signed by the TPM (TPM2_Sign with a NULL hash-check ticket, which an
// unrestricted key accepts), encoded as ASN.1 DER (r, s). The key ID is
// the hex SHA-256 of the PKIX DER public key, as for every lethe key.
package tpmkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/lethe-project/lethe/sign"
)

// DevicePaths are tried in order by Open: the kernel's resource manager
// first (it flushes what a crashed process left loaded), then the raw
// device.
var DevicePaths = []string{"/dev/tpmrm0", "/dev/tpm0"}

// uniqueLabel makes the key lethe's own: another program using the same
// template without this unique value gets a different key.
var uniqueLabel = sha256.Sum256([]byte("lethe certificate signing key v1"))

// Template is the public template of the signing key.
func Template() tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			NoDA:                true,
			SignEncrypt:         true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: uniqueLabel[:]},
			Y: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
		}),
	}
}

// Signer is a TPM-resident signing key; it implements sign.Signer.
type Signer struct {
	mu        sync.Mutex
	tpm       transport.TPMCloser
	handle    tpm2.TPMHandle
	name      tpm2.TPM2BName
	pub       *ecdsa.PublicKey
	keyID     string
	hierarchy string
}

// ErrNoTPM is returned by Open when the machine has no TPM device.
var ErrNoTPM = errors.New("no TPM device (/dev/tpmrm0, /dev/tpm0)")

// Open opens the first TPM device that exists and loads the signing key.
func Open(paths ...string) (*Signer, error) {
	if len(paths) == 0 {
		paths = DevicePaths
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		t, err := linuxtpm.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open TPM %s: %w", p, err)
		}
		s, err := New(t)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("TPM %s: %w", p, err)
		}
		return s, nil
	}
	return nil, ErrNoTPM
}

// New creates (or re-derives) the signing key on an open TPM. The Signer
// owns t and closes it.
func New(t transport.TPMCloser) (*Signer, error) {
	var lastErr error
	for _, h := range []struct {
		handle tpm2.TPMHandle
		name   string
	}{{tpm2.TPMRHOwner, "owner"}, {tpm2.TPMRHEndorsement, "endorsement"}} {
		rsp, err := tpm2.CreatePrimary{
			PrimaryHandle: tpm2.AuthHandle{Handle: h.handle, Auth: tpm2.PasswordAuth(nil)},
			InPublic:      tpm2.New2B(Template()),
		}.Execute(t)
		if err != nil {
			// A hierarchy with a password set by the previous OS: try
			// the next one.
			lastErr = fmt.Errorf("create the signing key in the %s hierarchy: %w", h.name, err)
			continue
		}
		out, err := rsp.OutPublic.Contents()
		if err != nil {
			flush(t, rsp.ObjectHandle)
			return nil, err
		}
		pk, err := tpm2.Pub(*out)
		if err != nil {
			flush(t, rsp.ObjectHandle)
			return nil, err
		}
		pub, ok := pk.(*ecdsa.PublicKey)
		if !ok {
			flush(t, rsp.ObjectHandle)
			return nil, fmt.Errorf("TPM returned a %T key", pk)
		}
		id, err := KeyID(pub)
		if err != nil {
			flush(t, rsp.ObjectHandle)
			return nil, err
		}
		return &Signer{tpm: t, handle: rsp.ObjectHandle, name: rsp.Name, pub: pub, keyID: id, hierarchy: h.name}, nil
	}
	return nil, lastErr
}

func flush(t transport.TPM, h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(t)
}

// Sign implements sign.Signer: an ECDSA P-256 signature (ASN.1 DER) over
// SHA-256(pae), made by the TPM.
func (s *Signer) Sign(pae []byte) ([]byte, error) {
	digest := sha256.Sum256(pae)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tpm == nil {
		return nil, errors.New("TPM signer is closed")
	}
	rsp, err := tpm2.Sign{
		KeyHandle: tpm2.AuthHandle{Handle: s.handle, Name: s.name, Auth: tpm2.PasswordAuth(nil)},
		Digest:    tpm2.TPM2BDigest{Buffer: digest[:]},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
		},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(s.tpm)
	if err != nil {
		return nil, fmt.Errorf("TPM2_Sign: %w", err)
	}
	sig, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(sig.SignatureR.Buffer), new(big.Int).SetBytes(sig.SignatureS.Buffer),
	})
	if err != nil {
		return nil, err
	}
	// Check the TPM's work before a certificate depends on it.
	if !ecdsa.VerifyASN1(s.pub, digest[:], der) {
		return nil, errors.New("the TPM's signature does not verify with its own public key")
	}
	return der, nil
}

// KeyID implements sign.Signer.
func (s *Signer) KeyID() string { return s.keyID }

// Public implements sign.Signer.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Hierarchy names the TPM hierarchy the key was created in.
func (s *Signer) Hierarchy() string { return s.hierarchy }

// PublicPEM is the key in PKIX PEM, as certificates record it.
func (s *Signer) PublicPEM() string {
	der, _ := x509.MarshalPKIXPublicKey(s.pub)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Close unloads the key and closes the TPM.
func (s *Signer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tpm == nil {
		return nil
	}
	flush(s.tpm, s.handle)
	err := s.tpm.Close()
	s.tpm = nil
	return err
}

// KeyID is the hex SHA-256 of the PKIX DER encoding of pub.
func KeyID(pub *ecdsa.PublicKey) (string, error) { return sign.KeyID(pub), nil }

// ParsePublicKey reads a PKIX PEM ECDSA public key (as PublicPEM writes).
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) { return sign.ParseECDSAPublicKey(data) }

// VerifyEnvelope checks that a DSSE envelope (a certificate file) carries
// a valid signature by pub, the TPM key. It returns an error if no
// signature names pub's key ID, or if that signature does not verify.
func VerifyEnvelope(envelope []byte, pub *ecdsa.PublicKey) error {
	return sign.VerifyECDSA(envelope, pub)
}
