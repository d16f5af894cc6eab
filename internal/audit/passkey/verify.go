package passkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/lethe-project/lethe/internal/audit/entry"
)

// Authenticator data flags (WebAuthn §6.1, byte 32).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified (PIN, biometric)
)

// ErrForged is wrapped by every verification failure of a signed
// validation: the assertion does not prove that the registered
// authenticator signed this statement.
var ErrForged = errors.New("signed validation does not verify")

func forged(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrForged, fmt.Sprintf(format, a...))
}

// VerifyAssertion checks, without any server state, that assertion was
// made by the credential key registered in key for the statement bytes:
// WebAuthn §7.2 steps 11-21 where they apply to a stored assertion —
// the client data is a webauthn.get whose challenge is SHA-256(statement)
// and whose origin belongs to the relying party, the authenticator data
// names the relying party (rpIdHash) with user presence and user
// verification set, and the signature over authenticatorData ||
// SHA-256(clientDataJSON) verifies under the registered COSE key.
func VerifyAssertion(statement []byte, a *entry.Assertion, key *entry.Passkey) error {
	if a == nil || key == nil {
		return forged("no assertion or no registered key")
	}
	if key.Revoked {
		return forged("the passkey entry is a revocation, not a registration")
	}
	if !bytes.Equal(a.CredentialID, key.CredentialID) {
		return forged("signed by credential %s, but the registered passkey is %s", short(a.CredentialID), short(key.CredentialID))
	}
	// §7.2 steps 10-13: the client data.
	var cd struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}
	if err := json.Unmarshal(a.ClientDataJSON, &cd); err != nil {
		return forged("client data is not JSON: %v", err)
	}
	if cd.Type != "webauthn.get" {
		return forged("client data type %q, want webauthn.get", cd.Type)
	}
	got, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(cd.Challenge, "="))
	if err != nil {
		return forged("challenge is not base64url: %v", err)
	}
	if !bytes.Equal(got, Challenge(statement)) {
		return forged("the assertion's challenge is not the digest of this statement: the statement was changed after signing, or the signature is for another one")
	}
	if cd.CrossOrigin {
		return forged("assertion was made in a cross-origin frame")
	}
	if err := originMatches(cd.Origin, key.RPID); err != nil {
		return forged("%v", err)
	}
	// §7.2 steps 15-17: the authenticator data.
	ad := a.AuthenticatorData
	if len(ad) < 37 {
		return forged("authenticator data is %d bytes, want at least 37", len(ad))
	}
	rpHash := sha256.Sum256([]byte(key.RPID))
	if !bytes.Equal(ad[:32], rpHash[:]) {
		return forged("authenticator data is for another relying party than %q", key.RPID)
	}
	if ad[32]&flagUP == 0 {
		return forged("user presence flag not set")
	}
	if ad[32]&flagUV == 0 {
		return forged("user verification flag not set: the auditor did not unlock the authenticator")
	}
	// §7.2 steps 19-21: the signature.
	pub, err := webauthncose.ParsePublicKey(key.PublicKey)
	if err != nil {
		return forged("registered public key: %v", err)
	}
	cdHash := sha256.Sum256(a.ClientDataJSON)
	signed := append(append([]byte{}, ad...), cdHash[:]...)
	ok, err := webauthncose.VerifySignature(pub, signed, a.Signature)
	if err != nil || !ok {
		return forged("the signature does not verify under the registered passkey of %s", key.User)
	}
	return nil
}

// SignCount is the authenticator's signature counter in an assertion's
// authenticator data (bytes 33-36, big-endian).
func SignCount(ad []byte) uint32 {
	if len(ad) < 37 {
		return 0
	}
	return binary.BigEndian.Uint32(ad[33:37])
}

// originMatches checks that the client's origin is an HTTPS origin (or
// http://localhost) whose host is rpID or under it (WebAuthn §5.1.4.1).
func originMatches(origin, rpID string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("client data origin %q is not a URL", origin)
	}
	host := u.Hostname()
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackName(host)) {
		return fmt.Errorf("client data origin %q is not HTTPS", origin)
	}
	if rpID == "" || (host != rpID && !strings.HasSuffix(host, "."+rpID)) {
		return fmt.Errorf("client data origin %q is not within the relying party %q", origin, rpID)
	}
	return nil
}

func isLoopbackName(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func short(b []byte) string {
	s := base64.RawURLEncoding.EncodeToString(b)
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
