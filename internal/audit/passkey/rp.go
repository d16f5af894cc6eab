package passkey

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/entry"
)

// RP is the audit store as a WebAuthn relying party.
type RP struct {
	wa     *webauthn.WebAuthn
	id     string
	origin string
}

// Timeout is how long a browser has to answer a ceremony.
const Timeout = 3 * time.Minute

// MaxCredentialID bounds a credential ID (so it fits the index's key
// column); real authenticators use 16-64 bytes.
const MaxCredentialID = 128

// NewRP makes the relying party for the store at baseURL: its RP ID is the
// URL's host name (WebAuthn wants a domain name, not an IP address) and
// its only accepted origin is the URL's scheme, host and port.
func NewRP(baseURL string) (*RP, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("passkeys need the store's URL (--url https://HOST:PORT): %q", baseURL)
	}
	origin := u.Scheme + "://" + u.Host
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: "lethe audit",
		RPOrigins:     []string{origin},
		// Validations are an accountable person's act: the authenticator
		// must verify its user (PIN or biometric), not just a touch.
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			UserVerification: protocol.VerificationRequired,
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
		},
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: Timeout, TimeoutUVD: Timeout},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: Timeout, TimeoutUVD: Timeout},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys for %s: %w", baseURL, err)
	}
	return &RP{wa: wa, id: u.Hostname(), origin: origin}, nil
}

// ID is the relying party ID (the host name).
func (rp *RP) ID() string { return rp.id }

// Origin is the accepted origin.
func (rp *RP) Origin() string { return rp.origin }

// Account is a user as WebAuthn sees it.
type Account struct {
	Name string
	Keys []accounts.Passkey // active credentials
}

// UserHandle is the WebAuthn user handle of an account: a digest of its
// name, so the same account always has the same handle and the handle
// reveals nothing readable.
func UserHandle(name string) []byte {
	s := sha256.Sum256([]byte("lethe-audit user\x00" + name))
	return s[:]
}

type waUser struct{ a Account }

func (u waUser) WebAuthnID() []byte          { return UserHandle(u.a.Name) }
func (u waUser) WebAuthnName() string        { return u.a.Name }
func (u waUser) WebAuthnDisplayName() string { return u.a.Name }
func (u waUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(u.a.Keys))
	for _, k := range u.a.Keys {
		out = append(out, webauthn.Credential{
			ID: k.CredentialID, PublicKey: k.PublicKey,
			Flags:         webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(k.Flags)),
			Authenticator: webauthn.Authenticator{SignCount: k.SignCount},
		})
	}
	return out
}

// BeginRegistration starts registering a new credential: options for
// navigator.credentials.create (JSON) and the ceremony state to keep.
func (rp *RP) BeginRegistration(a Account) (options, state []byte, err error) {
	u := waUser{a}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.WebAuthnCredentials() {
		exclude = append(exclude, c.Descriptor())
	}
	cc, sess, err := rp.wa.BeginRegistration(u, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, nil, err
	}
	if options, err = json.Marshal(cc); err != nil {
		return nil, nil, err
	}
	state, err = json.Marshal(sess)
	return options, state, err
}

// Registered is a verified registration, ready to be logged.
type Registered struct {
	Entry     entry.Passkey
	Flags     byte
	SignCount uint32
	AAGUID    string
}

// FinishRegistration verifies the browser's answer (the JSON of
// PublicKeyCredential.toJSON()) against the ceremony state.
func (rp *RP) FinishRegistration(a Account, state, response []byte, name string) (*Registered, error) {
	var sess webauthn.SessionData
	if err := json.Unmarshal(state, &sess); err != nil {
		return nil, fmt.Errorf("registration state: %w", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, describe("registration response", err)
	}
	cred, err := rp.wa.CreateCredential(waUser{a}, sess, parsed)
	if err != nil {
		return nil, describe("registration", err)
	}
	if len(cred.ID) == 0 || len(cred.ID) > MaxCredentialID {
		return nil, fmt.Errorf("credential ID of %d bytes: at most %d accepted", len(cred.ID), MaxCredentialID)
	}
	r := &Registered{
		Entry: entry.Passkey{
			User: a.Name, CredentialID: cred.ID, PublicKey: cred.PublicKey, AAGUID: cred.Authenticator.AAGUID,
			Name: name, RPID: rp.id, Algorithm: coseAlg(cred.PublicKey),
			AttestationObject: parsed.Raw.AttestationResponse.AttestationObject,
			ClientDataJSON:    parsed.Raw.AttestationResponse.ClientDataJSON,
		},
		Flags:     byte(cred.Flags.ProtocolValue()),
		SignCount: cred.Authenticator.SignCount,
		AAGUID:    fmt.Sprintf("%x", cred.Authenticator.AAGUID),
	}
	return r, nil
}

// BeginAssertion starts an assertion by one of the account's credentials.
// challenge is the statement digest for a validation, nil for a login (a
// random one is made).
func (rp *RP) BeginAssertion(a Account, challenge []byte) (options, state []byte, err error) {
	if len(a.Keys) == 0 {
		return nil, nil, fmt.Errorf("%s has no passkey registered", a.Name)
	}
	var opts []webauthn.LoginOption
	if challenge != nil {
		opts = append(opts, webauthn.WithChallenge(challenge))
	}
	opts = append(opts, webauthn.WithUserVerification(protocol.VerificationRequired))
	ca, sess, err := rp.wa.BeginLogin(waUser{a}, opts...)
	if err != nil {
		return nil, nil, err
	}
	if options, err = json.Marshal(ca); err != nil {
		return nil, nil, err
	}
	state, err = json.Marshal(sess)
	return options, state, err
}

// Asserted is a verified assertion.
type Asserted struct {
	Assertion entry.Assertion
	Key       accounts.Passkey // the credential that signed
	SignCount uint32
}

// FinishAssertion verifies the browser's answer against the ceremony
// state (challenge, origin, RP ID, user verification, signature, counter).
func (rp *RP) FinishAssertion(a Account, state, response []byte) (*Asserted, error) {
	var sess webauthn.SessionData
	if err := json.Unmarshal(state, &sess); err != nil {
		return nil, fmt.Errorf("assertion state: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, describe("passkey response", err)
	}
	cred, err := rp.wa.ValidateLogin(waUser{a}, sess, parsed)
	if err != nil {
		return nil, describe("passkey", err)
	}
	if cred.Authenticator.CloneWarning {
		return nil, fmt.Errorf("passkey: the authenticator's signature counter went backwards (a cloned key?)")
	}
	out := &Asserted{
		Assertion: entry.Assertion{
			CredentialID:      parsed.RawID,
			AuthenticatorData: parsed.Raw.AssertionResponse.AuthenticatorData,
			ClientDataJSON:    parsed.Raw.AssertionResponse.ClientDataJSON,
			Signature:         parsed.Raw.AssertionResponse.Signature,
			UserHandle:        parsed.Raw.AssertionResponse.UserHandle,
		},
		SignCount: cred.Authenticator.SignCount,
	}
	for _, k := range a.Keys {
		if string(k.CredentialID) == string(cred.ID) {
			out.Key = k
		}
	}
	return out, nil
}

// describe keeps the library's detail (its errors carry a short type and
// a longer explanation).
func describe(what string, err error) error {
	if pe, ok := err.(*protocol.Error); ok && pe.Details != "" {
		return fmt.Errorf("%s: %s (%s)", what, pe.Details, pe.DevInfo)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// coseAlg reads the algorithm (label 3) of a COSE key.
func coseAlg(key []byte) int64 {
	var pk struct {
		Alg int64 `cbor:"3,keyasint"`
	}
	if _, err := webauthncbor.UnmarshalFirst(key, &pk); err != nil {
		return 0
	}
	return pk.Alg
}
