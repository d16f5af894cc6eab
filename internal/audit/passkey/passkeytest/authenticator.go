// Package passkeytest is a software WebAuthn authenticator for tests that
// run without a browser: it answers registration and assertion options
// with the JSON a browser's PublicKeyCredential.toJSON() produces
// ("none" attestation, ES256 key, user present and verified). The browser
// tests use Chromium's own virtual authenticator instead.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Authenticator holds one credential.
type Authenticator struct {
	Origin       string
	CredentialID []byte
	Key          *ecdsa.PrivateKey
	UserHandle   []byte
	RPID         string
	Count        uint32
	// NoUV answers without the user-verified flag.
	NoUV bool
}

// New makes an authenticator that answers for origin.
func New(origin string) *Authenticator {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &Authenticator{Origin: origin, CredentialID: id, Key: k}
}

var b64 = base64.RawURLEncoding

type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

func (a *Authenticator) authData(rpID string, attested bool) []byte {
	h := sha256.Sum256([]byte(rpID))
	flags := byte(0x01) // UP
	if !a.NoUV {
		flags |= 0x04
	}
	if attested {
		flags |= 0x40
	}
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.Count)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: none
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.CredentialID)))
		out = append(out, a.CredentialID...)
		out = append(out, a.COSEKey()...)
	}
	return out
}

// COSEKey is the credential's public key as a COSE_Key (EC2, P-256, ES256).
func (a *Authenticator) COSEKey() []byte {
	pt, err := a.Key.PublicKey.Bytes() // 0x04 || X || Y (SEC 1 uncompressed)
	if err != nil {
		panic(err)
	}
	b, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pt[1:33], -3: pt[33:65]})
	if err != nil {
		panic(err)
	}
	return b
}

// Register answers creation options (the JSON the server sent) with a
// registration response.
func (a *Authenticator) Register(optionsJSON []byte) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, err
	}
	a.RPID = o.PublicKey.RP.ID
	a.UserHandle, _ = b64.DecodeString(o.PublicKey.User.ID)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(a.RPID, true)})
	if err != nil {
		return nil, err
	}
	id := b64.EncodeToString(a.CredentialID)
	return json.Marshal(map[string]any{
		"id": id, "rawId": id, "type": "public-key", "authenticatorAttachment": "cross-platform",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.PublicKey.Challenge)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"usb"},
		},
	})
}

// Assert answers request options with an assertion.
func (a *Authenticator) Assert(optionsJSON []byte) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, err
	}
	rp := o.PublicKey.RPID
	if rp == "" {
		rp = a.RPID
	}
	if rp == "" {
		return nil, fmt.Errorf("no RP ID")
	}
	a.Count++
	cd := a.clientData("webauthn.get", o.PublicKey.Challenge)
	ad := a.authData(rp, false)
	sig, err := a.Sign(ad, cd)
	if err != nil {
		return nil, err
	}
	id := b64.EncodeToString(a.CredentialID)
	return json.Marshal(map[string]any{
		"id": id, "rawId": id, "type": "public-key", "authenticatorAttachment": "cross-platform",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(a.UserHandle),
		},
	})
}

// Sign signs authenticatorData || SHA-256(clientDataJSON) (WebAuthn §6.3.3).
func (a *Authenticator) Sign(authData, clientDataJSON []byte) ([]byte, error) {
	h := sha256.Sum256(clientDataJSON)
	d := sha256.Sum256(append(append([]byte{}, authData...), h[:]...))
	return ecdsa.SignASN1(rand.Reader, a.Key, d[:])
}
